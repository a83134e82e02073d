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
