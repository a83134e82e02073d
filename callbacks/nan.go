package callbacks

import (
	"fmt"
	"math"
	"sort"

	"github.com/pkg/errors"

	"github.com/g2g-ml/g2g/graph"
)

// TerminateOnNaNConfig configures TerminateOnNaN.
type TerminateOnNaNConfig struct {
	// Monitor lists the Logs entries checked at every epoch end; empty
	// means every entry. A listed entry missing from the logs is an error.
	Monitor []string
	// Stop ends training through Context.StopTraining (Fit then returns
	// normally, with History.StopReason set, as Keras's TerminateOnNaN
	// does) instead of returning an error (default).
	Stop bool
}

// TerminateOnNaN is a callback that ends training on a NaN or infinite
// value: the batch loss (in OnBatchEnd) and the monitored Logs entries (in
// OnEpochEnd, for example a validation loss or a metric added by another
// callback). Its message names the epoch and the step, counted from 0 as in
// Fit's errors.
//
// Fit itself already stops with an error when a batch loss is not finite,
// before any callback sees it, so the batch check matters only to loops
// that do not; the epoch-end check covers what Fit does not look at.
type TerminateOnNaN struct {
	// BaseCallback supplies the hooks TerminateOnNaN does not use.
	graph.BaseCallback

	cfg TerminateOnNaNConfig
}

// NewTerminateOnNaN returns the callback with the default configuration:
// every Logs entry is checked and a non-finite value is an error.
func NewTerminateOnNaN() *TerminateOnNaN { return &TerminateOnNaN{} }

// NewTerminateOnNaNWithConfig returns the callback configured by cfg.
func NewTerminateOnNaNWithConfig(cfg TerminateOnNaNConfig) (*TerminateOnNaN, error) {
	for n, k := range cfg.Monitor {
		if k == "" {
			return nil, errors.Errorf("terminate-on-nan: Monitor[%d] is empty", n)
		}
	}
	cfg.Monitor = append([]string(nil), cfg.Monitor...)
	return &TerminateOnNaN{cfg: cfg}, nil
}

// Name returns "terminate-on-nan".
func (t *TerminateOnNaN) Name() string { return "terminate-on-nan" }

func bad(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) }

func (t *TerminateOnNaN) fire(c *graph.Context, msg string) error {
	if t.cfg.Stop {
		c.StopTraining(msg)
		return nil
	}
	return errors.New(msg)
}

// OnBatchEnd checks the batch loss.
func (t *TerminateOnNaN) OnBatchEnd(c *graph.Context) error {
	if bad(c.Loss) {
		return t.fire(c, fmt.Sprintf("batch loss is %v at epoch %d, step %d (batch %d)", c.Loss, c.Epoch, c.Step, c.Batch))
	}
	return nil
}

// OnEpochEnd checks the monitored Logs entries.
func (t *TerminateOnNaN) OnEpochEnd(c *graph.Context) error {
	keys := t.cfg.Monitor
	if len(keys) == 0 {
		for k := range c.Logs {
			keys = append(keys, k)
		}
		sort.Strings(keys)
	}
	for _, k := range keys {
		v, ok := c.Logs[k]
		if !ok {
			return errors.Errorf("monitored value %q is not in the logs", k)
		}
		if bad(v) {
			return t.fire(c, fmt.Sprintf("%s is %v at the end of epoch %d, step %d", k, v, c.Epoch, c.Step))
		}
	}
	return nil
}
