package g2gnet

import (
	"github.com/g2g-ml/g2g/graph"
	"github.com/g2g-ml/g2g/internal/rngs"
	"github.com/g2g-ml/g2g/layers"
)

// CIFARConfig describes docs/design.md §5's CIFAR model: a patch encoder
// (one convolution with kernel = stride = Patch, Filters channels, ReLU) on
// Channels×Size×Size images, flattened to Filters·(Size/Patch)² features,
// then the hidden and output layers of MLPConfig (its Input is ignored: it
// is the encoder's width).
type CIFARConfig struct {
	MLPConfig
	// Channels and Size give the input images' shape (Channels, Size, Size).
	Channels, Size int
	// Patch is the encoder's kernel side and stride.
	Patch int
	// Filters is the encoder's number of output channels.
	Filters int
}

// CIFARReference returns docs/design.md §5's CIFAR configuration for the given
// number of classes (10 or 100): 3×32×32 images, 8×8 patches, 32 filters
// (512 features), G2G 512 → 1024 → 1024 → 1024 with index grouping, G = 8,
// p = 1, density 0.25, exact sampling, and a dense output layer.
func CIFARReference(classes int) CIFARConfig {
	mlp := Reference()
	mlp.Input, mlp.Classes = 512, classes
	return CIFARConfig{MLPConfig: mlp, Channels: 3, Size: 32, Patch: 8, Filters: 32}
}

// CIFAR builds the model cfg describes: the patch encoder (a layers.Conv2D
// named patch, dense whatever cfg.Model says), ReLU hidden layers (of the
// kind cfg.Model says; a parameter-matched kind counts the encoder on both
// sides) and a dense output layer producing logits. Its
// input shape is (Channels, Size, Size).
func CIFAR(cfg CIFARConfig) (*graph.Model, error) {
	enc, err := layers.NewConv2D(layers.Conv2DConfig{
		Name: "patch", InChannels: cfg.Channels, OutChannels: cfg.Filters, Height: cfg.Size, Width: cfg.Size,
		Kernel: cfg.Patch, Stride: cfg.Patch, Activation: layers.ReLU, Flatten: true,
		Seed: rngs.Derive(cfg.Seed, "patch"),
	})
	if err != nil {
		return nil, err
	}
	fixed := 0
	for _, p := range enc.Params() {
		fixed += p.Size()
	}
	ls, err := stack(cfg.MLPConfig, enc.OutputShape()[0], fixed)
	if err != nil {
		return nil, err
	}
	return graph.Sequential([]int{cfg.Channels, cfg.Size, cfg.Size}, append([]layers.Layer{enc}, ls...)...)
}
