package graph

import (
	"context"
	"math"
	"time"

	"github.com/pkg/errors"

	"github.com/g2g-ml/g2g/datasets"
	"github.com/g2g-ml/g2g/internal/rngs"
	"github.com/g2g-ml/g2g/layers"
	"github.com/g2g-ml/g2g/optim"
)

// FitConfig configures a training run.
type FitConfig struct {
	// Epochs is the number of epochs to train (at least 1).
	Epochs int
	// InitialEpoch is the epoch to start from (for resuming); epochs
	// InitialEpoch .. Epochs-1 are run.
	InitialEpoch int
	// InitialStep is the optimizer step count to start from (for resuming;
	// Context.Step counts on from it).
	InitialStep int
	// BatchSize is the number of samples per step; the last batch of an
	// epoch may be smaller and is trained on too.
	BatchSize int
	// Optimizer updates the parameters (required).
	Optimizer optim.Optimizer
	// Callbacks are called in order at every hook.
	Callbacks []Callback
	// Validation, if non-nil, is evaluated at the end of every epoch.
	Validation *datasets.Dataset
	// Seed drives the shuffling of the training set (its "shuffle" stream).
	Seed int64
	// NoShuffle keeps the training set in its stored order.
	NoShuffle bool
	// Augment, if non-nil, edits each training batch in place before the
	// step: x holds the n samples of the batch (n·InputSize values, a copy
	// owned by the batch iterator, so the training set is never modified),
	// epoch and batch are the epoch and the batch index within it, for
	// reproducible randomness. An error stops training. Validation and
	// evaluation data are never augmented. datasets.RandomCropFlip's Apply
	// method has this signature. With several model inputs it edits the
	// one the dataset's X feeds; InputTargets targets are the augmented
	// inputs.
	Augment func(x []float32, n int, epoch, batch int) error

	// Loss is the loss minimised (nil: SoftmaxCrossEntropy{}, the fused
	// cross-entropy against one-hot labels); with several outputs, the
	// loss of every output Outputs does not give one.
	Loss Loss
	// Metrics are measured on the output (on every output, with several,
	// unless Outputs gives its own) and logged under their names, with
	// "val_" variants on the validation data. nil measures the loss's
	// defaults: accuracy ("acc") for the softmax cross-entropy, binary
	// accuracy for the sigmoid one, none for the others; an empty
	// non-nil slice measures none.
	Metrics []Metric
	// Outputs configures outputs by name, for models with several:
	// their own loss, loss weight and metrics (Keras's per-output loss,
	// loss_weights and metrics). The total loss is Σ Weight·loss.
	Outputs map[string]OutputConfig
}

// History holds the logs of every epoch run, in order.
type History struct {
	// Epochs holds one copy of Context.Logs per finished epoch.
	Epochs []map[string]float64
	// StopReason is set when a callback stopped training early.
	StopReason string
}

// Last returns the logs of the last finished epoch, or nil.
func (h *History) Last() map[string]float64 {
	if len(h.Epochs) == 0 {
		return nil
	}
	return h.Epochs[len(h.Epochs)-1]
}

// Fit trains the model on train. It stops with an error on a non-finite
// loss, on an error from a callback (wrapped with the callback's name, the
// epoch and the step) and on bad input; a callback may also stop it early
// through Context.StopTraining. It is FitContext with a context that is
// never done.
//
// The model's inputs and outputs read train's arrays by name (see
// datasets.Dataset): an input the field of its name, or X; an output's
// targets the field of its name, or the set's own targets. Errors name the
// input or output and the sizes that do not match.
func (m *Model) Fit(train *datasets.Dataset, cfg FitConfig) (*History, error) {
	return m.FitContext(context.Background(), train, cfg)
}

