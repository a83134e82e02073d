package graph

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"

	"github.com/pkg/errors"
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"

	"github.com/g2g-ml/g2g/internal/npz"
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
				arrays = append(arrays, npz.Float32(n.Name+"/b", b.Data(), len(b.Data())))
			}
		}
		switch l := r.layer.(type) {
		case *layers.Dense:
			c := l.Config()
			n.Type, n.In, n.Out, n.Activation = "dense", c.In, c.Out, string(c.Activation)
			arrays = append(arrays, npz.Float32(n.Name+"/W", l.Weight().Data(), c.In, c.Out))
			addBias(l.Bias())
		case *layers.G2G:
			c := l.Config()
			n.Type, n.In, n.Out, n.Activation = "sparse_dense", c.In, c.Out, string(c.Activation)
			indptr, indices, values := csr(l.Weight().Data(), l.Mask(), c.In, c.Out)
			n.Active = len(values)
			n.InBounds, n.OutBounds = layers.EnsembleBounds(l.Mask().InGroup), layers.EnsembleBounds(l.Mask().OutGroup)
			if n.InBounds == nil || n.OutBounds == nil || len(n.InBounds) != len(n.OutBounds) {
				n.InBounds, n.OutBounds = nil, nil
			}
			arrays = append(arrays, int64Array(n.Name+"/indptr", indptr), int64Array(n.Name+"/indices", indices),
				npz.Float32(n.Name+"/values", values, len(values)))
			addBias(l.Bias())
		case *layers.Conv2D:
			c := l.Config()
			n.Type, n.Activation = "conv2d", string(c.Activation)
			n.InChannels, n.OutChannels, n.Height, n.Width = c.InChannels, c.OutChannels, c.Height, c.Width
			n.Kernel, n.Stride, n.Padding, n.Flatten = c.Kernel, c.Stride, c.Padding, c.Flatten
			arrays = append(arrays, npz.Float32(n.Name+"/W", l.Weight().Data(), c.OutChannels, c.InChannels, c.Kernel, c.Kernel))
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
			return errors.Errorf("export: layer %q of type %T cannot be exported", r.layer.Name(), r.layer)
		}
		g.Nodes = append(g.Nodes, n)
	}
	js, err := json.Marshal(g)
	if err != nil {
		return errors.Wrap(err, "export")
	}
	arrays = append(arrays, npz.Uint8(exportMeta, js, len(js)))
	return errors.Wrap(npz.Write(path, arrays), "export")
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

// SparseCrossover is the density below which Inference computes a sparse
// layer edge by edge (compressed sparse rows) instead of expanding it to a
// dense matrix for BLAS. Measured with examples/bench on this project's
// machines: the row-by-row kernel costs about 0.4 ns per active
// multiply-accumulate, OpenBLAS about 0.012 ns per dense one, so sparse pays
// only below about 3 % density.
var SparseCrossover = 0.03

// Inference is an exported model loaded for prediction: plain Go, no
// gorgonia graph, any batch size. Sparse layers compute only their active
// edges. It is not safe for concurrent use.
type Inference struct {
	g       exportGraph
	size    int // values per input sample
	ops     []infOp
	classes int
}

type infOp struct {
	node   exportNode
	inputs []int // indices into the value list (0 = model input)
	width  int   // output values per sample
	w, b   []float32
	indptr []int64
	idx    []int64
	vals   []float32
	outH   int
	outW   int
	blocks [][4]int // non-empty ensemble blocks [i0, i1, j0, j1) of an expanded sparse layer
	buf    []float32
}

