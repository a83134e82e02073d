package sparse

import (
	"github.com/pkg/errors"
	"gonum.org/v1/gonum/blas"

	"github.com/g2g-ml/g2g/internal/sparse/kernels"
)

// Product is the state of one masked product y = x·(W⊙M) in one compiled
// graph, shared by its forward computation and the two backward ones of
// the same training step: their output buffers (reused across steps), the
// masked weights W⊙M the forward pass writes and the input gradient reads,
// and the sparse kernel's feature-major buffers (one row per unit, the
// batch padded to a multiple of kernels.Lane along the row). The backward
// products reuse the forward pass's transposed input, and whichever runs
// first transposes the output gradient for both. A product without
// backward ones (evaluation) runs its batch in chunks of evalChunk
// samples, so its buffers stay small whatever the batch size. The zero
// value is ready to use.
type Product struct {
	train     bool      // backward products exist: keep the whole input transposed
	y, dx, dw []float32 // outputs of Forward, InputGrad and WeightGrad
	wm        []float32 // W⊙M, as far as the plan reads it (see Plan.maskedWeights)
	dwVersion uint64    // mask version whose inactive entries dw holds zeros for
	dwZeroed  bool
	// dwEdges is the forward run (fwd) whose weight gradient at the
	// sparse kernel's edges dw holds, computed with the input gradient
	// (GatherDot); 0 for none.
	dwEdges uint64

	batch, bp int
	xt, yt    []float32 // input (in × bp) and output (out × bp)
	dyt, dxt  []float32 // output gradient (out × bp) and input gradient (in × bp)
	// xcur and dycur are the step's input and output gradient,
	// feature-major: xt and dyt, or the caller's own slices when they come
	// feature-major already (Layout).
	xcur, dycur []float32
	fwd         uint64   // forward runs so far
	dyFwd       uint64   // the forward run dycur belongs to
	dyFirst     *float32 // the gradient slice dycur was made from
	// Batch-major copies for the kernels that need them when the caller's
	// operands are feature-major (Layout).
	xb, yb, dyb, dxb []float32
}

// SetTraining records that backward products will follow every forward
// one, so the forward pass keeps its whole input transposed for them.
func (pr *Product) SetTraining() { pr.train = true }

// evalChunk is the number of samples an evaluation-only sparse product
// transposes and multiplies at a time.
const evalChunk = 256

// Forward computes y = x·(W⊙M) for x (batch × in), W and M (in × out) and
// returns y (batch × out) in pr's buffer, which the next call overwrites.
func (p *Plan) Forward(pr *Product, w, m, x []float32, batch int) ([]float32, error) {
	pr.y = grow(pr.y, batch*p.out)
	if err := p.run.forward(p, pr, w, m, x, pr.y, batch); err != nil {
		return nil, err
	}
	return pr.y, nil
}

// InputGrad computes dx = dy·(W⊙M)ᵀ for dy (batch × out) and returns dx
// (batch × in) in pr's buffer. It reuses what Forward left in pr: call it
// after Forward on the same weights, as a backward pass does.
func (p *Plan) InputGrad(pr *Product, dy, w, m []float32, batch int) ([]float32, error) {
	pr.dx = grow(pr.dx, batch*p.in)
	if err := p.run.inputGrad(p, pr, dy, w, m, pr.dx, batch); err != nil {
		return nil, err
	}
	return pr.dx, nil
}

// WeightGrad computes dW = (xᵀ·dy)⊙M for x (batch × in) and dy (batch ×
// out) and returns it (in × out) in pr's buffer. With dense non-nil it also
// stores the unmasked product xᵀ·dy in *dense (grown as needed): the
// gradient every edge would have received had it been active, which costs
// a full dense product whatever the kernel.
func (p *Plan) WeightGrad(pr *Product, x, dy, m []float32, batch int, dense *[]float32) ([]float32, error) {
	if dense == nil {
		return p.run.weightGrad(p, pr, x, dy, m, batch)
	}
	dw := pr.denseGradBuffer(p.in * p.out)
	Gemm(blas.Trans, blas.NoTrans, p.in, p.out, batch, x, p.in, dy, p.out, dw, p.out)
	*dense = grow(*dense, len(dw))
	copy(*dense, dw)
	kernels.Mask(dw, dw, m)
	return dw, nil
}

// denseGradBuffer returns the weight-gradient buffer for a product that
// writes every entry.
func (pr *Product) denseGradBuffer(n int) []float32 {
	pr.dw = grow(pr.dw, n)
	pr.dwZeroed = false
	return pr.dw
}

