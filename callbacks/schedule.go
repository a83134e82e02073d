package callbacks

import (
	"math"

	"github.com/pkg/errors"
)

// Anneal is how the update fraction ζ of a rewiring callback changes over
// its schedule.
type Anneal string

const (
	// AnnealConstant keeps ζ_t = ζ0 (default).
	AnnealConstant Anneal = "constant"
	// AnnealCosine decays ζ_t = ζ0·(1 + cos(π·t/T))/2, as RigL does.
	AnnealCosine Anneal = "cosine"
	// AnnealLinear decays ζ_t = ζ0·(1 − t/T).
	AnnealLinear Anneal = "linear"
)

func checkAnneal(a Anneal) (Anneal, error) {
	switch a {
	case "":
		return AnnealConstant, nil
	case AnnealConstant, AnnealCosine, AnnealLinear:
		return a, nil
	}
	return a, errors.Errorf("unknown Anneal %q (want %q, %q or %q)", string(a), AnnealConstant, AnnealCosine, AnnealLinear)
}

// Fraction returns ζ_t for an update t epochs (or steps) after the
// schedule's start, for a schedule of length T (End − Start), starting from
// zeta0. t is clamped to [0, T]; an empty or unknown Anneal is constant.
func (a Anneal) Fraction(zeta0 float64, t, T int) float64 {
	if T <= 0 {
		return zeta0
	}
	x := math.Min(math.Max(float64(t)/float64(T), 0), 1)
	switch a {
	case AnnealCosine:
		return zeta0 * (1 + math.Cos(math.Pi*x)) / 2
	case AnnealLinear:
		return zeta0 * (1 - x)
	}
	return zeta0
}

// rewireSchedule says when a rewiring callback updates: at every epoch (or
// step) `at` with start <= at < end and (at − start) divisible by every.
type rewireSchedule struct {
	steps             bool
	every, start, end int
}

// due reports whether an update happens at at.
func (s rewireSchedule) due(at int) bool {
	return at >= s.start && at < s.end && (at-s.start)%s.every == 0
}

// next returns the first update at or after at, or -1 if there is none.
func (s rewireSchedule) next(at int) int {
	n := s.start
	if at > s.start {
		n = s.start + (at-s.start+s.every-1)/s.every*s.every
	}
	if n >= s.end {
		return -1
	}
	return n
}

// checkWindow validates Every, Start and End of a schedule.
func checkWindow(every, start, end int) error {
	switch {
	case every < 0:
		return errors.Errorf("Every must be >= 0, got %d", every)
	case start < 0:
		return errors.Errorf("Start must be >= 0, got %d", start)
	case end < 0:
		return errors.Errorf("End must be >= 0, got %d", end)
	case end != 0 && end <= start:
		return errors.Errorf("End (%d) must be greater than Start (%d), or 0 for the end of training", end, start)
	}
	return nil
}

// checkZeta validates an update fraction; zero is allowed when allowZero.
func checkZeta(z float64, allowZero bool) error {
	if allowZero && z == 0 {
		return nil
	}
	if !(z > 0 && z < 1) {
		return errors.Errorf("Zeta must be in (0, 1), got %v", z)
	}
	return nil
}
