package layers

import (
	"fmt"
	"hash"
	"runtime"

	"github.com/chewxy/hm"
	"github.com/pkg/errors"
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/g2g-ml/g2g/internal/gop"
	"github.com/g2g-ml/g2g/internal/sparse/kernels"
)

// maskedMul is a gorgonia op computing y = x·(W⊙M) for x (batch, in), W and
// M (in, out), with its own backward ops:
//
//	dx = dy·(W⊙M)ᵀ   (maskedMulT)
//	dW = (xᵀ·dy)⊙M   (maskedGrad)
//	dM: none — the mask is not learnable, so no work is spent on it.
//
// Compared with composing HadamardProd and Mul, it skips the mask's gradient,
// the intermediate W⊙M node and its gradient, and, for a layer reading the
// model input, the unused input gradient. It reuses its output buffers across
// steps. Matrix products go through gonum's blas32, which binaries built with
// -tags openblas route to OpenBLAS.
type maskedMul struct {
	opBase
	diffX bool // whether x needs a gradient (false when x is a graph input)
	out   []float32
	sc    *sparseScratch
}

// sparseScratch holds one masked product's feature-major buffers for the
// sparse kernels (one row per unit, the batch padded to a multiple of
// kernels.Lane along the row), shared by its forward op and the two
// backward ops of the same training step: the backward ops reuse the
// forward op's transposed input, and whichever runs first transposes the
// output gradient for both. A product without backward ops (evaluation)
// runs its batch in chunks of evalChunk samples, so its buffers stay small
// whatever the batch size.
type sparseScratch struct {
	train     bool // backward ops exist: keep the whole input transposed
	batch, bp int
	xt, yt    []float32 // input (in × bp) and output (out × bp)
	dyt, dxt  []float32 // output gradient (out × bp) and input gradient (in × bp)
	fwd       uint64    // forward runs so far
	dyFwd     uint64    // the forward run dyt belongs to
	dyFirst   *float32  // the gradient slice dyt was transposed from
}

// evalChunk is the number of samples an evaluation-only sparse product
// transposes and multiplies at a time.
const evalChunk = 256

// fit sets the batch and sizes the forward buffers (n rows of bp each).
func (sc *sparseScratch) fit(batch, in, out int) {
	sc.batch, sc.bp = batch, kernels.Padded(batch)
	sc.xt = grow(sc.xt, in*sc.bp)
	sc.yt = grow(sc.yt, out*sc.bp)
}

// fitGrad sizes the backward buffers for the current batch.
func (sc *sparseScratch) fitGrad(in, out int) {
	sc.dyt = grow(sc.dyt, out*sc.bp)
	sc.dxt = grow(sc.dxt, in*sc.bp)
}

// toFeatureMajor transposes src (batch × n) into dst (n × bp), zeroing the
// padding columns, which the weight gradient sums over.
func (sc *sparseScratch) toFeatureMajor(dst, src []float32, n int) error {
	if err := kernels.Transpose(dst, sc.bp, src, n, sc.batch, n); err != nil {
		return err
	}
	if sc.batch < sc.bp {
		for r := 0; r < n; r++ {
			clear(dst[r*sc.bp+sc.batch : (r+1)*sc.bp])
		}
	}
	return nil
}

// backward prepares a backward op of this step: it checks that the forward
// pass saw the same batch, sizes the gradient buffers and returns the
// output gradient dy, feature-major.
func (sc *sparseScratch) backward(dy []float32, batch, in, out int) ([]float32, error) {
	if sc.batch != batch || !sc.train {
		return nil, errors.Errorf("gradient of a batch of %d after a forward pass of %d", batch, sc.batch)
	}
	sc.fitGrad(in, out)
	return sc.gradT(dy, out)
}

// gradT returns the output gradient dy, feature-major, transposing it
// unless the other backward op of this step already did.
func (sc *sparseScratch) gradT(dy []float32, out int) ([]float32, error) {
	if sc.dyFwd == sc.fwd && sc.dyFirst == &dy[0] {
		return sc.dyt, nil
	}
	if err := sc.toFeatureMajor(sc.dyt, dy, out); err != nil {
		return nil, err
	}
	sc.dyFwd, sc.dyFirst = sc.fwd, &dy[0]
	return sc.dyt, nil
}

