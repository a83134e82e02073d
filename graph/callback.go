package graph

import (
	"fmt"

	"gorgonia.org/tensor"

	"github.com/g2g-ml/g2g/layers"
	"github.com/g2g-ml/g2g/optim"
)

// Callback hooks into Fit, with the Keras vocabulary: train, epoch and batch
// begin and end. Every hook receives the same *Context, updated by the loop.
// A hook that returns an error stops training; Fit returns that error
// wrapped with the callback's name, the epoch and the step. To stop training
// without an error, call Context.StopTraining.
//
// Embed BaseCallback to implement only the hooks you need.
type Callback interface {
	OnTrainBegin(c *Context) error
	OnTrainEnd(c *Context) error
	OnEpochBegin(c *Context) error
	OnEpochEnd(c *Context) error
	OnBatchBegin(c *Context) error
	OnBatchEnd(c *Context) error
}

// BaseCallback implements every Callback hook as a no-op.
type BaseCallback struct{}

// OnTrainBegin does nothing.
func (BaseCallback) OnTrainBegin(*Context) error { return nil }

// OnTrainEnd does nothing.
func (BaseCallback) OnTrainEnd(*Context) error { return nil }

// OnEpochBegin does nothing.
func (BaseCallback) OnEpochBegin(*Context) error { return nil }

// OnEpochEnd does nothing.
func (BaseCallback) OnEpochEnd(*Context) error { return nil }

// OnBatchBegin does nothing.
func (BaseCallback) OnBatchBegin(*Context) error { return nil }

// OnBatchEnd does nothing.
func (BaseCallback) OnBatchEnd(*Context) error { return nil }

// CallbackName returns the name used for cb in errors and logs: its Name
// method if it has one, its type otherwise.
func CallbackName(cb Callback) string {
	if n, ok := cb.(interface{ Name() string }); ok {
		return n.Name()
	}
	return fmt.Sprintf("%T", cb)
}

// Context is what callbacks see of a training run.
type Context struct {
	// Model is the model being trained.
	Model *Model
	// Optimizer updates the model's parameters.
	Optimizer optim.Optimizer
	// Sparse lists the model's layers with editable masks.
	Sparse []layers.Sparse
	// Callbacks lists every callback of the run, in calling order (a
	// checkpoint callback saves the state of the Stateful ones).
	Callbacks []Callback

	// Epoch is the current epoch, counted from 0; Epochs is the total.
	Epoch, Epochs int
	// Step is the number of optimizer steps taken so far in the run.
	Step int
	// Batch is the index of the current batch within the epoch, Batches the
	// number of batches per epoch, BatchSize the current batch's size.
	Batch, Batches, BatchSize int
	// Loss is the loss of the current batch (valid in OnBatchEnd).
	Loss float64
	// Logs holds the metrics of the epoch so far: "loss" and "acc" (running
	// means over the epoch's batches) and, at epoch end, "val_loss" and
	// "val_acc" when there is validation data, "lr" and "epoch_seconds".
	// Callbacks may add their own entries.
	Logs map[string]float64

	stop       bool
	stopReason string
	prog       *program
}

// StopTraining asks Fit to stop after the current hook returns; the current
// epoch is finished first when called from a batch hook.
func (c *Context) StopTraining(reason string) {
	c.stop = true
	c.stopReason = reason
}

// Stopped reports whether a callback asked to stop, and why.
func (c *Context) Stopped() (bool, string) { return c.stop, c.stopReason }

// Activations returns the input and the output (after the nonlinearity) of
// sparse layer l for the current batch, as (batch, in) and (batch, out)
// tensors. They are valid only during OnBatchEnd and must not be kept or
// modified; ok is false when they are not available.
func (c *Context) Activations(l layers.Sparse) (in, out *tensor.Dense, ok bool) {
	if c.prog == nil {
		return nil, nil, false
	}
	for _, t := range c.prog.taps {
		if t.Layer != l {
			continue
		}
		in, ok1 := t.Input.Value().(*tensor.Dense)
		out, ok2 := t.Output.Value().(*tensor.Dense)
		if ok1 && ok2 {
			return in, out, true
		}
	}
	return nil, nil, false
}

// DenseGrad returns dLoss/d(W⊙M) of sparse layer l for the current batch: the
// gradient every edge would receive if it were active, shaped (in, out). At
// active edges it equals the weight gradient; at inactive ones it is what
// RigL-style regrowth ranks by. Valid only during OnBatchEnd; do not keep or
// modify it. ok is false when the layer does not provide it: a G2G layer
// keeps it only after KeepDenseGrad(true), which a callback should call in
// OnTrainBegin.
func (c *Context) DenseGrad(l layers.Sparse) (grad *tensor.Dense, ok bool) {
	if c.prog == nil {
		return nil, false
	}
	dg, has := l.(interface{ DenseGrad() []float32 })
	if !has {
		return nil, false
	}
	g := dg.DenseGrad()
	m := l.Mask()
	if len(g) != m.Len() {
		return nil, false
	}
	return tensor.New(tensor.WithShape(m.In, m.Out), tensor.WithBacking(g)), true
}