// denseKernel multiplies by the whole of W⊙M.
type denseKernel struct{}

func (denseKernel) forward(p *Plan, pr *Product, w, m, x, y []float32, batch int) error {
	wm := p.maskedWeights(pr, w, m)
	Gemm(blas.NoTrans, blas.NoTrans, batch, p.out, p.in, x, p.in, wm, p.out, y, p.out)
	return nil
}

func (denseKernel) inputGrad(p *Plan, pr *Product, dy, w, m, dx []float32, batch int) error {
	Gemm(blas.NoTrans, blas.Trans, batch, p.in, p.out, dy, p.out, pr.forwardWeights(p, w, m), p.out, dx, p.in)
	return nil
}

func (denseKernel) weightGrad(p *Plan, pr *Product, x, dy, m []float32, batch int) ([]float32, error) {
	dw := pr.denseGradBuffer(p.in * p.out)
	Gemm(blas.Trans, blas.NoTrans, p.in, p.out, batch, x, p.in, dy, p.out, dw, p.out)
	kernels.Mask(dw, dw, m)
	return dw, nil
}

// forwardWeights returns W⊙M as the forward pass of the same run left it
// in pr (the optimizer only runs after the whole backward pass), or
// computes it when no forward pass did.
func (pr *Product) forwardWeights(p *Plan, w, m []float32) []float32 {
	if len(pr.wm) != len(w) {
		return p.maskedWeights(pr, w, m)
	}
	return pr.wm
}

// blockKernel multiplies by the non-empty ensemble blocks of W⊙M, one BLAS
// product each, in order.
type blockKernel struct{}

func (blockKernel) forward(p *Plan, pr *Product, w, m, x, y []float32, batch int) error {
	wm := p.maskedWeights(pr, w, m)
	in, out := p.in, p.out
	clear(y)
	for k, b := range p.blocks {
		i0, i1, j0, j1 := b[0], b[1], b[2], b[3]
		GemmAcc(blas.NoTrans, blas.NoTrans, batch, j1-j0, i1-i0, x[i0:], in, p.blockWeights(k, w, wm)[i0*out+j0:], out, y[j0:], out)
	}
	return nil
}

func (blockKernel) inputGrad(p *Plan, pr *Product, dy, w, m, dx []float32, batch int) error {
	wm := pr.forwardWeights(p, w, m)
	in, out := p.in, p.out
	clear(dx)
	for k, b := range p.blocks {
		i0, i1, j0, j1 := b[0], b[1], b[2], b[3]
		GemmAcc(blas.NoTrans, blas.Trans, batch, i1-i0, j1-j0, dy[j0:], out, p.blockWeights(k, w, wm)[i0*out+j0:], out, dx[i0:], in)
	}
	return nil
}

func (blockKernel) weightGrad(p *Plan, pr *Product, x, dy, m []float32, batch int) ([]float32, error) {
	in, out := p.in, p.out
	dw := pr.denseGradBuffer(in * out)
	clear(dw)
	for _, b := range p.blocks {
		i0, i1, j0, j1 := b[0], b[1], b[2], b[3]
		GemmAcc(blas.Trans, blas.NoTrans, i1-i0, j1-j0, batch, x[i0:], in, dy[j0:], out, dw[i0*out+j0:], out)
	}
	kernels.Mask(dw, dw, m)
	return dw, nil
}

// sparseKernel visits the active edges outside the plan's blocks with the
// edge kernels, feature-major, and multiplies the blocks with BLAS.
type sparseKernel struct{}

// prepareForward readies pr for a sparse forward product on the current
// weights: the blocks' W⊙M (returned, nil without blocks) and the
// scattered edges' weights packed in the order the kernel reads them.
func (p *Plan) prepareForward(pr *Product, w, m []float32) []float32 {
	var wm []float32
	if len(p.blocks) > 0 {
		wm = p.maskedWeights(pr, w, m)
	}
	pr.fwd++
	p.packedWeights(w)
	return wm
}

