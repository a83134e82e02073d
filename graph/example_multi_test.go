package graph_test

import (
	"fmt"
	"math/rand"
	"slices"

	G "gorgonia.org/gorgonia"

	"github.com/g2g-ml/g2g/datasets"
	"github.com/g2g-ml/g2g/graph"
	"github.com/g2g-ml/g2g/layers"
	"github.com/g2g-ml/g2g/optim"
)

// twoViews returns n samples of two 784-value views, a label (the
// brightest of the first ten values of the left view) and 4 regression
// targets (means of slices of the right view).
func twoViews(n int, seed int64) (left, right []float32, labels []int, aux []float32) {
	rng := rand.New(rand.NewSource(seed))
	left, right = make([]float32, n*784), make([]float32, n*784)
	labels, aux = make([]int, n), make([]float32, n*4)
	for i := 0; i < n; i++ {
		l, r := left[i*784:(i+1)*784], right[i*784:(i+1)*784]
		for k := range l {
			l[k], r[k] = rng.Float32(), rng.Float32()
		}
		for k := 1; k < 10; k++ {
			if l[k] > l[labels[i]] {
				labels[i] = k
			}
		}
		for j := 0; j < 4; j++ {
			var s float32
			for _, v := range r[j*196 : (j+1)*196] {
				s += v
			}
			aux[i*4+j] = s / 196
		}
	}
	return left, right, labels, aux
}

// The README's "Any model, any loss" samples, verbatim between the data
// and the checks (internal/repocheck verifies that they stay so): a model
// of two inputs and two outputs, trained with a loss per output and a
// weight on the auxiliary one, then used for prediction; and a loss of
// one's own.
func ExampleNewMultiModel() {
	leftPixels, rightPixels, labels, auxTargets := twoViews(64, 1)
	opt, _ := optim.NewAdam(optim.AdamConfig{LR: 1e-3})

	left, right := graph.Input("left", 784), graph.Input("right", 784)
	merge, _ := layers.NewConcat("merge")
	trunk, _ := layers.NewG2G(layers.G2GConfig{Name: "trunk", In: 1568, Out: 512, Groups: 8,
		Density: 0.25, Sampling: layers.SampleExact, Activation: layers.ReLU, Seed: 1})
	cls, _ := layers.NewDense(layers.DenseConfig{Name: "cls", In: 512, Out: 10, Seed: 2})
	aux, _ := layers.NewDense(layers.DenseConfig{Name: "aux", In: 512, Out: 4, Seed: 3})

	h := graph.Apply(trunk, graph.Apply(merge, left, right))
	model, err := graph.NewMultiModel([]*graph.Ref{left, right},
		[]*graph.Ref{graph.Apply(cls, h), graph.Apply(aux, h)})

	// X feeds input "left", the field named "right" the other one; the labels Y
	// are the targets of output "cls", the field named "aux" those of output "aux".
	train := &datasets.Dataset{Name: "views", X: leftPixels, Shape: []int{784}, Y: labels, Classes: 10,
		Fields: []datasets.Field{
			{Name: "right", Shape: []int{784}, Values: rightPixels},
			{Name: "aux", Shape: []int{4}, Values: auxTargets},
		}}
	hist, err := model.Fit(train, graph.FitConfig{
		Epochs: 3, BatchSize: 16, Optimizer: opt, Seed: 1,
		Outputs: map[string]graph.OutputConfig{ // "cls" keeps the defaults: cross-entropy, accuracy
			"aux": {Loss: graph.Huber{Delta: 1}, Weight: 0.3, Metrics: []graph.Metric{graph.MAE{}}},
		},
	})
	// hist.Last(): loss (the weighted total), cls/loss, cls/acc, aux/loss, aux/mae
	outs, err := model.PredictMulti([][]float32{leftPixels, rightPixels}, 1000) // logits, aux values

	l1l2 := graph.NewLoss("l1l2", func(out, target *G.Node) (*G.Node, error) {
		d := G.Must(G.Sub(out, target))
		return G.Add(G.Must(G.Mean(G.Must(G.Square(d)))), G.Must(G.Mean(G.Must(G.Abs(d)))))
	})
	_, err = model.Fit(train, graph.FitConfig{Epochs: 1, BatchSize: 16, Optimizer: opt,
		Outputs: map[string]graph.OutputConfig{"aux": {Loss: l1l2}}})

	if err != nil {
		fmt.Println(err)
		return
	}
	var keys []string
	for k := range hist.Last() {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	fmt.Println(keys)
	fmt.Println(len(outs[0]), len(outs[1]))
	// Output:
	// [aux/loss aux/mae cls/acc cls/loss epoch_seconds loss lr]
	// 640 256
}
