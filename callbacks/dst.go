package callbacks

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/pkg/errors"

	"github.com/g2g-ml/g2g/graph"
	"github.com/g2g-ml/g2g/internal/rngs"
	"github.com/g2g-ml/g2g/layers"
)

// Criterion names a built-in prune or regrow criterion.
type Criterion string

const (
	// CriterionMagnitude prunes the active edges with the smallest |w|.
	CriterionMagnitude Criterion = "magnitude"
	// CriterionRandom prunes or regrows edges uniformly at random (SET).
	CriterionRandom Criterion = "random"
	// CriterionGradient regrows the inactive edges with the largest
	// |dL/d(W⊙M)| (RigL), summed over the last GradBatches batches before
	// the update. Regrowth only.
	CriterionGradient Criterion = "gradient"
	// CriterionHebbian prunes the active edges with the lowest Hebbian score
	// and regrows the inactive edges with the highest (DSTConfig.Hebbian
	// supplies the scores).
	CriterionHebbian Criterion = "hebbian"
)

// CriterionShare is one part of a mixed prune criterion: Share of the
// pruned edges are chosen by Criterion.
type CriterionShare struct {
	// Criterion is magnitude, random or hebbian.
	Criterion Criterion
	// Share is the part's proportion (> 0; shares are normalised).
	Share float64
}

// GrowInit selects the initial weight of regrown edges.
type GrowInit string

const (
	// GrowZero starts regrown edges at zero (default): they change the
	// output only once the optimizer has moved them.
	GrowZero GrowInit = "zero"
	// GrowInitial draws a fresh value from the layer's initializer
	// (layers.Sparse.InitValue).
	GrowInitial GrowInit = "init"
	// GrowSign starts edge (i, j) at sign(C_ij)·GrowScale, C being the
	// Hebbian score (Hebbian only).
	GrowSign GrowInit = "sign"
)

// DSTConfig configures dynamic sparse training (docs/design.md §3). Zeta is
// required; every other zero value means the documented default.
type DSTConfig struct {
	// Every runs an update at the end of every Every-th epoch (default 1).
	Every int
	// EverySteps, when > 0, runs updates every EverySteps optimizer steps
	// (at the batch end) instead of at epoch ends; Start and End then count
	// steps since the beginning of training, Epoch·Batches + Batch + 1
	// (which, unlike Context.Step, does not depend on a resumed run setting
	// FitConfig.InitialStep). Setting both Every and EverySteps is an error.
	EverySteps int
	// Start is the first epoch (or step) at whose end an update may happen
	// (default 0). End is the first one at which none happens any more; 0
	// means the run's last epoch (so no update follows the last epoch, whose
	// freshly pruned weights would get no training), or its total step
	// count. Updates happen at the end of epochs (steps) at with
	// Start <= at < End and (at − Start) divisible by Every (EverySteps).
	Start, End int
	// Zeta is ζ0, the fraction of each layer's active edges replaced per
	// update, in (0, 1); required. k = round(ζ_t·active).
	Zeta float64
	// Anneal is how ζ_t decays from ζ0 with t = at − Start over
	// T = End − Start (default AnnealConstant).
	Anneal Anneal
	// Prune is the prune criterion: magnitude (default), random or hebbian.
	Prune Criterion
	// PruneMix, when set, replaces Prune by several criteria in the given
	// proportions, applied in order.
	PruneMix []CriterionShare
	// Regrow is the regrowth criterion: random (default, SET), gradient
	// (RigL) or hebbian.
	Regrow Criterion
	// PruneFunc and GrowFunc, when set, replace Prune (and PruneMix) and
	// Regrow by a score function of your own.
	PruneFunc, GrowFunc ScoreFunc
	// Scope is where edges are regrown (default ScopeAnywhere).
	Scope Scope
	// GrowInit is the initial weight of regrown edges: GrowZero (default)
	// or GrowInitial.
	GrowInit GrowInit
	// GradBatches is how many batches before each update the dense
	// gradient is summed over for gradient regrowth (default 1: the last
	// batch). Ignored by the other criteria.
	GradBatches int
	// Hebbian supplies the scores of the hebbian criteria. DST gathers its
	// statistics itself (in OnBatchEnd, every Hebbian EveryN-th batch) and
	// resets them after each update, so it need not be in Fit's callback
	// list; if it is, it also rewires on its own unless its Zeta is 0.
	Hebbian *Hebbian
	// Seed drives the update's random streams "dst/<layer>/<at>".
	Seed int64
	// Layers names the layers to rewire; empty means every sparse layer of
	// the model.
	Layers []string
	// Log, when non-nil, receives a one-line summary of every update.
	Log io.Writer
}