// forward computes y = x·(W⊙M) on the sparse kernels — dense blocks with
// BLAS from W⊙M, the other edges from the packed weights — whole for
// training, in chunks of evalChunk samples otherwise.
func (sparseKernel) forward(p *Plan, pr *Product, w, m, x, y []float32, batch int) error {
	wm := p.prepareForward(pr, w, m)
	in, out := p.in, p.out
	chunk := evalChunk
	if pr.train {
		chunk = batch
	}
	for c0 := 0; c0 < batch; c0 += chunk {
		n := min(chunk, batch-c0)
		pr.fit(n, in, out)
		if err := pr.toFeatureMajor(pr.xt, x[c0*in:(c0+n)*in], in); err != nil {
			return err
		}
		pr.xcur = pr.xt
		if err := sparseProduct(p.blocks, p.fwdIn, p.wp, p.liveBlocks(w, wm), pr.xt, pr.yt, pr.bp, false, nil); err != nil {
			return err
		}
		if err := kernels.Transpose(y[c0*out:(c0+n)*out], out, pr.yt, pr.bp, out, n); err != nil {
			return err
		}
	}
	return nil
}

func (sparseKernel) inputGrad(p *Plan, pr *Product, dy, w, m, dx []float32, batch int) error {
	in, out := p.in, p.out
	dyt, err := pr.backward(dy, batch, in, out)
	if err != nil {
		return err
	}
	// The forward pass of the same run left the blocks of W⊙M in pr (the
	// optimizer only runs after the whole backward pass).
	if err := p.inputGradProduct(pr, w, dyt); err != nil {
		return err
	}
	return kernels.Transpose(dx, in, pr.dxt, pr.bp, in, batch)
}

func (sparseKernel) weightGrad(p *Plan, pr *Product, x, dy, m []float32, batch int) ([]float32, error) {
	dyt, err := pr.backward(dy, batch, p.in, p.out)
	if err != nil {
		return nil, err
	}
	return p.sparseWeightGrad(pr, dyt, m)
}

// sparseWeightGrad computes dW = (Xt·dYtᵀ)⊙M from the step's feature-major
// input (pr.xcur) and output gradient dyt.
func (p *Plan) sparseWeightGrad(pr *Product, dyt, m []float32) ([]float32, error) {
	out := p.out
	// The kernel writes the active entries only: the inactive ones keep
	// the zeros written when the mask last changed.
	if !pr.sparseGradReady(p) {
		pr.dw = grow(pr.dw, p.in*out)
		clear(pr.dw)
		pr.dwZeroed, pr.dwVersion = true, p.version
	}
	dw := pr.dw
	// dW[i0:i1, j0:j1] = (Xt[i0:i1] · dYt[j0:j1]ᵀ) ⊙ M; blocks are
	// disjoint.
	bp, xt := pr.bp, pr.xcur
	forBlocks(p.blocks, 0, func(k int, b [4]int) {
		i0, i1, j0, j1 := b[0], b[1], b[2], b[3]
		Gemm(blas.NoTrans, blas.Trans, i1-i0, j1-j0, bp, xt[i0*bp:], bp, dyt[j0*bp:], bp, dw[i0*out+j0:], out)
		if p.full[k] {
			return // every edge active: nothing to mask
		}
		for i := i0; i < i1; i++ {
			row := dw[i*out+j0 : i*out+j1]
			kernels.Mask(row, row, m[i*out+j0:i*out+j1])
		}
	})
	if pr.dwEdges == pr.fwd {
		return dw, nil // computed with the input gradient
	}
	if err := kernels.SampledDot(p.byIn, xt, bp, dyt, bp, bp, dw); err != nil {
		return nil, err
	}
	pr.dwEdges = pr.fwd
	return dw, nil
}

// sparseGradReady reports whether pr.dw is the sparse kernel's weight
// gradient buffer for p's mask: zero at every inactive entry.
func (pr *Product) sparseGradReady(p *Plan) bool {
	return len(pr.dw) == p.in*p.out && pr.dwZeroed && pr.dwVersion == p.version
}

// inputGradProduct computes the input gradient pr.dxt = (W⊙M)·dYt,
// feature-major, and, when the weight gradient buffer is ready for the
// sparse kernel (every step after the first of a mask) and its edges are
// not done yet for this run, the weight gradient at the edges too: both
// read the same rows of dYt, and kernels.GatherDot reads them once
// (bit-identical to the separate products). The weight gradient op then
// computes only its blocks.
func (p *Plan) inputGradProduct(pr *Product, w, dyt []float32) error {
	var dot *edgeDot
	if pr.dwEdges != pr.fwd && pr.sparseGradReady(p) {
		dot = &edgeDot{a: pr.xcur, out: pr.dw}
	}
	if err := sparseProduct(p.blocks, p.byIn, w, p.liveBlocks(w, pr.wm), dyt, pr.dxt, pr.bp, true, dot); err != nil {
		return err
	}
	if dot != nil {
		pr.dwEdges = pr.fwd
	}
	return nil
}

