package graph_test

import (
	"fmt"
	"math"
	"math/rand"
	"sort"

	"github.com/g2g-ml/g2g/datasets"
	"github.com/g2g-ml/g2g/graph"
	"github.com/g2g-ml/g2g/layers"
	"github.com/g2g-ml/g2g/optim"
)

// A functional model with a skip connection around a mixer-grouped G2G layer.
func ExampleNewModel() {
	in := graph.Input("pixels", 16)
	g1, _ := layers.NewG2G(layers.G2GConfig{Name: "g1", In: 16, Out: 8, Groups: 4,
		Density: 0.5, Sampling: layers.SampleExact, Activation: layers.ReLU, Seed: 1})
	g2, _ := layers.NewG2G(layers.G2GConfig{Name: "g2", In: 8, Out: 8, Groups: 4,
		Grouping: layers.GroupMixer, Depth: 1, Density: 0.5, Sampling: layers.SampleExact, Activation: layers.ReLU, Seed: 2})
	skip, _ := layers.NewAdd("skip")
	head, _ := layers.NewDense(layers.DenseConfig{Name: "head", In: 8, Out: 3, Seed: 3})

	h := graph.Apply(g1, in)
	out := graph.Apply(head, graph.Apply(skip, h, graph.Apply(g2, h)))
	model, err := graph.NewModel(in, out)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(model.Summary())
	// Output:
	// layer            type             params       active  density
	// g1               G2G                 136           72   0.5000
	// g2               G2G                  72           40   0.5000
	// skip             Add                   0            0        -
	// head             Dense                27           27        -
	// total: 235 parameters, 139 active, 120 multiply-accumulates per sample
}

// PruneSmallest removes the k smallest-magnitude edges of every sparse layer
// after each epoch, and zeroes the optimizer state at those edges.
type PruneSmallest struct {
	graph.BaseCallback
	K int
}

func (p *PruneSmallest) Name() string { return "prune-smallest" }

func (p *PruneSmallest) OnEpochEnd(c *graph.Context) error {
	for _, l := range c.Sparse {
		w := l.Weight().Data()
		idx := l.Mask().ActiveIndices()
		sort.Slice(idx, func(a, b int) bool { return math.Abs(float64(w[idx[a]])) < math.Abs(float64(w[idx[b]])) })
		idx = idx[:min(p.K, len(idx))]
		if err := l.Prune(idx); err != nil { // mask entry and weight become 0
			return err
		}
		if err := c.Optimizer.ResetAt(l.Weight().Name, idx); err != nil {
			return err
		}
	}
	return nil
}

// A user-written callback (the one in the README) plugged into Fit.
func ExampleCallback() {
	g, _ := layers.NewG2G(layers.G2GConfig{Name: "g", In: 4, Out: 8, Groups: 2,
		Density: 0.75, Sampling: layers.SampleExact, Activation: layers.Tanh, Seed: 1})
	head, _ := layers.NewDense(layers.DenseConfig{Name: "head", In: 8, Out: 2, Seed: 2})
	model, _ := graph.Sequential([]int{4}, g, head)

	rng := rand.New(rand.NewSource(1))
	d := &datasets.Dataset{Name: "toy", Shape: []int{4}, Classes: 2}
	for i := 0; i < 64; i++ {
		x := []float32{float32(rng.NormFloat64()), float32(rng.NormFloat64()), 0, 1}
		d.X = append(d.X, x...)
		d.Y = append(d.Y, int(i%2))
	}
	opt, _ := optim.NewAdam(optim.AdamConfig{LR: 0.01})
	before := g.Mask().Active()
	_, err := model.Fit(d, graph.FitConfig{Epochs: 3, BatchSize: 16, Optimizer: opt,
		Callbacks: []graph.Callback{&PruneSmallest{K: 2}}})
	fmt.Println(err, before, "->", g.Mask().Active())
	// Output: <nil> 24 -> 18
}
