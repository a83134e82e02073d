package callbacks

import (
	"encoding/json"
	"io"
	"math"

	"github.com/pkg/errors"

	"github.com/g2g-ml/g2g/graph"
	"github.com/g2g-ml/g2g/internal/rngs"
	"github.com/g2g-ml/g2g/internal/sparse"
	"github.com/g2g-ml/g2g/layers"
)

// Measure is the co-activity score of a Hebbian callback.
type Measure string

const (
	// MeasurePearson is the centred Pearson correlation of input i and
	// output j over the observed samples (default).
	MeasurePearson Measure = "pearson"
	// MeasureCosine is the uncentred cosine similarity Σxy/√(Σx²·Σy²).
	MeasureCosine Measure = "cosine"
)

// DefaultHebbianEveryN is the default HebbianConfig.EveryN: statistics are
// gathered on every 4th batch. On the Fashion-MNIST reference model (batch
// 256, G2G layers 784 → 1024 → 1024 → 1024, OpenBLAS on 2 cores), gathering
// them on every batch lengthened an epoch by 33 %, on every 2nd by 11 %, on
// every 4th by 3 % — still about 15 000 samples per epoch, which estimates a
// correlation to about ±0.01.
const DefaultHebbianEveryN = 4

// DefaultGrowScale is the default HebbianConfig.GrowScale.
const DefaultGrowScale = 0.01

// HebbianConfig configures Hebbian rewiring (design.md §4).
type HebbianConfig struct {
	// Zeta is the fraction of each layer's active edges replaced per update,
	// in (0, 1); k = round(ζ_t·active). Zero makes the callback a source of
	// statistics and scores only (for DSTConfig.Hebbian): it never rewires.
	Zeta float64
	// Anneal is how ζ_t decays from Zeta (default AnnealConstant).
	Anneal Anneal
	// Every rewires at the end of every Every-th epoch (default 1), from
	// epoch Start until before epoch End (0: the last epoch, which is never
	// followed by an update), as in DSTConfig. Statistics accumulate over
	// the epochs between two updates.
	Every, Start, End int
	// EveryN gathers statistics on every EveryN-th batch of an epoch
	// (batches 0, EveryN, 2·EveryN, …); default DefaultHebbianEveryN.
	EveryN int
	// Measure is the score: MeasurePearson (default) or MeasureCosine.
	// Units that never vary (or never fire, for cosine) score 0.
	Measure Measure
	// Prune is the prune criterion: CriterionHebbian (default: the lowest
	// score) or CriterionMagnitude (the smallest |w|). Edges are always
	// regrown by the highest score.
	Prune Criterion
	// Abs ranks edges by |C| instead of C, both when pruning (lowest |C|)
	// and regrowing (highest |C|), so that strongly anti-correlated pairs
	// count as wired together.
	Abs bool
	// Scope is where edges are regrown (default ScopeAnywhere).
	Scope Scope
	// GrowInit is the initial weight of regrown edges: GrowZero (default),
	// GrowInitial or GrowSign (sign(C)·GrowScale).
	GrowInit GrowInit
	// GrowScale is the magnitude of GrowSign weights (default
	// DefaultGrowScale).
	GrowScale float64
	// Seed drives the update's random streams "hebbian/<layer>/<epoch>"
	// (used by GrowInitial).
	Seed int64
	// Layers names the layers to rewire; empty means every sparse layer.
	Layers []string
	// Log, when non-nil, receives a one-line summary of every update.
	Log io.Writer
}

// HebbianStats holds the co-activity sums of one layer over N samples:
// per input unit i, Σx_i and Σx_i²; per output unit j, Σy_j and Σy_j²; per
// edge, Σx_i·y_j at flat index i·Out + j. Sums are float64.
type HebbianStats struct {
	// In and Out are the layer's input and output widths.
	In  int `json:"in"`
	Out int `json:"out"`
	// N is the number of samples observed.
	N int `json:"n"`
	// SumX and SumX2 hold Σx_i and Σx_i² per input unit (length In).
	SumX  []float64 `json:"sum_x"`
	SumX2 []float64 `json:"sum_x2"`
	// SumY and SumY2 hold Σy_j and Σy_j² per output unit (length Out).
	SumY  []float64 `json:"sum_y"`
	SumY2 []float64 `json:"sum_y2"`
	// SumXY holds Σx_i·y_j per edge, at flat index i·Out + j.
	SumXY []float64 `json:"sum_xy"`

	scratch []float32
}

