package layers

import (
	"math"
	"math/rand"

	"github.com/pkg/errors"
)

// Initializer names a weight initialization scheme.
type Initializer string

// The supported initializers.
const (
	// HeUniform draws from U(-b, b) with b = sqrt(6 / fan_in) (Kaiming
	// uniform with ReLU gain); the default, suited to ReLU networks.
	HeUniform Initializer = "he_uniform"
	// GlorotUniform draws from U(-b, b) with b = sqrt(6 / (fan_in + fan_out)).
	GlorotUniform Initializer = "glorot_uniform"
)

// Bound returns the half-width of the uniform distribution for the given fan.
func (ini Initializer) Bound(fanIn, fanOut int) (float64, error) {
	switch ini {
	case "", HeUniform:
		return math.Sqrt(6 / float64(fanIn)), nil
	case GlorotUniform:
		return math.Sqrt(6 / float64(fanIn+fanOut)), nil
	}
	return 0, errors.Errorf("unknown initializer %q (want he_uniform or glorot_uniform)", string(ini))
}

func uniform(rng *rand.Rand, bound float64) float32 {
	return float32((2*rng.Float64() - 1) * bound)
}