// forward computes y = x·(W⊙M) (x batch × in, y batch × out) on the sparse
// kernels — dense blocks with BLAS from wm (W⊙M), the other edges from w —
// whole for training, in chunks of evalChunk samples otherwise.
func (sc *sparseScratch) forward(p *kernelPlan, w, wm, x, y []float32, batch, in, out int) error {
	sc.fwd++
	chunk := evalChunk
	if sc.train {
		chunk = batch
	}
	for c0 := 0; c0 < batch; c0 += chunk {
		n := min(chunk, batch-c0)
		sc.fit(n, in, out)
		if err := sc.toFeatureMajor(sc.xt, x[c0*in:(c0+n)*in], in); err != nil {
			return err
		}
		if err := sparseProduct(p, p.byOut, w, p.liveBlocks(w, wm, out), sc.xt, sc.yt, sc.bp, out, false); err != nil {
			return err
		}
		if err := kernels.Transpose(y[c0*out:(c0+n)*out], out, sc.yt, sc.bp, out, n); err != nil {
			return err
		}
	}
	return nil
}

// sparseProduct computes, feature-major with rows of bp values, the
// product of (W⊙M)ᵀ with xt (forward: pat = byOut, one row of yt per
// output) or, transposed, of W⊙M with xt (input gradient: pat = byIn, one
// row of yt per input): the plan's dense blocks through BLAS — block(k)
// returns block k's top-left entry of W⊙M onwards and its row stride —
// then the pattern's edges, whose offsets index vals. yt has rows rows.
func sparseProduct(p *kernelPlan, pat *kernels.Pattern, vals []float32, block func(k int) ([]float32, int), xt, yt []float32, bp, rows int, transposed bool) error {
	if len(p.blocks) == 0 {
		return kernels.Gather(pat, vals, xt, bp, yt, bp, bp)
	}
	clear(yt[:rows*bp])
	// Blocks writing the same rows of yt run in one goroutine, in order.
	key := 2 // output range
	if transposed {
		key = 0 // input range
	}
	forBlocks(p.blocks, key, func(k int, b [4]int) {
		i0, i1, j0, j1 := b[0], b[1], b[2], b[3]
		src, ld := block(k)
		if transposed { // dXt[i0:i1] += W⊙M[i0:i1, j0:j1] · dYt[j0:j1]
			gemmAcc(blas.NoTrans, blas.NoTrans, i1-i0, bp, j1-j0, src, ld, xt[j0*bp:], bp, yt[i0*bp:], bp)
		} else { // Yt[j0:j1] += W⊙M[i0:i1, j0:j1]ᵀ · Xt[i0:i1]
			gemmAcc(blas.Trans, blas.NoTrans, j1-j0, bp, i1-i0, src, ld, xt[i0*bp:], bp, yt[j0*bp:], bp)
		}
	})
	return kernels.GatherAdd(pat, vals, xt, bp, yt, bp, bp)
}

// liveBlocks returns the block function of sparseProduct for the layer's
// live W and its masked copy wm.
func (p *kernelPlan) liveBlocks(w, wm []float32, out int) func(k int) ([]float32, int) {
	return func(k int) ([]float32, int) {
		b := p.blocks[k]
		return p.blockWeights(k, w, wm)[b[0]*out+b[2]:], out
	}
}

// blockWeights returns the slice holding block k of W⊙M: W itself when the
// block is full, the masked copy otherwise.
func (p *kernelPlan) blockWeights(k int, w, wm []float32) []float32 {
	if p.full[k] {
		return w
	}
	return wm
}

// forBlocks runs f on every block, concurrently on GOMAXPROCS goroutines,
// except that blocks with the same destination range [b[key], b[key+1])
// run on one goroutine, in list order; so results do not depend on the
// number of goroutines. Goroutine w takes the ranges that start in the
// w-th of equal slices of the units, which balances equal ensembles.
func forBlocks(blocks [][4]int, key int, f func(k int, b [4]int)) {
	workers := min(runtime.GOMAXPROCS(0), len(blocks))
	if workers < 2 {
		for k, b := range blocks {
			f(k, b)
		}
		return
	}
	units := 0
	for _, b := range blocks {
		units = max(units, b[key+1])
	}
	kernels.ParallelFor(workers, func(lo, hi int) {
		for w := lo; w < hi; w++ {
			for k, b := range blocks {
				if b[key]*workers/units == w {
					f(k, b)
				}
			}
		}
	})
}