// NewHebbianStats returns empty statistics for a layer of shape (in, out).
func NewHebbianStats(in, out int) *HebbianStats {
	return &HebbianStats{
		In: in, Out: out,
		SumX: make([]float64, in), SumX2: make([]float64, in),
		SumY: make([]float64, out), SumY2: make([]float64, out),
		SumXY: make([]float64, in*out),
	}
}

// Add accumulates a batch: x holds batch rows of In inputs, y batch rows of
// Out outputs (row-major). The product xᵀy goes through gorgonia's BLAS
// (OpenBLAS in binaries built with -tags openblas).
func (s *HebbianStats) Add(x, y []float32, batch int) error {
	if batch < 1 || len(x) != batch*s.In || len(y) != batch*s.Out {
		return errors.Errorf("hebbian statistics: batch %d with %d inputs and %d outputs, want %d×%d and %d×%d values",
			batch, len(x), len(y), batch, s.In, batch, s.Out)
	}
	for b := 0; b < batch; b++ {
		for i, v := range x[b*s.In : (b+1)*s.In] {
			f := float64(v)
			s.SumX[i] += f
			s.SumX2[i] += f * f
		}
		for j, v := range y[b*s.Out : (b+1)*s.Out] {
			f := float64(v)
			s.SumY[j] += f
			s.SumY2[j] += f * f
		}
	}
	if len(s.scratch) != s.In*s.Out {
		s.scratch = make([]float32, s.In*s.Out)
	}
	// scratch (In×Out) = xᵀ (In×batch) · y (batch×Out), in float32 for one
	// batch, then added to the float64 sums. 'T' and 'N' are gonum's
	// blas.Trans and blas.NoTrans.
	sparse.BLAS().Sgemm('T', 'N', s.In, s.Out, batch, 1, x, s.In, y, s.Out, 0, s.scratch, s.Out)
	for k, v := range s.scratch {
		s.SumXY[k] += float64(v)
	}
	s.N += batch
	return nil
}

// Reset clears the sums.
func (s *HebbianStats) Reset() {
	s.N = 0
	for _, v := range [][]float64{s.SumX, s.SumX2, s.SumY, s.SumY2, s.SumXY} {
		clear(v)
	}
}

// Clone returns a deep copy.
func (s *HebbianStats) Clone() *HebbianStats {
	c := &HebbianStats{In: s.In, Out: s.Out, N: s.N}
	c.SumX = append([]float64(nil), s.SumX...)
	c.SumX2 = append([]float64(nil), s.SumX2...)
	c.SumY = append([]float64(nil), s.SumY...)
	c.SumY2 = append([]float64(nil), s.SumY2...)
	c.SumXY = append([]float64(nil), s.SumXY...)
	return c
}

func (s *HebbianStats) check() error {
	if s.In < 1 || s.Out < 1 || s.N < 0 || len(s.SumX) != s.In || len(s.SumX2) != s.In ||
		len(s.SumY) != s.Out || len(s.SumY2) != s.Out || len(s.SumXY) != s.In*s.Out {
		return errors.Errorf("malformed statistics (In %d, Out %d, N %d, sums of lengths %d %d %d %d %d)",
			s.In, s.Out, s.N, len(s.SumX), len(s.SumX2), len(s.SumY), len(s.SumY2), len(s.SumXY))
	}
	return nil
}

// Scores returns the score C(i, j) of every edge, flat (i·Out + j):
//
//	Pearson: C = (N·Σxy − Σx·Σy) / √((N·Σx² − (Σx)²)·(N·Σy² − (Σy)²))
//	cosine:  C = Σxy / √(Σx²·Σy²)
//
// C is 0 when a unit has zero variance (Pearson) or zero norm (cosine),
// for example a unit that never fires, and when N is 0. Pearson scores are
// clamped to [−1, 1] against rounding.
func (s *HebbianStats) Scores(m Measure) []float64 {
	c := make([]float64, s.In*s.Out)
	if s.N == 0 {
		return c
	}
	n := float64(s.N)
	dx := make([]float64, s.In) // denominators' factors; 0 = dead unit
	dy := make([]float64, s.Out)
	spread := func(sum, sum2 float64) float64 {
		if m == MeasureCosine {
			return sum2
		}
		v := n*sum2 - sum*sum
		// A constant unit has v = 0 up to rounding: treat it as dead.
		if v <= 1e-10*n*sum2 {
			return 0
		}
		return v
	}
	for i := range dx {
		dx[i] = spread(s.SumX[i], s.SumX2[i])
	}
	for j := range dy {
		dy[j] = spread(s.SumY[j], s.SumY2[j])
	}
	for i := 0; i < s.In; i++ {
		if dx[i] <= 0 {
			continue
		}
		row := c[i*s.Out : (i+1)*s.Out]
		xy := s.SumXY[i*s.Out : (i+1)*s.Out]
		for j := range row {
			if dy[j] <= 0 {
				continue
			}
			if m == MeasureCosine {
				row[j] = xy[j] / math.Sqrt(dx[i]*dy[j])
				continue
			}
			v := (n*xy[j] - s.SumX[i]*s.SumY[j]) / math.Sqrt(dx[i]*dy[j])
			row[j] = math.Max(-1, math.Min(1, v))
		}
	}
	return c
}

