package sparse

import (
	"github.com/pkg/errors"

	"github.com/g2g-ml/g2g/internal/sparse/kernels"
)

// Kernel names the compute kernel behind a masked product.
type Kernel string

const (
	// Auto picks one of the others from the mask each time it changes.
	Auto Kernel = "auto"
	// Dense multiplies by the whole of W⊙M with one BLAS product.
	Dense Kernel = "dense"
	// Blocks multiplies by the non-empty ensemble blocks of W⊙M, one BLAS
	// product each. It needs contiguous ensembles; elsewhere it falls back
	// to Dense.
	Blocks Kernel = "blocks"
	// Sparse visits only the active edges (package kernels), the ensemble
	// blocks filled at least Tuning.DenseBlockFill excepted, which go to
	// BLAS.
	Sparse Kernel = "sparse"
)

// ParseKernel converts a name to a Kernel: "auto", "dense", "blocks" or
// "sparse". Configurations treat the empty name as Auto before parsing.
func ParseKernel(s string) (Kernel, error) {
	switch k := Kernel(s); k {
	case Auto, Dense, Blocks, Sparse:
		return k, nil
	}
	return "", errors.Errorf("unknown kernel %q (want auto, dense, blocks or sparse)", s)
}

// Tuning holds the thresholds by which the Auto kernel chooses and the
// Sparse kernel splits its work. DefaultTuning gives the measured values.
type Tuning struct {
	// SparseCrossover is the largest density at which Auto chooses the
	// sparse kernels over one dense product when they run in assembly
	// (AVX-512). Measured with graph's BenchmarkTrainStep (two 1024 × 1024
	// layers, batch 256, OpenBLAS, 2 cores), per training step: sparse 16.8
	// ms and dense 21.8 ms at density 0.25, sparse 27.7 ms and dense 22.1 ms
	// at 0.5; the lines cross near 0.35.
	SparseCrossover float64
	// SparseCrossoverGo is SparseCrossover for processors without AVX-512,
	// where the sparse kernels are plain Go, ten times slower per edge.
	SparseCrossoverGo float64
	// BlockCrossover is the largest fraction of non-empty ensemble blocks
	// at which Auto, without AVX-512, chooses the block kernels (one BLAS
	// product per non-empty block) over one dense product.
	BlockCrossover float64
	// DenseBlockFill is the smallest fraction of active edges at which the
	// sparse kernel multiplies an ensemble block (intra-ensemble blocks are
	// fully active by default) with one BLAS product instead of edge by
	// edge; above 1 it never does. OpenBLAS multiplies dense blocks about
	// twice as fast per multiply-accumulate as the edge kernels (default
	// 0.5 there); gonum's pure-Go BLAS is slower than them (default 2).
	DenseBlockFill float64
}

// DefaultTuning returns the measured thresholds for the BLAS in use
// (BLASName): SparseCrossover 0.35, SparseCrossoverGo 0.02, BlockCrossover
// 0.75, DenseBlockFill 0.5 with OpenBLAS and 2 with gonum's pure-Go BLAS.
func DefaultTuning() Tuning {
	return Tuning{SparseCrossover: 0.35, SparseCrossoverGo: 0.02, BlockCrossover: 0.75, DenseBlockFill: backend.denseBlockFill}
}

// Validate checks that the crossovers are densities in [0, 1] and the
// fill is positive.
func (t Tuning) Validate() error {
	for _, c := range []struct {
		name string
		v    float64
	}{{"SparseCrossover", t.SparseCrossover}, {"SparseCrossoverGo", t.SparseCrossoverGo}, {"BlockCrossover", t.BlockCrossover}} {
		if !(c.v >= 0 && c.v <= 1) {
			return errors.Errorf("tuning: %s must be in [0, 1], got %v", c.name, c.v)
		}
	}
	if !(t.DenseBlockFill > 0) {
		return errors.Errorf("tuning: DenseBlockFill must be positive, got %v", t.DenseBlockFill)
	}
	return nil
}

// choose returns the kernel Auto picks for a mask of the given density,
// ensemble blocks (blocksOK: the ensembles are contiguous, so nonEmpty of
// the groups² blocks have an active edge).
func (t Tuning) choose(density float64, blocksOK bool, nonEmpty, groups int) Kernel {
	switch {
	case kernels.Accelerated():
		if density <= t.SparseCrossover {
			return Sparse
		}
	case blocksOK && float64(nonEmpty) <= t.BlockCrossover*float64(groups*groups):
		return Blocks
	case density <= t.SparseCrossoverGo:
		return Sparse
	}
	return Dense
}
