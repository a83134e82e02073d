package graph

import (
	"encoding/binary"
	"encoding/json"
	"slices"

	"github.com/pkg/errors"
	"gonum.org/v1/gonum/blas"

	"github.com/g2g-ml/g2g/internal/npz"
	"github.com/g2g-ml/g2g/internal/sparse"
	"github.com/g2g-ml/g2g/internal/sparse/kernels"
	"github.com/g2g-ml/g2g/layers"
)

// Exported models are .npz archives (numpy.load opens them) holding, per
// layer in topological order, its arrays — dense weights as <name>/W and
// <name>/b; sparse (G2G) weights in compressed sparse row form by input unit,
// <name>/indptr (int64, length in+1), <name>/indices (output
// units, int64) and <name>/values (float32), only the active edges — and an
// entry "g2g_export" with the JSON graph: the input shape and, for every
// node, its type, inputs and attributes.
const (
	exportFormat  = "g2g-export"
	exportVersion = 1
	exportMeta    = "g2g_export"
)

type exportNode struct {
	Name   string   `json:"name"`
	Type   string   `json:"type"`
	Inputs []string `json:"inputs"`
	// Attributes (only those of the type are set).
	In         int    `json:"in,omitempty"`
	Out        int    `json:"out,omitempty"`
	Activation string `json:"activation,omitempty"`
	Bias       bool   `json:"bias,omitempty"`
	Active     int    `json:"active,omitempty"`
	// Ensemble boundaries of a sparse layer whose ensembles are contiguous
	// unit ranges: group g spans [InBounds[g], InBounds[g+1]).
	InBounds  []int `json:"in_bounds,omitempty"`
	OutBounds []int `json:"out_bounds,omitempty"`
	// Conv2D.
	InChannels  int  `json:"in_channels,omitempty"`
	OutChannels int  `json:"out_channels,omitempty"`
	Height      int  `json:"height,omitempty"`
	Width       int  `json:"width,omitempty"`
	Kernel      int  `json:"kernel,omitempty"`
	Stride      int  `json:"stride,omitempty"`
	Padding     int  `json:"padding,omitempty"`
	Flatten     bool `json:"flatten,omitempty"`
}

type exportGraph struct {
	Format     string       `json:"format"`
	Version    int          `json:"version"`
	InputName  string       `json:"input_name"`
	InputShape []int        `json:"input_shape"`
	Output     string       `json:"output"`
	Classes    int          `json:"classes"`
	Nodes      []exportNode `json:"nodes"`
}

// Export writes a compact inference model to path, atomically: only the
// active weights of sparse layers are stored. LoadInference reads it back
// without gorgonia; numpy.load opens it too.
func (m *Model) Export(path string) error {
	g, arrays, err := m.describe(true)
	if err != nil {
		return err
	}
	js, err := json.Marshal(g)
	if err != nil {
		return errors.Wrap(err, "export")
	}
	arrays = append(arrays, npz.Uint8(exportMeta, js, len(js)))
	return errors.Wrap(npz.Write(path, arrays), "export")
}

