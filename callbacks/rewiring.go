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

// RewiringConfig configures a Rewiring callback: a rewiring rule (Rewirer:
// what to drop and what to grow) run on a Schedule (when, and how much),
// with optional hooks for the statistics its scores need. The hooks and the
// Rewirer's functions must not write weights directly: Rewiring's own edits
// go through the layers' Prune and Grow, so it reports
// graph.WeightPreserver's PreservesWeights as true.
type RewiringConfig struct {
	// Name names the rule (default "rewiring"): it is the callback's Name,
	// the prefix of its errors and summary lines, and the first part of the
	// names of its random streams, "<Name>/<layer>/<at>".
	Name string
	// Schedule says when the layers are rewired and how many edges each
	// update replaces.
	Schedule Schedule
	// Rewirer chooses the edges by its score functions and edits the
	// layers (required: Prune or PruneMix, and Grow).
	Rewirer Rewirer
	// Seed drives the updates' random streams (Update.Rand), one per update
	// and layer, so that a run resumed at an epoch boundary draws the same
	// numbers.
	Seed int64
	// Layers names the layers to rewire; empty means every sparse layer of
	// the model.
	Layers []string
	// Log, when non-nil, receives a one-line summary of every update.
	Log io.Writer

	// TrainBegin, when set, is called at the end of OnTrainBegin with the
	// layers to rewire, once they and the schedule are resolved (check
	// restored statistics against the layers, turn on what the scores need
	// here).
	TrainBegin func(c *graph.Context, ls []layers.Sparse) error
	// Gather, when set, is called at every batch end, before a step-mode
	// update due at that batch, with left: the number of batches after this
	// one until the next update runs, 0 when it runs at the end of this
	// batch (step mode) or of this batch's epoch (epoch mode, last batch),
	// −1 when no update follows (always with Zeta 0). Gather the
	// statistics of the scores here (Context.Activations and
	// Context.DenseGrad are valid), for example only while left is below
	// some bound.
	Gather func(c *graph.Context, left int) error
	// K, when set, returns how many edges to replace in u.Layer, given the
	// schedule's k = round(ζ_t·active) (a rule with fewer candidates may
	// ask for fewer). The Rewirer may still lower it.
	K func(u *Update, k int) (int, error)
	// AfterRewire, when set, is called after each layer's update with its
	// report (reset the statistics gathered for the layer here).
	AfterRewire func(u *Update, rep RewireReport) error
}

// Rewiring is a callback that rewires sparse layers on a schedule: the
// machinery shared by DST, Hebbian and rules of your own. At every update
// of its Schedule it rewires each of its layers through its Rewirer,
// replacing k = round(ζ_t·active) edges, with the random stream
// "<Name>/<layer>/<at>" of that update, and records a RewireReport per
// layer: in Reports (kept in the checkpoint state), in Context.Rewires (read
// by SparsityReport) and, with Log, as a one-line summary
//
//	<name> epoch 3/20 zeta 0.1: hidden1 -20070 +20070 density 0.2500 intra 0.4762 churn 0.1000 | hidden2 ...
//
// At every epoch end it adds to Context.Logs, per layer, "<layer>/pruned",
// "<layer>/regrown" and "<layer>/churn" (summed over the epoch's updates,
// 0 without one; added to values already there) and sets "<layer>/density"
// and "<layer>/intra_fraction"; list it before MetricsLogger and
// SparsityReport so that they record them.
//
// Its state (updates and reports) is saved by checkpoints (graph.Stateful);
// statistics gathered by hooks are not: a rule that keeps some wraps
// Rewiring and saves them itself, as DST and Hebbian do.
type Rewiring struct {
	// BaseCallback supplies the hooks Rewiring does not use.
	graph.BaseCallback

	cfg    RewiringConfig
	sched  Schedule // cfg.Schedule, with End resolved by OnTrainBegin
	layers []layers.Sparse

	updates   int
	reports   []RewireReport
	epochReps []RewireReport
}

