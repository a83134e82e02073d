//go:build !openblas

package sparse

import "gonum.org/v1/gonum/blas/gonum"

// newBackend returns gonum's pure-Go BLAS, gorgonia's own default. It is
// slower per multiply-accumulate than the edge kernels, so the sparse
// kernel never sends ensemble blocks to it (DenseBlockFill above 1).
func newBackend() backendInfo {
	return backendInfo{name: "gonum (pure Go)", impl: gonum.Implementation{}, denseBlockFill: 2}
}
