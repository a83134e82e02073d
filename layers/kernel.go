package layers

import (
	"github.com/pkg/errors"
	G "gorgonia.org/gorgonia"

	"github.com/g2g-ml/g2g/internal/sparse"
)

// Gorgonia's products (Dense, Conv2D, ...) run on the same BLAS as g2g's
// own engine: gonum's pure-Go BLAS by default, OpenBLAS in binaries built
// with -tags openblas (see package internal/sparse).
func init() { G.Use(sparse.BLAS()) }

// Kernel names the compute kernel behind a G2G layer's products.
type Kernel string

const (
	// KernelAuto picks one of the others from the mask each time it
	// changes (the default); see Tuning.
	KernelAuto Kernel = Kernel(sparse.Auto)
	// KernelDense multiplies by the whole of W⊙M with one BLAS product.
	KernelDense Kernel = Kernel(sparse.Dense)
	// KernelBlocks multiplies by the non-empty ensemble blocks of W⊙M,
	// one BLAS product each. It needs contiguous ensembles (index
	// grouping, or mixer's even layers); elsewhere it falls back to dense.
	KernelBlocks Kernel = Kernel(sparse.Blocks)
	// KernelSparse visits only the active edges (package
	// internal/sparse/kernels): work scales with the number of active
	// edges. Ensemble blocks filled at least Tuning.DenseBlockFill go to
	// BLAS instead.
	KernelSparse Kernel = Kernel(sparse.Sparse)
)

// ParseKernel converts a name to a Kernel: "auto", "dense", "blocks" or
// "sparse". It is the one check of a kernel name: G2GConfig.Kernel,
// SetKernel and command-line flags go through it (a configuration's empty
// Kernel means KernelAuto and is not parsed).
func ParseKernel(s string) (Kernel, error) {
	k, err := sparse.ParseKernel(s)
	return Kernel(k), err
}

// Tuning holds the thresholds by which KernelAuto chooses a G2G layer's
// kernel and KernelSparse splits its work between BLAS and the edge
// kernels. DefaultTuning returns the measured values; SetTuning changes a
// layer's. It replaces the package variables SparseCrossover,
// SparseCrossoverGo, BlockCrossover and DenseBlockFill of earlier versions
// (kept, deprecated, for one release: DefaultTuning reads them).
type Tuning struct {
	// SparseCrossover is the largest density at which KernelAuto chooses
	// the sparse kernels over one dense product when they run in assembly
	// (AVX-512); default 0.35. Measured with graph's BenchmarkTrainStep
	// (two 1024 × 1024 layers, batch 256, OpenBLAS, 2 cores): per training
	// step, sparse 16.8 ms and dense 21.8 ms at density 0.25, sparse 27.7
	// ms and dense 22.1 ms at 0.5; the lines cross near 0.35.
	SparseCrossover float64
	// SparseCrossoverGo is SparseCrossover for processors without
	// AVX-512, where the sparse kernels are plain Go, ten times slower per
	// edge; default 0.02.
	SparseCrossoverGo float64
	// BlockCrossover is the largest fraction of non-empty ensemble blocks
	// at which KernelAuto, without AVX-512, chooses the block kernels (one
	// BLAS product per non-empty block) over one dense product; default
	// 0.75.
	BlockCrossover float64
	// DenseBlockFill is the smallest fraction of active edges at which
	// KernelSparse multiplies an ensemble block (intra-ensemble blocks are
	// fully active by default) with one BLAS product instead of edge by
	// edge; above 1 it never does. OpenBLAS multiplies dense blocks about
	// twice as fast per multiply-accumulate as the edge kernels (default
	// 0.5 in binaries built with -tags openblas); gonum's pure-Go BLAS is
	// slower than them (default 2 otherwise).
	DenseBlockFill float64
}

// DefaultTuning returns the measured thresholds for the BLAS in use (see
// Tuning and BLAS). Every G2G layer starts with them. While the deprecated
// package variables below exist, a value a program gave one of them
// replaces the measured one.
func DefaultTuning() Tuning {
	t := Tuning(sparse.DefaultTuning())
	t.SparseCrossover, t.SparseCrossoverGo, t.BlockCrossover = SparseCrossover, SparseCrossoverGo, BlockCrossover
	if DenseBlockFill > 0 {
		t.DenseBlockFill = DenseBlockFill
	}
	return t
}

