package graph

import (
	"fmt"

	"github.com/pkg/errors"

	"github.com/g2g-ml/g2g/internal/sparse/kernels"
	"github.com/g2g-ml/g2g/layers"
)

// Inference is a model prepared for prediction outside gorgonia: plain Go,
// no graph, any batch size. It runs a sequence of layers.InferenceOp;
// consecutive feature-major ops (sparse layers) pass their activations along
// feature-major, on the sparse kernels, which compute only the active edges.
// LoadInference reads one from an exported model; Model.Predict builds one
// over the model's live weights. It is not safe for concurrent use.
type Inference struct {
	size    int // values per input sample
	classes int
	nodes   []infNode
	scratch [2][]float32 // feature-major activations of chains
}

// infNode is one op of the runtime.
type infNode struct {
	name   string
	op     layers.InferenceOp
	fm     layers.FeatureMajorOp // op, when it runs feature-major
	inputs []int                 // indices into the value list (0 = model input)
	width  int                   // output values per sample
	// chainEnd is, for a feature-major op, the index of the last of the
	// consecutive feature-major ops starting with it, each reading only
	// the one before (which nothing else reads): the chain passes its
	// activations along feature-major. -1 for other ops.
	chainEnd int
	buf      []float32   // output, reused across batches
	ins      [][]float32 // input slices of a batch
}

// newInference checks the nodes' inputs and sizes and finds the chains of
// feature-major ops. size is the number of values per input sample.
func newInference(size int, nodes []infNode) (*Inference, error) {
	inf := &Inference{size: size, nodes: nodes}
	widths := []int{size}
	readers := []int{0} // number of ops reading each value
	for k := range nodes {
		n := &nodes[k]
		n.chainEnd = -1
		for _, j := range n.inputs {
			if j < 0 || j > k {
				return nil, errors.Errorf("node %q reads value %d, which is not computed before it", n.name, j)
			}
			readers[j]++
		}
		n.width = n.op.OutputSize()
		if n.width < 1 {
			return nil, errors.Errorf("node %q: output of %d values per sample", n.name, n.width)
		}
		if fm, ok := n.op.(layers.FeatureMajorOp); ok && len(n.inputs) == 1 && fm.InputSize() == widths[n.inputs[0]] {
			n.fm = fm
		}
		widths = append(widths, n.width)
		readers = append(readers, 0)
	}
	if len(nodes) == 0 {
		return nil, errors.New("no layer")
	}
	inf.classes = widths[len(widths)-1]
	// Chains: op k+1 reads only op k's value (index k+1), which nothing
	// else reads.
	for k := len(nodes) - 1; k >= 0; k-- {
		n := &nodes[k]
		if n.fm == nil {
			continue
		}
		n.chainEnd = k
		if k+1 < len(nodes) {
			next := &nodes[k+1]
			if next.fm != nil && next.inputs[0] == k+1 && readers[k+1] == 1 {
				n.chainEnd = next.chainEnd
			}
		}
	}
	return inf, nil
}

// Classes returns the number of outputs.
func (inf *Inference) Classes() int { return inf.classes }

// InputSize returns the number of values per input sample.
func (inf *Inference) InputSize() int { return inf.size }

// Predict returns the logits (n × Classes) for the n samples in x, computed
// batchSize samples at a time.
func (inf *Inference) Predict(x []float32, batchSize int) ([]float32, error) {
	if batchSize < 1 {
		return nil, errors.Errorf("predict: batch size must be at least 1, got %d", batchSize)
	}
	if len(x)%inf.size != 0 {
		return nil, errors.Errorf("predict: %d input values is not a whole number of samples of %d", len(x), inf.size)
	}
	n := len(x) / inf.size
	out := make([]float32, 0, n*inf.classes)
	vals := make([][]float32, len(inf.nodes)+1)
	for start := 0; start < n; start += batchSize {
		bs := min(batchSize, n-start)
		vals[0] = x[start*inf.size : (start+bs)*inf.size]
		for k := 0; k < len(inf.nodes); k++ {
			nd := &inf.nodes[k]
			if nd.fm != nil {
				y, err := inf.runChain(k, nd.chainEnd, vals[nd.inputs[0]], bs)
				if err != nil {
					return nil, errors.Wrap(err, "predict")
				}
				k = nd.chainEnd
				vals[k+1] = y
				continue
			}
			y := nd.output(bs)
			nd.ins = nd.ins[:0]
			for _, j := range nd.inputs {
				nd.ins = append(nd.ins, vals[j])
			}
			if err := nd.op.Forward(y, nd.ins, bs); err != nil {
				return nil, errors.Wrapf(err, "predict: layer %q", nd.name)
			}
			vals[k+1] = y
		}
		out = append(out, vals[len(vals)-1]...)
	}
	return out, nil
}