// opBase is what the three masked-product ops share: the layer, a label,
// and which input dimensions give the output shape (rows of input a along
// axis ra, columns of input b along axis rb).
type opBase struct {
	gop.Pure
	layer        *G2G
	label        string
	a, ra, b, rb int
}

func (op *opBase) Arity() int { return 3 }

func (op *opBase) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(a, a, a, a)
}

func (op *opBase) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return matShape(in, op.a, op.ra, op.b, op.rb)
}

// WriteHash makes every op instance distinct: each owns output buffers.
func (op *opBase) WriteHash(h hash.Hash) { fmt.Fprintf(h, "%s(%p)", op.label, op) }

func (op *opBase) Hashcode() uint32 { return gop.Hash(op) }

func (op *opBase) String() string { return op.label + "[" + op.layer.Name() + "]" }

func (op *maskedMul) DiffWRT(int) []bool { return []bool{op.diffX, true, false} }

func (op *maskedMul) Do(vals ...G.Value) (G.Value, error) {
	x, w, m, err := three(vals)
	if err != nil {
		return nil, errors.Wrap(err, op.String())
	}
	batch, in, out := len(x)/op.layer.cfg.In, op.layer.cfg.In, op.layer.cfg.Out
	op.out = grow(op.out, batch*out)
	l := op.layer
	p := l.kernelPlan()
	switch p.kernel {
	case KernelSparse:
		var wm []float32
		if len(p.blocks) > 0 {
			wm = l.maskedWeights(p, w, m)
		}
		if err := op.sc.forward(p, w, wm, x, op.out, batch, in, out); err != nil {
			return nil, errors.Wrap(err, op.String())
		}
	case KernelBlocks:
		wm := l.maskedWeights(p, w, m)
		clear(op.out)
		for k, b := range p.blocks {
			i0, i1, j0, j1 := b[0], b[1], b[2], b[3]
			gemmAcc(blas.NoTrans, blas.NoTrans, batch, j1-j0, i1-i0, x[i0:], in, p.blockWeights(k, w, wm)[i0*out+j0:], out, op.out[j0:], out)
		}
	default:
		wm := l.maskedWeights(p, w, m)
		gemm(blas.NoTrans, blas.NoTrans, batch, out, in, x, in, wm, out, op.out, out)
	}
	return tensor.New(tensor.WithShape(batch, out), tensor.WithBacking(op.out)), nil
}

func (op *maskedMul) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	x, w, m := inputs[0], inputs[1], inputs[2]
	op.sc.train = true
	var dx *G.Node
	var err error
	if op.diffX {
		if dx, err = G.ApplyOp(&maskedMulT{opBase: opBase{layer: op.layer, label: "dy·(W⊙M)ᵀ", a: 0, ra: 0, b: 1, rb: 0}, sc: op.sc}, grad, w, m); err != nil {
			return nil, err
		}
	}
	dw, err := G.ApplyOp(&maskedGrad{opBase: opBase{layer: op.layer, label: "(xᵀ·dy)⊙M", a: 0, ra: 1, b: 1, rb: 1}, sc: op.sc}, x, grad, m)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx, dw, nil}, nil
}

// maskedMulT computes dx = dy·(W⊙M)ᵀ from (dy, W, M).
type maskedMulT struct {
	opBase
	out []float32
	sc  *sparseScratch
}