// FitContext is Fit, stopped from outside through runCtx (a command cancels
// it on Ctrl-C, say): once runCtx is done, training stops after the batch that
// is running, and FitContext returns the history of the completed epochs
// and an *Interrupted error saying where it stopped, without calling the
// interrupted epoch's OnEpochEnd or OnTrainEnd; the model, the optimizer
// and the callbacks hold the state after the last batch run.
func (m *Model) FitContext(runCtx context.Context, train *datasets.Dataset, cfg FitConfig) (*History, error) {
	run, err := m.checkFit(train, cfg)
	if err != nil {
		return nil, err
	}
	m.setObjective(run.obj)
	batches, err := datasets.NewBatches(train, cfg.BatchSize, !cfg.NoShuffle, rngs.Derive(cfg.Seed, "shuffle"))
	if err != nil {
		return nil, errors.Wrap(err, "fit")
	}
	ctx := &Context{
		Model: m, Optimizer: cfg.Optimizer, Sparse: m.SparseLayers(),
		Epochs: cfg.Epochs, Batches: batches.Len(), Logs: map[string]float64{},
		Step: cfg.InitialStep, Callbacks: cfg.Callbacks,
		logKeys: run.logKeys(cfg.Validation != nil),
	}
	hist := &History{}
	call := func(hook string, f func(Callback) error) error {
		for _, cb := range cfg.Callbacks {
			if err := f(cb); err != nil {
				return errors.Wrapf(err, "callback %s: %s (epoch %d, step %d)", CallbackName(cb), hook, ctx.Epoch, ctx.Step)
			}
		}
		return nil
	}
	// The sparse layers' weight copies are current only between steps of
	// this loop (see mirrorsWritten); never before it, nor after it.
	mirror := m.mirrorsWritten(cfg.Optimizer, cfg.Callbacks)
	m.staleMirrors()
	defer m.staleMirrors()
	if err := call("OnTrainBegin", func(cb Callback) error { return cb.OnTrainBegin(ctx) }); err != nil {
		return hist, err
	}
	for epoch := cfg.InitialEpoch; epoch < cfg.Epochs && !ctx.stop; epoch++ {
		ctx.Epoch, ctx.Batch = epoch, 0
		ctx.Logs = map[string]float64{}
		ctx.Rewires = nil
		if err := call("OnEpochBegin", func(cb Callback) error { return cb.OnEpochBegin(ctx) }); err != nil {
			return hist, err
		}
		start := time.Now()
		batches.Reset(epoch)
		var sumLoss float64
		var seen int
		tr := run.newTally()
		var bd batchData
		for b := 0; ; b++ {
			if runCtx.Err() != nil {
				return hist, &Interrupted{Epoch: epoch, Batch: b, Step: ctx.Step, Cause: context.Cause(runCtx)}
			}
			x, y, ok := batches.Next()
			if !ok {
				break
			}
			cur := batches.Current()
			n := cur.N
			ctx.Batch, ctx.BatchSize = b, n
			if cfg.Augment != nil {
				if err := cfg.Augment(x, n, epoch, b); err != nil {
					return hist, errors.Wrapf(err, "fit: augment (epoch %d, batch %d)", epoch, b)
				}
			}
			if err := call("OnBatchBegin", func(cb Callback) error { return cb.OnBatchBegin(ctx) }); err != nil {
				return hist, err
			}
			run.bind.gather(&bd, n, x, y, cur.Targets, cur.Fields)
			loss, prog, err := m.trainStep(&bd, cfg.Optimizer, ctx.Step, mirror)
			if err != nil {
				return hist, errors.Wrapf(err, "fit: epoch %d, step %d", epoch, ctx.Step)
			}
			ctx.Step++
			ctx.Loss = loss
			sumLoss += loss * float64(n)
			seen += n
			ctx.Logs["loss"] = sumLoss / float64(seen)
			if err := tr.addTraining(prog, &bd, ctx.Logs); err != nil {
				prog.reset()
				return hist, errors.Wrapf(err, "fit: epoch %d, step %d", epoch, ctx.Step-1)
			}
			ctx.prog = prog
			err = call("OnBatchEnd", func(cb Callback) error { return cb.OnBatchEnd(ctx) })
			ctx.prog = nil
			prog.reset()
			if err != nil {
				return hist, err
			}
		}
		if cfg.Validation != nil {
			logs, err := m.evaluate(cfg.Validation, run.obj, run.valBind, cfg.BatchSize)
			if err != nil {
				return hist, errors.Wrapf(err, "fit: validation after epoch %d", epoch)
			}
			for k, v := range logs {
				ctx.Logs["val_"+k] = v
			}
		}
		ctx.Logs["lr"] = cfg.Optimizer.LR()
		ctx.Logs["epoch_seconds"] = time.Since(start).Seconds()
		if err := call("OnEpochEnd", func(cb Callback) error { return cb.OnEpochEnd(ctx) }); err != nil {
			return hist, err
		}
		logs := make(map[string]float64, len(ctx.Logs))
		for k, v := range ctx.Logs {
			logs[k] = v
		}
		hist.Epochs = append(hist.Epochs, logs)
	}
	hist.StopReason = ctx.stopReason
	if err := call("OnTrainEnd", func(cb Callback) error { return cb.OnTrainEnd(ctx) }); err != nil {
		return hist, err
	}
	return hist, nil
}

