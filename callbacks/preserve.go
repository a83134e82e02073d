package callbacks

import "github.com/g2g-ml/g2g/graph"

// Every callback of this package changes weights, if at all, only through
// the sparse layers' mask edits (Prune and Grow, in Rewiring's updates) or
// in OnTrainEnd (EarlyStopping's restore), so each reports
// graph.WeightPreserver's PreservesWeights as true: with them, Fit lets the
// optimizer keep the sparse layers' packed weight copies current between
// steps. The functions plugged into Rewiring (criteria, initial values,
// RewiringConfig hooks) must not write weights either.
var (
	_ graph.WeightPreserver = (*ModelCheckpoint)(nil)
	_ graph.WeightPreserver = (*TerminateOnDivergence)(nil)
	_ graph.WeightPreserver = (*EarlyStopping)(nil)
	_ graph.WeightPreserver = (*MetricsLogger)(nil)
	_ graph.WeightPreserver = (*LearningRateScheduler)(nil)
	_ graph.WeightPreserver = (*ReduceLROnPlateau)(nil)
	_ graph.WeightPreserver = (*TerminateOnNaN)(nil)
	_ graph.WeightPreserver = (*Progress)(nil)
	_ graph.WeightPreserver = (*Rewiring)(nil)
	_ graph.WeightPreserver = (*DST)(nil)
	_ graph.WeightPreserver = (*Hebbian)(nil)
	_ graph.WeightPreserver = (*SparsityReport)(nil)
)

// PreservesWeights reports true: saving a checkpoint reads the weights.
func (*ModelCheckpoint) PreservesWeights() bool { return true }

// PreservesWeights reports true: the callback only stops training.
func (*TerminateOnDivergence) PreservesWeights() bool { return true }

// PreservesWeights reports true: the best weights are copied during
// training and restored only in OnTrainEnd.
func (*EarlyStopping) PreservesWeights() bool { return true }

// PreservesWeights reports true: the logger reads logs.
func (*MetricsLogger) PreservesWeights() bool { return true }

// PreservesWeights reports true: the callback sets the learning rate.
func (*LearningRateScheduler) PreservesWeights() bool { return true }

// PreservesWeights reports true: the callback sets the learning rate.
func (*ReduceLROnPlateau) PreservesWeights() bool { return true }

// PreservesWeights reports true: the callback only stops training.
func (*TerminateOnNaN) PreservesWeights() bool { return true }

// PreservesWeights reports true: the callback prints.
func (*Progress) PreservesWeights() bool { return true }

// PreservesWeights reports true: updates edit weights through the layers'
// Prune and Grow, which the layers track (see the package note above).
func (*Rewiring) PreservesWeights() bool { return true }

// PreservesWeights reports true: the callback prints.
func (*SparsityReport) PreservesWeights() bool { return true }
