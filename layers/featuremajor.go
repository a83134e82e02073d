package layers

import (
	"github.com/pkg/errors"

	"github.com/g2g-ml/g2g/internal/sparse"
	"github.com/g2g-ml/g2g/internal/sparse/kernels"
)

// FrozenG2G is a read-only snapshot of a G2G layer for inference: its
// weights, mask, bias and kernel plan at the time of G2G.Freeze, laid out
// for the feature-major forward pass — the weights of scattered edges
// packed in the order the sparse kernel reads them, dense ensemble blocks
// stored contiguously. It does not see later changes to the layer. It is
// not safe for concurrent use.
//
// It is the layer's inference op (a FeatureMajorOp): consecutive sparse
// layers pass their activations along feature-major.
type FrozenG2G struct {
	name   string
	act    Activation
	bias   []float32
	frozen *sparse.Frozen
	xt, yt []float32 // Forward's feature-major buffers
}

// Freeze returns a snapshot of the layer for inference (see FrozenG2G).
func (l *G2G) Freeze() *FrozenG2G {
	var bias []float32
	if l.b != nil {
		bias = append([]float32(nil), l.b.Data()...)
	}
	return &FrozenG2G{name: l.cfg.Name, act: l.cfg.Activation, bias: bias,
		frozen: l.kernelPlan().Freeze(l.w.Data(), l.mask.Data())}
}

// Name returns the layer's name.
func (f *FrozenG2G) Name() string { return f.name }

// Kernel returns the kernel the snapshot runs on.
func (f *FrozenG2G) Kernel() Kernel { return Kernel(f.frozen.Kernel()) }

// Blocks returns the number of ensemble blocks the snapshot multiplies
// with BLAS.
func (f *FrozenG2G) Blocks() int { return f.frozen.Blocks() }

// InputSize returns the number of inputs per sample (the layer's In).
func (f *FrozenG2G) InputSize() int { return f.frozen.In() }

// OutputSize returns the number of outputs per sample (the layer's Out).
func (f *FrozenG2G) OutputSize() int { return f.frozen.Out() }

// ForwardFeatureMajor computes the layer's output for n samples stored
// feature-major — xt holds In rows of n values (one row per input unit, the
// samples along it), yt receives Out rows of n values: yt = act((W⊙M)ᵀ·xt +
// b), on the kernels training uses. Consecutive sparse layers can pass
// activations along in this layout without transposing them; it is fastest
// when n is kernels-friendly (a multiple of 128, or of 16 below 64).
func (f *FrozenG2G) ForwardFeatureMajor(xt, yt []float32, n int) error {
	in, out := f.frozen.In(), f.frozen.Out()
	if n < 1 || len(xt) < in*n || len(yt) < out*n {
		return errors.Errorf("layer %q: feature-major forward of %d samples needs %d inputs and room for %d outputs, got %d and %d",
			f.name, n, in*n, out*n, len(xt), len(yt))
	}
	if err := f.frozen.Forward(xt, yt, n); err != nil {
		return errors.Wrapf(err, "layer %q", f.name)
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

// frozenChunk is the number of samples Forward runs feature-major at a
// time, so that its buffers stay in cache.
const frozenChunk = 256

// Forward computes the layer's output y (n × Out) for n samples x (n × In),
// batch-major, through ForwardFeatureMajor: chunks of samples are
// transposed in, padded to a kernels-friendly width, and out.
func (f *FrozenG2G) Forward(y []float32, inputs [][]float32, n int) error {
	in, out := f.frozen.In(), f.frozen.Out()
	if len(inputs) != 1 || n < 1 || len(inputs[0]) != n*in || len(y) != n*out {
		return errors.Errorf("layer %q: forward of %d samples needs one input of %d values and room for %d outputs", f.name, n, n*in, n*out)
	}
	x := inputs[0]
	for c0 := 0; c0 < n; c0 += frozenChunk {
		nc := min(frozenChunk, n-c0)
		np := kernels.Padded(nc)
		f.xt, f.yt = grow(f.xt, in*np), grow(f.yt, out*np)
		clear(f.xt)
		if err := kernels.Transpose(f.xt, np, x[c0*in:(c0+nc)*in], in, nc, in); err != nil {
			return errors.Wrapf(err, "layer %q", f.name)
		}
		if err := f.ForwardFeatureMajor(f.xt, f.yt, np); err != nil {
			return err
		}
		if err := kernels.Transpose(y[c0*out:(c0+nc)*out], out, f.yt, np, out, nc); err != nil {
			return errors.Wrapf(err, "layer %q", f.name)
		}
	}
	return nil
}
