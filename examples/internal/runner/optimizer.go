package runner

import (
	"math"
	"strconv"
	"strings"

	"github.com/pkg/errors"

	"github.com/g2g-ml/g2g/callbacks"
	"github.com/g2g-ml/g2g/graph"
	"github.com/g2g-ml/g2g/optim"
)

// LRSchedule names a per-epoch learning-rate schedule (the -lr-schedule
// flag): "" for a constant rate (what "constant" parses to, so that
// configurations without a schedule store nothing), "cosine", "linear",
// or "step:EVERY:GAMMA".
type LRSchedule string

// The learning-rate schedules.
const (
	// LRConstant keeps the rate at -lr.
	LRConstant LRSchedule = ""
	// LRCosine decays the rate of epoch e (from 0) to lr·(1 + cos(π·e/E))/2
	// over the E epochs of the run, as torch's CosineAnnealingLR(T_max=E)
	// stepped once per epoch does.
	LRCosine LRSchedule = "cosine"
	// LRLinear decays it to lr·(1 − e/E).
	LRLinear LRSchedule = "linear"
)

// lrScheduleHelp lists the schedules ParseLRSchedule accepts.
const lrScheduleHelp = "want constant, cosine, linear or step:EVERY:GAMMA, e.g. step:10:0.5"

// ParseLRSchedule converts a name to an LRSchedule: constant (stored as
// ""), cosine, linear, or step:EVERY:GAMMA (the rate multiplied by GAMMA
// every EVERY epochs, as torch's StepLR; EVERY ≥ 1, GAMMA > 0).
func ParseLRSchedule(s string) (LRSchedule, error) {
	switch s {
	case "constant", "":
		return LRConstant, nil
	case string(LRCosine), string(LRLinear):
		return LRSchedule(s), nil
	}
	if _, _, err := stepArgs(s); err != nil {
		return "", err
	}
	return LRSchedule(s), nil
}

// stepArgs parses step:EVERY:GAMMA.
func stepArgs(s string) (int, float64, error) {
	parts := strings.Split(s, ":")
	if len(parts) != 3 || parts[0] != "step" {
		return 0, 0, errors.Errorf("unknown learning-rate schedule %q (%s)", s, lrScheduleHelp)
	}
	every, err := strconv.Atoi(parts[1])
	if err != nil || every < 1 {
		return 0, 0, errors.Errorf("learning-rate schedule %q: EVERY must be a whole number of epochs ≥ 1", s)
	}
	gamma, err := strconv.ParseFloat(parts[2], 64)
	if err != nil || !(gamma > 0) || math.IsInf(gamma, 0) {
		return 0, 0, errors.Errorf("learning-rate schedule %q: GAMMA must be a number > 0", s)
	}
	return every, gamma, nil
}

// Schedule returns the per-epoch optim.Schedule of s for a run of epochs
// epochs (Factor(e) multiplies the rate of epoch e), or nil for a constant
// rate.
func (s LRSchedule) Schedule(epochs int) (optim.Schedule, error) {
	switch s {
	case LRConstant:
		return nil, nil
	case LRCosine:
		return optim.Cosine(0, epochs, 0)
	case LRLinear:
		return optim.Linear(0, epochs, 0)
	}
	every, gamma, err := stepArgs(string(s))
	if err != nil {
		return nil, err
	}
	return optim.StepDecay(every, gamma)
}

// String returns the schedule's name ("constant" for LRConstant).
func (s LRSchedule) String() string {
	if s == LRConstant {
		return "constant"
	}
	return string(s)
}

// NewOptimizer returns the optimizer o asks for: Adam with learning rate
// o.LR and, with o.WeightDecay, coupled L2 weight decay (added to the
// gradient, as torch.optim.Adam's weight_decay) or, with o.Decoupled,
// AdamW's decoupled decay (as torch.optim.AdamW). Biases are exempt from
// the decay (unlike torch's defaults, which decay every parameter).
func NewOptimizer(o *Options) (*optim.Adam, error) {
	cfg := optim.AdamConfig{LR: o.LR, WeightDecay: o.WeightDecay}
	if o.Decoupled {
		return optim.NewAdamW(cfg)
	}
	return optim.NewAdam(cfg)
}

// lrScheduler returns the callback that applies o.LRSchedule once per
// epoch (callbacks.NewEpochSchedule), or nil for a constant rate.
func lrScheduler(o *Options) (graph.Callback, error) {
	s, err := o.LRSchedule.Schedule(o.Epochs)
	if err != nil || s == nil {
		return nil, err
	}
	return callbacks.NewEpochSchedule(o.LR, s)
}

// checkOptimizer checks the optimizer and schedule options, naming the
// flag at fault.
func (o *Options) checkOptimizer() error {
	if _, err := NewOptimizer(o); err != nil {
		if !(o.WeightDecay >= 0) || math.IsInf(o.WeightDecay, 0) {
			return errors.Wrapf(err, "-weight-decay %v", o.WeightDecay)
		}
		return errors.Wrapf(err, "-lr %v", o.LR)
	}
	if o.Decoupled && o.WeightDecay == 0 {
		return errors.New("-decoupled: give a -weight-decay to decouple (it is 0)")
	}
	if _, err := o.LRSchedule.Schedule(o.Epochs); err != nil {
		return errors.Wrapf(err, "-lr-schedule %s", o.LRSchedule)
	}
	return nil
}
