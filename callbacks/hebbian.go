package callbacks

import (
	"encoding/json"
	"io"
	"math"

	"github.com/pkg/errors"

	"github.com/g2g-ml/g2g/graph"
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

// HebbianConfig configures Hebbian rewiring (docs/design.md §4). Every, Start,
// End, Zeta and Anneal make up its Schedule (HebbianConfig.Schedule); the
// other fields configure the statistics and the criteria.
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
// Hebbian is a Rewiring (which brings the schedule, the update loop, the
// reports, the logs and the summary line, with Name "hebbian" and random
// streams "hebbian/<layer>/<epoch>") whose criteria are the co-activity
// scores gathered here. It writes the same Context.Logs entries as DST. It
// can also serve as the score source of DST's hebbian criteria
// (DSTConfig.Hebbian), with Zeta 0 if it should not rewire on its own.
type Hebbian struct {
	// Rewiring runs the schedule and the updates.
	*Rewiring

	cfg HebbianConfig

	stats   map[string]*HebbianStats
	lastObs map[string]int // step of the last observation per layer
	gen     map[string]int // bumped at every change of the statistics
	cache   map[string]cachedScores
}

type cachedScores struct {
	gen    int
	scores []float64
}

// Schedule returns the schedule part of the configuration: Every, Start,
// End, Zeta and Anneal (epochs only).
func (cfg HebbianConfig) Schedule() Schedule {
	return Schedule{Every: cfg.Every, Start: cfg.Start, End: cfg.End, Zeta: cfg.Zeta, Anneal: cfg.Anneal}
}

// NewHebbian validates cfg and returns the callback.
func NewHebbian(cfg HebbianConfig) (*Hebbian, error) {
	fail := func(err error) (*Hebbian, error) { return nil, errors.Wrap(err, "hebbian") }
	sched, err := cfg.Schedule().check()
	if err != nil {
		return fail(err)
	}
	cfg.Anneal = sched.Anneal
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
	h := &Hebbian{
		cfg:   cfg,
		stats: map[string]*HebbianStats{}, lastObs: map[string]int{},
		gen: map[string]int{}, cache: map[string]cachedScores{},
	}
	rw := Rewirer{Prune: h.ScoreFunc(), Grow: h.ScoreFunc(), Scope: cfg.Scope}
	if cfg.Prune == CriterionMagnitude {
		rw.Prune = MagnitudeScore
	}
	switch cfg.GrowInit {
	case GrowInitial:
		rw.Init = InitValues
	case GrowSign:
		rw.Init = h.signValues
	}
	h.Rewiring, err = newRewiring(RewiringConfig{
		Name: "hebbian", Schedule: sched, Rewirer: rw, Seed: cfg.Seed, Layers: cfg.Layers, Log: cfg.Log,
		TrainBegin: h.trainBegin, Gather: h.gather, AfterRewire: h.afterRewire,
	})
	if err != nil {
		return fail(err)
	}
	return h, nil
}

// Config returns the configuration with defaults filled in.
func (h *Hebbian) Config() HebbianConfig { return h.cfg }

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
	rs := h.Rewiring.State()
	s := HebbianState{Updates: rs.Updates, Reports: rs.Reports, Stats: map[string]*HebbianStats{}}
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
	rs := RewiringState{Updates: s.Updates, Reports: s.Reports}
	if err := h.Rewiring.checkState(rs); err != nil {
		return err
	}
	for k, v := range s.Stats {
		if v == nil {
			return errors.Errorf("hebbian: SetState: nil statistics for layer %q", k)
		}
		if err := v.check(); err != nil {
			return errors.Wrapf(err, "hebbian: SetState: layer %q", k)
		}
	}
	h.Rewiring.setState(rs)
	h.stats = map[string]*HebbianStats{}
	for k, v := range s.Stats {
		h.stats[k] = v.Clone()
		h.gen[k]++
		delete(h.cache, k)
	}
	h.lastObs = map[string]int{}
	return nil
}

// trainBegin checks restored statistics against the model's layers.
func (h *Hebbian) trainBegin(c *graph.Context, _ []layers.Sparse) error {
	for name, s := range h.stats {
		if l := findLayer(c.Sparse, name); l != nil && s.In*s.Out != l.Mask().Len() {
			return errors.Errorf("restored statistics of layer %q are %d×%d, the layer is %d×%d", name, s.In, s.Out, l.Mask().In, l.Mask().Out)
		}
	}
	return nil
}

// gather gathers statistics (every EveryN-th batch of an epoch that leads
// to an update, left >= 0; always when Zeta is 0).
func (h *Hebbian) gather(c *graph.Context, left int) error {
	if h.cfg.Zeta > 0 && left < 0 {
		return nil
	}
	return h.observe(c, h.layers)
}

// afterRewire resets the statistics of the layer just rewired.
func (h *Hebbian) afterRewire(u *Update, _ RewireReport) error {
	h.ResetStats(u.Layer.Name())
	return nil
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
			return errors.Errorf("hebbian: no activations for layer %q (Context.Activations; the layer must record them with layers.Builder.Record)", name)
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
