package layers

import (
	"slices"
	"sort"

	"github.com/pkg/errors"
	"gonum.org/v1/gonum/blas"

	"github.com/g2g-ml/g2g/internal/sparse"
)

// This file gives the layers of this package their inference ops, their
// exported form and the loaders of their kinds. The kinds, attribute keys
// and array names are those of the "g2g-export" format version 1:
//
//	dense         in, out, activation, bias; W (in × out), b (out)
//	sparse_dense  in, out, activation, bias, active, in_bounds, out_bounds;
//	              indptr (in+1), indices (active), values (active), b (out):
//	              the active edges in compressed rows by input unit
//	conv2d        activation, bias, in_channels, out_channels, height,
//	              width, kernel, stride, padding, flatten;
//	              W (out_channels × in_channels × kernel × kernel), b
//	activation    activation
//	identity      (Dropout: the identity at inference)
//	flatten, add, concat

// oneSize checks that a single-input layer got one input of want values.
func oneSize(l Layer, sizes []int, want int) error {
	if len(sizes) != 1 || sizes[0] != want {
		return errorf(l, "inference needs one input of %d values per sample, got sizes %v", want, sizes)
	}
	return nil
}

// checkForward checks the buffers an op's Forward gets.
func checkForward(y []float32, inputs [][]float32, n, out int, in ...int) error {
	if n < 1 || len(y) != n*out || len(inputs) != len(in) {
		return errors.Errorf("forward of %d samples: %d outputs and %d inputs given, want %d and %d", n, len(y), len(inputs), n*out, len(in))
	}
	for k, size := range in {
		if len(inputs[k]) != n*size {
			return errors.Errorf("forward of %d samples: input %d has %d values, want %d", n, k, len(inputs[k]), n*size)
		}
	}
	return nil
}

// --- dense

type denseAttrs struct {
	In         int    `json:"in,omitempty"`
	Out        int    `json:"out,omitempty"`
	Activation string `json:"activation,omitempty"`
	Bias       bool   `json:"bias,omitempty"`
}

// denseOp computes act(x·W + b).
type denseOp struct {
	in, out int
	act     Activation
	w, b    []float32 // b nil without bias
}

func (op *denseOp) OutputSize() int { return op.out }

func (op *denseOp) Forward(y []float32, inputs [][]float32, n int) error {
	if err := checkForward(y, inputs, n, op.out, op.in); err != nil {
		return err
	}
	sparse.Gemm(blas.NoTrans, blas.NoTrans, n, op.out, op.in, inputs[0], op.in, op.w, op.out, y, op.out)
	if op.b == nil {
		op.act.ApplyInPlace(y)
		return nil
	}
	for s := 0; s < n; s++ {
		row := y[s*op.out : (s+1)*op.out]
		op.act.ApplyWithBias(row, row, op.b, 0)
	}
	return nil
}

// Inference returns the layer's op, reading the live weights.
func (l *Dense) Inference(inputSizes []int) (InferenceOp, error) {
	if err := oneSize(l, inputSizes, l.cfg.In); err != nil {
		return nil, err
	}
	op := &denseOp{in: l.cfg.In, out: l.cfg.Out, act: l.cfg.Activation, w: l.w.Data()}
	if l.b != nil {
		op.b = l.b.Data()
	}
	return op, nil
}

// Export returns the layer as kind "dense": W and, unless NoBias, b.
func (l *Dense) Export() (ExportedLayer, error) {
	c := l.cfg
	e := ExportedLayer{Kind: "dense", Attrs: denseAttrs{In: c.In, Out: c.Out, Activation: string(c.Activation), Bias: l.b != nil},
		Arrays: []ExportArray{{Name: "W", Shape: []int{c.In, c.Out}, Float32: l.w.Data()}}}
	if l.b != nil {
		e.Arrays = append(e.Arrays, ExportArray{Name: "b", Float32: l.b.Data()})
	}
	return e, nil
}