// edgeDot asks sparseProduct to compute, with a transposed product's
// edges, the sampled dot products of a's rows (the layer's input) with
// the rows the edges read (SampledDot) into out.
type edgeDot struct {
	a, out []float32
}

// fit sets the batch and sizes the forward buffers (n rows of bp each).
func (pr *Product) fit(batch, in, out int) {
	pr.batch, pr.bp = batch, kernels.Padded(batch)
	pr.xt = grow(pr.xt, in*pr.bp)
	pr.yt = grow(pr.yt, out*pr.bp)
}

// toFeatureMajor transposes src (batch × n) into dst (n × bp), zeroing the
// padding columns, which the weight gradient sums over.
func (pr *Product) toFeatureMajor(dst, src []float32, n int) error {
	if err := kernels.Transpose(dst, pr.bp, src, n, pr.batch, n); err != nil {
		return err
	}
	if pr.batch < pr.bp {
		for r := 0; r < n; r++ {
			clear(dst[r*pr.bp+pr.batch : (r+1)*pr.bp])
		}
	}
	return nil
}

// backward prepares a backward product of this step: it checks that the
// forward pass saw the same batch, sizes the gradient buffers and returns
// the output gradient dy, feature-major.
func (pr *Product) backward(dy []float32, batch, in, out int) ([]float32, error) {
	if pr.batch != batch || !pr.train {
		return nil, errors.Errorf("gradient of a batch of %d after a forward pass of %d", batch, pr.batch)
	}
	pr.dyt = grow(pr.dyt, out*pr.bp)
	pr.dxt = grow(pr.dxt, in*pr.bp)
	return pr.gradT(dy, out)
}

// gradT returns the output gradient dy, feature-major, transposing it
// unless the other backward product of this step already did.
func (pr *Product) gradT(dy []float32, out int) ([]float32, error) {
	if pr.dyFwd == pr.fwd && pr.dyFirst == &dy[0] {
		return pr.dycur, nil
	}
	if err := pr.toFeatureMajor(pr.dyt, dy, out); err != nil {
		return nil, err
	}
	pr.dyFwd, pr.dyFirst, pr.dycur = pr.fwd, &dy[0], pr.dyt
	return pr.dyt, nil
}

// sparseProduct computes, feature-major with rows of bp values, the
// product of (W⊙M)ᵀ with xt (forward: pat = byOut, one row of yt per
// output) or, transposed, of W⊙M with xt (input gradient: pat = byIn, one
// row of yt per input): the pattern's edges, whose offsets index vals and
// which write every row of yt, then the dense blocks through BLAS, added —
// block(k) returns block k's top-left entry of W⊙M onwards and its row
// stride. With dot, the edges' pass also computes dot's sampled products
// (kernels.GatherDot).
func sparseProduct(blocks [][4]int, pat *kernels.Pattern, vals []float32, block func(k int) ([]float32, int), xt, yt []float32, bp int, transposed bool, dot *edgeDot) error {
	// The edges first, writing every row of yt (rows without edges get
	// zeros), then the blocks add their products: no pass to clear yt.
	var err error
	if dot != nil {
		err = kernels.GatherDot(pat, vals, xt, bp, yt, bp, dot.a, bp, dot.out, bp, false)
	} else {
		err = kernels.Gather(pat, vals, xt, bp, yt, bp, bp)
	}
	if err != nil || len(blocks) == 0 {
		return err
	}
	// Blocks writing the same rows of yt run in one goroutine, in order.
	key := 2 // output range
	if transposed {
		key = 0 // input range
	}
	forBlocks(blocks, key, func(k int, b [4]int) {
		i0, i1, j0, j1 := b[0], b[1], b[2], b[3]
		src, ld := block(k)
		if transposed { // dXt[i0:i1] += W⊙M[i0:i1, j0:j1] · dYt[j0:j1]
			GemmAcc(blas.NoTrans, blas.NoTrans, i1-i0, bp, j1-j0, src, ld, xt[j0*bp:], bp, yt[i0*bp:], bp)
		} else { // Yt[j0:j1] += W⊙M[i0:i1, j0:j1]ᵀ · Xt[i0:i1]
			GemmAcc(blas.Trans, blas.NoTrans, j1-j0, bp, i1-i0, src, ld, xt[i0*bp:], bp, yt[j0*bp:], bp)
		}
	})
	return nil
}