// SparseCrossover is the default Tuning.SparseCrossover.
//
// Deprecated: set a layer's thresholds with G2G.SetTuning. DefaultTuning
// reads this variable until it is removed in the next release.
var SparseCrossover = sparse.DefaultTuning().SparseCrossover

// SparseCrossoverGo is the default Tuning.SparseCrossoverGo.
//
// Deprecated: set a layer's thresholds with G2G.SetTuning. DefaultTuning
// reads this variable until it is removed in the next release.
var SparseCrossoverGo = sparse.DefaultTuning().SparseCrossoverGo

// BlockCrossover is the default Tuning.BlockCrossover.
//
// Deprecated: set a layer's thresholds with G2G.SetTuning. DefaultTuning
// reads this variable until it is removed in the next release.
var BlockCrossover = sparse.DefaultTuning().BlockCrossover

// DenseBlockFill, when positive, replaces the default
// Tuning.DenseBlockFill, which depends on the BLAS in use; 0 (the initial
// value) keeps it. Earlier versions set it from package graph's init.
//
// Deprecated: set a layer's thresholds with G2G.SetTuning. DefaultTuning
// reads this variable until it is removed in the next release.
var DenseBlockFill float64

// SetKernel chooses the kernel of the layer's products (G2GConfig.Kernel,
// KernelAuto by default). KernelBlocks falls back to KernelDense when the
// ensembles are not contiguous. Results agree between kernels to float32
// rounding.
func (l *G2G) SetKernel(k Kernel) error {
	if k == "" {
		k = KernelAuto
	}
	k, err := ParseKernel(string(k))
	if err != nil {
		return errors.Wrapf(err, "layer %q", l.cfg.Name)
	}
	l.cfg.Kernel = k
	return nil
}

// Kernel returns the kernel the layer's products run on for the current
// mask, never KernelAuto.
func (l *G2G) Kernel() Kernel { return Kernel(l.kernelPlan().Kernel()) }

// SetTuning replaces the thresholds of the layer's kernel choice (see
// Tuning); the plan is rebuilt before the next product.
func (l *G2G) SetTuning(t Tuning) error {
	if err := sparse.Tuning(t).Validate(); err != nil {
		return errors.Wrapf(err, "layer %q", l.cfg.Name)
	}
	l.tuning = t
	return nil
}

// Tuning returns the layer's kernel thresholds.
func (l *G2G) Tuning() Tuning { return l.tuning }

// kernelPlan returns the plan for the current mask, kernel and tuning,
// rebuilding it when one of them changed.
func (l *G2G) kernelPlan() *sparse.Plan {
	want, t := sparse.Kernel(l.cfg.Kernel), sparse.Tuning(l.tuning)
	if !l.plan.Current(l.mask.Version(), want, t) {
		l.plan = sparse.NewPlan(engineMask(l.mask, l.cfg.Groups), want, t)
	}
	return l.plan
}

// Mirror returns the packed copy of the scattered edges' weights that the
// sparse kernel's forward pass reads, and each active edge's place in it
// (-1 for edges multiplied with BLAS); nil, nil on the dense and blocks
// kernels. See WeightMirror.
func (l *G2G) Mirror() (values []float32, at []int32) {
	return l.kernelPlan().Mirror(l.mask.Offsets())
}

// SetMirrorCurrent records whether the copy Mirror returns equals W now.
// It applies to the plan of the current mask, kernel and tuning; a later
// mask edit or kernel change starts a new plan, whose copy is refreshed
// from W. See WeightMirror.
func (l *G2G) SetMirrorCurrent(current bool) {
	if l.plan.Current(l.mask.Version(), sparse.Kernel(l.cfg.Kernel), sparse.Tuning(l.tuning)) {
		l.plan.SetMirrorCurrent(current)
	}
}

// engineMask returns the engine's view of m for a layer of g ensembles.
func engineMask(m *Mask, g int) sparse.Mask {
	return sparse.Mask{Data: m.Data(), In: m.In, Out: m.Out, Groups: g, InGroup: m.InGroup, OutGroup: m.OutGroup,
		Active: m.Active(), Version: m.Version()}
}

// EnsembleBounds returns b such that group g spans units [b[g], b[g+1]),
// when groups 0, 1, ... are contiguous, non-empty runs in increasing order
// (index grouping); otherwise nil.
func EnsembleBounds(group []int) []int { return sparse.EnsembleBounds(group) }