// fitRun is what Fit resolves before training: the objective and how the
// training and validation sets map to the model.
type fitRun struct {
	obj     *objective
	bind    *binding
	valBind *binding
}

// logKeys returns the logs entries Fit writes at every epoch end, with
// whether larger is better.
func (r *fitRun) logKeys(validation bool) map[string]bool {
	keys := map[string]bool{"lr": false, "epoch_seconds": false}
	r.obj.keys("", keys)
	if validation {
		r.obj.keys("val_", keys)
	}
	return keys
}

func (m *Model) checkFit(train *datasets.Dataset, cfg FitConfig) (*fitRun, error) {
	switch {
	case train == nil || train.Len() == 0:
		return nil, errors.New("fit: empty training set")
	case cfg.Epochs < 1:
		return nil, errors.Errorf("fit: Epochs must be at least 1, got %d", cfg.Epochs)
	case cfg.InitialEpoch < 0 || cfg.InitialEpoch > cfg.Epochs:
		return nil, errors.Errorf("fit: InitialEpoch must be in [0, Epochs=%d], got %d", cfg.Epochs, cfg.InitialEpoch)
	case cfg.InitialStep < 0:
		return nil, errors.Errorf("fit: InitialStep must not be negative, got %d", cfg.InitialStep)
	case cfg.BatchSize < 1:
		return nil, errors.Errorf("fit: BatchSize must be at least 1, got %d", cfg.BatchSize)
	case cfg.Optimizer == nil:
		return nil, errors.New("fit: Optimizer is required")
	}
	sig := m.signature()
	obj, err := sig.resolveObjective(cfg.Loss, cfg.Metrics, cfg.Outputs)
	if err != nil {
		return nil, errors.Wrap(err, "fit")
	}
	run := &fitRun{obj: obj}
	if run.bind, err = m.checkData(train, sig); err != nil {
		return nil, errors.Wrap(err, "fit: training set")
	}
	if cfg.Validation != nil {
		if run.valBind, err = m.checkData(cfg.Validation, sig); err != nil {
			return nil, errors.Wrap(err, "fit: validation set")
		}
	}
	return run, nil
}

// checkData maps d's arrays to the model's inputs and outputs and
// validates d.
func (m *Model) checkData(d *datasets.Dataset, sig *signature) (*binding, error) {
	b, err := sig.bind(d, true)
	if err != nil {
		return nil, err
	}
	return b, d.Validate()
}