// decodeActivated decodes n's attributes into attrs, whose field
// activation names the node's activation, and returns the width of n's one
// input and that activation: the common start of the loaders of layers
// with an activation.
func decodeActivated(n *ExportedNode, attrs any, activation *string) (int, Activation, error) {
	if err := n.DecodeAttrs(attrs); err != nil {
		return 0, "", err
	}
	inW, err := n.OneInput()
	if err != nil {
		return 0, "", err
	}
	act, err := ParseActivation(*activation)
	return inW, act, err
}

func loadDense(n *ExportedNode) (InferenceOp, error) {
	var a denseAttrs
	inW, act, err := decodeActivated(n, &a, &a.Activation)
	if err != nil {
		return nil, err
	}
	size, ok := sizeOf(a.In, a.Out)
	if a.In != inW || a.Out < 1 || !ok {
		return nil, errors.Errorf("in %d out %d, but its input has %d values", a.In, a.Out, inW)
	}
	op := &denseOp{in: a.In, out: a.Out, act: act}
	if op.w, err = n.Float32("W", size); err != nil {
		return nil, err
	}
	if a.Bias {
		if op.b, err = n.Float32("b", a.Out); err != nil {
			return nil, err
		}
	}
	return op, nil
}

// --- sparse_dense (G2G)

type sparseAttrs struct {
	In         int    `json:"in,omitempty"`
	Out        int    `json:"out,omitempty"`
	Activation string `json:"activation,omitempty"`
	Bias       bool   `json:"bias,omitempty"`
	Active     int    `json:"active,omitempty"`
	// Ensemble boundaries of a layer whose ensembles are contiguous unit
	// ranges: group g spans [InBounds[g], InBounds[g+1]).
	InBounds  []int `json:"in_bounds,omitempty"`
	OutBounds []int `json:"out_bounds,omitempty"`
}

// Inference returns a snapshot of the layer (Freeze): a FeatureMajorOp.
func (l *G2G) Inference(inputSizes []int) (InferenceOp, error) {
	if err := oneSize(l, inputSizes, l.cfg.In); err != nil {
		return nil, err
	}
	return l.Freeze(), nil
}

// Export returns the layer as kind "sparse_dense": only the active edges,
// in compressed sparse row form by input unit (indptr, indices, values),
// and, unless NoBias, b; the ensemble boundaries when the ensembles are
// contiguous, so that a loaded layer finds its dense blocks again.
func (l *G2G) Export() (ExportedLayer, error) {
	c, m := l.cfg, l.mask
	a := sparseAttrs{In: c.In, Out: c.Out, Activation: string(c.Activation), Bias: l.b != nil, Active: m.Active(),
		InBounds: EnsembleBounds(m.InGroup), OutBounds: EnsembleBounds(m.OutGroup)}
	if a.InBounds == nil || a.OutBounds == nil || len(a.InBounds) != len(a.OutBounds) {
		a.InBounds, a.OutBounds = nil, nil
	}
	indptr, indices, values := csr(l.w.Data(), m, c.In, c.Out)
	e := ExportedLayer{Kind: "sparse_dense", Attrs: a, Arrays: []ExportArray{
		{Name: "indptr", Int64: indptr}, {Name: "indices", Int64: indices}, {Name: "values", Float32: values}}}
	if l.b != nil {
		e.Arrays = append(e.Arrays, ExportArray{Name: "b", Float32: l.b.Data()})
	}
	return e, nil
}