func (op *maskedMulT) Do(vals ...G.Value) (G.Value, error) {
	dy, w, m, err := three(vals)
	if err != nil {
		return nil, errors.Wrap(err, op.String())
	}
	in, out := op.layer.cfg.In, op.layer.cfg.Out
	batch := len(dy) / out
	op.out = grow(op.out, batch*in)
	l := op.layer
	p := l.kernelPlan()
	if p.kernel == KernelSparse {
		sc := op.sc
		dyt, err := sc.backward(dy, batch, in, out)
		if err != nil {
			return nil, errors.Wrap(err, op.String())
		}
		// The forward op of the same run left the blocks of W⊙M in the
		// layer (the optimizer only runs after the whole backward pass).
		if err := sparseProduct(p, p.byIn, w, p.liveBlocks(w, l.wm, out), dyt, sc.dxt, sc.bp, in, true); err != nil {
			return nil, errors.Wrap(err, op.String())
		}
		if err := kernels.Transpose(op.out, in, sc.dxt, sc.bp, in, batch); err != nil {
			return nil, errors.Wrap(err, op.String())
		}
		return tensor.New(tensor.WithShape(batch, in), tensor.WithBacking(op.out)), nil
	}
	// The forward op of the same run left W⊙M in the layer (the optimizer
	// only runs after the whole backward pass): reuse it.
	wm := l.wm
	if len(wm) != len(w) {
		wm = l.maskedWeights(p, w, m)
	}
	if p.kernel == KernelBlocks {
		clear(op.out)
		for k, b := range p.blocks {
			i0, i1, j0, j1 := b[0], b[1], b[2], b[3]
			gemmAcc(blas.NoTrans, blas.Trans, batch, i1-i0, j1-j0, dy[j0:], out, p.blockWeights(k, w, wm)[i0*out+j0:], out, op.out[i0:], in)
		}
	} else {
		gemm(blas.NoTrans, blas.Trans, batch, in, out, dy, out, wm, out, op.out, in)
	}
	return tensor.New(tensor.WithShape(batch, in), tensor.WithBacking(op.out)), nil
}

// maskedGrad computes dW = (xᵀ·dy)⊙M from (x, dy, M), keeping the unmasked
// product xᵀ·dy — the dense gradient RigL ranks inactive edges by — in the
// layer when asked to.
type maskedGrad struct {
	opBase
	out     []float32
	sc      *sparseScratch
	version uint64 // mask version whose inactive entries out holds zeros for
	zeroed  bool
}

func (op *maskedGrad) Do(vals ...G.Value) (G.Value, error) {
	x, dy, m, err := three(vals)
	if err != nil {
		return nil, errors.Wrap(err, op.String())
	}
	in, out := op.layer.cfg.In, op.layer.cfg.Out
	batch := len(x) / in
	l := op.layer
	p := l.kernelPlan()
	keep := l.keepDense
	if p.kernel == KernelSparse && !keep {
		// The kernel writes the active entries only: the inactive ones keep
		// the zeros written when the mask last changed.
		if cap(op.out) < in*out || !op.zeroed || op.version != p.version {
			op.out = grow(op.out, in*out)
			clear(op.out)
			op.zeroed, op.version = true, p.version
		}
		sc := op.sc
		dyt, err := sc.backward(dy, batch, in, out)
		if err != nil {
			return nil, errors.Wrap(err, op.String())
		}
		// dW[i0:i1, j0:j1] = (Xt[i0:i1] · dYt[j0:j1]ᵀ) ⊙ M; blocks are
		// disjoint.
		forBlocks(p.blocks, 0, func(_ int, b [4]int) {
			i0, i1, j0, j1 := b[0], b[1], b[2], b[3]
			gemm(blas.NoTrans, blas.Trans, i1-i0, j1-j0, sc.bp, sc.xt[i0*sc.bp:], sc.bp, dyt[j0*sc.bp:], sc.bp, op.out[i0*out+j0:], out)
			for i := i0; i < i1; i++ {
				row := op.out[i*out+j0 : i*out+j1]
				kernels.Mask(row, row, m[i*out+j0:i*out+j1])
			}
		})
		if err := kernels.SampledDot(p.byIn, sc.xt, sc.bp, dyt, sc.bp, sc.bp, op.out); err != nil {
			return nil, errors.Wrap(err, op.String())
		}
		l.denseGrad = nil
		return tensor.New(tensor.WithShape(in, out), tensor.WithBacking(op.out)), nil
	}
	op.out = grow(op.out, in*out)
	op.zeroed = false
	if p.kernel == KernelBlocks && !keep {
		clear(op.out)
		for _, b := range p.blocks {
			i0, i1, j0, j1 := b[0], b[1], b[2], b[3]
			gemmAcc(blas.Trans, blas.NoTrans, i1-i0, j1-j0, batch, x[i0:], in, dy[j0:], out, op.out[i0*out+j0:], out)
		}
	} else {
		gemm(blas.Trans, blas.NoTrans, in, out, batch, x, in, dy, out, op.out, out)
	}
	if keep {
		l.denseGrad = grow(l.denseGrad, in*out)
		copy(l.denseGrad, op.out)
	} else {
		l.denseGrad = nil
	}
	kernels.Mask(op.out, op.out, m)
	return tensor.New(tensor.WithShape(in, out), tensor.WithBacking(op.out)), nil
}

