package optim

import (
	"math"

	"github.com/pkg/errors"
)

// Schedule gives the learning rate as a multiple of the base learning rate.
type Schedule interface {
	// Factor returns the multiplier of the base learning rate for the
	// 0-based step about to be taken. It must be safe to call repeatedly and
	// must not depend on call order.
	Factor(step int) float64
}

type constant struct{}

func (constant) Factor(int) float64 { return 1 }

// Constant returns the schedule whose factor is always 1.
func Constant() Schedule { return constant{} }

type stepDecay struct {
	every int
	gamma float64
}

func (s stepDecay) Factor(step int) float64 {
	if step < 0 {
		step = 0
	}
	return math.Pow(s.gamma, float64(step/s.every))
}

// StepDecay returns the schedule that multiplies the factor by gamma every
// `every` steps: Factor(step) = gamma^(step/every), with integer division
// (like torch.optim.lr_scheduler.StepLR). every must be > 0 and gamma > 0 and
// finite.
func StepDecay(every int, gamma float64) (Schedule, error) {
	if every <= 0 {
		return nil, errors.Errorf("optim: StepDecay: every must be > 0, got %d", every)
	}
	if !(gamma > 0) || math.IsInf(gamma, 0) {
		return nil, errors.Errorf("optim: StepDecay: gamma must be > 0 and finite, got %v", gamma)
	}
	return stepDecay{every: every, gamma: gamma}, nil
}

// warmup returns the linear warm-up factor (step+1)/warmupSteps and whether
// step is inside the warm-up.
func warmup(step, warmupSteps int) (float64, bool) {
	if step < warmupSteps {
		return float64(step+1) / float64(warmupSteps), true
	}
	return 0, false
}

func checkDecay(name string, warmupSteps, totalSteps int, endFactor float64, endName string) error {
	if warmupSteps < 0 {
		return errors.Errorf("optim: %s: warmupSteps must be >= 0, got %d", name, warmupSteps)
	}
	if totalSteps <= warmupSteps {
		return errors.Errorf("optim: %s: totalSteps must be > warmupSteps (%d), got %d", name, warmupSteps, totalSteps)
	}
	if !(endFactor >= 0 && endFactor <= 1) {
		return errors.Errorf("optim: %s: %s must be in [0, 1], got %v", name, endName, endFactor)
	}
	return nil
}

// decay is a linear warm-up followed by a decay from factor 1 at step
// warmup to end at step total, constant after; shape maps the progress in
// [0, 1] to the fraction of the way from 1 to end.
type decay struct {
	warmup, total int
	end           float64
	shape         func(progress float64) float64
}

func (s decay) Factor(step int) float64 {
	if step < 0 {
		step = 0
	}
	if f, ok := warmup(step, s.warmup); ok {
		return f
	}
	if step >= s.total {
		return s.end
	}
	progress := float64(step-s.warmup) / float64(s.total-s.warmup)
	return 1 + (s.end-1)*s.shape(progress)
}

// Cosine returns a schedule with a linear warm-up followed by a cosine decay.
// For step < warmupSteps the factor is (step+1)/warmupSteps, reaching 1 at
// the last warm-up step; from step warmupSteps (factor 1) it follows half a
// cosine down to minFactor at step totalSteps, and stays at minFactor after.
// warmupSteps must be >= 0, totalSteps > warmupSteps and minFactor in [0, 1].
func Cosine(warmupSteps, totalSteps int, minFactor float64) (Schedule, error) {
	if err := checkDecay("Cosine", warmupSteps, totalSteps, minFactor, "minFactor"); err != nil {
		return nil, err
	}
	shape := func(p float64) float64 { return (1 - math.Cos(math.Pi*p)) / 2 }
	return decay{warmup: warmupSteps, total: totalSteps, end: minFactor, shape: shape}, nil
}

// Linear returns a schedule with the same linear warm-up as Cosine followed
// by a straight line from factor 1 at step warmupSteps to endFactor at step
// totalSteps, constant after. warmupSteps must be >= 0,
// totalSteps > warmupSteps and endFactor in [0, 1].
func Linear(warmupSteps, totalSteps int, endFactor float64) (Schedule, error) {
	if err := checkDecay("Linear", warmupSteps, totalSteps, endFactor, "endFactor"); err != nil {
		return nil, err
	}
	return decay{warmup: warmupSteps, total: totalSteps, end: endFactor, shape: func(p float64) float64 { return p }}, nil
}
