package callbacks_test

import (
	"fmt"
	"math/rand"

	"github.com/g2g-ml/g2g/callbacks"
	"github.com/g2g-ml/g2g/datasets"
	"github.com/g2g-ml/g2g/graph"
	"github.com/g2g-ml/g2g/layers"
	"github.com/g2g-ml/g2g/optim"
)

// readmeSetup returns the model, data and optimizer the README's DST sample
// assumes: 8 inputs → G2G 16 (density 0.5, 64 active edges) → dense 2, and
// 64 samples whose class says which of the first two inputs is larger.
func readmeSetup() (*graph.Model, *datasets.Dataset, optim.Optimizer, error) {
	g, err := layers.NewG2G(layers.G2GConfig{Name: "hidden", In: 8, Out: 16, Groups: 2, Density: 0.5,
		Sampling: layers.SampleExact, Activation: layers.ReLU, Seed: 1})
	if err != nil {
		return nil, nil, nil, err
	}
	head, err := layers.NewDense(layers.DenseConfig{Name: "out", In: 16, Out: 2, Seed: 2})
	if err != nil {
		return nil, nil, nil, err
	}
	model, err := graph.Sequential([]int{8}, g, head)
	if err != nil {
		return nil, nil, nil, err
	}
	rng := rand.New(rand.NewSource(3))
	d := &datasets.Dataset{Name: "toy", X: make([]float32, 8*64), Y: make([]int, 64), Shape: []int{8}, Classes: 2}
	for i := range d.Y {
		for j := 0; j < 8; j++ {
			d.X[8*i+j] = rng.Float32()
		}
		if d.X[8*i] > d.X[8*i+1] {
			d.Y[i] = 1
		}
	}
	opt, err := optim.NewAdam(optim.AdamConfig{LR: 1e-2})
	return model, d, opt, err
}

// The README's RigL sample, verbatim after the set-up (internal/repocheck
// verifies that it stays so): DST with magnitude pruning, gradient
// regrowth and a cosine-annealed update fraction. With 20 epochs the
// updates run after epochs 1 to 19 (never after the last one), and the
// first replaces round(0.1·64) = 6 of the layer's 64 active edges; the
// density stays 0.5.
func ExampleNewDST_rigL() {
	model, train, opt, err := readmeSetup()
	if err != nil {
		fmt.Println(err)
		return
	}

	dst, _ := callbacks.NewDST(callbacks.DSTConfig{
		Zeta: 0.1, Anneal: callbacks.AnnealCosine,
		Prune: callbacks.CriterionMagnitude, Regrow: callbacks.CriterionGradient, // RigL
		Seed: 1,
	})
	hist, err := model.Fit(train, graph.FitConfig{
		Epochs: 20, BatchSize: 256, Optimizer: opt, Seed: 1,
		Callbacks: []graph.Callback{dst},
	})

	if err != nil {
		fmt.Println(err)
		return
	}
	reps := dst.Reports()
	first, last := reps[0], reps[len(reps)-1]
	fmt.Printf("%d epochs, %d updates\n", len(hist.Epochs), len(reps))
	fmt.Printf("first: after epoch %d, pruned %d, regrown %d, density %.2f\n", first.Epoch+1, first.Pruned, first.Regrown, first.Density)
	fmt.Printf("last: after epoch %d, density %.2f\n", last.Epoch+1, last.Density)
	// Output:
	// 20 epochs, 19 updates
	// first: after epoch 1, pruned 6, regrown 6, density 0.50
	// last: after epoch 19, density 0.50
}