// describe returns the model's inference graph and, when withArrays is
// set, the arrays Export stores (compressed rows for sparse layers).
func (m *Model) describe(withArrays bool) (exportGraph, []npz.Array, error) {
	g := exportGraph{Format: exportFormat, Version: exportVersion, InputName: m.input.name,
		InputShape: m.input.shape, Output: m.output.name, Classes: m.classes}
	var arrays []npz.Array
	done := map[layers.Layer]bool{}
	for _, r := range m.order {
		if r.layer == nil || done[r.layer] {
			continue
		}
		done[r.layer] = true
		n := exportNode{Name: r.layer.Name()}
		for _, in := range r.inputs {
			n.Inputs = append(n.Inputs, in.name)
		}
		addBias := func(b *layers.Param) {
			if b != nil {
				n.Bias = true
				if withArrays {
					arrays = append(arrays, npz.Float32(n.Name+"/b", b.Data(), len(b.Data())))
				}
			}
		}
		add := func(a func() npz.Array) {
			if withArrays {
				arrays = append(arrays, a())
			}
		}
		switch l := r.layer.(type) {
		case *layers.Dense:
			c := l.Config()
			n.Type, n.In, n.Out, n.Activation = "dense", c.In, c.Out, string(c.Activation)
			add(func() npz.Array { return npz.Float32(n.Name+"/W", l.Weight().Data(), c.In, c.Out) })
			addBias(l.Bias())
		case *layers.G2G:
			c := l.Config()
			n.Type, n.In, n.Out, n.Activation = "sparse_dense", c.In, c.Out, string(c.Activation)
			n.Active = l.Mask().Active()
			n.InBounds, n.OutBounds = layers.EnsembleBounds(l.Mask().InGroup), layers.EnsembleBounds(l.Mask().OutGroup)
			if n.InBounds == nil || n.OutBounds == nil || len(n.InBounds) != len(n.OutBounds) {
				n.InBounds, n.OutBounds = nil, nil
			}
			if withArrays {
				indptr, indices, values := csr(l.Weight().Data(), l.Mask(), c.In, c.Out)
				arrays = append(arrays, int64Array(n.Name+"/indptr", indptr), int64Array(n.Name+"/indices", indices),
					npz.Float32(n.Name+"/values", values, len(values)))
			}
			addBias(l.Bias())
		case *layers.Conv2D:
			c := l.Config()
			n.Type, n.Activation = "conv2d", string(c.Activation)
			n.InChannels, n.OutChannels, n.Height, n.Width = c.InChannels, c.OutChannels, c.Height, c.Width
			n.Kernel, n.Stride, n.Padding, n.Flatten = c.Kernel, c.Stride, c.Padding, c.Flatten
			add(func() npz.Array {
				return npz.Float32(n.Name+"/W", l.Weight().Data(), c.OutChannels, c.InChannels, c.Kernel, c.Kernel)
			})
			addBias(l.Bias())
		case *layers.ActivationLayer:
			n.Type, n.Activation = "activation", string(l.Activation())
		case *layers.Dropout:
			n.Type = "identity"
		case *layers.Flatten:
			n.Type = "flatten"
		case *layers.Add:
			n.Type = "add"
		case *layers.Concat:
			n.Type = "concat"
		default:
			return g, nil, errors.Errorf("export: layer %q of type %T cannot be exported", r.layer.Name(), r.layer)
		}
		g.Nodes = append(g.Nodes, n)
	}
	return g, arrays, nil
}

// inference returns the model's inference graph with its current weights
// (sparse layers frozen, dense ones read live), or an error if a layer has
// no inference op.
func (m *Model) inference() (*Inference, error) {
	g, _, err := m.describe(false)
	if err != nil {
		return nil, err
	}
	src := liveWeights{arrays: map[string][]float32{}, layers: map[string]*layers.G2G{}}
	for _, l := range m.layers {
		switch l := l.(type) {
		case *layers.G2G:
			src.layers[l.Name()] = l
		case *layers.Dense:
			src.add(l.Name(), l.Weight(), l.Bias())
		case *layers.Conv2D:
			src.add(l.Name(), l.Weight(), l.Bias())
		}
	}
	return buildInference(g, src)
}

// liveWeights supplies a live model's weights.
type liveWeights struct {
	arrays map[string][]float32
	layers map[string]*layers.G2G
}

func (lw liveWeights) add(name string, w, b *layers.Param) {
	lw.arrays[name+"/W"] = w.Data()
	if b != nil {
		lw.arrays[name+"/b"] = b.Data()
	}
}

func (lw liveWeights) float32s(name string, want int) ([]float32, error) {
	v, ok := lw.arrays[name]
	if !ok || len(v) != want {
		return nil, errors.Errorf("parameter %q: %d values, want %d", name, len(v), want)
	}
	return v, nil
}

func (lw liveWeights) sparse(n exportNode) (*layers.FrozenG2G, error) {
	l, ok := lw.layers[n.Name]
	if !ok {
		return nil, errors.Errorf("no sparse layer %q", n.Name)
	}
	return l.Freeze(), nil
}

