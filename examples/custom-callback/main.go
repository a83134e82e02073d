// Command custom-callback shows how to write a rewiring rule of your own as
// a callback and plug it into training: the G2GNet Fashion-MNIST model
// (graph/g2gnet, docs/design.md §5) trained with DeadInputRewiring, defined
// below. It uses only the framework's public packages, so it can be copied
// out of this repository as the start of a program of your own.
//
// The rule: an input unit that (almost) never fires during an epoch (a
// border pixel that is nearly always 0, a hidden ReLU unit that is dead)
// contributes (almost) nothing through its outgoing edges. After each epoch
// (but the last) the rule prunes those edges, weakest first, at most a
// tenth of the layer's active edges, and regrows as many edges at random
// from inputs that do fire. The machinery is the framework's: the rule
// supplies two score functions (what to drop, what to grow) and the
// statistics they need; callbacks.Rewirer chooses the edges, edits mask and
// weights, resets the optimizer's moments and keeps the edge count, and
// callbacks.Rewiring runs it on a schedule, with reproducible random
// streams, reports and checkpoint state.
//
// Usage:
//
//	go run ./examples/custom-callback [-epochs 3] [-data DIR]
package main

import (
	"flag"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/pkg/errors"

	"github.com/g2g-ml/g2g/callbacks"
	"github.com/g2g-ml/g2g/datasets"
	"github.com/g2g-ml/g2g/graph"
	"github.com/g2g-ml/g2g/graph/g2gnet"
	"github.com/g2g-ml/g2g/optim"
)

// DeadInputRewiring moves the outgoing edges of input units that fired in
// less than MinRate of the epoch's samples to inputs that fired more. It is
// a rule, not a callback: its methods are the score functions and hooks of
// a callbacks.Rewiring, which supplies the schedule, the random streams,
// the reports (SparsityReport and the logs read them) and the checkpoint
// state. New wires it up.
type DeadInputRewiring struct {
	// MinRate is the firing rate (fraction of samples with a positive
	// value) below which an input unit counts as dead.
	MinRate float64
	// Log receives one line per layer and update (nil: silent).
	Log io.Writer

	fired   map[string][]int // per layer, per input unit: samples where it was > 0
	samples map[string]int   // per layer: samples seen since its last update
}

// New returns the rule as a callback that rewires every sparse layer after
// each epoch but the last, moving at most maxFraction of a layer's active
// edges, with random regrowth drawn from streams derived from seed.
func (d *DeadInputRewiring) New(maxFraction float64, seed int64) (*callbacks.Rewiring, error) {
	d.fired, d.samples = map[string][]int{}, map[string]int{}
	return callbacks.NewRewiring(callbacks.RewiringConfig{
		Name:     "dead-input-rewiring",
		Schedule: callbacks.Schedule{Zeta: maxFraction},
		Rewirer:  callbacks.Rewirer{Prune: d.prune, Grow: d.grow},
		Seed:     seed,
		Gather:   d.gather,
		K:        d.k,
		// AfterRewire prints the rule's line and starts the layer's
		// counts afresh.
		AfterRewire: d.after,
	})
}

// gather counts, for every input unit of every sparse layer, the samples of
// the batch in which it fired, while an update lies ahead (left ≥ 0). The
// activations are valid only during this hook, so they are summarised
// here, not kept.
func (d *DeadInputRewiring) gather(c *graph.Context, left int) error {
	if left < 0 {
		return nil
	}
	for _, l := range c.Sparse {
		x, _, ok := c.Activations(l)
		if !ok {
			return errors.Errorf("no activations for layer %q", l.Name())
		}
		data := x.Data().([]float32)
		fired := d.fired[l.Name()]
		if fired == nil {
			fired = make([]int, l.Mask().In)
			d.fired[l.Name()] = fired
		}
		in := len(fired)
		for k, v := range data {
			if v > 0 {
				fired[k%in]++
			}
		}
		d.samples[l.Name()] += c.BatchSize
	}
	return nil
}

