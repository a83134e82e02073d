package g2gnet_test

import (
	"fmt"

	"github.com/g2g-ml/g2g/graph/g2gnet"
	"github.com/g2g-ml/g2g/layers"
)

// Build the paper's Fashion-MNIST model, its dense twin and a sparser
// variant with mixer grouping, and compare their sizes.
func Example() {
	for _, v := range []struct {
		name  string
		model g2gnet.Kind
		d     float64
		group layers.Grouping
	}{
		{"reference", g2gnet.G2G, 0.25, layers.GroupIndex},
		{"dense twin", g2gnet.Dense, 0.25, layers.GroupIndex},
		{"mixer, d=0.125", g2gnet.G2G, 0.125, layers.GroupMixer},
	} {
		cfg := g2gnet.Reference()
		cfg.Model, cfg.Density, cfg.Grouping = v.model, v.d, v.group
		m, err := g2gnet.MLP(cfg)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%-14s %d sparse layers, %7d of %d parameters active\n", v.name, len(m.SparseLayers()), m.ActiveParams(), m.NumParams())
	}
	// Output:
	// reference      3 sparse layers,  738314 of 2913290 parameters active
	// dense twin     0 sparse layers, 2913290 of 2913290 parameters active
	// mixer, d=0.125 3 sparse layers,  375818 of 2913290 parameters active
}

// The CIFAR-10 model: the patch encoder, then the same G2G stack on its 512
// features.
func ExampleCIFAR() {
	m, err := g2gnet.CIFAR(g2gnet.CIFARReference(10))
	if err != nil {
		fmt.Println(err)
		return
	}
	logits, err := m.Predict(make([]float32, 2*3*32*32), 2) // two black images
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("input", m.InputShape(), "classes", m.Classes(), "logits", len(logits))
	// Output: input [3 32 32] classes 10 logits 20
}

// A model kind given as text, e.g. on a command line.
func ExampleParseKind() {
	k, err := g2gnet.ParseKind("dense")
	fmt.Println(k, err, k.Sparse())
	_, err = g2gnet.ParseKind("cnn")
	fmt.Println(err)
	// Output:
	// dense <nil> false
	// unknown model "cnn" (want dense, g2g, dense-matched, er or erk)
}
