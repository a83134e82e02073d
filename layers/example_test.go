package layers_test

import (
	"fmt"

	"github.com/g2g-ml/g2g/layers"
)

// The reference G2G layer: 8 ensembles, all intra edges kept, inter edges
// thinned so that exactly a quarter of the edges remain.
func ExampleNewG2G() {
	l, err := layers.NewG2G(layers.G2GConfig{
		Name: "hidden", In: 1024, Out: 1024, Groups: 8, Density: 0.25,
		Sampling: layers.SampleExact, Activation: layers.ReLU, Seed: 1,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	m := l.Mask()
	fmt.Printf("p' = %.4f\n", l.Config().Inter)
	fmt.Printf("active %d of %d (density %.4f)\n", m.Active(), m.Len(), m.Density())
	fmt.Printf("intra-ensemble fraction %.4f\n", m.IntraFraction())
	// Output:
	// p' = 0.1429
	// active 262144 of 1048576 (density 0.2500)
	// intra-ensemble fraction 0.5000
}

// Ensemble assignments of 10 units to 3 groups.
func ExampleGroups() {
	in, _, _ := layers.Groups(layers.GroupIndex, 10, 10, 3, 0, nil)
	fmt.Println("index:      ", in)
	in, _, _ = layers.Groups(layers.GroupMixer, 10, 10, 3, 1, nil)
	fmt.Println("mixer, odd: ", in)
	// Output:
	// index:       [0 0 0 0 1 1 1 2 2 2]
	// mixer, odd:  [0 1 2 0 1 2 0 1 2 0]
}

// A frozen layer runs inference on samples stored feature-major — one row
// per input unit, the samples along it — so that consecutive sparse layers
// need no transposes.
func ExampleG2G_Freeze() {
	l, err := layers.NewG2G(layers.G2GConfig{Name: "h", In: 3, Out: 2, Groups: 1, Density: 1, Activation: layers.ReLU, Seed: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	// W (3 × 2) = [[1, 2], [3, 4], [5, 6]] without the edge from input 1
	// to output 0; biases 0 and -20.
	copy(l.Weight().Data(), []float32{1, 2, 0, 4, 5, 6})
	l.Mask().Data()[2] = 0
	if err := l.Mask().Recount(); err != nil {
		fmt.Println(err)
		return
	}
	copy(l.Bias().Data(), []float32{0, -20})
	f := l.Freeze()
	// Two samples, (1, 1, 1) and (1, 0, 2), as three rows of two.
	xt := []float32{1, 1, 1, 0, 1, 2}
	yt := make([]float32, 2*2)
	if err := f.ForwardFeatureMajor(xt, yt, 2); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("output 0:", yt[:2]) // 1+5 and 1+10
	fmt.Println("output 1:", yt[2:]) // relu(12-20) and relu(14-20)
	// Output:
	// output 0: [6 11]
	// output 1: [0 0]
}
