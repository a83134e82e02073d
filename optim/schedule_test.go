package optim_test

import (
	"math"
	"testing"

	"github.com/g2g-ml/g2g/optim"
)

func factors(t *testing.T, s optim.Schedule, want map[int]float64) {
	t.Helper()
	for step, w := range want {
		if got := s.Factor(step); math.Abs(got-w) > 1e-12 {
			t.Errorf("Factor(%d) = %.15g, want %.15g", step, got, w)
		}
	}
}

func TestCosine(t *testing.T) {
	// 10 warm-up steps, cosine over steps 10..110 down to 0.1.
	factors(t, must(optim.Cosine(10, 110, 0.1)), map[int]float64{
		0:   0.1,                         // (0+1)/10
		4:   0.5,                         // (4+1)/10
		9:   1,                           // last warm-up step: (9+1)/10
		10:  1,                           // decay starts at 1: 0.1 + 0.9*0.5*(1+cos 0)
		35:  0.1 + 0.45*(1+math.Sqrt2/2), // a quarter of the way: cos(π/4)
		60:  0.55,                        // half-way: 0.1 + 0.9*0.5*(1+cos π/2)
		110: 0.1,                         // end: 0.1 + 0.9*0.5*(1+cos π)
		111: 0.1,
		1e6: 0.1,
	})
	// Without warm-up the decay starts at step 0.
	factors(t, must(optim.Cosine(0, 100, 0)), map[int]float64{0: 1, 50: 0.5, 100: 0, 200: 0})
}

func TestStepDecay(t *testing.T) {
	factors(t, must(optim.StepDecay(3, 0.5)), map[int]float64{
		0: 1, 1: 1, 2: 1, // 0.5^0
		3: 0.5, 5: 0.5, // 0.5^1
		6: 0.25, 30: 1.0 / 1024, // 0.5^2, 0.5^10
	})
}

func TestLinear(t *testing.T) {
	factors(t, must(optim.Linear(4, 14, 0)), map[int]float64{
		0: 0.25, 3: 1, // warm-up (step+1)/4
		4: 1, 9: 0.5, 14: 0, 20: 0, // 1 -> 0 over steps 4..14
	})
}

func TestConstant(t *testing.T) {
	factors(t, optim.Constant(), map[int]float64{0: 1, 1: 1, 1 << 30: 1})
}