// trainStep runs forward and backward on one batch and applies the
// optimizer. It returns the loss and the program, which the caller must
// reset.
func (m *Model) trainStep(bd *batchData, opt optim.Optimizer, step int, mirror bool) (float64, *program, error) {
	p, err := m.program(bd.n, true)
	if err != nil {
		return 0, nil, err
	}
	if err := p.loadData(bd); err != nil {
		return 0, nil, err
	}
	if err := p.run(step); err != nil {
		p.reset()
		return 0, nil, errors.Wrap(err, "forward/backward")
	}
	loss, err := p.lossValue()
	if err != nil {
		p.reset()
		return 0, nil, err
	}
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		p.reset()
		return 0, nil, errors.Errorf("loss is %v: training diverged (lower the learning rate?)", loss)
	}
	grads, err := p.grads()
	if err != nil {
		p.reset()
		return 0, nil, err
	}
	params := p.optParams(grads, mirror)
	if err := opt.Step(params); err != nil {
		p.reset()
		return 0, nil, errors.Wrap(err, "optimizer")
	}
	for i, l := range p.mirrors {
		if l != nil && params[i].MirrorAt != nil {
			l.SetMirrorCurrent(true)
		}
	}
	return loss, p, nil
}

// WeightPreserver is implemented by callbacks whose OnEpochBegin,
// OnBatchBegin, OnBatchEnd and OnEpochEnd change no parameter's values
// except through the mask edits of sparse layers (Prune, Grow and the
// like), which the layers track themselves. Every callback of package
// callbacks implements it. Fit lets its optimizer keep the sparse layers'
// packed weight copies current from one step to the next
// (layers.WeightMirror), sparing each forward pass a re-read of every
// sparse weight matrix, only when every callback implements it and
// reports true; otherwise the copies are refreshed from the weights at
// every forward pass. A callback that writes weights directly (averaging
// them, clipping them, loading them) must not report true. FitConfig.Augment
// must not change weights either.
type WeightPreserver interface {
	PreservesWeights() bool
}

// mirrorsWritten reports whether Fit may keep the sparse layers' weight
// copies current between steps: the optimizer writes them and no callback
// changes weights behind its back.
func (m *Model) mirrorsWritten(opt optim.Optimizer, cbs []Callback) bool {
	if mw, ok := opt.(optim.MirrorWriter); !ok || !mw.WritesMirrors() {
		return false
	}
	for _, cb := range cbs {
		if wp, ok := cb.(WeightPreserver); !ok || !wp.PreservesWeights() {
			return false
		}
	}
	return true
}

// staleMirrors marks every sparse layer's weight copy as not current, so
// that the next forward pass refreshes it from the weights.
func (m *Model) staleMirrors() {
	for _, l := range m.layers {
		if wm, ok := l.(layers.WeightMirror); ok {
			wm.SetMirrorCurrent(false)
		}
	}
}

// weightMirrors returns, for each of params, the layer keeping a copy of
// its weights (the sparse layer whose Weight it is and that implements
// layers.WeightMirror), or nil.
func (m *Model) weightMirrors(params []*layers.Param) []layers.WeightMirror {
	out := make([]layers.WeightMirror, len(params))
	for _, l := range m.layers {
		s, ok1 := l.(layers.Sparse)
		wm, ok2 := l.(layers.WeightMirror)
		if !ok1 || !ok2 {
			continue
		}
		for i, prm := range params {
			if prm == s.Weight() {
				out[i] = wm
			}
		}
	}
	return out
}

// optParams returns the optimizer's view of the program's parameters, reusing
// one slice across steps.
func (p *program) optParams(grads [][]float32, mirror bool) []optim.Param {
	if p.opt == nil {
		p.opt = make([]optim.Param, len(p.params))
	}
	for i, prm := range p.params {
		op := optim.Param{Name: prm.Name, Value: prm.Data(), Grad: grads[i], NoDecay: prm.NoDecay}
		if prm.Mask != nil {
			op.Mask = prm.Mask.Data()
			op.Active = prm.Mask.Offsets()
			if mirror && p.mirrors[i] != nil {
				op.Mirror, op.MirrorAt = p.mirrors[i].Mirror()
			}
		}
		p.opt[i] = op
	}
	return p.opt
}

func countCorrect(logits []float32, y []int, classes int) int {
	n := 0
	for i, c := range y {
		if argmax(logits[i*classes:(i+1)*classes]) == c {
			n++
		}
	}
	return n
}

func argmax(v []float32) int {
	best := 0
	for k := 1; k < len(v); k++ {
		if v[k] > v[best] {
			best = k
		}
	}
	return best
}
