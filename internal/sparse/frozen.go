package sparse

import (
	"github.com/pkg/errors"
	"gonum.org/v1/gonum/blas"

	"github.com/g2g-ml/g2g/internal/sparse/kernels"
)

// Frozen is a read-only snapshot of a masked weight matrix for inference,
// laid out for the feature-major product of its plan's kernel: the weights
// of scattered edges packed in the order the sparse kernel reads them,
// dense ensemble blocks stored contiguously, or the whole of W⊙M. It does
// not see later changes to the weights. It is not safe for concurrent use
// (the edge pattern caches its work split).
type Frozen struct {
	in, out int
	kernel  Kernel
	run     strategy
	blocks  [][4]int
	vals    []float32        // Sparse: edge weights in byOut order
	packed  *kernels.Pattern // Sparse: byOut with offsets into vals
	blockW  [][]float32      // Sparse, Blocks: block k of W⊙M, row stride its width
	wm      []float32        // Dense: W⊙M
}

// Freeze returns a snapshot of W (in × out) masked by m, for the plan's
// kernel.
func (p *Plan) Freeze(w, m []float32) *Frozen {
	f := &Frozen{in: p.in, out: p.out, kernel: p.kernel, run: p.run, blocks: p.blocks}
	p.run.freeze(p, f, w, m)
	return f
}

// In returns the number of inputs (rows of W).
func (f *Frozen) In() int { return f.in }

// Out returns the number of outputs (columns of W).
func (f *Frozen) Out() int { return f.out }

// Kernel returns the kernel the snapshot runs on.
func (f *Frozen) Kernel() Kernel { return f.kernel }

// Blocks returns the number of ensemble blocks the snapshot multiplies
// with BLAS.
func (f *Frozen) Blocks() int { return len(f.blocks) }

// Forward computes yt = (W⊙M)ᵀ·xt for n samples stored feature-major: xt
// holds In rows of n values, yt receives Out rows of n values. It is
// fastest when n is kernels-friendly (see kernels.Padded).
func (f *Frozen) Forward(xt, yt []float32, n int) error {
	if n < 1 || len(xt) < f.in*n || len(yt) < f.out*n {
		return errors.Errorf("feature-major product of %d samples needs %d inputs and room for %d outputs, got %d and %d",
			n, f.in*n, f.out*n, len(xt), len(yt))
	}
	return f.run.frozenForward(f, xt, yt, n)
}

// freezeBlocks stores the plan's blocks of W⊙M contiguously.
func freezeBlocks(p *Plan, f *Frozen, w, m []float32) {
	out := p.out
	for _, b := range p.blocks {
		i0, i1, j0, j1 := b[0], b[1], b[2], b[3]
		blk := make([]float32, (i1-i0)*(j1-j0))
		for i := i0; i < i1; i++ {
			kernels.Mask(blk[(i-i0)*(j1-j0):(i-i0+1)*(j1-j0)], w[i*out+j0:i*out+j1], m[i*out+j0:i*out+j1])
		}
		f.blockW = append(f.blockW, blk)
	}
}

// frozenBlock is sparseProduct's block function for a snapshot.
func (f *Frozen) frozenBlock(k int) ([]float32, int) {
	return f.blockW[k], f.blocks[k][3] - f.blocks[k][2]
}

func (denseKernel) freeze(p *Plan, f *Frozen, w, m []float32) {
	f.wm = make([]float32, len(w))
	kernels.Mask(f.wm, w, m)
}

func (denseKernel) frozenForward(f *Frozen, xt, yt []float32, n int) error {
	Gemm(blas.Trans, blas.NoTrans, f.out, n, f.in, f.wm, f.out, xt, n, yt, n)
	return nil
}

func (blockKernel) freeze(p *Plan, f *Frozen, w, m []float32) { freezeBlocks(p, f, w, m) }

func (blockKernel) frozenForward(f *Frozen, xt, yt []float32, n int) error {
	clear(yt[:f.out*n])
	forBlocks(f.blocks, 2, func(k int, b [4]int) {
		i0, i1, j0, j1 := b[0], b[1], b[2], b[3]
		src, ld := f.frozenBlock(k)
		GemmAcc(blas.Trans, blas.NoTrans, j1-j0, n, i1-i0, src, ld, xt[i0*n:], n, yt[j0*n:], n)
	})
	return nil
}

func (sparseKernel) freeze(p *Plan, f *Frozen, w, m []float32) {
	f.vals = make([]float32, p.byOut.NNZ())
	p.packForward(f.vals, w)
	f.packed = p.packedOut // read-only, shared with the plan
	freezeBlocks(p, f, w, m)
}

func (sparseKernel) frozenForward(f *Frozen, xt, yt []float32, n int) error {
	return sparseProduct(f.blocks, f.packed, f.vals, f.frozenBlock, xt, yt, n, false, nil)
}
