// Package g2gnet builds the reference models of the g2g examples (docs/design.md
// §5): the Fashion-MNIST MLP 784 → 1024 → 1024 → 1024 → 10, dense or with G2G
// masks on the hidden weight matrices.
package g2gnet

import (
	"fmt"

	"github.com/pkg/errors"

	"github.com/g2g-ml/g2g/graph"
	"github.com/g2g-ml/g2g/internal/rngs"
	"github.com/g2g-ml/g2g/layers"
)

// MLPConfig describes an MLP whose hidden layers are dense or G2G.
type MLPConfig struct {
	// Input is the number of input features (784 for 28×28 images).
	Input int
	// Hidden are the hidden widths, e.g. {1024, 1024, 1024}.
	Hidden []int
	// Classes is the number of outputs.
	Classes int
	// Model is "dense" or "g2g".
	Model string
	// Groups, Grouping, Density, Intra and Sampling configure the G2G layers.
	Groups   int
	Grouping layers.Grouping
	Density  float64
	Intra    float64
	Sampling layers.Sampling
	// Seed drives every initialization and mask.
	Seed int64
}

// Reference returns docs/design.md §5's Fashion-MNIST configuration: G2G, index
// grouping, G = 8, p = 1, density 0.25, exact sampling.
func Reference() MLPConfig {
	return MLPConfig{
		Input: 784, Hidden: []int{1024, 1024, 1024}, Classes: 10,
		Model: "g2g", Groups: 8, Grouping: layers.GroupIndex, Density: 0.25, Intra: 1,
		Sampling: layers.SampleExact, Seed: 1,
	}
}

// MLP builds the model: ReLU hidden layers (G2G or dense) and a dense output
// layer producing logits.
func MLP(cfg MLPConfig) (*graph.Model, error) {
	ls, err := stack(cfg, cfg.Input)
	if err != nil {
		return nil, err
	}
	return graph.Sequential([]int{cfg.Input}, ls...)
}

// stack returns the hidden layers (G2G or dense, ReLU) on in features and
// the dense output layer.
func stack(cfg MLPConfig, in int) ([]layers.Layer, error) {
	if cfg.Model != "dense" && cfg.Model != "g2g" {
		return nil, errors.Errorf("unknown model %q (want dense or g2g)", cfg.Model)
	}
	if len(cfg.Hidden) == 0 {
		return nil, errors.New("no hidden layers")
	}
	var ls []layers.Layer
	for d, width := range cfg.Hidden {
		name := fmt.Sprintf("hidden%d", d+1)
		seed := rngs.Derive(cfg.Seed, name)
		var l layers.Layer
		var err error
		if cfg.Model == "dense" {
			l, err = layers.NewDense(layers.DenseConfig{Name: name, In: in, Out: width, Activation: layers.ReLU, Seed: seed})
		} else {
			l, err = layers.NewG2G(layers.G2GConfig{
				Name: name, In: in, Out: width, Groups: cfg.Groups, Grouping: cfg.Grouping, Depth: d,
				Intra: cfg.Intra, Density: cfg.Density, Sampling: cfg.Sampling,
				Activation: layers.ReLU, Seed: seed,
			})
		}
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		in = width
	}
	out, err := layers.NewDense(layers.DenseConfig{
		Name: "output", In: in, Out: cfg.Classes, Init: layers.GlorotUniform, Seed: rngs.Derive(cfg.Seed, "output"),
	})
	if err != nil {
		return nil, err
	}
	return append(ls, out), nil
}
