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

// Schedule says when a scheduled rewiring updates and how much each update
// changes (docs/design.md §3): the "when and how much" of RigL, kept apart from
// the criteria that choose the edges (ScoreFunc, Rewirer) and from the
// callback that runs both during training (Rewiring).
//
// Updates happen at the end of the epochs (or, with EverySteps, of the
// optimizer steps) at with Start <= at < End and (at − Start) divisible by
// Every (EverySteps). The update at at replaces, in each layer,
// k = round(ζ_t·active) edges, ζ_t = Anneal.Fraction(Zeta, at − Start,
// End − Start).
type Schedule struct {
	// Every runs an update at the end of every Every-th epoch (default 1).
	Every int
	// EverySteps, when > 0, runs updates every EverySteps optimizer steps
	// (at the batch end) instead of at epoch ends; Start and End then count
	// steps since the beginning of training, Epoch·Batches + Batch + 1
	// (which, unlike Context.Step, does not depend on a resumed run setting
	// FitConfig.InitialStep). Setting both Every and EverySteps is an error.
	EverySteps int
	// Start is the first epoch (or step) at whose end an update may happen
	// (default 0). End is the first one at which none happens any more; 0
	// means the end of training, filled in by Resolve when training begins:
	// the last epoch (so no update follows the last epoch, whose freshly
	// pruned weights would get no training), or the total step count.
	Start, End int
	// Zeta is ζ0, the fraction of each layer's active edges replaced per
	// update, in (0, 1). Zero disables the updates: a Rewiring with it
	// still calls its Gather hook but never rewires nor writes logs (a
	// source of statistics only).
	Zeta float64
	// Anneal is how ζ_t decays from Zeta with t = at − Start over
	// T = End − Start (default AnnealConstant).
	Anneal Anneal
}

// check validates s and returns it with the defaults filled in.
func (s Schedule) check() (Schedule, error) {
	var err error
	if s.Every != 0 && s.EverySteps != 0 {
		return s, errors.New("set only one of Every (epochs) and EverySteps")
	}
	if s.EverySteps < 0 {
		return s, errors.Errorf("EverySteps must be >= 0, got %d", s.EverySteps)
	}
	switch {
	case s.Every < 0:
		return s, errors.Errorf("Every must be >= 0, got %d", s.Every)
	case s.Start < 0:
		return s, errors.Errorf("Start must be >= 0, got %d", s.Start)
	case s.End < 0:
		return s, errors.Errorf("End must be >= 0, got %d", s.End)
	case s.End != 0 && s.End <= s.Start:
		return s, errors.Errorf("End (%d) must be greater than Start (%d), or 0 for the end of training", s.End, s.Start)
	}
	if err := checkZeta(s.Zeta, true); err != nil {
		return s, err
	}
	if s.Anneal, err = checkAnneal(s.Anneal); err != nil {
		return s, err
	}
	return s, nil
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

// Steps reports whether the schedule counts optimizer steps (EverySteps >
// 0) rather than epochs.
func (s Schedule) Steps() bool { return s.EverySteps > 0 }

// period is the distance between two updates, in epochs or steps.
func (s Schedule) period() int {
	if s.Steps() {
		return s.EverySteps
	}
	return max(s.Every, 1)
}

// Resolve returns s with End 0 replaced by the end of a training of epochs
// epochs of batches batches each: epochs − 1, or epochs·batches in step
// mode. Rewiring resolves its schedule when training begins.
func (s Schedule) Resolve(epochs, batches int) Schedule {
	if s.End == 0 {
		s.End = epochs - 1
		if s.Steps() {
			s.End = epochs * batches
		}
	}
	return s
}

// Due reports whether an update happens at the end of epoch (or step) at.
// End is read as given: resolve a schedule whose End is 0 first, or it is
// never due.
func (s Schedule) Due(at int) bool {
	return at >= s.Start && at < s.End && (at-s.Start)%s.period() == 0
}

// Next returns the first epoch (or step) at or after at with an update, or
// −1 if there is none before End.
func (s Schedule) Next(at int) int {
	every := s.period()
	n := s.Start
	if at > s.Start {
		n = s.Start + (at-s.Start+every-1)/every*every
	}
	if n >= s.End {
		return -1
	}
	return n
}

// ZetaAt returns the update fraction ζ_t of an update at epoch (or step) at
// (Zeta itself while End is 0).
func (s Schedule) ZetaAt(at int) float64 {
	return s.Anneal.Fraction(s.Zeta, at-s.Start, s.End-s.Start)
}

// K returns the number of edges an update at at replaces in a layer with
// active edges: round(ζ_t·active).
func (s Schedule) K(at, active int) int {
	return int(math.Round(s.ZetaAt(at) * float64(active)))
}
