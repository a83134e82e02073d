package callbacks

import (
	"fmt"

	"github.com/pkg/errors"

	"github.com/g2g-ml/g2g/graph"
)

// EarlyStoppingConfig configures EarlyStopping, with Keras's names and
// zero-value defaults.
type EarlyStoppingConfig struct {
	// Monitor is the Logs entry watched at every epoch end (default
	// DefaultMonitor, "val_loss"). A missing entry is an error.
	Monitor string
	// Mode says which direction improves (default ModeAuto).
	Mode Mode
	// MinDelta is the smallest change that counts as an improvement (>= 0).
	MinDelta float64
	// Patience is the number of epochs without improvement after which
	// training stops; 0 stops at the first one (as in Keras).
	Patience int
	// RestoreBestWeights copies every parameter and mask of the model at the
	// best epoch and restores them when training ends (as Keras 3 does,
	// whether or not training stopped early).
	RestoreBestWeights bool
}

// EarlyStopping is a callback that stops training when a monitored value
// has stopped improving, through Context.StopTraining (Fit then returns
// normally, with History.StopReason set).
type EarlyStopping struct {
	// BaseCallback supplies the hooks EarlyStopping does not use.
	graph.BaseCallback

	cfg       EarlyStoppingConfig
	mon       monitor
	wait      int
	bestEpoch int
	stopped   int
	weights   [][]float32
	masks     [][]float32
}

// NewEarlyStopping validates cfg and returns the callback.
func NewEarlyStopping(cfg EarlyStoppingConfig) (*EarlyStopping, error) {
	if cfg.Patience < 0 {
		return nil, errors.Errorf("early-stopping: Patience must be >= 0, got %d", cfg.Patience)
	}
	mon, err := newMonitor(cfg.Monitor, cfg.Mode, cfg.MinDelta)
	if err != nil {
		return nil, errors.Wrap(err, "early-stopping")
	}
	cfg.Monitor = mon.key
	return &EarlyStopping{cfg: cfg, mon: mon, bestEpoch: -1, stopped: -1}, nil
}

// Name returns "early-stopping".
func (e *EarlyStopping) Name() string { return "early-stopping" }

// Best returns the best monitored value and its epoch (-1 before any).
func (e *EarlyStopping) Best() (value float64, epoch int) { return e.mon.best, e.bestEpoch }

// StoppedEpoch returns the epoch at whose end training was stopped, or -1.
func (e *EarlyStopping) StoppedEpoch() int { return e.stopped }

// OnTrainBegin resets the callback, checks the monitored entry and
// resolves ModeAuto (see monitor.begin).
func (e *EarlyStopping) OnTrainBegin(c *graph.Context) error {
	if err := e.mon.begin(c); err != nil {
		return errors.Wrap(err, "early-stopping")
	}
	e.wait, e.bestEpoch, e.stopped = 0, -1, -1
	e.weights, e.masks = nil, nil
	return nil
}

// OnEpochEnd compares the monitored value with the best so far.
func (e *EarlyStopping) OnEpochEnd(c *graph.Context) error {
	v, err := e.mon.value(c.Logs)
	if err != nil {
		return err
	}
	if e.mon.improves(v) {
		e.mon.best, e.bestEpoch, e.wait = v, c.Epoch, 0
		if e.cfg.RestoreBestWeights {
			return e.snapshot(c)
		}
		return nil
	}
	e.wait++
	if e.wait >= max(e.cfg.Patience, 1) {
		e.stopped = c.Epoch
		c.StopTraining(fmt.Sprintf("early stopping: %s did not improve for %d epochs (best %.6g at epoch %d)",
			e.cfg.Monitor, e.wait, e.mon.best, e.bestEpoch+1))
	}
	return nil
}

// OnTrainEnd restores the best weights and masks, if asked to.
func (e *EarlyStopping) OnTrainEnd(c *graph.Context) error {
	if !e.cfg.RestoreBestWeights || e.weights == nil {
		return nil
	}
	params := c.Model.Params()
	if len(params) != len(e.weights) {
		return errors.Errorf("restore: the model has %d parameters, %d were saved", len(params), len(e.weights))
	}
	for n, p := range params {
		copy(p.Data(), e.weights[n])
		if p.Mask != nil && e.masks[n] != nil {
			copy(p.Mask.Data(), e.masks[n])
			if err := p.Mask.Recount(); err != nil {
				return errors.Wrapf(err, "restore mask of %q", p.Name)
			}
		}
	}
	return nil
}

func (e *EarlyStopping) snapshot(c *graph.Context) error {
	if c.Model == nil {
		return errors.New("RestoreBestWeights needs Context.Model")
	}
	params := c.Model.Params()
	grow := func(s [][]float32) [][]float32 {
		if len(s) != len(params) {
			return make([][]float32, len(params))
		}
		return s
	}
	e.weights, e.masks = grow(e.weights), grow(e.masks)
	for n, p := range params {
		e.weights[n] = append(e.weights[n][:0], p.Data()...)
		if p.Mask != nil {
			e.masks[n] = append(e.masks[n][:0], p.Mask.Data()...)
		}
	}
	return nil
}
