package layers

import (
	"github.com/pkg/errors"
	"gonum.org/v1/gonum/blas"

	"github.com/g2g-ml/g2g/internal/sparse/kernels"
)

// FrozenG2G is a read-only snapshot of a G2G layer for inference: its
// weights, mask, bias and kernel plan at the time of G2G.Freeze, laid out
// for the feature-major forward pass — the weights of scattered edges
// packed in the order the sparse kernel reads them, dense ensemble blocks
// stored contiguously. It does not see later changes to the layer. It is
// not safe for concurrent use.
type FrozenG2G struct {
	name    string
	in, out int
	act     Activation
	plan    kernelPlan // a copy: the layer rebuilds its own in place
	vals    []float32  // KernelSparse: edge weights in plan.byOut order
	packed  *kernels.Pattern
	blocks  [][]float32 // KernelSparse, KernelBlocks: block k of W⊙M, row stride its width
	wm      []float32   // KernelDense: W⊙M
	bias    []float32
}

// Freeze returns a snapshot of the layer for inference (see FrozenG2G).
func (l *G2G) Freeze() *FrozenG2G {
	p := l.kernelPlan()
	w, m, out := l.w.Data(), l.mask.Data(), l.cfg.Out
	f := &FrozenG2G{name: l.cfg.Name, in: l.cfg.In, out: out, act: l.cfg.Activation, plan: *p}
	if l.b != nil {
		f.bias = append([]float32(nil), l.b.Data()...)
	}
	switch p.kernel {
	case KernelDense:
		f.wm = make([]float32, len(w))
		kernels.Mask(f.wm, w, m)
		return f
	case KernelSparse:
		n := p.byOut.NNZ()
		f.vals = make([]float32, n)
		off := make([]int32, n)
		for e, o := range p.byOut.Off {
			f.vals[e] = w[o]
			off[e] = int32(e)
		}
		// Same rows and columns as byOut, offsets 0, 1, ...: well formed.
		f.packed, _ = kernels.NewPattern(p.byOut.Ptr, p.byOut.Col, off)
	}
	for _, b := range p.blocks {
		i0, i1, j0, j1 := b[0], b[1], b[2], b[3]
		blk := make([]float32, (i1-i0)*(j1-j0))
		for i := i0; i < i1; i++ {
			kernels.Mask(blk[(i-i0)*(j1-j0):(i-i0+1)*(j1-j0)], w[i*out+j0:i*out+j1], m[i*out+j0:i*out+j1])
		}
		f.blocks = append(f.blocks, blk)
	}
	return f
}

// Name returns the layer's name.
func (f *FrozenG2G) Name() string { return f.name }

// Kernel returns the kernel the snapshot runs on.
func (f *FrozenG2G) Kernel() Kernel { return f.plan.kernel }

// ForwardFeatureMajor computes the layer's output for n samples stored
// feature-major — xt holds In rows of n values (one row per input unit, the
// samples along it), yt receives Out rows of n values: yt = act((W⊙M)ᵀ·xt +
// b), on the kernels training uses. Consecutive sparse layers can pass
// activations along in this layout without transposing them; it is fastest
// when n is kernels-friendly (a multiple of 128, or of 16 below 64).
func (f *FrozenG2G) ForwardFeatureMajor(xt, yt []float32, n int) error {
	in, out := f.in, f.out
	if n < 1 || len(xt) < in*n || len(yt) < out*n {
		return errors.Errorf("layer %q: feature-major forward of %d samples needs %d inputs and room for %d outputs, got %d and %d",
			f.name, n, in*n, out*n, len(xt), len(yt))
	}
	p := &f.plan
	block := func(k int) ([]float32, int) { return f.blocks[k], p.blocks[k][3] - p.blocks[k][2] }
	switch p.kernel {
	case KernelSparse:
		if err := sparseProduct(p, f.packed, f.vals, block, xt, yt, n, out, false); err != nil {
			return errors.Wrapf(err, "layer %q", f.name)
		}
	case KernelBlocks:
		clear(yt[:out*n])
		forBlocks(p.blocks, 2, func(k int, b [4]int) {
			i0, i1, j0, j1 := b[0], b[1], b[2], b[3]
			src, ld := block(k)
			gemmAcc(blas.Trans, blas.NoTrans, j1-j0, n, i1-i0, src, ld, xt[i0*n:], n, yt[j0*n:], n)
		})
	default:
		gemm(blas.Trans, blas.NoTrans, out, n, in, f.wm, out, xt, n, yt, n)
	}
	rowsParallel(out, n, func(r0, r1 int) {
		for j := r0; j < r1; j++ {
			var bj float32
			if f.bias != nil {
				bj = f.bias[j]
			}
			row := yt[j*n : (j+1)*n]
			f.act.ApplyWithBias(row, row, nil, bj)
		}
	})
	return nil
}

// Blocks returns the number of ensemble blocks the snapshot multiplies
// with BLAS.
func (f *FrozenG2G) Blocks() int { return len(f.plan.blocks) }
