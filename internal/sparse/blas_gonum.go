//go:build !openblas

package sparse

// newBackend returns gonum's pure-Go BLAS, gorgonia's own default.
func newBackend() backendInfo { return gonumBackend("") }