// Hebbian is a callback for correlation-based rewiring ("fire together,
// wire together"): it gathers co-activity statistics of each sparse layer's
// input and output (after the nonlinearity) in OnBatchEnd, and at the end of
// the epochs of its schedule it prunes the k active edges with the lowest
// score (or smallest magnitude) and regrows the k inactive edges with the
// highest score, through a Rewirer, then resets the statistics.
//
// It writes the same Context.Logs entries as DST. It can also serve as the
// score source of DST's hebbian criteria (DSTConfig.Hebbian), with Zeta 0
// if it should not rewire on its own.
type Hebbian struct {
	// BaseCallback supplies the hooks Hebbian does not use.
	graph.BaseCallback

	cfg     HebbianConfig
	sched   rewireSchedule
	rewirer Rewirer
	layers  []layers.Sparse

	stats   map[string]*HebbianStats
	lastObs map[string]int // step of the last observation per layer
	gen     map[string]int // bumped at every change of the statistics
	cache   map[string]cachedScores

	updates   int
	reports   []RewireReport
	epochReps []RewireReport
}

type cachedScores struct {
	gen    int
	scores []float64
}

// NewHebbian validates cfg and returns the callback.
func NewHebbian(cfg HebbianConfig) (*Hebbian, error) {
	fail := func(err error) (*Hebbian, error) { return nil, errors.Wrap(err, "hebbian") }
	var err error
	if err := checkZeta(cfg.Zeta, true); err != nil {
		return fail(err)
	}
	if cfg.Anneal, err = checkAnneal(cfg.Anneal); err != nil {
		return fail(err)
	}
	if err := checkWindow(cfg.Every, cfg.Start, cfg.End); err != nil {
		return fail(err)
	}
	if cfg.EveryN < 0 {
		return fail(errors.Errorf("EveryN must be >= 0, got %d", cfg.EveryN))
	}
	if cfg.EveryN == 0 {
		cfg.EveryN = DefaultHebbianEveryN
	}
	switch cfg.Measure {
	case "":
		cfg.Measure = MeasurePearson
	case MeasurePearson, MeasureCosine:
	default:
		return fail(errors.Errorf("unknown Measure %q (want %q or %q)", string(cfg.Measure), MeasurePearson, MeasureCosine))
	}
	switch cfg.Prune {
	case "":
		cfg.Prune = CriterionHebbian
	case CriterionHebbian, CriterionMagnitude:
	default:
		return fail(errors.Errorf("unknown Prune %q (want hebbian or magnitude)", string(cfg.Prune)))
	}
	if cfg.Scope, err = checkScope(cfg.Scope); err != nil {
		return fail(err)
	}
	switch cfg.GrowInit {
	case "":
		cfg.GrowInit = GrowZero
	case GrowZero, GrowInitial, GrowSign:
	default:
		return fail(errors.Errorf("unknown GrowInit %q (want zero, init or sign)", string(cfg.GrowInit)))
	}
	if !(cfg.GrowScale >= 0) || math.IsInf(cfg.GrowScale, 0) {
		return fail(errors.Errorf("GrowScale must be >= 0 and finite, got %v", cfg.GrowScale))
	}
	if cfg.GrowScale == 0 {
		cfg.GrowScale = DefaultGrowScale
	}
	for n, name := range cfg.Layers {
		if name == "" {
			return fail(errors.Errorf("Layers[%d] is empty", n))
		}
	}
	h := &Hebbian{
		cfg:   cfg,
		sched: rewireSchedule{every: max(cfg.Every, 1), start: cfg.Start, end: cfg.End},
		stats: map[string]*HebbianStats{}, lastObs: map[string]int{},
		gen: map[string]int{}, cache: map[string]cachedScores{},
	}
	h.rewirer = Rewirer{Prune: h.ScoreFunc(), Grow: h.ScoreFunc(), Scope: cfg.Scope}
	if cfg.Prune == CriterionMagnitude {
		h.rewirer.Prune = MagnitudeScore
	}
	switch cfg.GrowInit {
	case GrowInitial:
		h.rewirer.Init = InitValues
	case GrowSign:
		h.rewirer.Init = h.signValues
	}
	return h, nil
}