// csr returns the active entries of w (in × out, masked by m) in compressed
// sparse row form by input unit.
func csr(w []float32, m *layers.Mask, in, out int) (indptr, indices []int64, values []float32) {
	indptr = make([]int64, in+1)
	for i := 0; i < in; i++ {
		for j := 0; j < out; j++ {
			if k := i*out + j; m.Has(k) {
				indices = append(indices, int64(j))
				values = append(values, w[k])
			}
		}
		indptr[i+1] = int64(len(values))
	}
	return indptr, indices, values
}

func int64Array(name string, v []int64) npz.Array {
	b := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(b[8*i:], uint64(x))
	}
	return npz.Array{Name: name, Dtype: "<i8", Shape: []int{len(v)}, Data: b}
}

func asInt64(a npz.Array) ([]int64, error) {
	if a.Dtype != "<i8" {
		return nil, errors.Errorf("array %q has dtype %s, want <i8", a.Name, a.Dtype)
	}
	out := make([]int64, len(a.Data)/8)
	for i := range out {
		out[i] = int64(binary.LittleEndian.Uint64(a.Data[8*i:]))
	}
	return out, nil
}

// Inference is an exported model loaded for prediction: plain Go, no
// gorgonia graph, any batch size. Sparse layers compute only their active
// edges. It is not safe for concurrent use.
type Inference struct {
	g       exportGraph
	size    int // values per input sample
	ops     []infOp
	classes int
	scratch [2][]float32 // feature-major activations of sparse chains
}

type infOp struct {
	node   exportNode
	inputs []int // indices into the value list (0 = model input)
	width  int   // output values per sample
	w, b   []float32
	sparse *layers.FrozenG2G // a sparse layer, run on the sparse kernels
	outH   int
	outW   int
	// chainEnd is, for a sparse layer, the index of the last of the
	// consecutive sparse layers starting with it, each reading only the
	// one before (which nothing else reads): the chain passes its
	// activations along feature-major. -1 for other ops.
	chainEnd   int
	buf        []float32
	cols, prod []float32 // convolution patches and their product with the filters
}

// weightSource supplies the weights of an inference graph's nodes: the
// arrays of an exported file, or a live model's parameters.
type weightSource interface {
	// float32s returns the named array, which must hold want values.
	float32s(name string, want int) ([]float32, error)
	// sparse returns node n's sparse layer, frozen for inference.
	sparse(n exportNode) (*layers.FrozenG2G, error)
}

// LoadInference reads a model written by Model.Export, checking every array
// against the graph description.
func LoadInference(path string) (*Inference, error) {
	arrays, err := npz.Read(path)
	if err != nil {
		return nil, err
	}
	raw, ok := arrays[exportMeta]
	if !ok {
		return nil, errors.Errorf("exported model %s: no %s entry: not a g2g exported model", path, exportMeta)
	}
	var g exportGraph
	if err := json.Unmarshal(raw.Data, &g); err != nil {
		return nil, errors.Errorf("exported model %s: graph is not valid JSON: %v", path, err)
	}
	inf, err := buildInference(g, fileWeights(arrays))
	if err != nil {
		return nil, errors.Wrapf(err, "exported model %s", path)
	}
	return inf, nil
}

