// Command custom-callback shows how to write a rewiring rule of your own as
// a callback and plug it into training: the G2GNet Fashion-MNIST model
// (docs/design.md §5) trained with DeadInputRewiring, defined below.
//
// The rule: an input unit that (almost) never fires during an epoch (a
// border pixel that is nearly always 0, a hidden ReLU unit that is dead)
// contributes (almost) nothing through its outgoing edges. After each epoch
// (but the last) the rule prunes those edges, weakest first, at most
// MaxFraction of the layer's active edges, and regrows as many edges at
// random from inputs that do fire. The machinery (choosing the edges, editing mask and weights,
// resetting the optimizer's moments, keeping the edge count) is
// callbacks.Rewirer's: the rule only supplies two score functions.
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
	"math/rand"
	"os"

	"github.com/pkg/errors"

	"github.com/g2g-ml/g2g/callbacks"
	"github.com/g2g-ml/g2g/datasets"
	"github.com/g2g-ml/g2g/examples/internal/g2gnet"
	"github.com/g2g-ml/g2g/graph"
	"github.com/g2g-ml/g2g/optim"
)

// DeadInputRewiring moves the outgoing edges of input units that fired in
// less than MinRate of the epoch's samples to inputs that fired more.
type DeadInputRewiring struct {
	// BaseCallback supplies the hooks the rule does not need.
	graph.BaseCallback
	// MinRate is the firing rate (fraction of samples with a positive
	// value) below which an input unit counts as dead.
	MinRate float64
	// MaxFraction caps the edges moved per layer and epoch, as a fraction
	// of the layer's active edges.
	MaxFraction float64
	// Seed drives the random regrowth.
	Seed int64
	// Log receives one line per update (nil: silent).
	Log io.Writer

	fired   map[string][]int // per layer, per input unit: samples where it was > 0
	samples int              // samples seen this epoch
}

// Name names the callback in Fit's errors.
func (d *DeadInputRewiring) Name() string { return "dead-input-rewiring" }

// OnEpochBegin resets the firing counts.
func (d *DeadInputRewiring) OnEpochBegin(c *graph.Context) error {
	d.fired, d.samples = map[string][]int{}, 0
	for _, l := range c.Sparse {
		d.fired[l.Name()] = make([]int, l.Mask().In)
	}
	return nil
}

// OnBatchEnd counts, for every input unit of every sparse layer, the
// samples of the batch in which it fired. The activations are valid only
// during this hook, so they are summarised here, not kept.
func (d *DeadInputRewiring) OnBatchEnd(c *graph.Context) error {
	for _, l := range c.Sparse {
		x, _, ok := c.Activations(l)
		if !ok {
			return errors.Errorf("no activations for layer %q", l.Name())
		}
		data := x.Data().([]float32)
		fired := d.fired[l.Name()]
		in := len(fired)
		for k, v := range data {
			if v > 0 {
				fired[k%in]++
			}
		}
	}
	d.samples += c.BatchSize
	return nil
}

// OnEpochEnd rewires every sparse layer, except after the last epoch.
func (d *DeadInputRewiring) OnEpochEnd(c *graph.Context) error {
	if c.Epoch == c.Epochs-1 {
		return nil
	}
	for _, l := range c.Sparse {
		m := l.Mask()
		fired := d.fired[l.Name()]
		minFired := int(math.Ceil(d.MinRate * float64(d.samples)))
		dead := func(k int) bool { i, _ := m.Edge(k); return fired[i] < minFired }
		// k: the active edges leaving dead inputs, capped.
		k := 0
		for _, e := range m.ActiveIndices() {
			if dead(e) {
				k++
			}
		}
		k = min(k, int(math.Round(d.MaxFraction*float64(m.Active()))))

		r := callbacks.Rewirer{
			// Prune score (lowest first): edges of dead inputs below every
			// other, the weakest first among them.
			Prune: func(u *callbacks.Update) ([]float64, error) {
				w := u.Layer.Weight().Data()
				s := make([]float64, len(w))
				for e := range s {
					s[e] = math.Abs(float64(w[e]))
					if dead(e) {
						s[e] -= 1e9
					}
				}
				return s, nil
			},
			// Grow score (highest first): random among live inputs, never
			// from a dead one.
			Grow: func(u *callbacks.Update) ([]float64, error) {
				s := make([]float64, m.Len())
				for e := range s {
					s[e] = u.Rand.Float64()
					if dead(e) {
						s[e] = -1
					}
				}
				return s, nil
			},
		}
		rng := rand.New(rand.NewSource(d.Seed + int64(c.Epoch)*7919))
		rep, err := r.Rewire(&callbacks.Update{Layer: l, Optimizer: c.Optimizer, Rand: rng, Context: c, At: c.Epoch}, k)
		if err != nil {
			return err
		}
		// Report like the built-in rewiring callbacks, so MetricsLogger and
		// SparsityReport pick the numbers up.
		c.Logs[l.Name()+"/pruned"] += float64(rep.Pruned)
		c.Logs[l.Name()+"/regrown"] += float64(rep.Regrown)
		if d.Log != nil {
			deadUnits := 0
			for _, f := range fired {
				if f < minFired {
					deadUnits++
				}
			}
			fmt.Fprintf(d.Log, "dead-input-rewiring epoch %d/%d: %s: %d dead inputs, moved %d edges, density %.4f\n",
				c.Epoch+1, c.Epochs, l.Name(), deadUnits, rep.Pruned, rep.Density)
		}
	}
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
	rule := &DeadInputRewiring{MinRate: 0.01, MaxFraction: 0.1, Seed: 1, Log: stderr}
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