// Name returns "hebbian".
func (h *Hebbian) Name() string { return "hebbian" }

// Config returns the configuration with defaults filled in.
func (h *Hebbian) Config() HebbianConfig { return h.cfg }

// Zeta returns the update fraction ζ_t of an update at the end of epoch at,
// with the schedule's End as resolved by OnTrainBegin.
func (h *Hebbian) Zeta(at int) float64 {
	return h.cfg.Anneal.Fraction(h.cfg.Zeta, at-h.sched.start, h.sched.end-h.sched.start)
}

// Reports returns the reports of every update so far, in order.
func (h *Hebbian) Reports() []RewireReport { return append([]RewireReport(nil), h.reports...) }

// Scores returns the current score C(i, j) of every edge of layer l (flat,
// i·Out + j), from the statistics gathered since the last reset. It fails
// when no batch has been observed for l.
func (h *Hebbian) Scores(l layers.Sparse) ([]float64, error) {
	name := l.Name()
	s := h.stats[name]
	if s == nil || s.N == 0 {
		return nil, errors.Errorf("hebbian: no statistics for layer %q since the last reset (EveryN %d larger than the batches observed?)", name, h.cfg.EveryN)
	}
	if s.In*s.Out != l.Mask().Len() {
		return nil, errors.Errorf("hebbian: statistics of layer %q are %d×%d, the layer is %d×%d", name, s.In, s.Out, l.Mask().In, l.Mask().Out)
	}
	if c, ok := h.cache[name]; ok && c.gen == h.gen[name] {
		return c.scores, nil
	}
	c := s.Scores(h.cfg.Measure)
	h.cache[name] = cachedScores{gen: h.gen[name], scores: c}
	return c, nil
}

// ScoreFunc returns the Hebbian score as a ScoreFunc: C, or |C| with
// HebbianConfig.Abs. Rewirer prunes the lowest and regrows the highest.
func (h *Hebbian) ScoreFunc() ScoreFunc {
	return func(u *Update) ([]float64, error) {
		c, err := h.Scores(u.Layer)
		if err != nil {
			return nil, err
		}
		out := append([]float64(nil), c...)
		if h.cfg.Abs {
			for k, v := range out {
				out[k] = math.Abs(v)
			}
		}
		return out, nil
	}
}

// signValues starts regrown edges at sign(C)·GrowScale.
func (h *Hebbian) signValues(u *Update, grown []int) ([]float32, error) {
	c, err := h.Scores(u.Layer)
	if err != nil {
		return nil, err
	}
	v := make([]float32, len(grown))
	for n, k := range grown {
		switch {
		case c[k] > 0:
			v[n] = float32(h.cfg.GrowScale)
		case c[k] < 0:
			v[n] = -float32(h.cfg.GrowScale)
		}
	}
	return v, nil
}

// ResetStats clears the statistics of the named layers, or of every layer
// when no name is given.
func (h *Hebbian) ResetStats(names ...string) {
	if len(names) == 0 {
		for name := range h.stats {
			names = append(names, name)
		}
	}
	for _, name := range names {
		if s := h.stats[name]; s != nil {
			s.Reset()
		}
		delete(h.lastObs, name)
		h.gen[name]++
		delete(h.cache, name)
	}
}

// HebbianState is Hebbian's state, for checkpoints.
type HebbianState struct {
	// Updates is the number of updates done.
	Updates int `json:"updates"`
	// Reports are the reports of every update.
	Reports []RewireReport `json:"reports"`
	// Stats are the statistics gathered since the last reset, per layer
	// (layers without any sample are left out).
	Stats map[string]*HebbianStats `json:"stats,omitempty"`
}

// State returns a deep copy of the callback's state.
func (h *Hebbian) State() HebbianState {
	s := HebbianState{Updates: h.updates, Reports: h.Reports(), Stats: map[string]*HebbianStats{}}
	for k, v := range h.stats {
		if v.N > 0 {
			s.Stats[k] = v.Clone()
		}
	}
	return s
}

// MarshalState returns State as JSON, for checkpoints (graph's Stateful
// callbacks).
func (h *Hebbian) MarshalState() ([]byte, error) {
	data, err := json.Marshal(h.State())
	return data, errors.Wrap(err, "hebbian: marshal state")
}

// UnmarshalState restores a state written by MarshalState.
func (h *Hebbian) UnmarshalState(data []byte) error {
	var s HebbianState
	if err := json.Unmarshal(data, &s); err != nil {
		return errors.Wrap(err, "hebbian: unmarshal state")
	}
	return h.SetState(s)
}

