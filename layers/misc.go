package layers

import (
	"fmt"

	"github.com/pkg/errors"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/g2g-ml/g2g/internal/rngs"
)

// Dropout zeroes each input entry with probability Rate during training and
// scales the kept ones by 1/(1−Rate); in evaluation it is the identity. Its
// random mask is drawn before every training step from a stream derived from
// its seed and the step number, so runs are reproducible and a run resumed
// at a step draws the masks the uninterrupted run would have.
type Dropout struct {
	name string
	rate float64
	seed int64
}

// NewDropout returns a dropout layer with the given drop rate in [0, 1).
func NewDropout(name string, rate float64, seed int64) (*Dropout, error) {
	if err := checkName("dropout", name); err != nil {
		return nil, err
	}
	if !(rate >= 0 && rate < 1) {
		return nil, errors.Errorf("layer %q: dropout rate must be in [0, 1), got %v", name, rate)
	}
	return &Dropout{name: name, rate: rate, seed: seed}, nil
}

// Name returns the layer's name.
func (l *Dropout) Name() string { return l.name }

// Params returns nil.
func (l *Dropout) Params() []*Param { return nil }

// Rate returns the drop probability.
func (l *Dropout) Rate() float64 { return l.rate }

// Forward multiplies x by a fresh scaled Bernoulli mask in training graphs.
func (l *Dropout) Forward(b *Builder, inputs ...*G.Node) (*G.Node, error) {
	x, err := oneInput(l, inputs)
	if err != nil {
		return nil, err
	}
	if !b.Training || l.rate == 0 {
		return x, nil
	}
	shape := x.Shape().Clone()
	keep := make([]float32, shape.TotalSize())
	t := tensor.New(tensor.WithShape(shape...), tensor.WithBacking(keep))
	scale := float32(1 / (1 - l.rate))
	b.BeforeRun(func(step int) error {
		rng := rngs.New(l.seed, fmt.Sprintf("dropout/%s/%d", l.name, step))
		for k := range keep {
			keep[k] = 0
			if rng.Float64() >= l.rate {
				keep[k] = scale
			}
		}
		return nil
	})
	y, err := G.HadamardProd(x, b.Constant(l.name+"/keep", t))
	if err != nil {
		return nil, wrap(l, err, "dropout")
	}
	return y, nil
}

// Flatten reshapes (batch, d1, d2, ...) to (batch, d1·d2·...).
type Flatten struct{ name string }

// NewFlatten returns a Flatten layer.
func NewFlatten(name string) (*Flatten, error) {
	if err := checkName("flatten", name); err != nil {
		return nil, err
	}
	return &Flatten{name: name}, nil
}

// Name returns the layer's name.
func (l *Flatten) Name() string { return l.name }

// Params returns nil.
func (l *Flatten) Params() []*Param { return nil }

// Forward reshapes x to two dimensions, keeping the batch dimension.
func (l *Flatten) Forward(b *Builder, inputs ...*G.Node) (*G.Node, error) {
	x, err := oneInput(l, inputs)
	if err != nil {
		return nil, err
	}
	s := x.Shape()
	if len(s) == 2 {
		return x, nil
	}
	if len(s) < 2 {
		return nil, errorf(l, "input shape %v has no batch dimension", s)
	}
	y, err := G.Reshape(x, tensor.Shape{s[0], s.TotalSize() / s[0]})
	if err != nil {
		return nil, wrap(l, err, "reshape")
	}
	return y, nil
}

// Add sums two or more inputs of the same shape (for skip connections).
type Add struct{ name string }

// NewAdd returns an Add layer.
func NewAdd(name string) (*Add, error) {
	if err := checkName("add", name); err != nil {
		return nil, err
	}
	return &Add{name: name}, nil
}

// Name returns the layer's name.
func (l *Add) Name() string { return l.name }

// Params returns nil.
func (l *Add) Params() []*Param { return nil }

// Forward returns the sum of the inputs.
func (l *Add) Forward(b *Builder, inputs ...*G.Node) (*G.Node, error) {
	if len(inputs) < 2 {
		return nil, errorf(l, "takes at least 2 inputs, got %d", len(inputs))
	}
	y := inputs[0]
	for _, x := range inputs[1:] {
		if !y.Shape().Eq(x.Shape()) {
			return nil, errorf(l, "input shapes %v and %v differ", y.Shape(), x.Shape())
		}
		var err error
		if y, err = G.Add(y, x); err != nil {
			return nil, wrap(l, err, "add")
		}
	}
	return y, nil
}

// Concat joins two or more inputs along the feature axis (axis 1).
type Concat struct{ name string }

// NewConcat returns a Concat layer.
func NewConcat(name string) (*Concat, error) {
	if err := checkName("concat", name); err != nil {
		return nil, err
	}
	return &Concat{name: name}, nil
}

// Name returns the layer's name.
func (l *Concat) Name() string { return l.name }

// Params returns nil.
func (l *Concat) Params() []*Param { return nil }

// Forward concatenates the inputs along axis 1.
func (l *Concat) Forward(b *Builder, inputs ...*G.Node) (*G.Node, error) {
	if len(inputs) < 2 {
		return nil, errorf(l, "takes at least 2 inputs, got %d", len(inputs))
	}
	y, err := G.Concat(1, inputs...)
	if err != nil {
		return nil, wrap(l, err, "concat")
	}
	return y, nil
}