// dead reports whether the edge at flat index e of u's layer leaves a dead
// input.
func (d *DeadInputRewiring) dead(u *callbacks.Update, e int) bool {
	name := u.Layer.Name()
	i, _ := u.Layer.Mask().Edge(e)
	return float64(d.fired[name][i]) < math.Ceil(d.MinRate*float64(d.samples[name]))
}

// k moves the active edges leaving dead inputs, at most the schedule's k.
func (d *DeadInputRewiring) k(u *callbacks.Update, k int) (int, error) {
	n := 0
	for _, e := range u.Layer.Mask().ActiveIndices() {
		if d.dead(u, e) {
			n++
		}
	}
	return min(n, k), nil
}

// prune scores edges for removal (lowest first): edges of dead inputs below
// every other, the weakest first among them.
func (d *DeadInputRewiring) prune(u *callbacks.Update) ([]float64, error) {
	w := u.Layer.Weight().Data()
	s := make([]float64, len(w))
	for e := range s {
		s[e] = math.Abs(float64(w[e]))
		if d.dead(u, e) {
			s[e] -= 1e9
		}
	}
	return s, nil
}

// grow scores edges for regrowth (highest first): random among live
// inputs, never from a dead one.
func (d *DeadInputRewiring) grow(u *callbacks.Update) ([]float64, error) {
	s := make([]float64, u.Layer.Mask().Len())
	for e := range s {
		s[e] = u.Rand.Float64()
		if d.dead(u, e) {
			s[e] = -1
		}
	}
	return s, nil
}

// after prints the update's line and resets the layer's counts.
func (d *DeadInputRewiring) after(u *callbacks.Update, rep callbacks.RewireReport) error {
	name := u.Layer.Name()
	if d.Log != nil {
		deadUnits := 0
		minFired := math.Ceil(d.MinRate * float64(d.samples[name]))
		for _, f := range d.fired[name] {
			if float64(f) < minFired {
				deadUnits++
			}
		}
		fmt.Fprintf(d.Log, "dead-input-rewiring epoch %d/%d: %s: %d dead inputs, moved %d edges, density %.4f\n",
			u.Context.Epoch+1, u.Context.Epochs, name, deadUnits, rep.Pruned, rep.Density)
	}
	clear(d.fired[name])
	d.samples[name] = 0
	return nil
}

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "custom-callback:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("custom-callback", flag.ContinueOnError)
	fs.SetOutput(stderr)
	epochs := fs.Int("epochs", 3, "training epochs")
	data := fs.String("data", "", "directory with the Fashion-MNIST IDX files (default: $G2G_DATA, user cache, /usr/share/datasets/fashion-mnist)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *epochs < 1 {
		return errors.Errorf("-epochs %d: want at least 1", *epochs)
	}
	model, err := g2gnet.MLP(g2gnet.Reference())
	if err != nil {
		return err
	}
	dir, err := datasets.FindFashionMNIST(*data)
	if err != nil {
		return err
	}
	train, test, err := datasets.LoadFashionMNIST(dir)
	if err != nil {
		return err
	}
	opt, err := optim.NewAdam(optim.AdamConfig{LR: 1e-3})
	if err != nil {
		return err
	}
	rule, err := (&DeadInputRewiring{MinRate: 0.01, Log: stderr}).New(0.1, 1)
	if err != nil {
		return err
	}
	_, err = model.Fit(train, graph.FitConfig{
		Epochs: *epochs, BatchSize: 256, Optimizer: opt, Validation: test, Seed: 1,
		// Callbacks run in this order at every hook: the epoch's progress
		// line, then the rule's update, then the sparsity report, which
		// shows the rule's numbers.
		Callbacks: []graph.Callback{callbacks.NewProgress(stderr), rule, callbacks.NewSparsityReport(stderr)},
	})
	if err != nil {
		return err
	}
	_, acc, err := model.Evaluate(test, 1000)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "test accuracy %.2f %%, %d active of %d parameters\n", 100*acc, model.ActiveParams(), model.NumParams())
	return nil
}
