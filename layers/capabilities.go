package layers

// Optional capabilities of layers. A layer of your own gets a feature of the
// framework by implementing the matching interface below (or, for
// activations, by recording them); nothing else needs registering.
//
//   - Activations: a sparse layer that calls Builder.Record(l, x, y) in its
//     Forward makes its input x and output y (after the nonlinearity)
//     available to callbacks through graph.Context.Activations, which is
//     what Hebbian rewiring rules read.
//   - Dense gradient: a sparse layer that implements DenseGradProvider can be
//     regrown by gradient (RigL, callbacks.CriterionGradient), through
//     graph.Context.DenseGrad.
//   - Cost: a layer that implements MACCounter is counted by MACs and
//     graph.Model.MACs.
//   - Mirrored weights: a sparse layer whose forward pass reads a copy of
//     its active weights in another order implements WeightMirror, and
//     graph.Model.Fit has the optimizer keep the copy current.

// DenseGradProvider is implemented by sparse layers that can provide the
// dense gradient dLoss/d(W⊙M) of their masked weight: the gradient every
// edge would receive if it were active, which gradient regrowth (RigL) ranks
// the inactive edges by. graph.Context.DenseGrad serves it to callbacks;
// callbacks.DST turns it on in OnTrainBegin for CriterionGradient. G2G
// implements it.
type DenseGradProvider interface {
	// KeepDenseGrad turns keeping the dense gradient of every training step
	// on or off (off by default: it may cost a copy of W and a full product
	// per step).
	KeepDenseGrad(on bool)
	// DenseGrad returns the dense gradient of the last training step, shaped
	// like the weight (In·Out values, row-major, flat index i·Out + j), or
	// nil when it is not kept. The slice may be overwritten by the next
	// step.
	DenseGrad() []float32
}

// MACCounter is implemented by layers that know the multiply-accumulates one
// sample costs in their forward pass (masked layers count active edges
// only). Dense, Conv2D and G2G implement it; MACs and graph.Model.MACs
// count the layers that do.
type MACCounter interface {
	// MACs returns the multiply-accumulates per sample.
	MACs() int
}

// WeightMirror is implemented by sparse layers whose forward product reads
// some of their active weights from a copy kept in another order: G2G's
// sparse kernel reads its scattered edges' weights packed in the order of
// its forward pass, and would otherwise re-read all of W to refresh the
// copy at every forward pass. graph.Model.Fit passes the copy to an
// optimizer that writes it (optim.Param.Mirror, optim.MirrorWriter) and
// marks it current after each step, while nothing else can change the
// weights (see graph.WeightPreserver).
type WeightMirror interface {
	// Mirror returns the copy and, for each entry of Mask().Offsets(), its
	// place in the copy, or -1 for an entry the copy does not hold; nil,
	// nil when the layer's current kernel keeps no copy. The slices must
	// not be modified.
	Mirror() (values []float32, at []int32)
	// SetMirrorCurrent records whether the copy equals the weights now.
	// While it is set, forward passes read the copy as it is; set it only
	// right after writing both, and clear it before anything else may
	// change the weights.
	SetMirrorCurrent(current bool)
}

// The built-in layers' capabilities, checked at compile time.
var (
	_ WeightMirror      = (*G2G)(nil)
	_ DenseGradProvider = (*G2G)(nil)
	_ MACCounter        = (*G2G)(nil)
	_ MACCounter        = (*Dense)(nil)
	_ MACCounter        = (*Conv2D)(nil)

	_ FeatureMajorCapable = (*G2G)(nil)
)

// FeatureMajorCapable is implemented by single-input layers that can take
// their input and give their output feature-major (see
// Builder.SetOutputFeatureMajor) at no extra cost; FeatureMajorIO reports
// whether they can now. A model lets consecutive such layers hand their
// activations over feature-major in its training graphs. G2G layers on the
// sparse kernel are.
type FeatureMajorCapable interface {
	Layer
	FeatureMajorIO() bool
}
