// Package optim provides g2g's optimizers: SGD (with momentum and Nesterov),
// Adam and AdamW, with weight decay, gradient clipping and learning-rate
// schedules.
//
// Unlike gorgonia's solvers, every optimizer here keeps its per-parameter
// state (moments) in the open: it can be read, saved, restored and reset at
// chosen positions, which dynamic sparse training needs when it rewires an
// edge. Every optimizer is mask-aware: entries whose mask is zero are skipped
// and are exactly zero after every step. Given the active indices of a mask
// (Param.Active), an optimizer works on and keeps state for the active
// entries only. On amd64 processors with AVX-512, Adam's update runs in
// assembly, with results bit-identical to its Go code.
//
// An optimizer works on plain float32 slices (see Param), so it does not
// depend on gorgonia and can be driven by any training loop:
//
//	opt, err := optim.NewAdam(optim.AdamConfig{LR: 1e-3})
//	if err != nil { ... }
//	for step := 0; step < n; step++ {
//		// ... compute gradients into p.Grad ...
//		if err := opt.Step(params); err != nil { ... }
//	}
package optim

// Param is one learnable tensor as an optimizer sees it: its live values, its
// gradient and an optional connectivity mask, all flat and of equal length.
type Param struct {
	// Name identifies the parameter; the optimizer keys its state by it, so
	// it must be unique and stable across steps.
	Name string
	// Value holds the live weights; Step updates them in place.
	Value []float32
	// Grad holds dLoss/dValue for the current step. Step reads it and does
	// not modify it; clearing it between steps is the caller's job.
	Grad []float32
	// Mask, when non-nil, holds 0 or 1 per entry. Entries with mask 0 are
	// not updated, their optimizer state is kept at zero and their value is
	// set to exactly 0 after every step.
	Mask []float32
	// Active, when non-nil with Mask, lists the indices of the entries
	// whose mask is 1, ascending. Step then updates only those entries and
	// keeps the parameter's state for them only (packed in the order of
	// Active), in work and memory proportional to their number. A new
	// Active slice tells Step that the mask changed, so pass one after
	// every mask edit (layers.Mask.Offsets does) and do not modify a slice
	// once passed. On a new slice Step repacks the state (entries that
	// stay active keep theirs, new ones start from zero, dropped ones lose
	// theirs) and makes one pass over Mask that sets every masked value to
	// 0. State and SetState exchange full-size slots all the same.
	Active []int32
	// Mirror and MirrorAt, when set (with Active), ask Step to also store
	// the new value of every active entry Active[k] at Mirror[MirrorAt[k]],
	// skipping entries whose MirrorAt is negative. A layer that reads some
	// of its weights from a copy in another order (G2G's sparse kernel
	// reads its scattered edges' weights packed in the order of its
	// forward product) has the optimizer keep the copy current, instead of
	// re-reading the whole parameter at every forward pass.
	// len(MirrorAt) must equal len(Active) and every MirrorAt[k] must be
	// below len(Mirror); like Active, a MirrorAt slice once passed must not
	// be modified (a new slice is checked again). Optimizers that honour
	// these fields implement MirrorWriter.
	Mirror   []float32
	MirrorAt []int32
	// NoDecay excludes the parameter from weight decay (biases, norms).
	NoDecay bool
}

// MirrorWriter is implemented by optimizers whose Step writes
// Param.Mirror. A training loop may rely on a layer's copy being current
// after a successful Step only when its optimizer implements it and
// WritesMirrors reports true.
type MirrorWriter interface {
	WritesMirrors() bool
}

// Optimizer updates parameters from their gradients.
type Optimizer interface {
	// Step applies one update to every parameter, using the learning rate
	// of the current step, and then advances the step counter.
	Step(params []Param) error
	// LR returns the learning rate the next Step will use.
	LR() float64
	// SetBaseLR changes the base learning rate that the schedule scales.
	SetBaseLR(lr float64)
	// BaseLR returns the base learning rate.
	BaseLR() float64
	// Steps returns how many steps have been taken.
	Steps() int
	// State returns a deep copy of the optimizer state.
	State() State
	// SetState restores state saved by State; it checks names and lengths
	// against what the optimizer already tracks, if anything.
	SetState(s State) error
	// ResetAt zeroes every state slot of the named parameter at the given
	// flat indices (for example after an edge is pruned or regrown).
	ResetAt(name string, indices []int) error
}

// State is the full, exported state of an optimizer.
type State struct {
	// Step is the number of steps taken.
	Step int
	// BaseLR is the base learning rate.
	BaseLR float64
	// Slots maps parameter name -> slot name (for example "m", "v",
	// "momentum") -> per-entry values, flat, of the parameter's length,
	// also for a parameter whose state the optimizer keeps packed (see
	// Param.Active): its masked entries are 0.
	Slots map[string]map[string][]float32
}
