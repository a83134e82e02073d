package graph

// blasBackend names the BLAS implementation gorgonia uses for matrix
// products in this binary; blas_openblas.go replaces it.
var blasBackend = "gonum (pure Go)"

// BLAS returns the name of the BLAS implementation in use: "gonum (pure Go)"
// by default, "OpenBLAS (cgo)" in binaries built with -tags openblas.
func BLAS() string { return blasBackend }
