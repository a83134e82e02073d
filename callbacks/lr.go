package callbacks

import (
	"fmt"
	"io"
	"math"

	"github.com/pkg/errors"

	"github.com/g2g-ml/g2g/graph"
	"github.com/g2g-ml/g2g/optim"
)

// LearningRateScheduler is a callback that sets the optimizer's base
// learning rate at the beginning of every epoch (Optimizer.SetBaseLR), as
// Keras's LearningRateScheduler does. A per-step optim.Schedule of the
// optimizer itself still multiplies the base rate set here.
type LearningRateScheduler struct {
	// BaseCallback supplies the hooks LearningRateScheduler does not use.
	graph.BaseCallback

	f func(epoch int, lr float64) float64
}

// NewLearningRateScheduler returns a scheduler that sets the base learning
// rate to f(epoch, lr) at the beginning of every epoch, where epoch counts
// from 0 and lr is the current base learning rate. A result that is not
// > 0 and finite stops training with an error.
func NewLearningRateScheduler(f func(epoch int, lr float64) float64) (*LearningRateScheduler, error) {
	if f == nil {
		return nil, errors.New("lr-scheduler: nil schedule function")
	}
	return &LearningRateScheduler{f: f}, nil
}

// NewEpochSchedule returns a scheduler that applies one of optim's
// schedules per epoch instead of per step: the base learning rate of epoch
// e is base·s.Factor(e). For example optim.Cosine(0, epochs, 0) decays the
// rate over the run, one value per epoch.
func NewEpochSchedule(base float64, s optim.Schedule) (*LearningRateScheduler, error) {
	if !(base > 0) || math.IsInf(base, 0) {
		return nil, errors.Errorf("lr-scheduler: base must be > 0 and finite, got %v", base)
	}
	if s == nil {
		return nil, errors.New("lr-scheduler: nil schedule")
	}
	return NewLearningRateScheduler(func(epoch int, _ float64) float64 { return base * s.Factor(epoch) })
}

// Name returns "lr-scheduler".
func (l *LearningRateScheduler) Name() string { return "lr-scheduler" }

// OnEpochBegin sets the epoch's base learning rate.
func (l *LearningRateScheduler) OnEpochBegin(c *graph.Context) error {
	if c.Optimizer == nil {
		return errors.New("no optimizer in the context")
	}
	lr := l.f(c.Epoch, baseLR(c.Optimizer))
	if !(lr > 0) || math.IsInf(lr, 0) {
		return errors.Errorf("the schedule gave learning rate %v for epoch %d; want > 0 and finite", lr, c.Epoch)
	}
	c.Optimizer.SetBaseLR(lr)
	return nil
}

// ReduceLROnPlateauConfig configures ReduceLROnPlateau, with Keras's names.
type ReduceLROnPlateauConfig struct {
	// Monitor is the Logs entry watched at every epoch end (default
	// DefaultMonitor, "val_loss"). A missing entry is an error.
	Monitor string
	// Mode says which direction improves (default ModeAuto).
	Mode Mode
	// Factor multiplies the learning rate at each reduction, in (0, 1)
	// (default 0.1).
	Factor float64
	// Patience is the number of epochs without improvement before a
	// reduction; 0 reduces at every epoch without improvement.
	Patience int
	// MinDelta is the smallest change that counts as an improvement (>= 0).
	MinDelta float64
	// Cooldown is the number of epochs after a reduction during which
	// epochs without improvement are not counted. (Keras counts the last
	// epoch of the cooldown already, so its Cooldown 1 has no effect.)
	Cooldown int
	// MinLR is the floor of the learning rate (>= 0).
	MinLR float64
	// Log, when non-nil, receives a line at every reduction.
	Log io.Writer
}

// ReduceLROnPlateau is a callback that multiplies the optimizer's base
// learning rate by Factor when a monitored value has stopped improving for
// Patience epochs (at epoch end, so the next epoch uses the new rate).
type ReduceLROnPlateau struct {
	// BaseCallback supplies the hooks ReduceLROnPlateau does not use.
	graph.BaseCallback

	cfg      ReduceLROnPlateauConfig
	mon      monitor
	wait     int
	cooldown int
}

// NewReduceLROnPlateau validates cfg and returns the callback.
func NewReduceLROnPlateau(cfg ReduceLROnPlateauConfig) (*ReduceLROnPlateau, error) {
	fail := func(format string, args ...interface{}) (*ReduceLROnPlateau, error) {
		return nil, errors.Errorf("reduce-lr-on-plateau: "+format, args...)
	}
	if cfg.Factor == 0 {
		cfg.Factor = 0.1
	}
	switch {
	case !(cfg.Factor > 0 && cfg.Factor < 1):
		return fail("Factor must be in (0, 1), got %v", cfg.Factor)
	case cfg.Patience < 0:
		return fail("Patience must be >= 0, got %d", cfg.Patience)
	case cfg.Cooldown < 0:
		return fail("Cooldown must be >= 0, got %d", cfg.Cooldown)
	case !(cfg.MinLR >= 0) || math.IsInf(cfg.MinLR, 0):
		return fail("MinLR must be >= 0 and finite, got %v", cfg.MinLR)
	}
	mon, err := newMonitor(cfg.Monitor, cfg.Mode, cfg.MinDelta)
	if err != nil {
		return nil, errors.Wrap(err, "reduce-lr-on-plateau")
	}
	cfg.Monitor = mon.key
	return &ReduceLROnPlateau{cfg: cfg, mon: mon}, nil
}

// Name returns "reduce-lr-on-plateau".
func (r *ReduceLROnPlateau) Name() string { return "reduce-lr-on-plateau" }

// OnTrainBegin resets the callback, checks the monitored entry and
// resolves ModeAuto.
func (r *ReduceLROnPlateau) OnTrainBegin(c *graph.Context) error {
	if err := r.mon.begin(c); err != nil {
		return errors.Wrap(err, "reduce-lr-on-plateau")
	}
	r.wait, r.cooldown = 0, 0
	return nil
}

// OnEpochEnd updates the plateau counters and reduces the rate when due.
func (r *ReduceLROnPlateau) OnEpochEnd(c *graph.Context) error {
	v, err := r.mon.value(c.Logs)
	if err != nil {
		return err
	}
	if c.Optimizer == nil {
		return errors.New("no optimizer in the context")
	}
	cooling := r.cooldown > 0
	if cooling {
		r.cooldown--
		r.wait = 0
	}
	if r.mon.improves(v) {
		r.mon.best, r.wait = v, 0
		return nil
	}
	if cooling {
		return nil
	}
	r.wait++
	if r.wait < r.cfg.Patience {
		return nil
	}
	old := baseLR(c.Optimizer)
	if old <= r.cfg.MinLR {
		return nil
	}
	lr := math.Max(old*r.cfg.Factor, r.cfg.MinLR)
	c.Optimizer.SetBaseLR(lr)
	r.cooldown, r.wait = r.cfg.Cooldown, 0
	if r.cfg.Log != nil {
		if _, err := fmt.Fprintf(r.cfg.Log, "reduce-lr-on-plateau: epoch %d: %s did not improve on %.6g; learning rate %g -> %g\n",
			c.Epoch+1, r.cfg.Monitor, r.mon.best, old, lr); err != nil {
			return errors.Wrap(err, "write")
		}
	}
	return nil
}