// buildInference checks an inference graph and prepares its ops, with
// weights from src.
func buildInference(g exportGraph, src weightSource) (*Inference, error) {
	fail := func(format string, args ...interface{}) (*Inference, error) {
		return nil, errors.Errorf(format, args...)
	}
	if g.Format != exportFormat || g.Version != exportVersion {
		return fail("format %q version %d, want %q version %d", g.Format, g.Version, exportFormat, exportVersion)
	}
	inf := &Inference{g: g, size: 1}
	for _, d := range g.InputShape {
		if d < 1 {
			return fail("bad input shape %v", g.InputShape)
		}
		inf.size *= d
	}
	index := map[string]int{g.InputName: 0}
	widths := []int{inf.size}
	readers := []int{0} // number of ops reading each value
	for _, n := range g.Nodes {
		op := infOp{node: n, chainEnd: -1}
		for _, in := range n.Inputs {
			k, ok := index[in]
			if !ok {
				return fail("node %q reads %q, which is not defined before it", n.Name, in)
			}
			op.inputs = append(op.inputs, k)
			readers[k]++
		}
		if len(op.inputs) == 0 {
			return fail("node %q has no input", n.Name)
		}
		inW := widths[op.inputs[0]]
		var err error
		switch n.Type {
		case "dense", "sparse_dense":
			if n.In != inW || n.Out < 1 {
				return fail("node %q: in %d out %d, but its input has %d values", n.Name, n.In, n.Out, inW)
			}
			op.width = n.Out
			if n.Type == "dense" {
				if op.w, err = src.float32s(n.Name+"/W", n.In*n.Out); err == nil && n.Bias {
					op.b, err = src.float32s(n.Name+"/b", n.Out)
				}
			} else {
				op.sparse, err = src.sparse(n)
			}
		case "conv2d":
			if n.InChannels*n.Height*n.Width != inW || n.Kernel < 1 || n.Stride < 1 || n.Padding < 0 {
				return fail("node %q: bad convolution geometry for an input of %d values", n.Name, inW)
			}
			op.outH = (n.Height+2*n.Padding-n.Kernel)/n.Stride + 1
			op.outW = (n.Width+2*n.Padding-n.Kernel)/n.Stride + 1
			op.width = n.OutChannels * op.outH * op.outW
			op.w, err = src.float32s(n.Name+"/W", n.OutChannels*n.InChannels*n.Kernel*n.Kernel)
			if err == nil && n.Bias {
				op.b, err = src.float32s(n.Name+"/b", n.OutChannels)
			}
		case "activation", "identity", "flatten":
			op.width = inW
		case "add":
			op.width = inW
			for _, k := range op.inputs {
				if widths[k] != inW {
					return fail("node %q adds inputs of %d and %d values", n.Name, inW, widths[k])
				}
			}
		case "concat":
			for _, k := range op.inputs {
				op.width += widths[k]
			}
		default:
			return fail("node %q has unknown type %q", n.Name, n.Type)
		}
		if err != nil {
			return fail("node %q: %v", n.Name, err)
		}
		if _, err := layers.ParseActivation(n.Activation); err != nil {
			return fail("node %q: %v", n.Name, err)
		}
		index[n.Name] = len(widths)
		widths = append(widths, op.width)
		readers = append(readers, 0)
		inf.ops = append(inf.ops, op)
	}
	out, ok := index[g.Output]
	if !ok || out != len(widths)-1 {
		return fail("output %q is not the last node", g.Output)
	}
	inf.classes = widths[out]
	// Chains of sparse layers: op k+1 reads only op k's value (index k+1),
	// which nothing else reads.
	for k := len(inf.ops) - 1; k >= 0; k-- {
		op := &inf.ops[k]
		if op.sparse == nil {
			continue
		}
		op.chainEnd = k
		if k+1 < len(inf.ops) {
			next := &inf.ops[k+1]
			if next.sparse != nil && len(next.inputs) == 1 && next.inputs[0] == k+1 && readers[k+1] == 1 {
				op.chainEnd = next.chainEnd
			}
		}
	}
	return inf, nil
}

// fileWeights reads weights from an exported file's arrays.
type fileWeights map[string]npz.Array

func (f fileWeights) float32s(name string, want int) ([]float32, error) {
	a, ok := f[name]
	if !ok {
		return nil, errors.Errorf("array %q is missing", name)
	}
	v, err := a.AsFloat32()
	if err == nil && len(v) != want {
		err = errors.Errorf("array %q has %d values, want %d", name, len(v), want)
	}
	return v, err
}