// output returns the node's output buffer for bs samples, reused across
// batches (Inference is not safe for concurrent use).
func (nd *infNode) output(bs int) []float32 {
	if cap(nd.buf) < bs*nd.width {
		nd.buf = make([]float32, bs*nd.width)
	}
	return nd.buf[:bs*nd.width]
}

// chainChunk is the number of samples a chain of feature-major ops
// processes at a time, so that its activations stay in cache.
const chainChunk = 256

// runChain runs the feature-major ops nodes[k0..k1] on x (bs samples,
// batch-major) and returns the last one's output, batch-major. In between,
// activations stay feature-major: one transpose in, one out. The samples
// are padded to a kernels-friendly count (kernels.Padded) with zeros.
func (inf *Inference) runChain(k0, k1 int, x []float32, bs int) ([]float32, error) {
	last := &inf.nodes[k1]
	y := last.output(bs)
	in := inf.nodes[k0].fm.InputSize()
	width := in
	for k := k0; k <= k1; k++ {
		width = max(width, inf.nodes[k].width)
	}
	for c0 := 0; c0 < bs; c0 += chainChunk {
		nc := min(chainChunk, bs-c0)
		np := kernels.Padded(nc)
		if len(inf.scratch[0]) < width*np {
			inf.scratch = [2][]float32{make([]float32, width*np), make([]float32, width*np)}
		}
		cur, next := inf.scratch[0], inf.scratch[1]
		clear(cur[:in*np])
		if err := kernels.Transpose(cur, np, x[c0*in:(c0+nc)*in], in, nc, in); err != nil {
			return nil, err
		}
		for k := k0; k <= k1; k++ {
			if err := inf.nodes[k].fm.ForwardFeatureMajor(cur, next, np); err != nil {
				return nil, errors.Wrapf(err, "layer %q", inf.nodes[k].name)
			}
			cur, next = next, cur
		}
		if err := kernels.Transpose(y[c0*last.width:(c0+nc)*last.width], last.width, cur, np, last.width, nc); err != nil {
			return nil, err
		}
	}
	return y, nil
}

// notInferable returns the first layer of the model that does not
// implement layers.Inferable, or nil.
func (m *Model) notInferable() layers.Layer {
	for _, l := range m.layers {
		if _, ok := l.(layers.Inferable); !ok {
			return l
		}
	}
	return nil
}

// PredictPath tells which engine Predict and Evaluate use: "inference
// runtime" when every layer implements layers.Inferable (every layer of
// package layers does), otherwise "gorgonia graph", naming the first layer
// that forces it.
func (m *Model) PredictPath() string {
	if l := m.notInferable(); l != nil {
		return fmt.Sprintf("gorgonia graph (layer %q of type %T does not implement layers.Inferable)", l.Name(), l)
	}
	return "inference runtime"
}

// inference returns the runtime over the model's current weights (sparse
// layers frozen, the others read live, as their Inference methods decide).
// Every layer must implement layers.Inferable. A layer applied several
// times gets one op per application.
func (m *Model) inference() (*Inference, error) {
	index := map[*Ref]int{m.input: 0}
	widths := []int{m.InputSize()}
	var nodes []infNode
	for _, r := range m.order {
		if r.layer == nil {
			continue
		}
		l, ok := r.layer.(layers.Inferable)
		if !ok {
			return nil, errors.Errorf("layer %q of type %T does not implement layers.Inferable", r.layer.Name(), r.layer)
		}
		nd := infNode{name: l.Name()}
		var sizes []int
		for _, in := range r.inputs {
			j, ok := index[in]
			if !ok {
				return nil, errors.Errorf("layer %q reads %q, which is not computed before it", l.Name(), in.name)
			}
			nd.inputs = append(nd.inputs, j)
			sizes = append(sizes, widths[j])
		}
		op, err := l.Inference(sizes)
		if err != nil {
			return nil, errors.Wrapf(err, "layer %q: inference op", l.Name())
		}
		if op == nil {
			return nil, errors.Errorf("layer %q: Inference returned no op", l.Name())
		}
		nd.op = op
		index[r] = len(widths)
		widths = append(widths, op.OutputSize())
		nodes = append(nodes, nd)
	}
	if index[m.output] != len(widths)-1 {
		return nil, errors.Errorf("output %q is not the last layer", m.output.name)
	}
	inf, err := newInference(m.InputSize(), nodes)
	if err != nil {
		return nil, err
	}
	if inf.classes != m.classes {
		return nil, errors.Errorf("the inference ops give %d outputs per sample, the graph %d", inf.classes, m.classes)
	}
	return inf, nil
}
