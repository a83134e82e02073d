//go:build openblas

package sparse

// Built with -tags openblas, every matrix product goes through OpenBLAS
// (Debian: libopenblas-dev) via gonum's cgo binding, which is about twice
// as fast as the pure-Go default on this project's machines.
//
// OpenBLAS runs single-threaded and g2g splits large products between
// goroutines itself (parallelGemm): OpenBLAS's own worker threads spin for
// a long while after every call, and on a 2-core machine they took a core
// from g2g's sparse kernels and gorgonia's element-wise ops.

// #cgo LDFLAGS: -lopenblas
// void openblas_set_num_threads(int);
import "C"

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/netlib/blas/netlib"
)

// openBLAS is OpenBLAS with products split between goroutines.
type openBLAS struct{ netlib.Implementation }

// Sgemm splits the product into row or column bands computed concurrently.
func (b openBLAS) Sgemm(tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, bb []float32, ldb int, beta float32, c []float32, ldc int) {
	parallelGemm(b.Implementation.Sgemm, tA, tB, m, n, k, alpha, a, lda, bb, ldb, beta, c, ldc)
}

// newBackend sets OpenBLAS to one thread and returns it. OpenBLAS
// multiplies dense ensemble blocks about twice as fast per
// multiply-accumulate as the edge kernels: the sparse kernel sends blocks
// at least half full to it (DenseBlockFill 0.5).
func newBackend() backendInfo {
	C.openblas_set_num_threads(1)
	return backendInfo{name: "OpenBLAS (cgo)", impl: openBLAS{}, denseBlockFill: 0.5}
}