// LoadInference reads a model written by Model.Export, checking every array
// against the graph description.
func LoadInference(path string) (*Inference, error) {
	fail := func(format string, args ...interface{}) (*Inference, error) {
		return nil, errors.Errorf("exported model %s: %s", path, fmt.Sprintf(format, args...))
	}
	arrays, err := npz.Read(path)
	if err != nil {
		return nil, err
	}
	raw, ok := arrays[exportMeta]
	if !ok {
		return fail("no %s entry: not a g2g exported model", exportMeta)
	}
	inf := &Inference{}
	if err := json.Unmarshal(raw.Data, &inf.g); err != nil {
		return fail("graph is not valid JSON: %v", err)
	}
	if inf.g.Format != exportFormat || inf.g.Version != exportVersion {
		return fail("format %q version %d, want %q version %d", inf.g.Format, inf.g.Version, exportFormat, exportVersion)
	}
	inf.size = 1
	for _, d := range inf.g.InputShape {
		if d < 1 {
			return fail("bad input shape %v", inf.g.InputShape)
		}
		inf.size *= d
	}
	index := map[string]int{inf.g.InputName: 0}
	widths := []int{inf.size}
	f32 := func(name string, want int) ([]float32, error) {
		a, ok := arrays[name]
		if !ok {
			return nil, errors.Errorf("array %q is missing", name)
		}
		v, err := a.AsFloat32()
		if err == nil && len(v) != want {
			err = errors.Errorf("array %q has %d values, want %d", name, len(v), want)
		}
		return v, err
	}
	for _, n := range inf.g.Nodes {
		op := infOp{node: n}
		for _, in := range n.Inputs {
			k, ok := index[in]
			if !ok {
				return fail("node %q reads %q, which is not defined before it", n.Name, in)
			}
			op.inputs = append(op.inputs, k)
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
				op.w, err = f32(n.Name+"/W", n.In*n.Out)
			} else {
				err = op.loadCSR(arrays, n)
			}
			if err == nil && n.Bias {
				op.b, err = f32(n.Name+"/b", n.Out)
			}
		case "conv2d":
			if n.InChannels*n.Height*n.Width != inW || n.Kernel < 1 || n.Stride < 1 || n.Padding < 0 {
				return fail("node %q: bad convolution geometry for an input of %d values", n.Name, inW)
			}
			op.outH = (n.Height+2*n.Padding-n.Kernel)/n.Stride + 1
			op.outW = (n.Width+2*n.Padding-n.Kernel)/n.Stride + 1
			op.width = n.OutChannels * op.outH * op.outW
			op.w, err = f32(n.Name+"/W", n.OutChannels*n.InChannels*n.Kernel*n.Kernel)
			if err == nil && n.Bias {
				op.b, err = f32(n.Name+"/b", n.OutChannels)
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
		inf.ops = append(inf.ops, op)
	}
	out, ok := index[inf.g.Output]
	if !ok || out != len(widths)-1 {
		return fail("output %q is not the last node", inf.g.Output)
	}
	inf.classes = widths[out]
	return inf, nil
}

func (op *infOp) loadCSR(arrays map[string]npz.Array, n exportNode) error {
	var err error
	if op.indptr, err = asInt64(arrays[n.Name+"/indptr"]); err != nil {
		return err
	}
	if op.idx, err = asInt64(arrays[n.Name+"/indices"]); err != nil {
		return err
	}
	if v, ok := arrays[n.Name+"/values"]; ok {
		op.vals, err = v.AsFloat32()
	} else {
		err = errors.New("array values is missing")
	}
	if err != nil {
		return err
	}
	if len(op.indptr) != n.In+1 || op.indptr[0] != 0 || int(op.indptr[n.In]) != len(op.vals) || len(op.idx) != len(op.vals) {
		return errors.New("inconsistent sparse arrays")
	}
	for i := 0; i < n.In; i++ {
		if op.indptr[i+1] < op.indptr[i] {
			return errors.New("indptr is not non-decreasing")
		}
	}
	for _, j := range op.idx {
		if j < 0 || int(j) >= n.Out {
			return errors.Errorf("output index %d out of range [0, %d)", j, n.Out)
		}
	}
	// Above the crossover a dense product is faster: expand once.
	if float64(len(op.vals)) >= SparseCrossover*float64(n.In*n.Out) {
		op.w = make([]float32, n.In*n.Out)
		for i := 0; i < n.In; i++ {
			for e := op.indptr[i]; e < op.indptr[i+1]; e++ {
				op.w[i*n.Out+int(op.idx[e])] = op.vals[e]
			}
		}
		op.planBlocks()
	}
	return nil
}

// planBlocks lists the non-empty ensemble blocks of an expanded sparse layer
// with contiguous ensembles; when few enough of them hold edges (at most
// layers.BlockCrossover), run multiplies block by block, skipping the rest,
// as training does.
func (op *infOp) planBlocks() {
	n := op.node
	ib, ob := n.InBounds, n.OutBounds
	if len(ib) < 2 || len(ib) != len(ob) || ib[len(ib)-1] != n.In || ob[len(ob)-1] != n.Out {
		return
	}
	g := len(ib) - 1
	var blocks [][4]int
	for gi := 0; gi < g; gi++ {
		for gj := 0; gj < g; gj++ {
			if ib[gi] >= ib[gi+1] || ob[gj] >= ob[gj+1] {
				return // malformed bounds: stay dense
			}
			if op.blockHasEdge(ib[gi], ib[gi+1], ob[gj], ob[gj+1]) {
				blocks = append(blocks, [4]int{ib[gi], ib[gi+1], ob[gj], ob[gj+1]})
			}
		}
	}
	if float64(len(blocks)) <= layers.BlockCrossover*float64(g*g) {
		op.blocks = blocks
	}
}

func (op *infOp) blockHasEdge(i0, i1, j0, j1 int) bool {
	for i := i0; i < i1; i++ {
		for e := op.indptr[i]; e < op.indptr[i+1]; e++ {
			if j := int(op.idx[e]); j >= j0 && j < j1 {
				return true
			}
		}
	}
	return false
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
		for k := range inf.ops {
			vals[k+1] = inf.ops[k].run(vals, bs)
		}
		out = append(out, vals[len(vals)-1]...)
	}
	return out, nil
}

