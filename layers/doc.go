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
// With SampleBlocks the mask is ensemble-level (whole blocks on or off) and
// the layer's products run on block-sparse kernels whose cost scales with the
// density; other masks use one dense product (a fine-grained mask at 25 %
// density cannot beat BLAS on a CPU).
//
// Other layers: Dense, Conv2D (the CIFAR patch encoder), activations,
// Dropout, Flatten, Add and Concat (branches and skip connections).
//
// Start with NewG2G and NewDense, and compose them with package graph.
package layers
