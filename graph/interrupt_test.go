package graph

import (
	"context"
	"errors"
	"testing"

	"github.com/g2g-ml/g2g/optim"
)

// cancelAt cancels a context at the end of the given step and counts the
// hooks that run.
type cancelAt struct {
	BaseCallback
	step       int
	cancel     context.CancelCauseFunc
	batches    int
	epochEnds  int
	trainEnded bool
}

func (c *cancelAt) OnBatchEnd(ctx *Context) error {
	c.batches++
	if ctx.Step == c.step {
		c.cancel(errors.New("operator said stop"))
	}
	return nil
}
func (c *cancelAt) OnEpochEnd(*Context) error { c.epochEnds++; return nil }
func (c *cancelAt) OnTrainEnd(*Context) error { c.trainEnded = true; return nil }

// FitContext stops after the batch during which its context is cancelled.
func TestFitContextStopsAfterTheBatch(t *testing.T) {
	m := smallModel(t, 7)
	opt, _ := optim.NewAdam(optim.AdamConfig{LR: 0.01})
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	// 20 samples in batches of 8: 3 steps per epoch; step 5 (counted
	// from 1, as Context.Step is after the step) is the second of epoch 1.
	cb := &cancelAt{step: 5, cancel: cancel}
	hist, err := m.FitContext(ctx, toyData(20, 6, 3, 1), FitConfig{Epochs: 4, BatchSize: 8, Optimizer: opt, Callbacks: []Callback{cb}})
	var intr *Interrupted
	if !errors.As(err, &intr) || intr.Epoch != 1 || intr.Batch != 2 || intr.Step != 5 || intr.Cause.Error() != "operator said stop" {
		t.Fatalf("err %v (%+v)", err, intr)
	}
	if !errors.Is(err, intr.Cause) || err.Error() != "training interrupted in epoch 1 after 2 of its batches (step 5): operator said stop" {
		t.Fatalf("err %q", err)
	}
	if cb.batches != 5 || cb.epochEnds != 1 || cb.trainEnded || len(hist.Epochs) != 1 || opt.Steps() != 5 {
		t.Fatalf("%d batches, %d epoch ends, train end %v, %d epochs in the history, %d optimizer steps",
			cb.batches, cb.epochEnds, cb.trainEnded, len(hist.Epochs), opt.Steps())
	}
	// A context done before training starts: nothing is trained.
	m2 := smallModel(t, 7)
	before := allParams(m2)
	_, err = m2.FitContext(ctx, toyData(20, 6, 3, 1), FitConfig{Epochs: 1, BatchSize: 8, Optimizer: opt})
	if !errors.As(err, &intr) || intr.Epoch != 0 || intr.Batch != 0 {
		t.Fatalf("done context: %v", err)
	}
	for k, v := range allParams(m2) {
		if v != before[k] {
			t.Fatal("a done context trained the model")
		}
	}
}