// DST is a callback for dynamic sparse training (SET, RigL and their
// Hebbian variants): on its schedule it prunes k = round(ζ_t·active) edges
// of every rewired layer and regrows as many, through a Rewirer, resetting
// the optimizer state at every changed position.
//
// At every epoch end it adds to Context.Logs, per layer, "<layer>/pruned",
// "<layer>/regrown" and "<layer>/churn" (summed over the epoch's updates,
// 0 without one; added to values already there) and sets "<layer>/density"
// and "<layer>/intra_fraction"; list it before MetricsLogger and
// SparsityReport so they record them.
type DST struct {
	// BaseCallback supplies the hooks DST does not use.
	graph.BaseCallback

	cfg     DSTConfig
	sched   rewireSchedule
	rewirer Rewirer
	layers  []layers.Sparse
	needGr  bool
	needHeb bool

	grad      map[string][]float32
	gradCount map[string]int
	updates   int
	reports   []RewireReport
	epochReps []RewireReport
}

// NewDST validates cfg and returns the callback.
func NewDST(cfg DSTConfig) (*DST, error) {
	fail := func(err error) (*DST, error) { return nil, errors.Wrap(err, "dst") }
	var err error
	if cfg.Every != 0 && cfg.EverySteps != 0 {
		return fail(errors.New("set only one of Every (epochs) and EverySteps"))
	}
	if cfg.EverySteps < 0 {
		return fail(errors.Errorf("EverySteps must be >= 0, got %d", cfg.EverySteps))
	}
	if err := checkWindow(cfg.Every, cfg.Start, cfg.End); err != nil {
		return fail(err)
	}
	if err := checkZeta(cfg.Zeta, false); err != nil {
		return fail(err)
	}
	if cfg.Anneal, err = checkAnneal(cfg.Anneal); err != nil {
		return fail(err)
	}
	if cfg.Scope, err = checkScope(cfg.Scope); err != nil {
		return fail(err)
	}
	if cfg.GradBatches < 0 {
		return fail(errors.Errorf("GradBatches must be >= 0, got %d", cfg.GradBatches))
	}
	if cfg.GradBatches == 0 {
		cfg.GradBatches = 1
	}
	if cfg.EverySteps > 0 && cfg.GradBatches > cfg.EverySteps {
		return fail(errors.Errorf("GradBatches (%d) must not exceed EverySteps (%d)", cfg.GradBatches, cfg.EverySteps))
	}
	switch cfg.GrowInit {
	case "":
		cfg.GrowInit = GrowZero
	case GrowZero, GrowInitial:
	default:
		return fail(errors.Errorf("unknown GrowInit %q (want %q or %q)", string(cfg.GrowInit), GrowZero, GrowInitial))
	}
	for n, name := range cfg.Layers {
		if name == "" {
			return fail(errors.Errorf("Layers[%d] is empty", n))
		}
	}
	d := &DST{cfg: cfg, grad: map[string][]float32{}, gradCount: map[string]int{}}
	d.sched = rewireSchedule{every: max(cfg.Every, 1), start: cfg.Start, end: cfg.End}
	if cfg.EverySteps > 0 {
		d.sched = rewireSchedule{steps: true, every: cfg.EverySteps, start: cfg.Start, end: cfg.End}
	}

	// Prune side.
	switch {
	case cfg.PruneFunc != nil:
		if cfg.Prune != "" || len(cfg.PruneMix) > 0 {
			return fail(errors.New("set only one of Prune, PruneMix and PruneFunc"))
		}
		d.rewirer.Prune = cfg.PruneFunc
	case len(cfg.PruneMix) > 0:
		if cfg.Prune != "" {
			return fail(errors.New("set only one of Prune and PruneMix"))
		}
		for n, p := range cfg.PruneMix {
			f, err := d.pruneScore(p.Criterion)
			if err != nil {
				return fail(errors.Wrapf(err, "PruneMix[%d]", n))
			}
			if !(p.Share > 0) || math.IsInf(p.Share, 0) {
				return fail(errors.Errorf("PruneMix[%d].Share must be > 0 and finite, got %v", n, p.Share))
			}
			d.rewirer.PruneMix = append(d.rewirer.PruneMix, ScoreShare{Score: f, Share: p.Share})
		}
	default:
		if cfg.Prune == "" {
			cfg.Prune = CriterionMagnitude
		}
		f, err := d.pruneScore(cfg.Prune)
		if err != nil {
			return fail(errors.Wrap(err, "Prune"))
		}
		d.rewirer.Prune = f
	}
	// Grow side.
	if cfg.GrowFunc != nil {
		if cfg.Regrow != "" {
			return fail(errors.New("set only one of Regrow and GrowFunc"))
		}
		d.rewirer.Grow = cfg.GrowFunc
	} else {
		if cfg.Regrow == "" {
			cfg.Regrow = CriterionRandom
		}
		switch cfg.Regrow {
		case CriterionRandom:
			d.rewirer.Grow = RandomScore
		case CriterionGradient:
			d.needGr = true
			d.rewirer.Grow = d.gradScore
		case CriterionHebbian:
			if cfg.Hebbian == nil {
				return fail(errors.New("Regrow is hebbian but Hebbian is nil"))
			}
			d.needHeb = true
			d.rewirer.Grow = cfg.Hebbian.ScoreFunc()
		default:
			return fail(errors.Errorf("unknown Regrow %q (want random, gradient or hebbian)", string(cfg.Regrow)))
		}
	}
	d.rewirer.Scope = cfg.Scope
	if cfg.GrowInit == GrowInitial {
		d.rewirer.Init = InitValues
	}
	d.cfg = cfg
	return d, nil
}