// NewRewiring validates cfg and returns the callback.
func NewRewiring(cfg RewiringConfig) (*Rewiring, error) {
	if cfg.Name == "" {
		cfg.Name = "rewiring"
	}
	sched, err := cfg.Schedule.check()
	if err != nil {
		return nil, errors.Wrap(err, cfg.Name)
	}
	cfg.Schedule = sched
	r, err := newRewiring(cfg)
	return r, errors.Wrap(err, cfg.Name)
}

// newRewiring returns the callback for a configuration whose schedule has
// been checked, with errors not yet wrapped with the name.
func newRewiring(cfg RewiringConfig) (*Rewiring, error) {
	if err := cfg.Rewirer.check(); err != nil {
		return nil, err
	}
	if err := checkLayerNames(cfg.Layers); err != nil {
		return nil, err
	}
	cfg.Layers = append([]string(nil), cfg.Layers...)
	return &Rewiring{cfg: cfg, sched: cfg.Schedule}, nil
}

func checkLayerNames(names []string) error {
	for n, name := range names {
		if name == "" {
			return errors.Errorf("Layers[%d] is empty", n)
		}
	}
	return nil
}

// Name returns the rule's name (RewiringConfig.Name).
func (r *Rewiring) Name() string { return r.cfg.Name }

// Schedule returns the schedule, with End resolved once training has begun.
func (r *Rewiring) Schedule() Schedule { return r.sched }

// Zeta returns the update fraction ζ_t of an update at epoch (or step) at,
// with the schedule's End as resolved by OnTrainBegin.
func (r *Rewiring) Zeta(at int) float64 { return r.sched.ZetaAt(at) }

// Reports returns the reports of every update so far, in order (one per
// layer and update).
func (r *Rewiring) Reports() []RewireReport { return append([]RewireReport(nil), r.reports...) }

// Layers returns the layers rewired (known after OnTrainBegin).
func (r *Rewiring) Layers() []layers.Sparse { return append([]layers.Sparse(nil), r.layers...) }

// enabled reports whether the rule rewires at all (Zeta > 0).
func (r *Rewiring) enabled() bool { return r.cfg.Schedule.Zeta > 0 }

// RewiringState is a Rewiring's state, for checkpoints: with it (the
// schedule and the random streams being functions of the epoch or step), a
// run resumed at an epoch boundary rewires exactly as the uninterrupted one.
type RewiringState struct {
	// Updates is the number of updates done.
	Updates int `json:"updates"`
	// Reports are the reports of every update.
	Reports []RewireReport `json:"reports"`
}

// State returns a copy of the callback's state.
func (r *Rewiring) State() RewiringState {
	return RewiringState{Updates: r.updates, Reports: r.Reports()}
}

// checkState validates a state for SetState.
func (r *Rewiring) checkState(s RewiringState) error {
	if s.Updates < 0 {
		return errors.Errorf("%s: SetState: Updates must be >= 0, got %d", r.cfg.Name, s.Updates)
	}
	return nil
}

// setState restores a state checked by checkState.
func (r *Rewiring) setState(s RewiringState) {
	r.updates = s.Updates
	r.reports = append([]RewireReport(nil), s.Reports...)
}

// SetState restores a state saved by State.
func (r *Rewiring) SetState(s RewiringState) error {
	if err := r.checkState(s); err != nil {
		return err
	}
	r.setState(s)
	return nil
}

// MarshalState returns State as JSON, for checkpoints (graph's Stateful
// callbacks).
func (r *Rewiring) MarshalState() ([]byte, error) {
	data, err := json.Marshal(r.State())
	return data, errors.Wrapf(err, "%s: marshal state", r.cfg.Name)
}

// UnmarshalState restores a state written by MarshalState.
func (r *Rewiring) UnmarshalState(data []byte) error {
	var s RewiringState
	if err := json.Unmarshal(data, &s); err != nil {
		return errors.Wrapf(err, "%s: unmarshal state", r.cfg.Name)
	}
	return r.SetState(s)
}