// matShape returns (rows of input a along axis ra, cols of input b along axis rb).
func matShape(in []G.DimSizer, a, ra, b, rb int) (tensor.Shape, error) {
	if len(in) != 3 {
		return nil, errors.Errorf("want 3 inputs, got %d", len(in))
	}
	sa, ok1 := in[a].(tensor.Shape)
	sb, ok2 := in[b].(tensor.Shape)
	if !ok1 || !ok2 || len(sa) != 2 || len(sb) != 2 {
		return nil, errors.Errorf("want two matrices, got %v and %v", in[a], in[b])
	}
	return tensor.Shape{sa[ra], sb[rb]}, nil
}

func three(vals []G.Value) (a, b, c []float32, err error) {
	if len(vals) != 3 {
		return nil, nil, nil, errors.Errorf("want 3 inputs, got %d", len(vals))
	}
	var out [3][]float32
	for i, v := range vals {
		if out[i], _, err = gop.Floats(v); err != nil {
			return nil, nil, nil, errors.Wrapf(err, "input %d", i)
		}
	}
	return out[0], out[1], out[2], nil
}

func grow(buf []float32, n int) []float32 {
	if cap(buf) < n {
		return make([]float32, n)
	}
	return buf[:n]
}

// gemmAcc computes c += op(a)·op(b) on row-major views (a, b and c start at
// the view's first element; lda, ldb and ldc are the full matrices' row
// strides).
func gemmAcc(ta, tb blas.Transpose, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	product(ta, tb, m, n, k, a, lda, b, ldb, 1, c, ldc)
}

// gemm computes c = op(a)·op(b) on row-major views, c being m × n and the
// inner dimension k.
func gemm(ta, tb blas.Transpose, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	product(ta, tb, m, n, k, a, lda, b, ldb, 0, c, ldc)
}

// product computes c = op(a)·op(b) + beta·c, trimming each view to the
// entries the product reads.
func product(ta, tb blas.Transpose, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	ar, ac := m, k
	if ta == blas.Trans {
		ar, ac = k, m
	}
	br, bc := k, n
	if tb == blas.Trans {
		br, bc = n, k
	}
	blas32.Gemm(ta, tb, 1,
		blas32.General{Rows: ar, Cols: ac, Stride: lda, Data: a[:(ar-1)*lda+ac]},
		blas32.General{Rows: br, Cols: bc, Stride: ldb, Data: b[:(br-1)*ldb+bc]},
		beta, blas32.General{Rows: m, Cols: n, Stride: ldc, Data: c[:(m-1)*ldc+n]})
}

// Kernel names the compute kernel behind a G2G layer's products.
type Kernel string

const (
	// KernelAuto picks one of the others from the mask each time it
	// changes (the default); see SparseCrossover and BlockCrossover.
	KernelAuto Kernel = "auto"
	// KernelDense multiplies by the whole of W⊙M with one BLAS product.
	KernelDense Kernel = "dense"
	// KernelBlocks multiplies by the non-empty ensemble blocks of W⊙M,
	// one BLAS product each. It needs contiguous ensembles (index
	// grouping, or mixer's even layers); elsewhere it falls back to dense.
	KernelBlocks Kernel = "blocks"
	// KernelSparse visits only the active edges (package
	// internal/kernels): work scales with the number of active edges.
	KernelSparse Kernel = "sparse"
)

// SparseCrossover is the largest density at which KernelAuto chooses the
// sparse kernels over one dense product, when they run in assembly
// (AVX-512). Measured with graph's BenchmarkTrainStep (two 1024 × 1024
// layers, batch 256, OpenBLAS, 2 cores), per training step: sparse 16.8 ms
// and dense 21.8 ms at density 0.25, sparse 27.7 ms and dense 22.1 ms at
// 0.5; the lines cross near 0.35.
var SparseCrossover = 0.35