func (d *DST) pruneScore(c Criterion) (ScoreFunc, error) {
	switch c {
	case CriterionMagnitude:
		return MagnitudeScore, nil
	case CriterionRandom:
		return RandomScore, nil
	case CriterionHebbian:
		if d.cfg.Hebbian == nil {
			return nil, errors.New("criterion hebbian needs DSTConfig.Hebbian")
		}
		d.needHeb = true
		return d.cfg.Hebbian.ScoreFunc(), nil
	case CriterionGradient:
		return nil, errors.New("gradient is a regrowth criterion only")
	}
	return nil, errors.Errorf("unknown prune criterion %q (want magnitude, random or hebbian)", string(c))
}

// Name returns "dst".
func (d *DST) Name() string { return "dst" }

// Config returns the configuration with defaults filled in.
func (d *DST) Config() DSTConfig { return d.cfg }

// Zeta returns the update fraction ζ_t of an update at epoch (or step) at,
// with the schedule's End as resolved by OnTrainBegin.
func (d *DST) Zeta(at int) float64 {
	return d.cfg.Anneal.Fraction(d.cfg.Zeta, at-d.sched.start, d.sched.end-d.sched.start)
}

// Reports returns the reports of every update so far, in order (one per
// layer and update).
func (d *DST) Reports() []RewireReport { return append([]RewireReport(nil), d.reports...) }

