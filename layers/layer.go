package layers

import (
	"math/rand"

	G "gorgonia.org/gorgonia"
)

// Layer is one step of a model: it owns zero or more parameters and adds
// nodes to the graph a Builder is building.
type Layer interface {
	// Name returns the layer's name, unique within a model.
	Name() string
	// Params returns the layer's learnable parameters.
	Params() []*Param
	// Forward adds the layer's computation on inputs to b's graph and
	// returns the output node. Most layers take exactly one input.
	Forward(b *Builder, inputs ...*G.Node) (*G.Node, error)
}

// Sparse is a layer whose main weight carries a connectivity mask that
// rewiring callbacks may edit between steps.
//
// A sparse layer of your own gets the framework's optional features by
// capability: it calls Builder.Record in Forward to make its input and
// output available to Hebbian rules (graph.Context.Activations), implements
// DenseGradProvider for gradient regrowth (RigL) and MACCounter to be
// counted in multiply-accumulates.
type Sparse interface {
	Layer
	// Weight returns the masked weight parameter (its Mask is non-nil).
	Weight() *Param
	// Mask returns the layer's connectivity mask.
	Mask() *Mask
	// Prune removes the edges at the given flat indices: the mask entry and
	// the weight become exactly zero. Removing an inactive edge is an error.
	Prune(indices []int) error
	// Grow activates the edges at the given flat indices with the given
	// initial weights (nil means zeros). Growing an active edge is an error.
	Grow(indices []int, values []float32) error
	// InitValue draws a fresh initial weight for edge (i, j) from rng, with
	// the distribution used at construction.
	InitValue(rng *rand.Rand, i, j int) float32
}

// MACs returns the multiply-accumulates one sample costs in a layer that
// reports them (a MACCounter: dense and masked weight layers are), and 0
// otherwise.
func MACs(l Layer) int {
	if c, ok := l.(MACCounter); ok {
		return c.MACs()
	}
	return 0
}

// oneInput checks that a single-input layer got exactly one input.
func oneInput(l Layer, inputs []*G.Node) (*G.Node, error) {
	if len(inputs) != 1 {
		return nil, errorf(l, "takes exactly 1 input, got %d", len(inputs))
	}
	return inputs[0], nil
}
