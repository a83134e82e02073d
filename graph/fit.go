package graph

import (
	"context"
	"math"
	"time"

	"github.com/pkg/errors"

	"github.com/g2g-ml/g2g/datasets"
	"github.com/g2g-ml/g2g/internal/rngs"
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
	// method has this signature.
	Augment func(x []float32, n int, epoch, batch int) error
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
	if err := m.checkFit(train, cfg); err != nil {
		return nil, err
	}
	batches, err := datasets.NewBatches(train, cfg.BatchSize, !cfg.NoShuffle, rngs.Derive(cfg.Seed, "shuffle"))
	if err != nil {
		return nil, errors.Wrap(err, "fit")
	}
	ctx := &Context{
		Model: m, Optimizer: cfg.Optimizer, Sparse: m.SparseLayers(),
		Epochs: cfg.Epochs, Batches: batches.Len(), Logs: map[string]float64{},
		Step: cfg.InitialStep, Callbacks: cfg.Callbacks,
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
		var correct, seen int
		for b := 0; ; b++ {
			if runCtx.Err() != nil {
				return hist, &Interrupted{Epoch: epoch, Batch: b, Step: ctx.Step, Cause: context.Cause(runCtx)}
			}
			x, y, ok := batches.Next()
			if !ok {
				break
			}
			ctx.Batch, ctx.BatchSize = b, len(y)
			if cfg.Augment != nil {
				if err := cfg.Augment(x, len(y), epoch, b); err != nil {
					return hist, errors.Wrapf(err, "fit: augment (epoch %d, batch %d)", epoch, b)
				}
			}
			if err := call("OnBatchBegin", func(cb Callback) error { return cb.OnBatchBegin(ctx) }); err != nil {
				return hist, err
			}
			loss, hits, prog, err := m.trainStep(x, y, cfg.Optimizer, ctx.Step)
			if err != nil {
				return hist, errors.Wrapf(err, "fit: epoch %d, step %d", epoch, ctx.Step)
			}
			ctx.Step++
			ctx.Loss = loss
			sumLoss += loss * float64(len(y))
			correct += hits
			seen += len(y)
			ctx.Logs["loss"] = sumLoss / float64(seen)
			ctx.Logs["acc"] = float64(correct) / float64(seen)
			ctx.prog = prog
			err = call("OnBatchEnd", func(cb Callback) error { return cb.OnBatchEnd(ctx) })
			ctx.prog = nil
			prog.reset()
			if err != nil {
				return hist, err
			}
		}
		if cfg.Validation != nil {
			vl, va, err := m.Evaluate(cfg.Validation, cfg.BatchSize)
			if err != nil {
				return hist, errors.Wrapf(err, "fit: validation after epoch %d", epoch)
			}
			ctx.Logs["val_loss"], ctx.Logs["val_acc"] = vl, va
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

func (m *Model) checkFit(train *datasets.Dataset, cfg FitConfig) error {
	switch {
	case train == nil || train.Len() == 0:
		return errors.New("fit: empty training set")
	case cfg.Epochs < 1:
		return errors.Errorf("fit: Epochs must be at least 1, got %d", cfg.Epochs)
	case cfg.InitialEpoch < 0 || cfg.InitialEpoch > cfg.Epochs:
		return errors.Errorf("fit: InitialEpoch must be in [0, Epochs=%d], got %d", cfg.Epochs, cfg.InitialEpoch)
	case cfg.InitialStep < 0:
		return errors.Errorf("fit: InitialStep must not be negative, got %d", cfg.InitialStep)
	case cfg.BatchSize < 1:
		return errors.Errorf("fit: BatchSize must be at least 1, got %d", cfg.BatchSize)
	case cfg.Optimizer == nil:
		return errors.New("fit: Optimizer is required")
	}
	if err := m.checkData(train); err != nil {
		return errors.Wrap(err, "fit: training set")
	}
	if cfg.Validation != nil {
		if err := m.checkData(cfg.Validation); err != nil {
			return errors.Wrap(err, "fit: validation set")
		}
	}
	return nil
}

func (m *Model) checkData(d *datasets.Dataset) error {
	if d.SampleSize() != m.InputSize() {
		return errors.Errorf("%q has %d values per sample (shape %v), the model's input wants %d (shape %v)",
			d.Name, d.SampleSize(), d.Shape, m.InputSize(), m.input.shape)
	}
	if d.Classes > m.classes {
		return errors.Errorf("%q has %d classes, the model outputs %d", d.Name, d.Classes, m.classes)
	}
	return d.Validate()
}

// trainStep runs forward and backward on one batch, applies the optimizer
// and clears the gradients. It returns the loss, the number of correct
// predictions and the program, which the caller must reset.
func (m *Model) trainStep(x []float32, y []int, opt optim.Optimizer, step int) (float64, int, *program, error) {
	p, err := m.program(len(y), true)
	if err != nil {
		return 0, 0, nil, err
	}
	if err := p.load(x, y); err != nil {
		return 0, 0, nil, err
	}
	if err := p.run(step); err != nil {
		p.reset()
		return 0, 0, nil, errors.Wrap(err, "forward/backward")
	}
	loss, err := p.lossValue()
	if err != nil {
		p.reset()
		return 0, 0, nil, err
	}
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		p.reset()
		return 0, 0, nil, errors.Errorf("loss is %v: training diverged (lower the learning rate?)", loss)
	}
	logits, err := p.logitsData()
	if err != nil {
		p.reset()
		return 0, 0, nil, err
	}
	hits := countCorrect(logits, y, p.classes)
	grads, err := p.grads()
	if err != nil {
		p.reset()
		return 0, 0, nil, err
	}
	params := p.optParams(grads)
	if err := opt.Step(params); err != nil {
		p.reset()
		return 0, 0, nil, errors.Wrap(err, "optimizer")
	}
	return loss, hits, p, nil
}

// optParams returns the optimizer's view of the program's parameters, reusing
// one slice across steps.
func (p *program) optParams(grads [][]float32) []optim.Param {
	if p.opt == nil {
		p.opt = make([]optim.Param, len(p.params))
	}
	for i, prm := range p.params {
		op := optim.Param{Name: prm.Name, Value: prm.Data(), Grad: grads[i], NoDecay: prm.NoDecay}
		if prm.Mask != nil {
			op.Mask = prm.Mask.Data()
			op.Active = prm.Mask.Offsets()
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

// Evaluate returns the mean cross-entropy loss and the accuracy of the model
// on d, in batches of batchSize (the last one may be smaller). It runs
// forward-only graphs and never touches gradients.
func (m *Model) Evaluate(d *datasets.Dataset, batchSize int) (loss, acc float64, err error) {
	if d == nil || d.Len() == 0 {
		return 0, 0, errors.New("evaluate: empty dataset")
	}
	if err := m.checkData(d); err != nil {
		return 0, 0, errors.Wrap(err, "evaluate")
	}
	logits, err := m.Predict(d.X, batchSize)
	if err != nil {
		return 0, 0, errors.Wrap(err, "evaluate")
	}
	loss, acc = scoreLogits(logits, d.Y, m.classes)
	return loss, acc, nil
}

// Predict returns the logits (n × Classes, row-major) for the samples in x,
// which holds n·InputSize values, computed in batches of batchSize.
//
// A model whose layers all implement layers.Inferable (every layer of
// package layers does) runs on the inference runtime over its live weights:
// sparse layers chain feature-major on the sparse kernels, without graph
// overhead. A model with another layer runs through its gorgonia
// evaluation graph instead; PredictPath tells which.
func (m *Model) Predict(x []float32, batchSize int) ([]float32, error) {
	size := m.InputSize()
	if batchSize < 1 {
		return nil, errors.Errorf("predict: batch size must be at least 1, got %d", batchSize)
	}
	if len(x)%size != 0 {
		return nil, errors.Errorf("predict: %d input values is not a whole number of samples of %d", len(x), size)
	}
	if m.notInferable() != nil {
		return m.predictGraph(x, batchSize)
	}
	inf, err := m.inference()
	if err != nil {
		return nil, errors.Wrap(err, "predict")
	}
	return inf.Predict(x, batchSize)
}

// predictGraph is Predict through the model's evaluation graph.
func (m *Model) predictGraph(x []float32, batchSize int) ([]float32, error) {
	size := m.InputSize()
	n := len(x) / size
	out := make([]float32, 0, n*m.classes)
	for start := 0; start < n; start += batchSize {
		end := min(start+batchSize, n)
		p, err := m.program(end-start, false)
		if err != nil {
			return nil, errors.Wrap(err, "predict")
		}
		if err := p.load(x[start*size:end*size], nil); err != nil {
			return nil, errors.Wrap(err, "predict")
		}
		if err := p.run(0); err != nil {
			p.reset()
			return nil, errors.Wrap(err, "predict")
		}
		logits, err := p.logitsData()
		if err != nil {
			p.reset()
			return nil, err
		}
		out = append(out, logits...)
		p.reset()
	}
	return out, nil
}
