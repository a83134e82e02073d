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

// Model is a trainable graph of layers from one or more inputs to one or
// more outputs: class scores (logits), regression values, reconstructions
// — what its losses compare with targets (see FitConfig.Loss). Its methods
// are not safe for concurrent use.
type Model struct {
	inputs    []*Ref
	outputs   []*Ref
	order     []*Ref // topological order, inputs first
	layers    []layers.Layer
	params    []*layers.Param
	outShapes [][]int // per-sample shape of each output
	outWidths []int   // values per sample of each output

	classes int // outWidths[0]
	train   map[int]*program
	eval    map[int]*program
	// trainObj is the objective the cached training programs compute.
	trainObj *objective
	// lossGraphs evaluates losses of the user's.
	lossGraphs *lossGraphCache
}

// NewModel returns the model computing output from input. It checks that the
// graph is acyclic, that every path starts at input, that layer and
// parameter names are unique, and that the output has a batch dimension
// by building an evaluation graph once. It is NewMultiModel with one input
// and one output.
func NewModel(input, output *Ref) (*Model, error) {
	if input == nil || output == nil {
		return nil, errors.New("model: input and output must not be nil")
	}
	return NewMultiModel([]*Ref{input}, []*Ref{output})
}

// NewMultiModel returns the model computing outputs from inputs, Keras's
// Model(inputs=[...], outputs=[...]): for example two views merged by a
// Concat layer, or a classifier with an auxiliary head. Inputs and outputs
// keep their order; an output is named after its layer, and names must be
// distinct. It checks what NewModel checks, and that every input feeds some
// output.
func NewMultiModel(inputs, outputs []*Ref) (*Model, error) {
	if len(inputs) == 0 || len(outputs) == 0 {
		return nil, errors.Errorf("model: need at least one input and one output, got %d and %d", len(inputs), len(outputs))
	}
	isInput := map[*Ref]bool{}
	names := map[string]bool{}
	for _, in := range inputs {
		if in == nil {
			return nil, errors.New("model: input and output must not be nil")
		}
		if in.layer != nil {
			return nil, errors.Errorf("model: %q is a layer output, not an Input", in.name)
		}
		if len(in.shape) == 0 {
			return nil, errors.Errorf("model: input %q has no shape", in.name)
		}
		for _, d := range in.shape {
			if d < 1 {
				return nil, errors.Errorf("model: input %q has shape %v; every dimension must be at least 1", in.name, in.shape)
			}
		}
		if isInput[in] || names[in.name] {
			return nil, errors.Errorf("model: two inputs are named %q", in.name)
		}
		isInput[in], names[in.name] = true, true
	}
	outNames := map[string]bool{}
	for _, out := range outputs {
		if out == nil {
			return nil, errors.New("model: input and output must not be nil")
		}
		if out.layer == nil {
			return nil, errors.Errorf("model: output %q is an Input; an output must be a layer's output", out.name)
		}
		if outNames[out.name] {
			return nil, errors.Errorf("model: two outputs are named %q (an output is named after its layer)", out.name)
		}
		outNames[out.name] = true
	}
	m := &Model{inputs: inputs, outputs: outputs, train: map[int]*program{}, eval: map[int]*program{}}
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
		if r.layer == nil && !isInput[r] {
			if len(inputs) == 1 {
				return errors.Errorf("model: input %q is not the model's input %q (models take one input)", r.name, inputs[0].name)
			}
			return errors.Errorf("model: input %q is not among the model's inputs (%s)", r.name, refNames(inputs))
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
		if r.layer != nil {
			m.order = append(m.order, r)
		}
		return nil
	}
	for _, out := range outputs {
		if err := visit(out); err != nil {
			return nil, err
		}
	}
	for _, in := range inputs {
		if state[in] != 2 {
			if len(outputs) == 1 {
				return nil, errors.Errorf("model: output %q does not depend on input %q", outputs[0].name, in.name)
			}
			return nil, errors.Errorf("model: no output (%s) depends on input %q", refNames(outputs), in.name)
		}
	}
	m.order = append(append([]*Ref(nil), inputs...), m.order...)
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
	m.outShapes, m.outWidths = p.outShapes, p.widths
	m.classes = p.classes
	return m, nil
}

func refNames(rs []*Ref) string {
	names := make([]string, len(rs))
	for k, r := range rs {
		names[k] = fmt.Sprintf("%q", r.name)
	}
	return strings.Join(names, ", ")
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

// InputShape returns the per-sample shape of the (first) input.
func (m *Model) InputShape() []int { return append([]int(nil), m.inputs[0].shape...) }

// InputSize returns the number of values per sample of the (first) input.
func (m *Model) InputSize() int { return shapeSize(m.inputs[0].shape) }

// Classes returns the number of values per sample of the (first) output:
// the number of classes of a classifier.
func (m *Model) Classes() int { return m.classes }

// InputNames returns the names of the model's inputs, in order.
func (m *Model) InputNames() []string {
	out := make([]string, len(m.inputs))
	for k, r := range m.inputs {
		out[k] = r.name
	}
	return out
}

// InputShapes returns the per-sample shape of each input, in order.
func (m *Model) InputShapes() [][]int {
	out := make([][]int, len(m.inputs))
	for k, r := range m.inputs {
		out[k] = append([]int(nil), r.shape...)
	}
	return out
}

// OutputNames returns the names of the model's outputs (their layers'
// names), in order.
func (m *Model) OutputNames() []string {
	out := make([]string, len(m.outputs))
	for k, r := range m.outputs {
		out[k] = r.name
	}
	return out
}

// OutputShapes returns the per-sample shape of each output, in order.
func (m *Model) OutputShapes() [][]int {
	out := make([][]int, len(m.outShapes))
	for k, s := range m.outShapes {
		out[k] = append([]int(nil), s...)
	}
	return out
}

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
