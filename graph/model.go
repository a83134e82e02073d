package graph

import (
	"fmt"
	"strings"

	"github.com/pkg/errors"

	"github.com/g2g-ml/g2g/layers"
)

// Ref is a symbolic value in a model under construction: a model input or
// the output of a layer applied to other references.
type Ref struct {
	name   string
	shape  []int // per-sample shape, inputs only
	layer  layers.Layer
	inputs []*Ref
}

// Input returns a model input whose samples have the given shape (without
// the batch dimension), for example Input("pixels", 784).
func Input(name string, shape ...int) *Ref {
	return &Ref{name: name, shape: append([]int(nil), shape...)}
}

// Apply returns the reference to l's output on the given inputs. Applying
// the same layer twice shares its parameters.
func Apply(l layers.Layer, inputs ...*Ref) *Ref {
	return &Ref{name: l.Name(), layer: l, inputs: inputs}
}

// Name returns the input's or layer's name.
func (r *Ref) Name() string { return r.name }

// Model is a trainable graph of layers from one input to one output of class
// scores (logits). Its methods are not safe for concurrent use.
type Model struct {
	input  *Ref
	output *Ref
	order  []*Ref // topological order, input first
	layers []layers.Layer
	params []*layers.Param

	classes int
	train   map[int]*program
	eval    map[int]*program
}

// NewModel returns the model computing output from input. It checks that the
// graph is acyclic, that every path starts at input, that layer and
// parameter names are unique, and that the output is (batch, classes) by
// building an evaluation graph once.
func NewModel(input, output *Ref) (*Model, error) {
	if input == nil || output == nil {
		return nil, errors.New("model: input and output must not be nil")
	}
	if input.layer != nil {
		return nil, errors.Errorf("model: %q is a layer output, not an Input", input.name)
	}
	if len(input.shape) == 0 {
		return nil, errors.Errorf("model: input %q has no shape", input.name)
	}
	for _, d := range input.shape {
		if d < 1 {
			return nil, errors.Errorf("model: input %q has shape %v; every dimension must be at least 1", input.name, input.shape)
		}
	}
	m := &Model{input: input, output: output, train: map[int]*program{}, eval: map[int]*program{}}
	state := map[*Ref]int{} // 1 visiting, 2 done
	var visit func(r *Ref) error
	visit = func(r *Ref) error {
		switch state[r] {
		case 1:
			return errors.Errorf("model: cycle through %q", r.name)
		case 2:
			return nil
		}
		state[r] = 1
		if r.layer == nil && r != input {
			return errors.Errorf("model: input %q is not the model's input %q (models take one input)", r.name, input.name)
		}
		for _, in := range r.inputs {
			if in == nil {
				return errors.Errorf("model: layer %q has a nil input", r.name)
			}
			if err := visit(in); err != nil {
				return err
			}
		}
		state[r] = 2
		m.order = append(m.order, r)
		return nil
	}
	if err := visit(output); err != nil {
		return nil, err
	}
	if state[input] != 2 {
		return nil, errors.Errorf("model: output %q does not depend on input %q", output.name, input.name)
	}
	layerNames := map[string]layers.Layer{}
	paramNames := map[string]*layers.Param{}
	for _, r := range m.order {
		if r.layer == nil {
			continue
		}
		if prev, ok := layerNames[r.layer.Name()]; ok {
			if prev != r.layer {
				return nil, errors.Errorf("model: two different layers are named %q", r.layer.Name())
			}
			continue
		}
		layerNames[r.layer.Name()] = r.layer
		m.layers = append(m.layers, r.layer)
		for _, p := range r.layer.Params() {
			if prev, ok := paramNames[p.Name]; ok && prev != p {
				return nil, errors.Errorf("model: two different parameters are named %q", p.Name)
			}
			paramNames[p.Name] = p
			m.params = append(m.params, p)
		}
	}
	p, err := m.program(1, false)
	if err != nil {
		return nil, err
	}
	m.classes = p.classes
	return m, nil
}

// Sequential returns the model that applies ls in order to an input of the
// given per-sample shape.
func Sequential(inputShape []int, ls ...layers.Layer) (*Model, error) {
	if len(ls) == 0 {
		return nil, errors.New("sequential: no layers")
	}
	in := Input("input", inputShape...)
	r := in
	for _, l := range ls {
		if l == nil {
			return nil, errors.New("sequential: nil layer")
		}
		r = Apply(l, r)
	}
	return NewModel(in, r)
}

// InputShape returns the per-sample input shape.
func (m *Model) InputShape() []int { return append([]int(nil), m.input.shape...) }

// InputSize returns the number of values per input sample.
func (m *Model) InputSize() int {
	n := 1
	for _, d := range m.input.shape {
		n *= d
	}
	return n
}

// Classes returns the number of output classes.
func (m *Model) Classes() int { return m.classes }

// Layers returns the model's distinct layers in topological order.
func (m *Model) Layers() []layers.Layer { return append([]layers.Layer(nil), m.layers...) }

// Params returns the model's distinct learnable parameters.
func (m *Model) Params() []*layers.Param { return append([]*layers.Param(nil), m.params...) }

// SparseLayers returns the layers with an editable connectivity mask.
func (m *Model) SparseLayers() []layers.Sparse {
	var out []layers.Sparse
	for _, l := range m.layers {
		if s, ok := l.(layers.Sparse); ok {
			out = append(out, s)
		}
	}
	return out
}

// NumParams returns the number of learnable scalars, masked ones included.
func (m *Model) NumParams() int {
	n := 0
	for _, p := range m.params {
		n += p.Size()
	}
	return n
}

// ActiveParams returns the number of learnable scalars that take part in the
// computation: masked weights are not counted.
func (m *Model) ActiveParams() int {
	n := 0
	for _, p := range m.params {
		n += p.Active()
	}
	return n
}

// MACs returns the multiply-accumulates of one forward pass of one sample
// through the layers that report them (dense and masked weight layers;
// masked edges are not counted).
func (m *Model) MACs() int {
	n := 0
	for _, l := range m.layers {
		n += layers.MACs(l)
	}
	return n
}

// Summary returns a table of the layers with their parameter counts and
// densities, in the spirit of Keras's model.summary().
func (m *Model) Summary() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%-16s %-10s %12s %12s %8s\n", "layer", "type", "params", "active", "density")
	for _, l := range m.layers {
		total, active := 0, 0
		for _, p := range l.Params() {
			total += p.Size()
			active += p.Active()
		}
		density := "-"
		if s, ok := l.(layers.Sparse); ok {
			density = fmt.Sprintf("%.4f", s.Mask().Density())
		}
		typ := strings.TrimPrefix(fmt.Sprintf("%T", l), "*layers.")
		fmt.Fprintf(&sb, "%-16s %-10s %12d %12d %8s\n", l.Name(), typ, total, active, density)
	}
	fmt.Fprintf(&sb, "total: %d parameters, %d active, %d multiply-accumulates per sample\n", m.NumParams(), m.ActiveParams(), m.MACs())
	return sb.String()
}
