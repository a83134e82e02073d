package graph

import (
	"gonum.org/v1/gonum/blas"
	"runtime"

	"github.com/g2g-ml/g2g/internal/sparse/kernels"
)

// blasBackend names the BLAS implementation gorgonia uses for matrix
// products in this binary; blas_openblas.go replaces it.
var blasBackend = "gonum (pure Go)"

// BLAS returns the name of the BLAS implementation in use: "gonum (pure Go)"
// by default, "OpenBLAS (cgo)" in binaries built with -tags openblas.
func BLAS() string { return blasBackend }

// sgemmFunc is the signature of blas.Float32's Sgemm.
type sgemmFunc func(tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)

// parallelMACs is the smallest product (m·n·k multiply-accumulates) that
// parallelGemm splits. Single-threaded OpenBLAS runs a 128 × 128 × 256
// product (a G2G ensemble block at batch 256, 4M multiply-accumulates) at
// 67 GMAC/s and slower when split in two; the sparse layers run such
// blocks concurrently instead.
const parallelMACs = 1 << 24

// parallelGemm computes C = alpha·op(A)·op(B) + beta·C with gemm, split into
// GOMAXPROCS bands of C's rows (or of its columns, when C has few rows)
// computed concurrently. Every entry of C is computed by one call over the
// whole inner dimension, so the split does not change the result.
func parallelGemm(gemm sgemmFunc, tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	workers := runtime.GOMAXPROCS(0)
	if workers < 2 || m*n*k < parallelMACs || (m < 2*workers && n < 2*workers) {
		gemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	byRows := m >= n || n < 2*workers
	total := n
	if byRows {
		total = m
	}
	kernels.ParallelFor(total, func(lo, hi int) {
		if byRows {
			ao := lo * lda // row lo of A
			if tA == blas.Trans {
				ao = lo // column lo of the stored Aᵀ
			}
			gemm(tA, tB, hi-lo, n, k, alpha, a[ao:], lda, b, ldb, beta, c[lo*ldc:], ldc)
			return
		}
		bo := lo // column lo of B
		if tB == blas.Trans {
			bo = lo * ldb // row lo of the stored Bᵀ
		}
		gemm(tA, tB, m, hi-lo, k, alpha, a, lda, b[bo:], ldb, beta, c[lo:], ldc)
	})
}