// csr returns the active entries of w (in × out, masked by m) in compressed
// sparse row form by input unit.
func csr(w []float32, m *Mask, in, out int) (indptr, indices []int64, values []float32) {
	indptr = make([]int64, in+1)
	indices = make([]int64, 0, m.Active())
	values = make([]float32, 0, m.Active())
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

// loadSparseDense rebuilds a sparse layer from its compressed rows: its
// mask and weights, with ensembles from the recorded bounds when they are
// index grouping's (so dense ensemble blocks are found again), frozen on
// the kernel KernelAuto picks under DefaultTuning.
func loadSparseDense(n *ExportedNode) (InferenceOp, error) {
	var a sparseAttrs
	inW, act, err := decodeActivated(n, &a, &a.Activation)
	if err != nil {
		return nil, err
	}
	size, ok := sizeOf(a.In, a.Out)
	if a.In != inW || a.Out < 1 || !ok {
		return nil, errors.Errorf("in %d out %d, but its input has %d values", a.In, a.Out, inW)
	}
	if a.Active < 0 || a.Active > size {
		return nil, errors.Errorf("%d active edges in a %d × %d layer", a.Active, a.In, a.Out)
	}
	// Loading costs memory in proportion to In, Out and the edges; the
	// arrays justify In (indptr), the edges and, with a bias, Out.
	if !a.Bias && a.Out > maxLayoutPerEdge*(a.Active+a.In) {
		return nil, errors.Errorf("out %d for %d inputs and %d active edges without a bias: more outputs than the arrays justify", a.Out, a.In, a.Active)
	}
	indptr, err := n.Int64("indptr", a.In+1)
	if err != nil {
		return nil, err
	}
	idx, err := n.Int64("indices", a.Active)
	if err != nil {
		return nil, err
	}
	vals, err := n.Float32("values", a.Active)
	if err != nil {
		return nil, err
	}
	if indptr[0] != 0 || indptr[a.In] != int64(a.Active) {
		return nil, errors.New("inconsistent sparse arrays")
	}
	for i := 0; i < a.In; i++ {
		if indptr[i+1] < indptr[i] {
			return nil, errors.New("indptr is not non-decreasing")
		}
	}
	for _, j := range idx {
		if j < 0 || j >= int64(a.Out) {
			return nil, errors.Errorf("output index %d out of range [0, %d)", j, a.Out)
		}
	}
	var bias []float32
	if a.Bias {
		if bias, err = n.Float32("b", a.Out); err != nil {
			return nil, err
		}
	}
	groups := 1
	if g := len(a.InBounds) - 1; g > 1 && len(a.OutBounds) == g+1 && g <= a.In && g <= a.Out {
		in, out, err := Groups(GroupIndex, a.In, a.Out, g, 0, nil)
		if err == nil && slices.Equal(EnsembleBounds(in), a.InBounds) && slices.Equal(EnsembleBounds(out), a.OutBounds) {
			groups = g
		}
	}
	inG, outG, err := Groups(GroupIndex, a.In, a.Out, groups, 0, nil)
	if err != nil {
		return nil, err
	}
	// The compressed rows as the engine takes them: each row's edges by
	// increasing output unit (files written elsewhere need not sort them).
	rows := sparse.Rows{In: a.In, Out: a.Out, Ptr: make([]int, a.In+1), Col: make([]int32, a.Active), Val: vals,
		Groups: groups, InGroup: inG, OutGroup: outG}
	for i := 0; i < a.In; i++ {
		lo, hi := int(indptr[i]), int(indptr[i+1])
		rows.Ptr[i+1] = hi
		for e := lo; e < hi; e++ {
			rows.Col[e] = int32(idx[e])
		}
		row := edgeSorter{rows.Col[lo:hi], vals[lo:hi]}
		if !sort.IsSorted(row) {
			sort.Stable(row)
		}
		for e := lo + 1; e < hi; e++ {
			if rows.Col[e] == rows.Col[e-1] {
				return nil, errors.Errorf("edge (%d, %d) is listed twice", i, rows.Col[e])
			}
		}
	}
	if err := rows.Check(); err != nil {
		return nil, err
	}
	tuning := sparse.Tuning(DefaultTuning())
	plan := sparse.NewPlanRows(rows, sparse.Auto, tuning)
	if plan.LayoutValues() > maxLayoutPerEdge*a.Active {
		plan = sparse.NewPlanRows(rows, sparse.Sparse, tuning)
	}
	return &FrozenG2G{name: n.Name, act: act, bias: bias, frozen: plan.FreezeRows(rows)}, nil
}

// maxLayoutPerEdge bounds the weights a loaded sparse layer stores densely
// (a dense matrix, ensemble blocks) per stored edge; beyond it the layer
// runs on the sparse kernel, whose memory is proportional to its edges.
// Auto chooses a dense layout for a mask denser than
// Tuning.SparseCrossoverGo (0.02: at most 50 weights per edge) and blocks
// that trained ensemble masks fill, so a layer exported by this package
// keeps the kernel it would have had; a file claiming a wide layer with few
// edges cannot make the loader allocate more than its edges justify.
const maxLayoutPerEdge = 64

// edgeSorter sorts a row's edges by output unit, their weights with them.
type edgeSorter struct {
	col []int32
	val []float32
}

func (s edgeSorter) Len() int           { return len(s.col) }
func (s edgeSorter) Less(i, j int) bool { return s.col[i] < s.col[j] }
func (s edgeSorter) Swap(i, j int) {
	s.col[i], s.col[j] = s.col[j], s.col[i]
	s.val[i], s.val[j] = s.val[j], s.val[i]
}

// --- conv2d

type convAttrs struct {
	Activation  string `json:"activation,omitempty"`
	Bias        bool   `json:"bias,omitempty"`
	InChannels  int    `json:"in_channels,omitempty"`
	OutChannels int    `json:"out_channels,omitempty"`
	Height      int    `json:"height,omitempty"`
	Width       int    `json:"width,omitempty"`
	Kernel      int    `json:"kernel,omitempty"`
	Stride      int    `json:"stride,omitempty"`
	Padding     int    `json:"padding,omitempty"`
	Flatten     bool   `json:"flatten,omitempty"`
}

// convOp computes a cross-correlation with zero padding, output (C, H, W)
// per sample, as one matrix product: the patches of every output position
// (im2col) times the filters.
type convOp struct {
	inC, outC, h, w, k, stride, pad int
	outH, outW                      int
	act                             Activation
	wt, b                           []float32 // b nil without bias
	cols, prod                      []float32 // convolution patches and their product with the filters
}

func (op *convOp) OutputSize() int { return op.outC * op.outH * op.outW }

func (op *convOp) Forward(y []float32, inputs [][]float32, bs int) error {
	inSize := op.inC * op.h * op.w
	width := op.OutputSize()
	if err := checkForward(y, inputs, bs, width, inSize); err != nil {
		return err
	}
	kk := op.inC * op.k * op.k
	pos := op.outH * op.outW
	// The patches of chunk samples at a time, so that their buffer holds
	// at most convPatchValues values (or one sample's patches): each output
	// row is one product over the whole inner dimension either way, so the
	// chunking does not change the result.
	chunk := max(1, min(bs, convPatchValues/(pos*kk)))
	if cap(op.cols) < chunk*pos*kk {
		op.cols = make([]float32, chunk*pos*kk)
		op.prod = make([]float32, chunk*pos*op.outC)
	}
	for s0 := 0; s0 < bs; s0 += chunk {
		n := min(chunk, bs-s0)
		op.patches(op.cols[:n*pos*kk], inputs[0][s0*inSize:(s0+n)*inSize], n)
		prod := op.prod[:n*pos*op.outC]
		// prod (n·pos × OutChannels) = cols · Wᵀ, W being (OutChannels × kk).
		sparse.Gemm(blas.NoTrans, blas.Trans, n*pos, op.outC, kk, op.cols, kk, op.wt, kk, prod, op.outC)
		for s := 0; s < n; s++ {
			ys := y[(s0+s)*width : (s0+s+1)*width]
			for p := 0; p < pos; p++ {
				for o, v := range prod[(s*pos+p)*op.outC:][:op.outC] {
					ys[o*pos+p] = v
				}
			}
		}
	}
	if op.b == nil {
		op.act.ApplyInPlace(y)
		return nil
	}
	if pos == 1 { // one value per channel: the bias is a vector per sample
		for s := 0; s < bs; s++ {
			row := y[s*width : (s+1)*width]
			op.act.ApplyWithBias(row, row, op.b, 0)
		}
		return nil
	}
	// A bias per channel, over outH·outW values.
	for s := 0; s < bs; s++ {
		for c, bc := range op.b {
			row := y[s*width+c*pos : s*width+(c+1)*pos]
			op.act.ApplyWithBias(row, row, nil, bc)
		}
	}
	return nil
}

// convPatchValues bounds the values of the patch buffer of a convolution
// op (64 MiB): a batch whose patches need more is computed in chunks of
// samples.
var convPatchValues = 1 << 24

// patches writes the im2col rows of the n samples of x into cols: one row
// of InChannels·Kernel² values per output position.
func (op *convOp) patches(cols, x []float32, n int) {
	inSize := op.inC * op.h * op.w
	kk := op.inC * op.k * op.k
	for s := 0; s < n; s++ {
		xs := x[s*inSize : (s+1)*inSize]
		for oh := 0; oh < op.outH; oh++ {
			for ow := 0; ow < op.outW; ow++ {
				row := cols[((s*op.outH+oh)*op.outW+ow)*kk:][:kk]
				r := 0
				for c := 0; c < op.inC; c++ {
					for kh := 0; kh < op.k; kh++ {
						ih := oh*op.stride + kh - op.pad
						for kw := 0; kw < op.k; kw++ {
							iw := ow*op.stride + kw - op.pad
							if ih < 0 || ih >= op.h || iw < 0 || iw >= op.w {
								row[r] = 0
							} else {
								row[r] = xs[(c*op.h+ih)*op.w+iw]
							}
							r++
						}
					}
				}
			}
		}
	}
}

// Inference returns the layer's op, reading the live weights.
func (l *Conv2D) Inference(inputSizes []int) (InferenceOp, error) {
	c := l.cfg
	if err := oneSize(l, inputSizes, c.InChannels*c.Height*c.Width); err != nil {
		return nil, err
	}
	op := &convOp{inC: c.InChannels, outC: c.OutChannels, h: c.Height, w: c.Width, k: c.Kernel, stride: c.Stride, pad: c.Padding,
		outH: l.outH, outW: l.outW, act: c.Activation, wt: l.w.Data()}
	if l.b != nil {
		op.b = l.b.Data()
	}
	return op, nil
}

// Export returns the layer as kind "conv2d": W (OutChannels × InChannels ×
// Kernel × Kernel) and, unless NoBias, b (OutChannels).
func (l *Conv2D) Export() (ExportedLayer, error) {
	c := l.cfg
	e := ExportedLayer{Kind: "conv2d", Attrs: convAttrs{Activation: string(c.Activation), Bias: l.b != nil,
		InChannels: c.InChannels, OutChannels: c.OutChannels, Height: c.Height, Width: c.Width,
		Kernel: c.Kernel, Stride: c.Stride, Padding: c.Padding, Flatten: c.Flatten},
		Arrays: []ExportArray{{Name: "W", Shape: []int{c.OutChannels, c.InChannels, c.Kernel, c.Kernel}, Float32: l.w.Data()}}}
	if l.b != nil {
		e.Arrays = append(e.Arrays, ExportArray{Name: "b", Float32: l.b.Data()})
	}
	return e, nil
}

func loadConv2D(n *ExportedNode) (InferenceOp, error) {
	var a convAttrs
	inW, act, err := decodeActivated(n, &a, &a.Activation)
	if err != nil {
		return nil, err
	}
	inSize, ok := sizeOf(a.InChannels, a.Height, a.Width)
	if !ok || inSize != inW || a.InChannels < 1 || a.OutChannels < 1 || a.Height < 1 || a.Width < 1 ||
		a.Kernel < 1 || a.Stride < 1 || a.Padding < 0 {
		return nil, errors.Errorf("bad convolution geometry for an input of %d values", inW)
	}
	// The geometry Conv2D accepts (see NewConv2D): padding at most half
	// the kernel, so every output position sees some input, and a kernel
	// no larger than the padded input, so there is at least one.
	if 2*a.Padding > a.Kernel {
		return nil, errors.Errorf("padding %d more than half of kernel %d", a.Padding, a.Kernel)
	}
	ph, pw := a.Height+2*a.Padding, a.Width+2*a.Padding
	if a.Kernel > ph || a.Kernel > pw {
		return nil, errors.Errorf("kernel %d larger than the padded input %dx%d", a.Kernel, ph, pw)
	}
	op := &convOp{inC: a.InChannels, outC: a.OutChannels, h: a.Height, w: a.Width, k: a.Kernel, stride: a.Stride, pad: a.Padding,
		outH: (ph-a.Kernel)/a.Stride + 1, outW: (pw-a.Kernel)/a.Stride + 1, act: act}
	outSize, ok1 := sizeOf(op.outC, op.outH, op.outW)
	wSize, ok2 := sizeOf(a.OutChannels, a.InChannels, a.Kernel, a.Kernel)
	patches, ok3 := sizeOf(op.outH, op.outW, a.InChannels, a.Kernel, a.Kernel)
	if !ok1 || !ok2 || !ok3 || outSize < 1 || patches < 1 {
		return nil, errors.Errorf("convolution of %d×%d×%d by %d×%d kernels is too large", a.InChannels, a.Height, a.Width, a.Kernel, a.Kernel)
	}
	if op.wt, err = n.Float32("W", wSize); err != nil {
		return nil, err
	}
	if a.Bias {
		if op.b, err = n.Float32("b", a.OutChannels); err != nil {
			return nil, err
		}
	}
	return op, nil
}

// --- activation, identity (Dropout, Flatten), add, concat

type activationAttrs struct {
	Activation string `json:"activation,omitempty"`
}

// copyOp copies its input and applies an activation (none for Linear).
type copyOp struct {
	size int
	act  Activation
}

func (op *copyOp) OutputSize() int { return op.size }

func (op *copyOp) Forward(y []float32, inputs [][]float32, n int) error {
	if err := checkForward(y, inputs, n, op.size, op.size); err != nil {
		return err
	}
	copy(y, inputs[0])
	op.act.ApplyInPlace(y)
	return nil
}

// Inference returns the layer's op.
func (l *ActivationLayer) Inference(inputSizes []int) (InferenceOp, error) {
	if len(inputSizes) != 1 {
		return nil, errorf(l, "takes exactly 1 input, got %d", len(inputSizes))
	}
	return &copyOp{size: inputSizes[0], act: l.act}, nil
}

// Export returns the layer as kind "activation".
func (l *ActivationLayer) Export() (ExportedLayer, error) {
	return ExportedLayer{Kind: "activation", Attrs: activationAttrs{Activation: string(l.act)}}, nil
}

func loadActivation(n *ExportedNode) (InferenceOp, error) {
	var a activationAttrs
	size, act, err := decodeActivated(n, &a, &a.Activation)
	if err != nil {
		return nil, err
	}
	return &copyOp{size: size, act: act}, nil
}

// Inference returns the identity: dropout is off at inference.
func (l *Dropout) Inference(inputSizes []int) (InferenceOp, error) {
	if len(inputSizes) != 1 {
		return nil, errorf(l, "takes exactly 1 input, got %d", len(inputSizes))
	}
	return &copyOp{size: inputSizes[0]}, nil
}

// Export returns the layer as kind "identity".
func (l *Dropout) Export() (ExportedLayer, error) { return ExportedLayer{Kind: "identity"}, nil }

// Inference returns the identity: samples are stored flat anyway.
func (l *Flatten) Inference(inputSizes []int) (InferenceOp, error) {
	if len(inputSizes) != 1 {
		return nil, errorf(l, "takes exactly 1 input, got %d", len(inputSizes))
	}
	return &copyOp{size: inputSizes[0]}, nil
}

// Export returns the layer as kind "flatten".
func (l *Flatten) Export() (ExportedLayer, error) { return ExportedLayer{Kind: "flatten"}, nil }

func loadIdentity(n *ExportedNode) (InferenceOp, error) {
	size, err := n.OneInput()
	if err != nil {
		return nil, err
	}
	return &copyOp{size: size}, nil
}

// addOp sums its inputs, in order.
type addOp struct{ size, inputs int }

func (op *addOp) OutputSize() int { return op.size }

func (op *addOp) Forward(y []float32, inputs [][]float32, n int) error {
	sizes := make([]int, op.inputs)
	for k := range sizes {
		sizes[k] = op.size
	}
	if err := checkForward(y, inputs, n, op.size, sizes...); err != nil {
		return err
	}
	copy(y, inputs[0])
	for _, x := range inputs[1:] {
		for i, v := range x {
			y[i] += v
		}
	}
	return nil
}

func newAddOp(sizes []int) (InferenceOp, error) {
	if len(sizes) < 2 {
		return nil, errors.Errorf("takes at least 2 inputs, got %d", len(sizes))
	}
	for _, s := range sizes[1:] {
		if s != sizes[0] {
			return nil, errors.Errorf("adds inputs of %d and %d values", sizes[0], s)
		}
	}
	return &addOp{size: sizes[0], inputs: len(sizes)}, nil
}

// Inference returns the layer's op.
func (l *Add) Inference(inputSizes []int) (InferenceOp, error) {
	op, err := newAddOp(inputSizes)
	if err != nil {
		return nil, errors.Wrapf(err, "layer %q", l.name)
	}
	return op, nil
}

// Export returns the layer as kind "add".
func (l *Add) Export() (ExportedLayer, error) { return ExportedLayer{Kind: "add"}, nil }

func loadAdd(n *ExportedNode) (InferenceOp, error) { return newAddOp(n.InputSizes) }

// concatOp joins its inputs sample by sample.
type concatOp struct{ sizes []int }

func (op *concatOp) OutputSize() int {
	n := 0
	for _, s := range op.sizes {
		n += s
	}
	return n
}

func (op *concatOp) Forward(y []float32, inputs [][]float32, n int) error {
	width := op.OutputSize()
	if err := checkForward(y, inputs, n, width, op.sizes...); err != nil {
		return err
	}
	for s := 0; s < n; s++ {
		off := s * width
		for k, w := range op.sizes {
			copy(y[off:], inputs[k][s*w:(s+1)*w])
			off += w
		}
	}
	return nil
}

func newConcatOp(sizes []int) (InferenceOp, error) {
	if len(sizes) < 2 {
		return nil, errors.Errorf("takes at least 2 inputs, got %d", len(sizes))
	}
	total := 0
	for _, s := range sizes {
		if s < 1 || total > MaxArrayValues-s {
			return nil, errors.Errorf("bad input sizes %v", sizes)
		}
		total += s
	}
	return &concatOp{sizes: append([]int(nil), sizes...)}, nil
}

// Inference returns the layer's op.
func (l *Concat) Inference(inputSizes []int) (InferenceOp, error) {
	op, err := newConcatOp(inputSizes)
	if err != nil {
		return nil, errors.Wrapf(err, "layer %q", l.name)
	}
	return op, nil
}

// Export returns the layer as kind "concat".
func (l *Concat) Export() (ExportedLayer, error) { return ExportedLayer{Kind: "concat"}, nil }

func loadConcat(n *ExportedNode) (InferenceOp, error) { return newConcatOp(n.InputSizes) }

// The layers of this package are exportable; FrozenG2G runs feature-major.
var (
	_ Exportable     = (*Dense)(nil)
	_ Exportable     = (*G2G)(nil)
	_ Exportable     = (*Conv2D)(nil)
	_ Exportable     = (*ActivationLayer)(nil)
	_ Exportable     = (*Dropout)(nil)
	_ Exportable     = (*Flatten)(nil)
	_ Exportable     = (*Add)(nil)
	_ Exportable     = (*Concat)(nil)
	_ FeatureMajorOp = (*FrozenG2G)(nil)
)
