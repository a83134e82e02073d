package callbacks

import (
	"encoding/json"
	"io"
	"math"

	"github.com/pkg/errors"

	"github.com/g2g-ml/g2g/graph"
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
// required; every other zero value means the documented default. Every,
// EverySteps, Start, End, Zeta and Anneal make up its Schedule
// (DSTConfig.Schedule); the other fields choose the criteria.
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

// Schedule returns the schedule part of the configuration: Every,
// EverySteps, Start, End, Zeta and Anneal.
func (cfg DSTConfig) Schedule() Schedule {
	return Schedule{Every: cfg.Every, EverySteps: cfg.EverySteps, Start: cfg.Start, End: cfg.End, Zeta: cfg.Zeta, Anneal: cfg.Anneal}
}

// DST is a callback for dynamic sparse training (SET, RigL and their
// Hebbian variants): on its schedule it prunes k = round(ζ_t·active) edges
// of every rewired layer and regrows as many, through a Rewirer, resetting
// the optimizer state at every changed position.
//
// DST is a Rewiring (which brings the schedule, the update loop, the
// reports, the logs and the summary line, with Name "dst" and random
// streams "dst/<layer>/<at>") whose Rewirer applies the criteria of
// DSTConfig. On top of it DST gathers what the criteria need: the dense
// gradient summed over the last GradBatches batches before an update
// (gradient regrowth) and the statistics of DSTConfig.Hebbian (hebbian
// criteria), and resets both after each layer's update.
//
// At every epoch end it adds to Context.Logs, per layer, "<layer>/pruned",
// "<layer>/regrown" and "<layer>/churn" (summed over the epoch's updates,
// 0 without one; added to values already there) and sets "<layer>/density"
// and "<layer>/intra_fraction"; list it before MetricsLogger and
// SparsityReport so they record them.
type DST struct {
	// Rewiring runs the schedule and the updates.
	*Rewiring

	cfg     DSTConfig
	needGr  bool
	needHeb bool

	grad      map[string][]float32
	gradCount map[string]int
}

// NewDST validates cfg and returns the callback.
func NewDST(cfg DSTConfig) (*DST, error) {
	fail := func(err error) (*DST, error) { return nil, errors.Wrap(err, "dst") }
	sched, err := cfg.Schedule().check()
	if err != nil {
		return fail(err)
	}
	if err := checkZeta(cfg.Zeta, false); err != nil {
		return fail(err)
	}
	cfg.Anneal = sched.Anneal
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
	if err := checkLayerNames(cfg.Layers); err != nil {
		return fail(err)
	}
	d := &DST{cfg: cfg, grad: map[string][]float32{}, gradCount: map[string]int{}}
	var rw Rewirer

	// Prune side.
	switch {
	case cfg.PruneFunc != nil:
		if cfg.Prune != "" || len(cfg.PruneMix) > 0 {
			return fail(errors.New("set only one of Prune, PruneMix and PruneFunc"))
		}
		rw.Prune = cfg.PruneFunc
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
			rw.PruneMix = append(rw.PruneMix, ScoreShare{Score: f, Share: p.Share})
		}
	default:
		if cfg.Prune == "" {
			cfg.Prune = CriterionMagnitude
		}
		f, err := d.pruneScore(cfg.Prune)
		if err != nil {
			return fail(errors.Wrap(err, "Prune"))
		}
		rw.Prune = f
	}
	// Grow side.
	if cfg.GrowFunc != nil {
		if cfg.Regrow != "" {
			return fail(errors.New("set only one of Regrow and GrowFunc"))
		}
		rw.Grow = cfg.GrowFunc
	} else {
		if cfg.Regrow == "" {
			cfg.Regrow = CriterionRandom
		}
		switch cfg.Regrow {
		case CriterionRandom:
			rw.Grow = RandomScore
		case CriterionGradient:
			d.needGr = true
			rw.Grow = d.gradScore
		case CriterionHebbian:
			if cfg.Hebbian == nil {
				return fail(errors.New("Regrow is hebbian but Hebbian is nil"))
			}
			d.needHeb = true
			rw.Grow = cfg.Hebbian.ScoreFunc()
		default:
			return fail(errors.Errorf("unknown Regrow %q (want random, gradient or hebbian)", string(cfg.Regrow)))
		}
	}
	rw.Scope = cfg.Scope
	if cfg.GrowInit == GrowInitial {
		rw.Init = InitValues
	}
	d.cfg = cfg
	rcfg := RewiringConfig{
		Name: "dst", Schedule: sched, Rewirer: rw, Seed: cfg.Seed, Layers: cfg.Layers, Log: cfg.Log,
		TrainBegin: d.trainBegin, AfterRewire: d.afterRewire,
	}
	if d.needHeb || d.needGr {
		rcfg.Gather = d.gather
	}
	if d.Rewiring, err = newRewiring(rcfg); err != nil {
		return fail(err)
	}
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

// Config returns the configuration with defaults filled in.
func (d *DST) Config() DSTConfig { return d.cfg }

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
	rs := d.Rewiring.State()
	s := DSTState{Updates: rs.Updates, Reports: rs.Reports, GradSum: map[string][]float32{}, GradCount: map[string]int{}}
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
	rs := RewiringState{Updates: s.Updates, Reports: s.Reports}
	if err := d.Rewiring.checkState(rs); err != nil {
		return err
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
	d.Rewiring.setState(rs)
	d.grad, d.gradCount = map[string][]float32{}, map[string]int{}
	for k, v := range s.GradSum {
		d.grad[k] = append([]float32(nil), v...)
	}
	for k, v := range s.GradCount {
		d.gradCount[k] = v
	}
	return nil
}

// trainBegin turns on the dense gradient for gradient regrowth and checks
// restored gradient sums against the layers.
func (d *DST) trainBegin(_ *graph.Context, ls []layers.Sparse) error {
	if d.needGr {
		// Layers keep the dense gradient only when asked (it costs a copy
		// per step, and a full product with block kernels).
		for _, l := range ls {
			k, ok := l.(layers.DenseGradProvider)
			if !ok {
				return errors.Errorf("gradient regrowth: layer %q (%T) does not provide the dense gradient (layers.DenseGradProvider)", l.Name(), l)
			}
			k.KeepDenseGrad(true)
		}
	}
	for name, g := range d.grad {
		l := findLayer(ls, name)
		if l == nil || len(g) != l.Mask().Len() {
			return errors.Errorf("restored gradient sum of layer %q does not fit the model", name)
		}
	}
	return nil
}

// gather adds the current batch to the Hebbian statistics and the dense
// gradient sums the next update needs (left batches after this one).
func (d *DST) gather(c *graph.Context, left int) error {
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
	return nil
}

// afterRewire drops what was gathered for the layer just rewired.
func (d *DST) afterRewire(u *Update, _ RewireReport) error {
	name := u.Layer.Name()
	delete(d.grad, name)
	delete(d.gradCount, name)
	if d.needHeb {
		d.cfg.Hebbian.ResetStats(name)
	}
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