// Layers returns the layers DST rewires (known after OnTrainBegin).
func (d *DST) Layers() []layers.Sparse { return append([]layers.Sparse(nil), d.layers...) }

// DSTState is DST's state, for checkpoints: with it (and the schedule being
// a function of the epoch or step), a run resumed at an epoch boundary
// rewires exactly as the uninterrupted one.
type DSTState struct {
	// Updates is the number of updates done.
	Updates int `json:"updates"`
	// Reports are the reports of every update.
	Reports []RewireReport `json:"reports"`
	// GradSum and GradCount hold, per layer, the dense gradient summed over
	// the batches seen since the last update, and their count (gradient
	// regrowth only; empty at epoch boundaries in epoch mode).
	GradSum   map[string][]float32 `json:"grad_sum,omitempty"`
	GradCount map[string]int       `json:"grad_count,omitempty"`
	// Hebbian is the state of DSTConfig.Hebbian when a criterion uses it.
	Hebbian *HebbianState `json:"hebbian,omitempty"`
}

// State returns a deep copy of the callback's state.
func (d *DST) State() DSTState {
	s := DSTState{Updates: d.updates, Reports: d.Reports(), GradSum: map[string][]float32{}, GradCount: map[string]int{}}
	for k, v := range d.grad {
		s.GradSum[k] = append([]float32(nil), v...)
	}
	for k, v := range d.gradCount {
		s.GradCount[k] = v
	}
	if d.needHeb {
		hs := d.cfg.Hebbian.State()
		s.Hebbian = &hs
	}
	return s
}

// MarshalState returns State as JSON, for checkpoints (graph's Stateful
// callbacks).
func (d *DST) MarshalState() ([]byte, error) {
	data, err := json.Marshal(d.State())
	return data, errors.Wrap(err, "dst: marshal state")
}

// UnmarshalState restores a state written by MarshalState.
func (d *DST) UnmarshalState(data []byte) error {
	var s DSTState
	if err := json.Unmarshal(data, &s); err != nil {
		return errors.Wrap(err, "dst: unmarshal state")
	}
	return d.SetState(s)
}

// SetState restores a state saved by State. Gradient sums are checked
// against the layers when training begins.
func (d *DST) SetState(s DSTState) error {
	if s.Updates < 0 {
		return errors.Errorf("dst: SetState: Updates must be >= 0, got %d", s.Updates)
	}
	for k, n := range s.GradCount {
		if n < 0 {
			return errors.Errorf("dst: SetState: GradCount[%q] must be >= 0, got %d", k, n)
		}
		if _, ok := s.GradSum[k]; !ok && n > 0 {
			return errors.Errorf("dst: SetState: GradCount[%q] = %d without GradSum", k, n)
		}
	}
	if s.Hebbian != nil && d.cfg.Hebbian != nil {
		if err := d.cfg.Hebbian.SetState(*s.Hebbian); err != nil {
			return errors.Wrap(err, "dst: SetState")
		}
	}
	d.updates = s.Updates
	d.reports = append([]RewireReport(nil), s.Reports...)
	d.grad, d.gradCount = map[string][]float32{}, map[string]int{}
	for k, v := range s.GradSum {
		d.grad[k] = append([]float32(nil), v...)
	}
	for k, v := range s.GradCount {
		d.gradCount[k] = v
	}
	return nil
}

// OnTrainBegin resolves the layers and the schedule's End.
func (d *DST) OnTrainBegin(c *graph.Context) error {
	ls, err := resolveLayers(c, d.cfg.Layers)
	if err != nil {
		return err
	}
	d.layers = ls
	if d.cfg.Regrow == CriterionGradient {
		// Layers keep the dense gradient only when asked (it costs a copy
		// per step, and a full product with block kernels).
		for _, l := range ls {
			if k, ok := l.(interface{ KeepDenseGrad(bool) }); ok {
				k.KeepDenseGrad(true)
			}
		}
	}
	for name, g := range d.grad {
		l := findLayer(ls, name)
		if l == nil || len(g) != l.Mask().Len() {
			return errors.Errorf("restored gradient sum of layer %q does not fit the model", name)
		}
	}
	if d.cfg.End == 0 {
		if d.sched.steps {
			d.sched.end = c.Epochs * c.Batches
		} else {
			d.sched.end = c.Epochs - 1
		}
	}
	return nil
}

