package callbacks

import "github.com/pkg/errors"

// ParseCriterion converts a name ("magnitude", "random", "gradient",
// "hebbian") to a Criterion. Which criteria a callback accepts for pruning
// or regrowth is checked when it is built (gradient regrows only).
func ParseCriterion(s string) (Criterion, error) {
	switch c := Criterion(s); c {
	case CriterionMagnitude, CriterionRandom, CriterionGradient, CriterionHebbian:
		return c, nil
	}
	return "", errors.Errorf("unknown criterion %q (want %s, %s, %s or %s)", s,
		CriterionMagnitude, CriterionRandom, CriterionGradient, CriterionHebbian)
}

// ParseAnneal converts a name ("constant", "cosine", "linear") to an
// Anneal.
func ParseAnneal(s string) (Anneal, error) {
	a, err := checkAnneal(Anneal(s))
	if err != nil || s == "" {
		return "", errors.Errorf("unknown Anneal %q (want %q, %q or %q)", s, AnnealConstant, AnnealCosine, AnnealLinear)
	}
	return a, nil
}

// ParseScope converts a name ("anywhere", "class") to a Scope.
func ParseScope(s string) (Scope, error) {
	sc, err := checkScope(Scope(s))
	if err != nil || s == "" {
		return "", errors.Errorf("unknown Scope %q (want %q or %q)", s, ScopeAnywhere, ScopeClass)
	}
	return sc, nil
}

// ParseGrowInit converts a name ("zero", "init", "sign") to a GrowInit.
// Which ones a callback accepts is checked when it is built (sign is
// Hebbian's only).
func ParseGrowInit(s string) (GrowInit, error) {
	switch g := GrowInit(s); g {
	case GrowZero, GrowInitial, GrowSign:
		return g, nil
	}
	return "", errors.Errorf("unknown GrowInit %q (want %s, %s or %s)", s, GrowZero, GrowInitial, GrowSign)
}

// ParseMeasure converts a name ("pearson", "cosine") to a Measure.
func ParseMeasure(s string) (Measure, error) {
	switch m := Measure(s); m {
	case MeasurePearson, MeasureCosine:
		return m, nil
	}
	return "", errors.Errorf("unknown Measure %q (want %q or %q)", s, MeasurePearson, MeasureCosine)
}
