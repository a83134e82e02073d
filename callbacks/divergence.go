package callbacks

import (
	"fmt"
	"math"

	"github.com/pkg/errors"

	"github.com/g2g-ml/g2g/graph"
)

// DefaultDivergenceFactor is TerminateOnDivergence's default Factor.
const DefaultDivergenceFactor = 100

// ErrDiverged is the error TerminateOnDivergence's errors wrap (test with
// errors.Is).
var ErrDiverged = errors.New("training diverged")

// DivergenceConfig configures TerminateOnDivergence.
type DivergenceConfig struct {
	// Monitor is the Logs entry checked at every epoch end; "" means
	// "loss", the epoch's mean training loss.
	Monitor string
	// Factor: training has diverged when the monitored value exceeds
	// Factor times the reference, the loss of the first batch the run
	// trains on (computed before the optimizer's first step of the run).
	// 0 means DefaultDivergenceFactor; a negative Factor turns the
	// relative check off.
	Factor float64
	// Max, when positive, is an absolute bound on the monitored value.
	Max float64
	// Stop ends training through Context.StopTraining instead of returning
	// an error (default), as TerminateOnNaNConfig.Stop does.
	Stop bool
}

// TerminateOnDivergence is a callback that ends training when the loss
// explodes while staying finite (Fit and TerminateOnNaN only catch NaN and
// infinities): at every epoch end, the monitored value (the epoch's mean
// training loss by default) must be at most Factor times the reference and,
// if Max is set, at most Max.
//
// The rule: the reference is the loss of the run's first batch. A fresh
// model's cross-entropy starts near ln(classes) (2.3 for 10 classes), so
// the default bound, 100 times that, is an epoch whose predictions are on
// average confidently wrong by hundreds of nats: a run that blew up (a
// learning rate far too large sends the loss to 1e20 without overflowing),
// not one that learns slowly, which stays near its start. A resumed run's
// reference is the loss of the trained model on its first batch; its loss
// grows a hundredfold without diverging only from a very small value, for
// which Factor can be raised (or turned off and Max set).
type TerminateOnDivergence struct {
	// BaseCallback supplies the hooks TerminateOnDivergence does not use.
	graph.BaseCallback

	cfg DivergenceConfig
	ref float64 // the reference loss, NaN until the first batch
}

// NewTerminateOnDivergence returns the callback configured by cfg.
func NewTerminateOnDivergence(cfg DivergenceConfig) (*TerminateOnDivergence, error) {
	if cfg.Monitor == "" {
		cfg.Monitor = "loss"
	}
	if cfg.Factor == 0 {
		cfg.Factor = DefaultDivergenceFactor
	}
	switch {
	case math.IsNaN(cfg.Factor) || math.IsInf(cfg.Factor, 0) || (cfg.Factor > 0 && cfg.Factor <= 1):
		return nil, errors.Errorf("terminate-on-divergence: Factor must be above 1 (or negative: off), got %v", cfg.Factor)
	case math.IsNaN(cfg.Max) || math.IsInf(cfg.Max, 0) || cfg.Max < 0:
		return nil, errors.Errorf("terminate-on-divergence: Max must be finite and not negative, got %v", cfg.Max)
	case cfg.Factor < 0 && cfg.Max == 0:
		return nil, errors.New("terminate-on-divergence: with the relative check off (negative Factor), Max must be set")
	}
	return &TerminateOnDivergence{cfg: cfg, ref: math.NaN()}, nil
}

// Name returns "terminate-on-divergence".
func (d *TerminateOnDivergence) Name() string { return "terminate-on-divergence" }

// OnTrainBegin forgets the reference of an earlier run.
func (d *TerminateOnDivergence) OnTrainBegin(*graph.Context) error {
	d.ref = math.NaN()
	return nil
}

// OnBatchEnd records the first batch's loss as the reference.
func (d *TerminateOnDivergence) OnBatchEnd(c *graph.Context) error {
	if math.IsNaN(d.ref) {
		d.ref = c.Loss
	}
	return nil
}

// OnEpochEnd checks the monitored value.
func (d *TerminateOnDivergence) OnEpochEnd(c *graph.Context) error {
	v, ok := c.Logs[d.cfg.Monitor]
	if !ok {
		return errors.Errorf("monitored value %q is not in the logs", d.cfg.Monitor)
	}
	var msg string
	switch {
	case d.cfg.Max > 0 && !(v <= d.cfg.Max):
		msg = fmt.Sprintf("%s is %.4g at the end of epoch %d, above the bound %g", d.cfg.Monitor, v, c.Epoch, d.cfg.Max)
	case d.cfg.Factor > 0 && !math.IsNaN(d.ref) && !(v <= d.cfg.Factor*d.ref):
		msg = fmt.Sprintf("%s is %.4g at the end of epoch %d, more than %g times the first batch's %.4g",
			d.cfg.Monitor, v, c.Epoch, d.cfg.Factor, d.ref)
	default:
		return nil
	}
	if d.cfg.Stop {
		c.StopTraining(msg + ": " + ErrDiverged.Error())
		return nil
	}
	return errors.WithMessage(ErrDiverged, msg)
}