// SparseCrossoverGo is SparseCrossover for processors without AVX-512,
// where the sparse kernels are plain Go, ten times slower per edge.
var SparseCrossoverGo = 0.02

// BlockCrossover is the largest fraction of non-empty ensemble blocks at
// which KernelAuto, without AVX-512, chooses the block kernels (one BLAS
// product per non-empty block) over one dense product.
var BlockCrossover = 0.75

// kernelPlan is how a layer computes its products for the current mask,
// rebuilt whenever the mask's version changes: the kernel and, for it,
// the non-empty ensemble blocks (as unit ranges [i0, i1) × [j0, j1)) or
// the active edges by output and by input.
type kernelPlan struct {
	version uint64
	valid   bool
	want    Kernel
	kernel  Kernel
	// blocks are the ensemble blocks multiplied with BLAS: the non-empty
	// ones for KernelBlocks, the dense ones (DenseBlockFill) for
	// KernelSparse.
	blocks [][4]int
	// full[k] reports whether blocks[k] has every edge active (its weight
	// gradient needs no masking).
	full []bool
	// byOut and byIn list, for KernelSparse, the active edges outside the
	// blocks: by output (rows = outputs j, columns = inputs i) and by input.
	byOut, byIn *kernels.Pattern
}

// DenseBlockFill is the smallest fraction of active edges at which the
// sparse kernel multiplies an ensemble block (intra-ensemble blocks are
// fully active by default) with one BLAS product instead of edge by edge;
// above 1 it never does. Binaries built with -tags openblas set it to 0.5
// (see package graph), where OpenBLAS multiplies dense blocks about twice
// as fast per multiply-accumulate as the edge kernels; gonum's pure-Go
// BLAS is slower than them, so the default is 2.
var DenseBlockFill = 2.0

// SetKernel chooses the kernel of the layer's products (KernelAuto by
// default). KernelBlocks falls back to KernelDense when the ensembles are
// not contiguous. Results agree between kernels to float32 rounding.
func (l *G2G) SetKernel(k Kernel) error {
	switch k {
	case KernelAuto, KernelDense, KernelBlocks, KernelSparse:
	default:
		return errors.Errorf("layer %q: unknown kernel %q (want auto, dense, blocks or sparse)", l.cfg.Name, k)
	}
	l.kernel = k
	l.plan.valid = false
	return nil
}

// Kernel returns the kernel the layer's products run on for the current
// mask, never KernelAuto.
func (l *G2G) Kernel() Kernel { return l.kernelPlan().kernel }

// kernelPlan returns the current plan.
func (l *G2G) kernelPlan() *kernelPlan {
	p := &l.plan
	m := l.mask
	want := l.kernel
	if want == "" {
		want = KernelAuto
	}
	if p.valid && p.version == m.Version() && p.want == want {
		return p
	}
	*p = kernelPlan{version: m.Version(), valid: true, want: want, kernel: KernelDense}
	g := l.cfg.Groups
	var counts []int // active edges per block, parallel to p.blocks
	if ib, ob := EnsembleBounds(m.InGroup), EnsembleBounds(m.OutGroup); len(ib) == g+1 && len(ob) == g+1 {
		for gi := 0; gi < g; gi++ {
			for gj := 0; gj < g; gj++ {
				if n := blockEdges(m, ib[gi], ib[gi+1], ob[gj], ob[gj+1]); n > 0 {
					p.blocks = append(p.blocks, [4]int{ib[gi], ib[gi+1], ob[gj], ob[gj+1]})
					counts = append(counts, n)
				}
			}
		}
	}
	blocksOK := p.blocks != nil
	switch want {
	case KernelBlocks:
		if blocksOK {
			p.kernel = KernelBlocks
		}
	case KernelSparse:
		p.kernel = KernelSparse
	case KernelAuto:
		switch {
		case kernels.Accelerated():
			if m.Density() <= SparseCrossover {
				p.kernel = KernelSparse
			}
		case blocksOK && float64(len(p.blocks)) <= BlockCrossover*float64(g*g):
			p.kernel = KernelBlocks
		case m.Density() <= SparseCrossoverGo:
			p.kernel = KernelSparse
		}
	}
	switch p.kernel {
	case KernelDense:
		p.blocks = nil
	case KernelSparse:
		// Keep the blocks dense enough for BLAS; the edge kernels take
		// the rest.
		var dense [][4]int
		var n []int
		for k, b := range p.blocks {
			if float64(counts[k]) >= DenseBlockFill*float64((b[1]-b[0])*(b[3]-b[2])) {
				dense = append(dense, b)
				n = append(n, counts[k])
			}
		}
		p.blocks, counts = dense, n
		p.byOut, p.byIn = edgePatterns(m, p.blocks)
	}
	p.full = make([]bool, len(p.blocks))
	for k, b := range p.blocks {
		p.full[k] = counts[k] == (b[1]-b[0])*(b[3]-b[2])
	}
	return p
}

