package layers_test

import (
	"fmt"
	"log"

	"github.com/g2g-ml/g2g/graph"
	"github.com/g2g-ml/g2g/layers"
)

// The CIFAR patch encoder of docs/design.md §5: one convolution, 32 channels,
// kernel = stride = 8 on 3×32×32 images, flattened to 4·4·32 = 512 ReLU
// features, followed here by a dense classifier.
func ExampleNewConv2D() {
	enc, err := layers.NewConv2D(layers.Conv2DConfig{
		Name: "patch", InChannels: 3, OutChannels: 32, Height: 32, Width: 32,
		Kernel: 8, Stride: 8, Activation: layers.ReLU, Flatten: true, Seed: 1,
	})
	if err != nil {
		log.Fatal(err)
	}
	out, err := layers.NewDense(layers.DenseConfig{Name: "out", In: enc.OutputShape()[0], Out: 10, Seed: 2})
	if err != nil {
		log.Fatal(err)
	}
	m, err := graph.Sequential([]int{3, 32, 32}, enc, out)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("features:", enc.OutputShape(), "weight:", enc.Weight().Value.Shape(), "MACs:", enc.MACs())
	logits, err := m.Predict(make([]float32, 2*3*32*32), 2)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("logits:", len(logits), "params:", m.NumParams())
	// Output:
	// features: [512] weight: (32, 3, 8, 8) MACs: 98304
	// logits: 20 params: 11306
}
