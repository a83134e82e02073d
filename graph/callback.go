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
	// Logs holds the metrics of the epoch so far: "loss" and every
	// metric of FitConfig.Metrics by name, by default "acc" (running
	// values over the epoch's batches; with several outputs also
	// "<output>/loss" and "<output>/<metric>") and, at epoch end, their
	// "val_" variants when there is validation data, "lr" and
	// "epoch_seconds" (LogKeys lists them). Callbacks may add their own
	// entries.
	Logs map[string]float64
	// Rewires lists the reports of the rewiring updates made during the
	// current epoch, in order: rewiring callbacks append one per update and
	// layer (the scheduled ones of package callbacks do), and later
	// callbacks (a sparsity report) read them. Fit empties it when an epoch
	// begins.
	Rewires []RewireReport

	stop       bool
	stopReason string
	prog       *program
	logKeys    map[string]bool // Fit's epoch-end logs keys: larger is better
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
// tensors: the nodes the layer recorded with layers.Builder.Record in its
// Forward (a sparse layer of your own records them to make its activations
// available to Hebbian rules). They are valid only during OnBatchEnd and
// must not be kept or modified; ok is false when they are not available
// (outside Fit, or the layer recorded nothing).
func (c *Context) Activations(l layers.Sparse) (in, out *tensor.Dense, ok bool) {
	if c.prog == nil {
		return nil, nil, false
	}
	for k, t := range c.prog.taps {
		if t.Layer != l {
			continue
		}
		in, ok1 := c.prog.exec.value(t.Input).(*tensor.Dense)
		out, ok2 := c.prog.exec.value(t.Output).(*tensor.Dense)
		if !ok1 || !ok2 {
			return nil, nil, false
		}
		var err error
		if t.InputFM {
			in, err = c.prog.batchMajor(&c.prog.tapBuf[k][0], in)
		}
		if err == nil && t.OutputFM {
			out, err = c.prog.batchMajor(&c.prog.tapBuf[k][1], out)
		}
		return in, out, err == nil
	}
	return nil, nil, false
}

// DenseGrad returns dLoss/d(W⊙M) of sparse layer l for the current batch: the
// gradient every edge would receive if it were active, shaped (in, out). At
// active edges it equals the weight gradient; at inactive ones it is what
// RigL-style regrowth ranks by. Valid only during OnBatchEnd; do not keep or
// modify it. ok is false when the layer does not provide it: it must
// implement layers.DenseGradProvider (G2G does; a sparse layer of your own
// implements it to be regrown by gradient), and keeps the gradient only
// after KeepDenseGrad(true), which a callback should call in OnTrainBegin.
func (c *Context) DenseGrad(l layers.Sparse) (grad *tensor.Dense, ok bool) {
	if c.prog == nil {
		return nil, false
	}
	dg, has := l.(layers.DenseGradProvider)
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

// RewireReport is what one rewiring update did to one sparse layer.
// Rewiring callbacks append them to Context.Rewires.
type RewireReport struct {
	// Layer is the layer's name.
	Layer string `json:"layer"`
	// Epoch and Step locate the update: Context.Epoch and Context.Step; 0
	// outside Fit.
	Epoch int `json:"epoch"`
	Step  int `json:"step"`
	// At is the epoch or step the update's schedule counts in.
	At int `json:"at"`
	// Zeta is the update fraction asked for, K the number of edges asked
	// for (round(Zeta·Active), unless the rule chose another); Pruned may
	// be lower (the layer may not have as many candidates).
	Zeta float64 `json:"zeta"`
	K    int     `json:"k"`
	// Pruned and Regrown count the changed edges (always equal).
	Pruned  int `json:"pruned"`
	Regrown int `json:"regrown"`
	// PrunedIntra and RegrownIntra count the intra-ensemble ones among them.
	PrunedIntra  int `json:"pruned_intra"`
	RegrownIntra int `json:"regrown_intra"`
	// Active is the active edge count (unchanged by the update).
	Active int `json:"active"`
	// Density and IntraFraction describe the mask after the update.
	Density       float64 `json:"density"`
	IntraFraction float64 `json:"intra_fraction"`
	// Churn is the fraction of the edges active before the update that it
	// removed: Pruned / Active.
	Churn float64 `json:"churn"`
}
