// Package sparse is g2g's compute engine for masked (sparse) weight
// matrices, free of gorgonia: the kernel plan of a mask (which kernel runs
// a layer's products and, for it, which ensemble blocks go to BLAS and which
// edges to the edge kernels), the three products of a training step
// (forward, input gradient, weight gradient) with their feature-major
// scratch, frozen weights for inference, the block scheduler and the one
// BLAS helper every matrix product of g2g goes through.
//
// The assembly and plain-Go edge kernels themselves are in the kernels
// subpackage. Package layers wraps this engine in gorgonia ops; the
// inference runtime of package graph runs its frozen weights.
//
// Results are deterministic: the order of floating-point operations does
// not depend on the number of goroutines.
package sparse
