package layers

import "github.com/pkg/errors"

// ParseSampling converts a name ("bernoulli", "exact", "blocks") to a
// Sampling.
func ParseSampling(s string) (Sampling, error) {
	switch m := Sampling(s); m {
	case SampleBernoulli, SampleExact, SampleBlocks:
		return m, nil
	}
	return "", errors.Errorf("unknown sampling %q (want bernoulli, exact or blocks)", s)
}
