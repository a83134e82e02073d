package sparse

import (
	"runtime"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"

	"github.com/g2g-ml/g2g/internal/sparse/kernels"
)

// Implementation is a BLAS implementation in the form gorgonia's G.Use and
// tensor.Use take it (gonum's four interfaces; gonum's native
// implementation and the OpenBLAS backend satisfy it).
type Implementation interface {
	blas.Float32
	blas.Float64
	blas.Complex64
	blas.Complex128
}

// backendInfo is the BLAS implementation every matrix product of g2g goes
// through — the engine's, the inference runtime's and gorgonia's (package
// layers hands Impl to G.Use) — with what the engine's defaults depend on.
// It is chosen once, when the package is initialized, by newBackend:
// blas_gonum.go (the default) or blas_openblas.go (-tags openblas, which
// loads OpenBLAS at run time with the kernels blascore.go chooses, and
// falls back to gonum when the library cannot be loaded).
type backendInfo struct {
	// report is what BLASInfo returns and BLASName formats.
	report BLASReport
	// impl is the implementation, products split between goroutines where
	// the backend runs single-threaded.
	impl Implementation
	// denseBlockFill is DefaultTuning's DenseBlockFill: the fill from which
	// this BLAS multiplies an ensemble block faster than the edge kernels.
	denseBlockFill float64
}

// BLASReport describes the BLAS implementation in use and why.
type BLASReport struct {
	// Library is "OpenBLAS" or "gonum".
	Library string
	// Version is the library's version, e.g. "0.3.21" ("" when unknown).
	Version string
	// Core names OpenBLAS's kernels as openblas_get_corename reports them,
	// e.g. "Cooperlake" ("" for gonum).
	Core string
	// Reason says why these kernels (or why gonum), e.g. "chosen by g2g
	// for AVX-512 BF16; OPENBLAS_CORETYPE=Haswell in the environment
	// overridden".
	Reason string
	// Setting is G2G_BLAS_CORE as applied: auto, env or a core name (""
	// in pure-Go builds).
	Setting string
	// Err is a refused G2G_BLAS_CORE (the backend then uses auto's
	// choice) or why OpenBLAS could not be loaded; nil otherwise.
	Err error
}

// Name formats the report in one line, e.g. "OpenBLAS 0.3.21 (Cooperlake
// kernels; chosen by g2g for AVX-512 BF16)" or "gonum (pure Go)".
func (r BLASReport) Name() string {
	if r.Library != "OpenBLAS" {
		if r.Reason == "" {
			return "gonum (pure Go)"
		}
		return "gonum (pure Go; " + r.Reason + ")"
	}
	name := "OpenBLAS"
	if r.Version != "" {
		name += " " + r.Version
	}
	core := r.Core
	if core == "" {
		core = "unknown"
	}
	name += " (" + core + " kernels"
	if r.Reason != "" {
		name += "; " + r.Reason
	}
	return name + ")"
}

var backend = newBackend()

// gonumBackend returns gonum's pure-Go BLAS, with why it is used when that
// is not the build's default (reason). It is slower per multiply-accumulate
// than the edge kernels, so the sparse kernel never sends ensemble blocks
// to it (DenseBlockFill above 1).
func gonumBackend(reason string) backendInfo {
	return backendInfo{report: BLASReport{Library: "gonum", Reason: reason}, impl: gonum.Implementation{}, denseBlockFill: 2}
}

// BLAS returns the BLAS implementation in use (see BLASName). Every matrix
// product in g2g goes through it.
func BLAS() Implementation { return backend.impl }

// BLASName returns the name of the BLAS implementation in use with its
// kernels and why they were chosen: "gonum (pure Go)" by default, e.g.
// "OpenBLAS 0.3.21 (Cooperlake kernels; chosen by g2g for AVX-512 BF16)" in
// binaries built with -tags openblas (see BLASReport.Name).
func BLASName() string { return backend.report.Name() }

// BLASInfo returns the BLAS implementation in use, its kernels and why.
func BLASInfo() BLASReport { return backend.report }

// Gemm computes c = op(a)·op(b) on row-major views, c being m × n and the
// inner dimension k (a, b and c start at the view's first element; lda, ldb
// and ldc are the full matrices' row strides).
func Gemm(ta, tb blas.Transpose, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	product(ta, tb, m, n, k, a, lda, b, ldb, 0, c, ldc)
}

// GemmAcc computes c += op(a)·op(b) on row-major views (see Gemm).
func GemmAcc(ta, tb blas.Transpose, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	product(ta, tb, m, n, k, a, lda, b, ldb, 1, c, ldc)
}

// product computes c = op(a)·op(b) + beta·c with one Sgemm call of the
// backend, trimming each view to the entries the product reads.
func product(ta, tb blas.Transpose, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	ar, ac := m, k
	if ta == blas.Trans {
		ar, ac = k, m
	}
	br, bc := k, n
	if tb == blas.Trans {
		br, bc = n, k
	}
	backend.impl.Sgemm(ta, tb, m, n, k, 1, a[:(ar-1)*lda+ac], lda, b[:(br-1)*ldb+bc], ldb, beta, c[:(m-1)*ldc+n], ldc)
}

// sgemmFunc is the signature of blas.Float32's Sgemm.
type sgemmFunc func(tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)

// parallelMACs is the smallest product (m·n·k multiply-accumulates) that
// parallelGemm splits. Single-threaded OpenBLAS runs a 128 × 128 × 256
// product (a G2G ensemble block at batch 256, 4M multiply-accumulates) at
// 67 GMAC/s and slower when split in two; the sparse layers run such
// blocks concurrently instead.
const parallelMACs = 1 << 24

// gemmBands is how many bands parallelGemm splits a large product into,
// whatever GOMAXPROCS is. OpenBLAS's value for an entry of C depends on the
// shape of the call that computes it — a band of C gets other last bits than
// the whole product — so for results not to depend on GOMAXPROCS
// (docs/design.md §7.6) the bands must not depend on it either. Two bands
// are what 2-core machines always used, so their numbers stay as they were.
const gemmBands = 2

// parallelGemm computes C = alpha·op(A)·op(B) + beta·C with gemm, split into
// gemmBands bands of C's rows (or of its columns, when C has few rows),
// computed concurrently when GOMAXPROCS allows and one after the other
// otherwise. Every entry of C is computed by one call over the whole inner
// dimension, and the calls are the same for every GOMAXPROCS.
func parallelGemm(gemm sgemmFunc, tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m*n*k < parallelMACs || (m < 2*gemmBands && n < 2*gemmBands) {
		gemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	byRows := m >= n || n < 2*gemmBands
	total := n
	if byRows {
		total = m
	}
	band := func(lo, hi int) {
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
	}
	bounds := make([]int, gemmBands+1)
	for w := range bounds {
		bounds[w] = total * w / gemmBands
	}
	if runtime.GOMAXPROCS(0) < 2 {
		for w := 0; w < gemmBands; w++ {
			band(bounds[w], bounds[w+1])
		}
		return
	}
	kernels.ParallelRanges(bounds, band)
}
