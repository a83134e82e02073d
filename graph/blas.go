package graph

import "github.com/g2g-ml/g2g/internal/sparse"

// BLAS returns the name of the BLAS implementation every matrix product
// runs on (gorgonia's, the sparse engine's and the inference runtime's):
// "gonum (pure Go)" by default, "OpenBLAS (cgo)" in binaries built with
// -tags openblas.
func BLAS() string { return sparse.BLASName() }
