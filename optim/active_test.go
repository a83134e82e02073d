package optim_test

import (
	"math"
	"math/rand"
	"runtime"
	"testing"

	"github.com/g2g-ml/g2g/optim"
)

// maskedProblem returns n weights with a random mask of about the given
// density, masked weights already zero, and a gradient per step.
func maskedProblem(n int, density float64, seed int64) (w, mask []float32, active []int32, grads func(step int) []float32) {
	rng := rand.New(rand.NewSource(seed))
	w = make([]float32, n)
	mask = make([]float32, n)
	for i := range w {
		if rng.Float64() < density {
			mask[i] = 1
			w[i] = float32(rng.NormFloat64())
			active = append(active, int32(i))
		}
	}
	grads = func(step int) []float32 {
		r := rand.New(rand.NewSource(seed + int64(step)*7919))
		g := make([]float32, n)
		for i := range g {
			g[i] = float32(r.NormFloat64()) // masked entries get gradient too: it must be ignored
		}
		return g
	}
	return w, mask, active, grads
}

// Passing the active indices must give bit-identical weights and state to
// scanning the mask, for every optimizer, also when the mask changes (a new
// Active slice) and when the parameter is large enough to be split between
// goroutines.
func TestActiveIndicesMatchMaskScan(t *testing.T) {
	for _, n := range []int{1000, 1 << 17} {
		for name, mk := range fourOptimizers(t, nil, 0) {
			w0, mask0, active0, grads := maskedProblem(n, 0.3, 5)
			run := func(useActive bool) ([]float32, optim.State) {
				opt := mk()
				w, mask, active := clone(w0), clone(mask0), append([]int32(nil), active0...)
				for s := 0; s < 4; s++ {
					if s == 2 {
						// Rewire: drop the first active entry (its weight is
						// left non-zero, the optimizer must zero it) and add
						// an inactive one.
						mask[active[0]] = 0
						for i := range mask {
							if mask[i] == 0 && int32(i) != active[0] {
								mask[i] = 1
								break
							}
						}
						active = active[:0:0]
						for i, v := range mask {
							if v != 0 {
								active = append(active, int32(i))
							}
						}
					}
					p := optim.Param{Name: "w", Value: w, Grad: grads(s), Mask: mask}
					if useActive {
						p.Active = active
					}
					step(t, opt, p)
				}
				return w, opt.State()
			}
			wa, sa := run(true)
			wm, sm := run(false)
			same(t, name+": weights", wa, wm)
			sameState(t, sa, sm)
		}
	}
}

// The split between goroutines must not change any number.
func TestParallelStepIsDeterministic(t *testing.T) {
	w0, mask0, active, grads := maskedProblem(1<<17, 0.5, 6)
	run := func(procs int) []float32 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		opt := must(optim.NewAdam(optim.AdamConfig{LR: 1e-2}))
		w := clone(w0)
		for s := 0; s < 3; s++ {
			step(t, opt, optim.Param{Name: "w", Value: w, Grad: grads(s), Mask: mask0, Active: active})
		}
		return w
	}
	same(t, "weights, 1 vs 4 threads", run(1), run(4))
}

func TestBadActiveIsAnError(t *testing.T) {
	w := []float32{1, 0, 2, 3}
	mask := []float32{1, 0, 1, 1}
	g := []float32{1, 1, 1, 1}
	for what, active := range map[string][]int32{
		"masked entry": {0, 1, 2},
		"out of range": {0, 2, 4},
		"descending":   {2, 0},
		"repeated":     {0, 0},
	} {
		opt := must(optim.NewAdam(optim.AdamConfig{LR: 0.1}))
		before := clone(w)
		err := opt.Step([]optim.Param{{Name: "w", Value: w, Grad: g, Mask: mask, Active: active}})
		wantErr(t, what, err, `"w"`, "Active")
		same(t, what+": weights after a failed step", w, before)
	}
	opt := must(optim.NewSGD(optim.SGDConfig{LR: 0.1}))
	wantErr(t, "Active without Mask", opt.Step([]optim.Param{{Name: "w", Value: w, Grad: g, Active: []int32{0}}}), "Active without Mask")
}

// Tiny gradients must not leave subnormal numbers in the optimizer state
// (they make x86 arithmetic about 15 times slower), and the weights must
// still move as the unflushed update would, to float32 rounding.
func TestNoSubnormalState(t *testing.T) {
	for name, mk := range fourOptimizers(t, nil, 0) {
		w := []float32{0.5, -0.5, 0.25, 1}
		g := []float32{1e-20, -1e-25, 1e-3, 0}
		opt := mk()
		for s := 0; s < 2000; s++ {
			if s == 1 {
				g[2] = 0 // from now on its moments only decay
			}
			step(t, opt, optim.Param{Name: "w", Value: w, Grad: g})
		}
		for slot, vals := range opt.State().Slots["w"] {
			for _, v := range vals {
				if v != 0 && math.Abs(float64(v)) < 1.1754944e-38 {
					t.Fatalf("%s: subnormal %g in slot %s", name, v, slot)
				}
			}
		}
	}
}

func BenchmarkAdamTinyGradients(b *testing.B) {
	n := 1 << 20
	w, g := make([]float32, n), make([]float32, n)
	for i := range g {
		g[i], w[i] = 1e-20, 0.01
	}
	opt := must(optim.NewAdam(optim.AdamConfig{LR: 1e-3}))
	p := []optim.Param{{Name: "w", Value: w, Grad: g}}
	for i := 0; i < b.N; i++ {
		opt.Step(p)
	}
}
