package graph

import (
	"fmt"
)

// Interrupted is the error FitContext returns when its context is done:
// training stopped before batch Batch of epoch Epoch (0-based), after Step
// optimizer steps in all. Epochs before Epoch are complete; Batch batches
// of Epoch were trained on.
type Interrupted struct {
	// Epoch is the epoch training stopped in, Batch the number of its
	// batches trained on.
	Epoch, Batch int
	// Step is the number of optimizer steps taken (FitConfig.InitialStep
	// included).
	Step int
	// Cause is the context's cause (context.Cause): context.Canceled, or
	// what the canceller gave.
	Cause error
}

// Error says where training stopped and why.
func (e *Interrupted) Error() string {
	return fmt.Sprintf("training interrupted in epoch %d after %d of its batches (step %d): %v", e.Epoch, e.Batch, e.Step, e.Cause)
}

// Unwrap returns Cause.
func (e *Interrupted) Unwrap() error { return e.Cause }