func (op *infOp) run(vals [][]float32, bs int) []float32 {
	n := op.node
	x := vals[op.inputs[0]]
	// Reuse the op's output buffer across batches (Inference is not safe
	// for concurrent use); kernels that accumulate clear it first.
	if cap(op.buf) < bs*op.width {
		op.buf = make([]float32, bs*op.width)
	}
	y := op.buf[:bs*op.width]
	typ := n.Type
	if typ == "sparse_dense" && op.w != nil {
		typ = "dense" // expanded above the crossover density
	}
	if op.blocks != nil {
		typ = "blocks"
	}
	switch typ {
	case "blocks":
		clear(y)
		for _, b := range op.blocks {
			i0, i1, j0, j1 := b[0], b[1], b[2], b[3]
			blas32.Gemm(blas.NoTrans, blas.NoTrans, 1,
				blas32.General{Rows: bs, Cols: i1 - i0, Stride: n.In, Data: x[i0 : (bs-1)*n.In+i1]},
				blas32.General{Rows: i1 - i0, Cols: j1 - j0, Stride: n.Out, Data: op.w[i0*n.Out+j0 : (i1-1)*n.Out+j1]},
				1, blas32.General{Rows: bs, Cols: j1 - j0, Stride: n.Out, Data: y[j0 : (bs-1)*n.Out+j1]})
		}
	case "dense":
		blas32.Gemm(blas.NoTrans, blas.NoTrans, 1,
			blas32.General{Rows: bs, Cols: n.In, Stride: n.In, Data: x},
			blas32.General{Rows: n.In, Cols: n.Out, Stride: n.Out, Data: op.w},
			0, blas32.General{Rows: bs, Cols: n.Out, Stride: n.Out, Data: y})
	case "sparse_dense":
		clear(y)
		for s := 0; s < bs; s++ {
			xs, ys := x[s*n.In:(s+1)*n.In], y[s*n.Out:(s+1)*n.Out]
			for i, xv := range xs {
				if xv == 0 {
					continue // ReLU outputs are often zero: skip their whole row
				}
				lo, hi := op.indptr[i], op.indptr[i+1]
				idx, v := op.idx[lo:hi], op.vals[lo:hi]
				for e, j := range idx {
					ys[j] += xv * v[e]
				}
			}
		}
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
	if op.b != nil {
		per := op.width / len(op.b) // conv: bias per channel over outH·outW
		for s := 0; s < bs; s++ {
			row := y[s*op.width : (s+1)*op.width]
			for i := range row {
				row[i] += op.b[i/per]
			}
		}
	}
	activate(layers.Activation(n.Activation), y)
	return y
}

// conv computes a cross-correlation with zero padding, output (C, H, W).
func (op *infOp) conv(x, y []float32, bs int) {
	n := op.node
	inSize := n.InChannels * n.Height * n.Width
	for s := 0; s < bs; s++ {
		xs, ys := x[s*inSize:(s+1)*inSize], y[s*op.width:(s+1)*op.width]
		for o := 0; o < n.OutChannels; o++ {
			for oh := 0; oh < op.outH; oh++ {
				for ow := 0; ow < op.outW; ow++ {
					var acc float32
					for c := 0; c < n.InChannels; c++ {
						for kh := 0; kh < n.Kernel; kh++ {
							ih := oh*n.Stride + kh - n.Padding
							if ih < 0 || ih >= n.Height {
								continue
							}
							for kw := 0; kw < n.Kernel; kw++ {
								iw := ow*n.Stride + kw - n.Padding
								if iw < 0 || iw >= n.Width {
									continue
								}
								acc += xs[(c*n.Height+ih)*n.Width+iw] * op.w[((o*n.InChannels+c)*n.Kernel+kh)*n.Kernel+kw]
							}
						}
					}
					ys[(o*op.outH+oh)*op.outW+ow] = acc
				}
			}
		}
	}
}

func activate(a layers.Activation, y []float32) {
	switch a {
	case layers.ReLU:
		for i, v := range y {
			if v < 0 {
				y[i] = 0
			}
		}
	case layers.Tanh:
		for i, v := range y {
			y[i] = float32(math.Tanh(float64(v)))
		}
	case layers.Sigmoid:
		for i, v := range y {
			y[i] = float32(1 / (1 + math.Exp(-float64(v))))
		}
	}
}