// sparse rebuilds a sparse layer from its compressed rows: a G2G layer with
// the exported mask and weights, and ensembles from the recorded bounds
// when they are index grouping's (so dense ensemble blocks are found again).
func (f fileWeights) sparse(n exportNode) (*layers.FrozenG2G, error) {
	indptr, err := asInt64(f[n.Name+"/indptr"])
	if err != nil {
		return nil, err
	}
	idx, err := asInt64(f[n.Name+"/indices"])
	if err != nil {
		return nil, err
	}
	vals, err := f.float32s(n.Name+"/values", len(idx))
	if err != nil {
		return nil, err
	}
	if len(indptr) != n.In+1 || indptr[0] != 0 || int(indptr[n.In]) != len(vals) {
		return nil, errors.New("inconsistent sparse arrays")
	}
	for i := 0; i < n.In; i++ {
		if indptr[i+1] < indptr[i] {
			return nil, errors.New("indptr is not non-decreasing")
		}
	}
	for _, j := range idx {
		if j < 0 || int(j) >= n.Out {
			return nil, errors.Errorf("output index %d out of range [0, %d)", j, n.Out)
		}
	}
	groups := 1
	if g := len(n.InBounds) - 1; g > 1 && len(n.OutBounds) == g+1 && g <= n.In && g <= n.Out {
		in, out, err := layers.Groups(layers.GroupIndex, n.In, n.Out, g, 0, nil)
		if err == nil && slices.Equal(layers.EnsembleBounds(in), n.InBounds) && slices.Equal(layers.EnsembleBounds(out), n.OutBounds) {
			groups = g
		}
	}
	l, err := layers.NewG2G(layers.G2GConfig{Name: n.Name, In: n.In, Out: n.Out, Groups: groups, Density: 1,
		Activation: layers.Activation(n.Activation), NoBias: !n.Bias})
	if err != nil {
		return nil, err
	}
	w, m := l.Weight().Data(), l.Mask().Data()
	clear(w)
	clear(m)
	for i := 0; i < n.In; i++ {
		for e := indptr[i]; e < indptr[i+1]; e++ {
			k := i*n.Out + int(idx[e])
			if m[k] != 0 {
				return nil, errors.Errorf("edge (%d, %d) is listed twice", i, idx[e])
			}
			m[k], w[k] = 1, vals[e]
		}
	}
	if err := l.Mask().Recount(); err != nil {
		return nil, err
	}
	if n.Bias {
		b, err := f.float32s(n.Name+"/b", n.Out)
		if err != nil {
			return nil, err
		}
		copy(l.Bias().Data(), b)
	}
	return l.Freeze(), nil
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
	vals := make([][]float32, len(inf.ops)+1)
	for start := 0; start < n; start += batchSize {
		bs := min(batchSize, n-start)
		vals[0] = x[start*inf.size : (start+bs)*inf.size]
		for k := 0; k < len(inf.ops); k++ {
			op := &inf.ops[k]
			if op.sparse == nil {
				vals[k+1] = op.run(vals, bs)
				continue
			}
			y, err := inf.runChain(k, op.chainEnd, vals[op.inputs[0]], bs)
			if err != nil {
				return nil, errors.Wrap(err, "predict")
			}
			k = op.chainEnd
			vals[k+1] = y
		}
		out = append(out, vals[len(vals)-1]...)
	}
	return out, nil
}

// chainChunk is the number of samples a chain of sparse layers processes
// at a time, so that its feature-major activations stay in cache.
const chainChunk = 256

// runChain runs the sparse layers ops[k0..k1] on x (bs samples, batch-major)
// and returns the last one's output, batch-major. In between, activations
// stay feature-major: one transpose in, one out.
func (inf *Inference) runChain(k0, k1 int, x []float32, bs int) ([]float32, error) {
	last := &inf.ops[k1]
	if cap(last.buf) < bs*last.width {
		last.buf = make([]float32, bs*last.width)
	}
	y := last.buf[:bs*last.width]
	width := inf.ops[k0].node.In
	for k := k0; k <= k1; k++ {
		width = max(width, inf.ops[k].width)
	}
	for c0 := 0; c0 < bs; c0 += chainChunk {
		nc := min(chainChunk, bs-c0)
		np := kernels.Padded(nc)
		if len(inf.scratch[0]) < width*np {
			inf.scratch = [2][]float32{make([]float32, width*np), make([]float32, width*np)}
		}
		cur, next := inf.scratch[0], inf.scratch[1]
		in := inf.ops[k0].node.In
		clear(cur[:in*np])
		if err := kernels.Transpose(cur, np, x[c0*in:(c0+nc)*in], in, nc, in); err != nil {
			return nil, err
		}
		for k := k0; k <= k1; k++ {
			if err := inf.ops[k].sparse.ForwardFeatureMajor(cur, next, np); err != nil {
				return nil, err
			}
			cur, next = next, cur
		}
		if err := kernels.Transpose(y[c0*last.width:(c0+nc)*last.width], last.width, cur, np, last.width, nc); err != nil {
			return nil, err
		}
	}
	return y, nil
}

