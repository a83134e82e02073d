package graph_test

import (
	"fmt"
	"math/rand"
	"os"

	"github.com/g2g-ml/g2g/callbacks"
	"github.com/g2g-ml/g2g/datasets"
	"github.com/g2g-ml/g2g/graph"
	"github.com/g2g-ml/g2g/layers"
	"github.com/g2g-ml/g2g/optim"
)

// readmePixels returns n random 784-pixel samples in [0, 1) of 10 classes,
// the class being the brightest of the first ten pixels: a rule the
// README's sample can learn, on data small enough to train in a second.
func readmePixels(name string, n int, seed int64) *datasets.Dataset {
	rng := rand.New(rand.NewSource(seed))
	d := &datasets.Dataset{Name: name, Shape: []int{784}, Classes: 10, X: make([]float32, n*784), Y: make([]int, n)}
	for i := range d.Y {
		x := d.X[i*784 : (i+1)*784]
		for k := range x {
			x[k] = rng.Float32()
		}
		for k := 1; k < 10; k++ {
			if x[k] > x[d.Y[i]] {
				d.Y[i] = k
			}
		}
	}
	return d
}

// The README's "Composing a custom architecture" sample, verbatim between
// the data and the checks (internal/repocheck verifies that it stays so):
// two G2G layers with a skip connection, trained for 20 epochs on a tiny
// data set, then evaluated and used for prediction. The counts are those
// of the hand calculation: g1 keeps all 50,176 intra-ensemble edges and
// round(351,232/7) = 50,176 inter ones (p' = (0.25 − 1/8)/(1 − 1/8) = 1/7),
// plus 512 biases; g2 samples each edge independently (Bernoulli), so its
// density is 0.25 only in expectation.
func ExampleModel_Fit_composing() {
	train, test := readmePixels("train", 64, 1), readmePixels("test", 32, 2)
	x := test.X

	in := graph.Input("pixels", 784)
	g1, _ := layers.NewG2G(layers.G2GConfig{Name: "g1", In: 784, Out: 512, Groups: 8,
		Density: 0.25, Sampling: layers.SampleExact, Activation: layers.ReLU, Seed: 1})
	g2, _ := layers.NewG2G(layers.G2GConfig{Name: "g2", In: 512, Out: 512, Groups: 8,
		Grouping: layers.GroupMixer, Depth: 1, Density: 0.25, Activation: layers.ReLU, Seed: 2})
	skip, _ := layers.NewAdd("skip")
	head, _ := layers.NewDense(layers.DenseConfig{Name: "head", In: 512, Out: 10, Seed: 3})

	h := graph.Apply(g1, in)
	out := graph.Apply(head, graph.Apply(skip, h, graph.Apply(g2, h)))
	model, err := graph.NewModel(in, out) // checks shapes by building the graph once
	// a plain chain is graph.Sequential([]int{784}, layer1, layer2, ...)

	opt, _ := optim.NewAdam(optim.AdamConfig{LR: 1e-3})
	hist, err := model.Fit(train, graph.FitConfig{
		Epochs: 20, BatchSize: 256, Optimizer: opt, Validation: test, Seed: 1,
		Callbacks: []graph.Callback{callbacks.NewProgress(os.Stderr)},
	})
	loss, acc, err := model.Evaluate(test, 1000)
	logits, err := model.Predict(x, 1000)
	fmt.Print(model.Summary()) // per-layer parameters, active parameters, density

	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%d epochs, %d logits, loss > 0: %v, accuracy in [0, 1]: %v\n",
		len(hist.Epochs), len(logits), loss > 0, acc >= 0 && acc <= 1)
	// Output:
	// layer            type             params       active  density
	// g1               G2G              401920       100864   0.2500
	// g2               G2G              262656        66236   0.2507
	// skip             Add                   0            0        -
	// head             Dense              5130         5130        -
	// total: 669706 parameters, 172230 active, 171196 multiply-accumulates per sample
	// 20 epochs, 320 logits, loss > 0: true, accuracy in [0, 1]: true
}