// edgePatterns lists the mask's active edges outside the given blocks by
// output unit (for the forward product) and by input unit (for the input
// gradient and the weight gradient), with offsets into W.
func edgePatterns(m *Mask, skip [][4]int) (byOut, byIn *kernels.Pattern) {
	in, out, d := m.In, m.Out, m.Data()
	inBlock := func(i, j int) bool {
		for _, b := range skip {
			if i >= b[0] && i < b[1] && j >= b[2] && j < b[3] {
				return true
			}
		}
		return false
	}
	n := m.Active()
	ptrIn := make([]int32, in+1)
	colIn := make([]int32, 0, n)
	offIn := make([]int32, 0, n)
	fan := make([]int32, out+1)
	for i := 0; i < in; i++ {
		for j, v := range d[i*out : (i+1)*out] {
			if v != 0 && (skip == nil || !inBlock(i, j)) {
				colIn = append(colIn, int32(j))
				offIn = append(offIn, int32(i*out+j))
				fan[j+1]++
			}
		}
		ptrIn[i+1] = int32(len(colIn))
	}
	for j := 0; j < out; j++ {
		fan[j+1] += fan[j]
	}
	ptrOut := append([]int32(nil), fan...)
	colOut := make([]int32, len(colIn))
	offOut := make([]int32, len(colIn))
	next := fan[:out]
	for i := 0; i < in; i++ {
		for e := ptrIn[i]; e < ptrIn[i+1]; e++ {
			j := colIn[e]
			colOut[next[j]] = int32(i)
			offOut[next[j]] = offIn[e]
			next[j]++
		}
	}
	// The arrays are well formed by construction; NewPattern only records
	// their bounds.
	byIn, _ = kernels.NewPattern(ptrIn, colIn, offIn)
	byOut, _ = kernels.NewPattern(ptrOut, colOut, offOut)
	return byOut, byIn
}

// EnsembleBounds returns b such that group g spans units [b[g], b[g+1]),
// when groups 0, 1, ... are contiguous, non-empty runs in increasing order
// (index grouping); otherwise nil.
func EnsembleBounds(group []int) []int {
	var b []int
	for i, v := range group {
		if i == 0 || v != group[i-1] {
			if v != len(b) {
				return nil
			}
			b = append(b, i)
		}
	}
	return append(b, len(group))
}

// blockEdges counts the active edges in [i0, i1) × [j0, j1).
func blockEdges(m *Mask, i0, i1, j0, j1 int) int {
	d, n := m.Data(), 0
	for i := i0; i < i1; i++ {
		for _, v := range d[i*m.Out+j0 : i*m.Out+j1] {
			if v != 0 {
				n++
			}
		}
	}
	return n
}

// maskedWeights writes W⊙M into the layer's buffer and returns it:
// everything for the dense kernel; for the others only the blocks that are
// not full (blockWeights reads full blocks from W itself, where W⊙M = W),
// the rest is never read.
func (l *G2G) maskedWeights(p *kernelPlan, w, m []float32) []float32 {
	l.wm = grow(l.wm, len(w))
	if p.kernel == KernelDense {
		kernels.Mask(l.wm, w, m)
		return l.wm
	}
	out := l.cfg.Out
	for k, b := range p.blocks {
		if p.full[k] {
			continue
		}
		for i := b[0]; i < b[1]; i++ {
			lo, hi := i*out+b[2], i*out+b[3]
			kernels.Mask(l.wm[lo:hi], w[lo:hi], m[lo:hi])
		}
	}
	return l.wm
}
