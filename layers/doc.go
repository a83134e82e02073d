// Package layers provides g2g's building blocks: layers that add nodes to a
// gorgonia expression graph and own their learnable parameters.
//
// The centre piece is G2G, the ensemble-to-ensemble masked dense layer of
// G2GNet (arXiv 2508.14140). Its inputs and outputs are split into ensembles;
// edges between units of matching ensembles (intra) are kept with probability
// p, edges between different ensembles (inter) with probability p'. The layer
// computes x·(W⊙M)+b with the mask M as a non-learnable input node, so
// autodiff gives masked edges no gradient, and rewiring callbacks edit M (and
// W) in place without rebuilding the graph.
//
// A layer holds its parameters as tensors and can be built into any number of
// graphs (a training graph for a fixed batch size, a forward-only evaluation
// graph for another): every graph reads and writes the same tensors. Building
// goes through a Builder, which also records the inputs and outputs of sparse
// layers for callbacks such as Hebbian rewiring.
//
// A G2G layer's products run on one of three kernels (G2GConfig.Kernel,
// SetKernel): one dense BLAS product by W⊙M, one BLAS product per non-empty
// ensemble block (block-sparse, for contiguous ensembles), or the sparse
// kernels, which visit only the active edges (AVX-512 assembly where the
// processor has it) and send ensemble blocks that are dense enough to BLAS.
// KernelAuto, the default, picks from the mask each time it changes: with
// the AVX-512 kernels, sparse up to density 0.35 and dense above; without
// them, blocks when at most 3/4 of the ensemble blocks are non-empty
// (ensemble-level masks, SampleBlocks), sparse up to density 0.02, dense
// otherwise. Tuning holds these thresholds; DefaultTuning knows the BLAS in
// use (gonum's pure Go, or OpenBLAS with -tags openblas).
//
// Every layer of this package also runs outside gorgonia (Inferable: the
// inference runtime behind graph.Model.Predict) and can be exported
// (Exportable); layers defined elsewhere opt in by implementing these
// interfaces and registering their kind (RegisterKind).
//
// Other layers: Dense, Conv2D (the CIFAR patch encoder), activations,
// Dropout, Flatten, Add and Concat (branches and skip connections).
//
// Start with NewG2G and NewDense, and compose them with package graph.
package layers