// OnTrainBegin resolves the layers and the schedule's End, then calls the
// TrainBegin hook.
func (r *Rewiring) OnTrainBegin(c *graph.Context) error {
	ls, err := resolveLayers(c, r.cfg.Layers)
	if err != nil {
		return err
	}
	r.layers = ls
	r.sched = r.cfg.Schedule.Resolve(c.Epochs, c.Batches)
	if r.cfg.TrainBegin != nil {
		return r.cfg.TrainBegin(c, ls)
	}
	return nil
}

// OnEpochBegin clears the epoch's reports.
func (r *Rewiring) OnEpochBegin(*graph.Context) error {
	r.epochReps = r.epochReps[:0]
	return nil
}

// OnBatchEnd calls the Gather hook and runs the update in step mode.
func (r *Rewiring) OnBatchEnd(c *graph.Context) error {
	if r.cfg.Gather != nil {
		if err := r.cfg.Gather(c, r.left(c)); err != nil {
			return err
		}
	}
	if r.enabled() && r.sched.Steps() && r.sched.Due(globalStep(c)) {
		return r.update(c, globalStep(c))
	}
	return nil
}

// left returns the number of batches after the current one until the next
// update runs, or −1 if none follows (see RewiringConfig.Gather).
func (r *Rewiring) left(c *graph.Context) int {
	if !r.enabled() {
		return -1
	}
	if r.sched.Steps() {
		if n := r.sched.Next(globalStep(c)); n >= 0 {
			return n - globalStep(c)
		}
		return -1
	}
	if n := r.sched.Next(c.Epoch); n >= 0 {
		return (n-c.Epoch)*c.Batches + c.Batches - 1 - c.Batch
	}
	return -1
}

// globalStep returns the number of steps taken since epoch 0 of the
// training, Epoch·Batches + Batch + 1 in OnBatchEnd. It is derived from the
// epoch, so a run resumed with FitConfig.InitialEpoch continues it even
// without FitConfig.InitialStep.
func globalStep(c *graph.Context) int { return c.Epoch*c.Batches + c.Batch + 1 }

// OnEpochEnd runs the update in epoch mode and writes the epoch's logs.
func (r *Rewiring) OnEpochEnd(c *graph.Context) error {
	if !r.enabled() {
		return nil
	}
	if !r.sched.Steps() && r.sched.Due(c.Epoch) {
		if err := r.update(c, c.Epoch); err != nil {
			return err
		}
	}
	writeRewireLogs(c, r.layers, r.epochReps)
	return nil
}

// update rewires every layer at epoch or step at.
func (r *Rewiring) update(c *graph.Context, at int) error {
	zeta := r.Zeta(at)
	var reps []RewireReport
	for _, l := range r.layers {
		u := &Update{
			Layer: l, Optimizer: c.Optimizer, Context: c, At: at,
			Rand: rngs.New(r.cfg.Seed, rewireStream(r.cfg.Name, l.Name(), at)),
		}
		k := int(math.Round(zeta * float64(l.Mask().Active())))
		if r.cfg.K != nil {
			var err error
			if k, err = r.cfg.K(u, k); err != nil {
				return errors.Wrapf(err, "layer %q: K", l.Name())
			}
		}
		rep, err := r.cfg.Rewirer.Rewire(u, k)
		if err != nil {
			return err
		}
		rep.Zeta = zeta
		reps = append(reps, rep)
		if r.cfg.AfterRewire != nil {
			if err := r.cfg.AfterRewire(u, rep); err != nil {
				return errors.Wrapf(err, "layer %q: after rewiring", l.Name())
			}
		}
	}
	r.updates++
	r.reports = append(r.reports, reps...)
	r.epochReps = append(r.epochReps, reps...)
	c.Rewires = append(c.Rewires, reps...)
	return printRewire(r.cfg.Log, r.cfg.Name, c, at, r.sched.Steps(), zeta, reps)
}

// rewireStream is the name of the random stream of one update of one layer.
func rewireStream(kind, layer string, at int) string {
	return fmt.Sprintf("%s/%s/%d", kind, layer, at)
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
