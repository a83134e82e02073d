package graph

import (
	"fmt"
	"runtime"

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
	size    int   // values per sample of the first input
	sizes   []int // values per sample of every input
	classes int   // values per sample of the first output
	outputs []int // value index of every output
	nodes   []infNode
	scratch [][2][]float32 // feature-major activations of chains, per worker
	sig     *signature     // names and shapes of the inputs and outputs

	lossGraphs *lossGraphCache // evaluates losses of the user's
}

// infNode is one op of the runtime.
type infNode struct {
	name   string
	op     layers.InferenceOp
	fm     layers.FeatureMajorOp // op, when it runs feature-major
	inputs []int                 // indices into the value list (the model inputs first)
	width  int                   // output values per sample
	// chainEnd is, for a feature-major op, the index of the last of the
	// consecutive feature-major ops starting with it, each reading only
	// the one before (which nothing else reads, and which is no output):
	// the chain passes its activations along feature-major. -1 for other
	// ops.
	chainEnd int
	buf      []float32   // output, reused across batches
	ins      [][]float32 // input slices of a batch
}

// newInference checks the nodes' inputs and sizes and finds the chains of
// feature-major ops. sizes holds the number of values per sample of each
// model input (values 0 .. len(sizes)−1; node k computes value
// len(sizes)+k), outputs the value index of each model output.
func newInference(sizes []int, nodes []infNode, outputs []int) (*Inference, error) {
	nin := len(sizes)
	if nin == 0 {
		return nil, errors.New("no input")
	}
	inf := &Inference{size: sizes[0], sizes: append([]int(nil), sizes...), nodes: nodes, outputs: outputs}
	widths := append([]int(nil), sizes...)
	readers := make([]int, nin) // number of ops (and outputs) reading each value
	for k := range nodes {
		n := &nodes[k]
		n.chainEnd = -1
		for _, j := range n.inputs {
			if j < 0 || j >= nin+k {
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
	if len(outputs) == 0 {
		return nil, errors.New("no output")
	}
	for _, o := range outputs {
		if o < nin || o >= len(widths) {
			return nil, errors.Errorf("output value %d is not computed by a layer", o)
		}
		readers[o]++
	}
	inf.classes = widths[outputs[0]]
	// Chains: op k+1 reads only op k's value (index nin+k), which nothing
	// else reads and which is no output.
	for k := len(nodes) - 1; k >= 0; k-- {
		n := &nodes[k]
		if n.fm == nil {
			continue
		}
		n.chainEnd = k
		if k+1 < len(nodes) {
			next := &nodes[k+1]
			if next.fm != nil && next.inputs[0] == nin+k && readers[nin+k] == 1 {
				n.chainEnd = next.chainEnd
			}
		}
	}
	return inf, nil
}

// Classes returns the number of values per sample of the (first) output.
func (inf *Inference) Classes() int { return inf.classes }

// InputSize returns the number of values per sample of the (first) input.
func (inf *Inference) InputSize() int { return inf.size }

// InputNames returns the names of the inputs, in order.
func (inf *Inference) InputNames() []string { return append([]string(nil), inf.sig.inNames...) }

// OutputNames returns the names of the outputs, in order.
func (inf *Inference) OutputNames() []string { return append([]string(nil), inf.sig.outNames...) }

// OutputSizes returns the number of values per sample of each output.
func (inf *Inference) OutputSizes() []int { return append([]int(nil), inf.sig.outWidths...) }

// Predict returns the outputs (n × Classes: the logits of a classifier)
// for the n samples in x, computed batchSize samples at a time. The model
// must have one input and one output; PredictMulti handles several.
func (inf *Inference) Predict(x []float32, batchSize int) ([]float32, error) {
	if len(inf.sizes) != 1 || len(inf.outputs) != 1 {
		return nil, errors.Errorf("predict: the model has %d inputs and %d outputs; use PredictMulti", len(inf.sizes), len(inf.outputs))
	}
	if batchSize < 1 {
		return nil, errors.Errorf("predict: batch size must be at least 1, got %d", batchSize)
	}
	if len(x)%inf.size != 0 {
		return nil, errors.Errorf("predict: %d input values is not a whole number of samples of %d", len(x), inf.size)
	}
	outs, err := inf.predictMulti([][]float32{x}, len(x)/inf.size, batchSize)
	if err != nil {
		return nil, err
	}
	return outs[0], nil
}

// PredictMulti returns every output (in order, each n × values per
// sample) for n samples given as one slice per input (in order, each
// n·size values), computed batchSize samples at a time.
func (inf *Inference) PredictMulti(inputs [][]float32, batchSize int) ([][]float32, error) {
	n, err := checkInputs(inputs, inf.sig, batchSize)
	if err != nil {
		return nil, err
	}
	return inf.predictMulti(inputs, n, batchSize)
}

// predictMulti computes every output of the n samples of inputs.
func (inf *Inference) predictMulti(inputs [][]float32, n, batchSize int) ([][]float32, error) {
	nin := len(inf.sizes)
	outs := make([][]float32, len(inf.outputs))
	for k := range outs {
		w := inf.classes
		if k > 0 {
			w = inf.width(inf.outputs[k])
		}
		outs[k] = make([]float32, 0, n*w)
	}
	vals := make([][]float32, nin+len(inf.nodes))
	for start := 0; start < n; start += batchSize {
		bs := min(batchSize, n-start)
		for j, x := range inputs {
			vals[j] = x[start*inf.sizes[j] : (start+bs)*inf.sizes[j]]
		}
		for k := 0; k < len(inf.nodes); k++ {
			nd := &inf.nodes[k]
			if nd.fm != nil {
				y, err := inf.runChain(k, nd.chainEnd, vals[nd.inputs[0]], bs)
				if err != nil {
					return nil, errors.Wrap(err, "predict")
				}
				k = nd.chainEnd
				vals[nin+k] = y
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
			vals[nin+k] = y
		}
		for k, o := range inf.outputs {
			outs[k] = append(outs[k], vals[o]...)
		}
	}
	return outs, nil
}

// width returns the values per sample of value v.
func (inf *Inference) width(v int) int {
	if v < len(inf.sizes) {
		return inf.sizes[v]
	}
	return inf.nodes[v-len(inf.sizes)].width
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
//
// With several chunks and processors, whole chunks run on different
// processors, each through the whole chain, instead of splitting every
// product of every chunk: no synchronization between layers, and each
// chunk's activations stay in its processor's cache. A chunk's values do
// not depend on which processor computes it, nor on whether its products
// are split (docs/design.md §7.6), so the result is the same.
func (inf *Inference) runChain(k0, k1 int, x []float32, bs int) ([]float32, error) {
	last := &inf.nodes[k1]
	y := last.output(bs)
	in := inf.nodes[k0].fm.InputSize()
	width := in
	for k := k0; k <= k1; k++ {
		width = max(width, inf.nodes[k].width)
	}
	chunks := (bs + chainChunk - 1) / chainChunk
	workers := min(runtime.GOMAXPROCS(0), chunks)
	for len(inf.scratch) < workers {
		inf.scratch = append(inf.scratch, [2][]float32{})
	}
	size := width * kernels.Padded(min(chainChunk, bs))
	for w := range workers {
		if len(inf.scratch[w][0]) < size {
			inf.scratch[w] = [2][]float32{make([]float32, size), make([]float32, size)}
		}
	}
	chunk := func(c int, scratch [2][]float32) error {
		c0 := c * chainChunk
		nc := min(chainChunk, bs-c0)
		np := kernels.Padded(nc)
		cur, next := scratch[0], scratch[1]
		clear(cur[:in*np])
		if err := kernels.Transpose(cur, np, x[c0*in:(c0+nc)*in], in, nc, in); err != nil {
			return err
		}
		for k := k0; k <= k1; k++ {
			if err := inf.nodes[k].fm.ForwardFeatureMajor(cur, next, np); err != nil {
				return errors.Wrapf(err, "layer %q", inf.nodes[k].name)
			}
			cur, next = next, cur
		}
		return kernels.Transpose(y[c0*last.width:(c0+nc)*last.width], last.width, cur, np, last.width, nc)
	}
	if workers < 2 {
		for c := range chunks {
			if err := chunk(c, inf.scratch[0]); err != nil {
				return nil, err
			}
		}
		return y, nil
	}
	// Worker w runs chunks w, w+workers, ...; the kernels' own parallel
	// regions run inside it in one piece.
	errs := make([]error, workers)
	kernels.ParallelFor(workers, func(lo, hi int) {
		for w := lo; w < hi; w++ {
			for c := w; c < chunks && errs[w] == nil; c += workers {
				errs[w] = chunk(c, inf.scratch[w])
			}
		}
	})
	for _, err := range errs {
		if err != nil {
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
	index := map[*Ref]int{}
	var sizes, widths []int
	for k, in := range m.inputs {
		index[in] = k
		sizes = append(sizes, shapeSize(in.shape))
	}
	widths = append(widths, sizes...)
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
		var insz []int
		for _, in := range r.inputs {
			j, ok := index[in]
			if !ok {
				return nil, errors.Errorf("layer %q reads %q, which is not computed before it", l.Name(), in.name)
			}
			nd.inputs = append(nd.inputs, j)
			insz = append(insz, widths[j])
		}
		op, err := l.Inference(insz)
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
	var outputs []int
	for k, out := range m.outputs {
		o := index[out]
		if widths[o] != m.outWidths[k] {
			return nil, errors.Errorf("output %q: the inference ops give %d values per sample, the graph %d", out.name, widths[o], m.outWidths[k])
		}
		outputs = append(outputs, o)
	}
	if len(m.outputs) == 1 && outputs[0] != len(widths)-1 {
		return nil, errors.Errorf("output %q is not the last layer", m.outputs[0].name)
	}
	inf, err := newInference(sizes, nodes, outputs)
	if err != nil {
		return nil, err
	}
	inf.sig = m.signature()
	return inf, nil
}
