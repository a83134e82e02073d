package optim_test

import (
	"math/rand/v2"
	"testing"

	"github.com/g2g-ml/g2g/optim"
)

// Shared by TestAdam and TestAdamW: lr 0.1, default betas (0.9, 0.999) and
// eps (1e-8), w0 = [1, -1, 0.5], gradients [0.5, -2, 0] then [0.25, 1, 0].
//
// Moments (identical for both, since AdamW's decay does not enter them):
//
//	step 1: m = 0.1*g = [0.05, -0.2, 0]; v = 0.001*g² = [0.00025, 0.004, 0]
//	        bc1 = 0.1, bc2 = 0.001: m̂ = g, v̂ = g², so u = m̂/(sqrt(v̂)+eps)
//	        = [0.5/0.50000001, -2/2.00000001, 0] = [1, -1, 0] up to 2e-8
//	step 2: m = 0.9*m + 0.1*g = [0.045+0.025, -0.18+0.1, 0] = [0.07, -0.08, 0]
//	        v = 0.999*v + 0.001*g² = [0.00024975+0.0000625, 0.003996+0.001, 0]
//	          = [0.00031225, 0.004996, 0]
//	        bc1 = 1-0.81 = 0.19, bc2 = 1-0.998001 = 0.001999
//	        m̂ = [0.07/0.19, -0.08/0.19] = [0.368421053, -0.421052632]
//	        v̂ = [0.00031225/0.001999, 0.004996/0.001999] = [0.156203102, 2.499249625]
//	        sqrt(v̂) = [0.395225381, 1.580901523]
//	        u = [0.932179615, -0.266337038, 0]
//
// The third entry has zero gradient throughout: m = v = 0 and u = 0.
var adamGrads = [][]float32{{0.5, -2, 0}, {0.25, 1, 0}}

func TestAdam(t *testing.T) {
	opt := must(optim.NewAdam(optim.AdamConfig{LR: 0.1}))
	p := optim.Param{Name: "w", Value: []float32{1, -1, 0.5}}
	want := [][]float64{
		// w -= 0.1*u1: [1-0.1, -1+0.1, 0.5]
		{0.9, -0.9, 0.5},
		// w -= 0.1*u2: [0.9-0.0932179615, -0.9+0.0266337038, 0.5]
		{0.8067820385, -0.8733662962, 0.5},
	}
	for i, g := range adamGrads {
		p.Grad = g
		step(t, opt, p)
		near(t, "w", p.Value, want[i])
	}
	s := opt.State().Slots["w"]
	near(t, "m", s[optim.SlotM], []float64{0.07, -0.08, 0})
	near(t, "v", s[optim.SlotV], []float64{0.00031225, 0.004996, 0})
}

func TestAdamW(t *testing.T) {
	opt := must(optim.NewAdamW(optim.AdamConfig{LR: 0.1, WeightDecay: 0.1}))
	p := optim.Param{Name: "w", Value: []float32{1, -1, 0.5}}
	// Before each Adam update, w *= 1 - lr*wd = 0.99.
	want := [][]float64{
		// [0.99-0.1, -0.99+0.1, 0.495]
		{0.89, -0.89, 0.495},
		// [0.99*0.89-0.0932179615, -0.99*0.89+0.0266337038, 0.99*0.495]
		// = [0.8811-0.0932179615, -0.8811+0.0266337038, 0.49005]
		{0.7878820385, -0.8544662962, 0.49005},
	}
	for i, g := range adamGrads {
		p.Grad = g
		step(t, opt, p)
		near(t, "w", p.Value, want[i])
	}
}

func TestAdamCoupledWeightDecay(t *testing.T) {
	// Adam with WeightDecay 0.5 and zero gradient: g = 0.5*w = [1, -1.5],
	// m̂ = g, v̂ = g², so the first step is w -= 0.1*sign(w): [1.9, -2.9].
	// AdamW would give 0.95*w = [1.9, -2.85] instead.
	opt := must(optim.NewAdam(optim.AdamConfig{LR: 0.1, WeightDecay: 0.5}))
	p := optim.Param{Name: "w", Value: []float32{2, -3}, Grad: []float32{0, 0}}
	step(t, opt, p)
	near(t, "w", p.Value, []float64{1.9, -2.9})
	near(t, "m", opt.State().Slots["w"][optim.SlotM], []float64{0.1, -0.15})
}

func TestAdamDefaults(t *testing.T) {
	// Zero Beta1, Beta2, Eps mean the documented defaults: same bits.
	a := must(optim.NewAdam(optim.AdamConfig{LR: 0.01}))
	b := must(optim.NewAdam(optim.AdamConfig{LR: 0.01, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8}))
	pa := optim.Param{Name: "w", Value: []float32{1, 2, 3}}
	pb := optim.Param{Name: "w", Value: []float32{1, 2, 3}}
	for _, g := range [][]float32{{1, -1, 0.5}, {0.1, 0.2, -3}, {2, 0, 0}} {
		pa.Grad, pb.Grad = g, g
		step(t, a, pa)
		step(t, b, pb)
	}
	same(t, "w", pa.Value, pb.Value)
}

func TestStepDoesNotAllocate(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	mk := func(name string, n int) optim.Param {
		p := optim.Param{Name: name, Value: make([]float32, n), Grad: make([]float32, n), Mask: make([]float32, n)}
		for i := range n {
			p.Value[i], p.Grad[i] = rng.Float32(), rng.Float32()-0.5
			if rng.IntN(2) == 0 {
				p.Mask[i] = 1
			}
		}
		return p
	}
	// "c" is stepped with its active indices: its state is packed.
	c := mk("c", 400)
	for i, v := range c.Mask {
		if v != 0 {
			c.Active = append(c.Active, int32(i))
		}
	}
	params := []optim.Param{mk("a", 300), mk("b", 50), c}
	opts := map[string]optim.Optimizer{
		"SGD":   must(optim.NewSGD(optim.SGDConfig{LR: 0.1, Momentum: 0.9, Nesterov: true, WeightDecay: 1e-4, ClipNorm: 1, ClipValue: 0.3})),
		"Adam":  must(optim.NewAdam(optim.AdamConfig{LR: 0.1, WeightDecay: 1e-4, ClipNorm: 1, Schedule: must(optim.Cosine(2, 100, 0))})),
		"AdamW": must(optim.NewAdamW(optim.AdamConfig{LR: 0.1, WeightDecay: 1e-2, ClipValue: 0.1})),
	}
	for name, opt := range opts {
		step(t, opt, params...) // first sight allocates the slots
		allocs := testing.AllocsPerRun(20, func() {
			if err := opt.Step(params); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per Step, want 0", name, allocs)
		}
	}
}

// BenchmarkAdamStep times one Adam step on a 1024x1024 parameter with a
// 25%-dense mask.
func BenchmarkAdamStep(b *testing.B) {
	const n = 1024 * 1024
	rng := rand.New(rand.NewPCG(1, 2))
	p := optim.Param{Name: "w", Value: make([]float32, n), Grad: make([]float32, n), Mask: make([]float32, n)}
	for i := range n {
		p.Value[i] = rng.Float32() - 0.5
		p.Grad[i] = rng.Float32() - 0.5
		if rng.IntN(4) == 0 {
			p.Mask[i] = 1
		}
	}
	opt, err := optim.NewAdam(optim.AdamConfig{LR: 1e-3, WeightDecay: 1e-4})
	if err != nil {
		b.Fatal(err)
	}
	params := []optim.Param{p}
	if err := opt.Step(params); err != nil { // allocate the slots
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := opt.Step(params); err != nil {
			b.Fatal(err)
		}
	}
}