// OnEpochBegin clears the epoch's reports.
func (d *DST) OnEpochBegin(*graph.Context) error {
	d.epochReps = d.epochReps[:0]
	return nil
}

// OnBatchEnd gathers the Hebbian statistics and the dense gradients the
// next update needs, and runs the update in step mode.
func (d *DST) OnBatchEnd(c *graph.Context) error {
	if d.needHeb || d.needGr {
		var left int // batches (steps) until the next update, -1 if none
		if d.sched.steps {
			left = -1
			if n := d.sched.next(globalStep(c)); n >= 0 {
				left = n - globalStep(c)
			}
		} else {
			left = -1
			if n := d.sched.next(c.Epoch); n >= 0 {
				left = (n-c.Epoch)*c.Batches + c.Batches - 1 - c.Batch
			}
		}
		if left >= 0 && d.needHeb {
			if err := d.cfg.Hebbian.observe(c, d.layers); err != nil {
				return err
			}
		}
		if left >= 0 && left < d.cfg.GradBatches && d.needGr {
			if err := d.accumulateGrad(c); err != nil {
				return err
			}
		}
	}
	if d.sched.steps && d.sched.due(globalStep(c)) {
		return d.update(c, globalStep(c))
	}
	return nil
}

// globalStep returns the number of steps taken since epoch 0 of the
// training, Epoch·Batches + Batch + 1 in OnBatchEnd. It is derived from the
// epoch, so a run resumed with FitConfig.InitialEpoch continues it even
// without FitConfig.InitialStep.
func globalStep(c *graph.Context) int { return c.Epoch*c.Batches + c.Batch + 1 }

// OnEpochEnd runs the update in epoch mode and writes the epoch's logs.
func (d *DST) OnEpochEnd(c *graph.Context) error {
	if !d.sched.steps && d.sched.due(c.Epoch) {
		if err := d.update(c, c.Epoch); err != nil {
			return err
		}
	}
	writeRewireLogs(c, d.layers, d.epochReps)
	return nil
}

func (d *DST) accumulateGrad(c *graph.Context) error {
	for _, l := range d.layers {
		g, ok := c.DenseGrad(l)
		if !ok {
			return errors.Errorf("gradient regrowth: no dense gradient for layer %q (Context.DenseGrad)", l.Name())
		}
		gd, ok := g.Data().([]float32)
		if !ok || len(gd) != l.Mask().Len() {
			return errors.Errorf("gradient regrowth: dense gradient of layer %q is not %d float32 values", l.Name(), l.Mask().Len())
		}
		sum := d.grad[l.Name()]
		if sum == nil {
			sum = make([]float32, len(gd))
			d.grad[l.Name()] = sum
		}
		for k, v := range gd {
			sum[k] += v
		}
		d.gradCount[l.Name()]++
	}
	return nil
}

// gradScore scores edges by |summed dense gradient|.
func (d *DST) gradScore(u *Update) ([]float64, error) {
	name := u.Layer.Name()
	g := d.grad[name]
	if g == nil || d.gradCount[name] == 0 {
		return nil, errors.Errorf("no dense gradient gathered for layer %q before the update", name)
	}
	s := make([]float64, len(g))
	for k, v := range g {
		s[k] = math.Abs(float64(v))
	}
	return s, nil
}