func (op *infOp) run(vals [][]float32, bs int) []float32 {
	n := op.node
	x := vals[op.inputs[0]]
	// Reuse the op's output buffer across batches (Inference is not safe
	// for concurrent use).
	if cap(op.buf) < bs*op.width {
		op.buf = make([]float32, bs*op.width)
	}
	y := op.buf[:bs*op.width]
	switch n.Type {
	case "dense":
		sparse.Gemm(blas.NoTrans, blas.NoTrans, bs, n.Out, n.In, x, n.In, op.w, n.Out, y, n.Out)
	case "conv2d":
		op.conv(x, y, bs)
	case "add":
		copy(y, x)
		for _, k := range op.inputs[1:] {
			for i, v := range vals[k] {
				y[i] += v
			}
		}
		return y
	case "concat":
		for s := 0; s < bs; s++ {
			off := s * op.width
			for _, k := range op.inputs {
				w := len(vals[k]) / bs
				copy(y[off:], vals[k][s*w:(s+1)*w])
				off += w
			}
		}
		return y
	default: // activation, identity, flatten
		copy(y, x)
	}
	act := layers.Activation(n.Activation)
	switch {
	case op.b == nil:
		act.ApplyInPlace(y)
	case len(op.b) == op.width: // dense: a bias per output
		for s := 0; s < bs; s++ {
			row := y[s*op.width : (s+1)*op.width]
			act.ApplyWithBias(row, row, op.b, 0)
		}
	default: // conv: a bias per channel, over outH·outW values
		per := op.width / len(op.b)
		for s := 0; s < bs; s++ {
			for c, bc := range op.b {
				row := y[s*op.width+c*per : s*op.width+(c+1)*per]
				act.ApplyWithBias(row, row, nil, bc)
			}
		}
	}
	return y
}

// conv computes a cross-correlation with zero padding, output (C, H, W),
// as one matrix product: the patches of every output position (im2col)
// times the filters.
func (op *infOp) conv(x, y []float32, bs int) {
	n := op.node
	inSize := n.InChannels * n.Height * n.Width
	kk := n.InChannels * n.Kernel * n.Kernel
	pos := op.outH * op.outW
	if cap(op.cols) < bs*pos*kk {
		op.cols = make([]float32, bs*pos*kk)
		op.prod = make([]float32, bs*pos*n.OutChannels)
	}
	cols, prod := op.cols[:bs*pos*kk], op.prod[:bs*pos*n.OutChannels]
	for s := 0; s < bs; s++ {
		xs := x[s*inSize : (s+1)*inSize]
		for oh := 0; oh < op.outH; oh++ {
			for ow := 0; ow < op.outW; ow++ {
				row := cols[((s*op.outH+oh)*op.outW+ow)*kk:][:kk]
				r := 0
				for c := 0; c < n.InChannels; c++ {
					for kh := 0; kh < n.Kernel; kh++ {
						ih := oh*n.Stride + kh - n.Padding
						for kw := 0; kw < n.Kernel; kw++ {
							iw := ow*n.Stride + kw - n.Padding
							if ih < 0 || ih >= n.Height || iw < 0 || iw >= n.Width {
								row[r] = 0
							} else {
								row[r] = xs[(c*n.Height+ih)*n.Width+iw]
							}
							r++
						}
					}
				}
			}
		}
	}
	// prod (bs·pos × OutChannels) = cols · Wᵀ, W being (OutChannels × kk).
	sparse.Gemm(blas.NoTrans, blas.Trans, bs*pos, n.OutChannels, kk, cols, kk, op.w, kk, prod, n.OutChannels)
	for s := 0; s < bs; s++ {
		ys := y[s*op.width : (s+1)*op.width]
		for p := 0; p < pos; p++ {
			for o, v := range prod[(s*pos+p)*n.OutChannels:][:n.OutChannels] {
				ys[o*pos+p] = v
			}
		}
	}
}
