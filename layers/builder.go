package layers

import (
	"fmt"

	"github.com/pkg/errors"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Builder builds layers into one gorgonia graph. It binds each parameter to
// one node (so a parameter shared by two layers is one node), keeps
// non-learnable inputs such as masks, collects hooks that must run before
// every execution of the graph, and records the input and output of every
// sparse layer.
type Builder struct {
	// Graph is the expression graph being built.
	Graph *G.ExprGraph
	// Training is true for a training graph: dropout is active.
	Training bool
	// Batch is the fixed batch size of the graph.
	Batch int

	params    map[*Param]*G.Node
	order     []*Param
	consts    map[*tensor.Dense]*G.Node
	beforeRun []func(step int) error
	taps      []Tap
	fm        map[*G.Node]bool // nodes holding feature-major values
	outFM     bool             // the next Forward may give its output feature-major
}

// Tap records the input and output (after the nonlinearity) nodes of a
// sparse layer in one graph.
type Tap struct {
	Layer  Sparse
	Input  *G.Node
	Output *G.Node
	// InputFM and OutputFM report that Input and Output hold
	// feature-major values (see Builder.FeatureMajor): one row per unit,
	// the batch padded along the row.
	InputFM, OutputFM bool
}

// NewBuilder returns a Builder for a new graph with the given batch size.
func NewBuilder(training bool, batch int) *Builder {
	return &Builder{
		Graph:    G.NewGraph(),
		Training: training,
		Batch:    batch,
		params:   map[*Param]*G.Node{},
		consts:   map[*tensor.Dense]*G.Node{},
		fm:       map[*G.Node]bool{},
	}
}

// SetOutputFeatureMajor says whether the layer built next may give its
// output feature-major: one row per unit, the batch padded to a multiple of
// 16 along the row (padding columns zero), the layout of the sparse
// kernels. The model sets it for a layer whose output only layers that
// take feature-major inputs read (FeatureMajorCapable), so that two sparse
// layers in a row skip the transposes between them. A layer that gives a
// feature-major output marks it with MarkFeatureMajor; every other layer
// ignores the setting.
func (b *Builder) SetOutputFeatureMajor(on bool) { b.outFM = on }

// OutputFeatureMajor reports the setting of SetOutputFeatureMajor.
func (b *Builder) OutputFeatureMajor() bool { return b.outFM }

// MarkFeatureMajor records that n holds feature-major values.
func (b *Builder) MarkFeatureMajor(n *G.Node) { b.fm[n] = true }

// FeatureMajor reports whether n holds feature-major values.
func (b *Builder) FeatureMajor(n *G.Node) bool { return b.fm[n] }

// Param returns the node bound to p in this graph, creating it on first use.
// The node shares p.Value's memory.
func (b *Builder) Param(p *Param) *G.Node {
	if n, ok := b.params[p]; ok {
		return n
	}
	n := G.NodeFromAny(b.Graph, p.Value, G.WithName(p.Name))
	b.params[p] = n
	b.order = append(b.order, p)
	return n
}

// Constant returns a non-learnable node bound to t without copying, creating
// it on first use. Edits to t between runs are seen by the next run.
func (b *Builder) Constant(name string, t *tensor.Dense) *G.Node {
	if n, ok := b.consts[t]; ok {
		return n
	}
	n := G.NodeFromAny(b.Graph, t, G.WithName(name))
	b.consts[t] = n
	return n
}

// Params returns the parameters bound in this graph, in first-use order.
func (b *Builder) Params() []*Param { return append([]*Param(nil), b.order...) }

// ParamNode returns the node of p in this graph, or nil.
func (b *Builder) ParamNode(p *Param) *G.Node { return b.params[p] }

// BeforeRun registers f to be called before every run of the graph with the
// training step about to be taken (for example to draw a fresh dropout mask
// from a stream keyed by the step, so a resumed run draws the same masks).
func (b *Builder) BeforeRun(f func(step int) error) { b.beforeRun = append(b.beforeRun, f) }

// RunHooks calls every function registered with BeforeRun, in order.
func (b *Builder) RunHooks(step int) error {
	for _, f := range b.beforeRun {
		if err := f(step); err != nil {
			return err
		}
	}
	return nil
}

// Record notes the input and output nodes of a sparse layer.
func (b *Builder) Record(l Sparse, in, out *G.Node) {
	b.taps = append(b.taps, Tap{Layer: l, Input: in, Output: out, InputFM: b.fm[in], OutputFM: b.fm[out]})
}

// Taps returns the recorded sparse-layer inputs and outputs.
func (b *Builder) Taps() []Tap { return append([]Tap(nil), b.taps...) }

// errorf formats an error that names the layer.
func errorf(l Layer, format string, args ...interface{}) error {
	return errors.Errorf("layer %q: %s", l.Name(), fmt.Sprintf(format, args...))
}

// wrap adds the layer's name to an error from gorgonia.
func wrap(l Layer, err error, what string) error {
	return errors.Wrapf(err, "layer %q: %s", l.Name(), what)
}
