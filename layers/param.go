package layers

import (
	"github.com/pkg/errors"
	"gorgonia.org/tensor"
)

// Param is a learnable tensor owned by a layer. Every graph the layer is
// built into binds its node to Value without copying, so an in-place edit of
// Value is seen by the next run of every graph.
type Param struct {
	// Name is unique within a model, for example "g2g_1/W".
	Name string
	// Value holds the live weights (float32).
	Value *tensor.Dense
	// Mask is the connectivity mask of a sparse weight, nil for dense ones.
	Mask *Mask
	// NoDecay excludes the parameter from weight decay (biases).
	NoDecay bool
}

// Data returns the live backing slice of the parameter's values.
func (p *Param) Data() []float32 { return p.Value.Float32s() }

// Size returns the number of entries.
func (p *Param) Size() int { return p.Value.Shape().TotalSize() }

// Active returns the number of entries that take part in the computation:
// the active edges of a masked parameter, every entry of a dense one.
func (p *Param) Active() int {
	if p.Mask != nil {
		return p.Mask.Active()
	}
	return p.Size()
}

func newParam(name string, noDecay bool, shape ...int) *Param {
	n := 1
	for _, s := range shape {
		n *= s
	}
	return &Param{
		Name:    name,
		Value:   tensor.New(tensor.WithShape(shape...), tensor.WithBacking(make([]float32, n))),
		NoDecay: noDecay,
	}
}

// checkName rejects empty layer names, which would give parameters and graph
// nodes ambiguous names.
func checkName(kind, name string) error {
	if name == "" {
		return errors.Errorf("%s: Name must not be empty", kind)
	}
	return nil
}