// update rewires every layer at epoch or step at.
func (d *DST) update(c *graph.Context, at int) error {
	zeta := d.Zeta(at)
	var reps []RewireReport
	for _, l := range d.layers {
		u := &Update{
			Layer: l, Optimizer: c.Optimizer, Context: c, At: at,
			Rand: rngs.New(d.cfg.Seed, rewireStream("dst", l.Name(), at)),
		}
		k := int(math.Round(zeta * float64(l.Mask().Active())))
		rep, err := d.rewirer.Rewire(u, k)
		if err != nil {
			return err
		}
		rep.Zeta = zeta
		reps = append(reps, rep)
		delete(d.grad, l.Name())
		delete(d.gradCount, l.Name())
		if d.needHeb {
			d.cfg.Hebbian.ResetStats(l.Name())
		}
	}
	d.updates++
	d.reports = append(d.reports, reps...)
	d.epochReps = append(d.epochReps, reps...)
	return printRewire(d.cfg.Log, "dst", c, at, d.sched.steps, zeta, reps)
}

// resolveLayers returns the named sparse layers of the context, or all of
// them when names is empty.
func resolveLayers(c *graph.Context, names []string) ([]layers.Sparse, error) {
	if len(names) == 0 {
		if len(c.Sparse) == 0 {
			return nil, errors.New("the model has no sparse layer to rewire")
		}
		return append([]layers.Sparse(nil), c.Sparse...), nil
	}
	var out []layers.Sparse
	seen := map[string]bool{}
	for _, name := range names {
		if seen[name] {
			return nil, errors.Errorf("layer %q listed twice", name)
		}
		seen[name] = true
		l := findLayer(c.Sparse, name)
		if l == nil {
			var have []string
			for _, s := range c.Sparse {
				have = append(have, s.Name())
			}
			return nil, errors.Errorf("no sparse layer %q (the model has %s)", name, strings.Join(have, ", "))
		}
		out = append(out, l)
	}
	return out, nil
}

func findLayer(ls []layers.Sparse, name string) layers.Sparse {
	for _, l := range ls {
		if l.Name() == name {
			return l
		}
	}
	return nil
}

// writeRewireLogs adds the epoch's rewiring numbers to the logs.
func writeRewireLogs(c *graph.Context, ls []layers.Sparse, reps []RewireReport) {
	if c.Logs == nil {
		c.Logs = map[string]float64{}
	}
	for _, l := range ls {
		name := l.Name()
		var pruned, regrown, churn float64
		for _, r := range reps {
			if r.Layer == name {
				pruned += float64(r.Pruned)
				regrown += float64(r.Regrown)
				churn += r.Churn
			}
		}
		c.Logs[name+"/pruned"] += pruned
		c.Logs[name+"/regrown"] += regrown
		c.Logs[name+"/churn"] += churn
		c.Logs[name+"/density"] = l.Mask().Density()
		c.Logs[name+"/intra_fraction"] = l.Mask().IntraFraction()
	}
}

// printRewire writes the one-line summary of one update.
func printRewire(w io.Writer, kind string, c *graph.Context, at int, steps bool, zeta float64, reps []RewireReport) error {
	if w == nil {
		return nil
	}
	var sb strings.Builder
	if steps {
		fmt.Fprintf(&sb, "%s step %d (epoch %d/%d) zeta %.4g:", kind, at, c.Epoch+1, c.Epochs, zeta)
	} else {
		fmt.Fprintf(&sb, "%s epoch %d/%d zeta %.4g:", kind, at+1, c.Epochs, zeta)
	}
	for n, r := range reps {
		if n > 0 {
			sb.WriteString(" |")
		}
		fmt.Fprintf(&sb, " %s -%d +%d density %.4f intra %.4f churn %.4f", r.Layer, r.Pruned, r.Regrown, r.Density, r.IntraFraction, r.Churn)
	}
	sb.WriteByte('\n')
	if _, err := io.WriteString(w, sb.String()); err != nil {
		return errors.Wrapf(err, "%s: write summary", kind)
	}
	return nil
}