// SetState restores a state saved by State.
func (h *Hebbian) SetState(s HebbianState) error {
	if s.Updates < 0 {
		return errors.Errorf("hebbian: SetState: Updates must be >= 0, got %d", s.Updates)
	}
	for k, v := range s.Stats {
		if v == nil {
			return errors.Errorf("hebbian: SetState: nil statistics for layer %q", k)
		}
		if err := v.check(); err != nil {
			return errors.Wrapf(err, "hebbian: SetState: layer %q", k)
		}
	}
	h.updates = s.Updates
	h.reports = append([]RewireReport(nil), s.Reports...)
	h.stats = map[string]*HebbianStats{}
	for k, v := range s.Stats {
		h.stats[k] = v.Clone()
		h.gen[k]++
		delete(h.cache, k)
	}
	h.lastObs = map[string]int{}
	return nil
}

// OnTrainBegin resolves the layers and the schedule's End.
func (h *Hebbian) OnTrainBegin(c *graph.Context) error {
	ls, err := resolveLayers(c, h.cfg.Layers)
	if err != nil {
		return err
	}
	h.layers = ls
	for name, s := range h.stats {
		if l := findLayer(c.Sparse, name); l != nil && s.In*s.Out != l.Mask().Len() {
			return errors.Errorf("restored statistics of layer %q are %d×%d, the layer is %d×%d", name, s.In, s.Out, l.Mask().In, l.Mask().Out)
		}
	}
	if h.cfg.End == 0 {
		h.sched.end = c.Epochs - 1
	}
	return nil
}

// OnEpochBegin clears the epoch's reports.
func (h *Hebbian) OnEpochBegin(*graph.Context) error {
	h.epochReps = h.epochReps[:0]
	return nil
}

// OnBatchEnd gathers statistics (every EveryN-th batch of an epoch that
// leads to an update; always when Zeta is 0).
func (h *Hebbian) OnBatchEnd(c *graph.Context) error {
	if h.cfg.Zeta > 0 && h.sched.next(c.Epoch) < 0 {
		return nil
	}
	return h.observe(c, h.layers)
}

// observe adds the current batch's activations of ls to the statistics, on
// every EveryN-th batch, at most once per step and layer.
func (h *Hebbian) observe(c *graph.Context, ls []layers.Sparse) error {
	if c.Batch%h.cfg.EveryN != 0 {
		return nil
	}
	for _, l := range ls {
		name := l.Name()
		if last, ok := h.lastObs[name]; ok && last == c.Step {
			continue
		}
		in, out, ok := c.Activations(l)
		if !ok {
			return errors.Errorf("hebbian: no activations for layer %q (Context.Activations)", name)
		}
		x, ok1 := in.Data().([]float32)
		y, ok2 := out.Data().([]float32)
		if !ok1 || !ok2 || in.Dims() != 2 {
			return errors.Errorf("hebbian: activations of layer %q are not (batch, features) float32 tensors", name)
		}
		m := l.Mask()
		s := h.stats[name]
		if s == nil {
			s = NewHebbianStats(m.In, m.Out)
			h.stats[name] = s
		}
		if err := s.Add(x, y, in.Shape()[0]); err != nil {
			return errors.Wrapf(err, "hebbian: layer %q", name)
		}
		h.lastObs[name] = c.Step
		h.gen[name]++
	}
	return nil
}

// OnEpochEnd rewires on the schedule's epochs and writes the epoch's logs.
func (h *Hebbian) OnEpochEnd(c *graph.Context) error {
	if h.cfg.Zeta == 0 {
		return nil
	}
	if h.sched.due(c.Epoch) {
		if err := h.update(c, c.Epoch); err != nil {
			return err
		}
	}
	writeRewireLogs(c, h.layers, h.epochReps)
	return nil
}

func (h *Hebbian) update(c *graph.Context, at int) error {
	zeta := h.Zeta(at)
	var reps []RewireReport
	for _, l := range h.layers {
		u := &Update{
			Layer: l, Optimizer: c.Optimizer, Context: c, At: at,
			Rand: rngs.New(h.cfg.Seed, rewireStream("hebbian", l.Name(), at)),
		}
		k := int(math.Round(zeta * float64(l.Mask().Active())))
		rep, err := h.rewirer.Rewire(u, k)
		if err != nil {
			return err
		}
		rep.Zeta = zeta
		reps = append(reps, rep)
		h.ResetStats(l.Name())
	}
	h.updates++
	h.reports = append(h.reports, reps...)
	h.epochReps = append(h.epochReps, reps...)
	return printRewire(h.cfg.Log, "hebbian", c, at, false, zeta, reps)
}
