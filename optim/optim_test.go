package optim_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/g2g-ml/g2g/optim"
)

// fourOptimizers builds fresh SGD-momentum, SGD-Nesterov, Adam and AdamW
// optimizers, all with weight decay.
func fourOptimizers(t *testing.T, sched optim.Schedule, clipNorm float64) map[string]func() optim.Optimizer {
	t.Helper()
	return map[string]func() optim.Optimizer{
		"momentum": func() optim.Optimizer {
			return must(optim.NewSGD(optim.SGDConfig{LR: 0.05, Momentum: 0.9, WeightDecay: 0.01, ClipNorm: clipNorm, Schedule: sched}))
		},
		"nesterov": func() optim.Optimizer {
			return must(optim.NewSGD(optim.SGDConfig{LR: 0.05, Momentum: 0.9, Nesterov: true, WeightDecay: 0.01, ClipNorm: clipNorm, Schedule: sched}))
		},
		"adam": func() optim.Optimizer {
			return must(optim.NewAdam(optim.AdamConfig{LR: 0.01, WeightDecay: 0.01, ClipNorm: clipNorm, Schedule: sched}))
		},
		"adamw": func() optim.Optimizer {
			return must(optim.NewAdamW(optim.AdamConfig{LR: 0.01, WeightDecay: 0.1, ClipNorm: clipNorm, Schedule: sched}))
		},
	}
}

func TestMaskedEntriesStayExactlyZero(t *testing.T) {
	const n, steps = 64, 200
	for name, mk := range fourOptimizers(t, nil, 0) {
		t.Run(name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(7, 8))
			w := optim.Param{Name: "w", Value: make([]float32, n), Grad: make([]float32, n), Mask: make([]float32, n)}
			for i := range n {
				w.Value[i] = float32(rng.NormFloat64()) // nonzero at masked positions too
				w.Mask[i] = 1
			}
			bias := optim.Param{Name: "b", Value: []float32{0.5, -0.5}, Grad: make([]float32, 2)}
			opt := mk()
			for k := range steps {
				if k == 20 {
					// Prune a third of the entries after 20 dense steps, so
					// their weights and state slots are nonzero when the
					// mask drops them.
					for i := range n {
						if i%3 == 0 {
							w.Mask[i] = 0
						}
					}
				}
				if k == 21 {
					// One step after pruning, the pruned entries are
					// already exactly zero.
					for i := range n {
						if w.Mask[i] == 0 && w.Value[i] != 0 {
							t.Fatalf("w[%d] = %g one step after pruning, want 0", i, w.Value[i])
						}
					}
				}
				for i := range w.Grad {
					w.Grad[i] = float32(rng.NormFloat64()) + 0.1 // nonzero at masked positions
				}
				bias.Grad[0], bias.Grad[1] = float32(rng.NormFloat64()), float32(rng.NormFloat64())
				step(t, opt, w, bias)
			}
			slots := opt.State().Slots["w"]
			if len(slots) == 0 {
				t.Fatal("no state slots")
			}
			moved := 0
			for i := range n {
				if w.Mask[i] == 0 {
					if w.Value[i] != 0 {
						t.Errorf("masked w[%d] = %g, want exactly 0", i, w.Value[i])
					}
					for sn, s := range slots {
						if s[i] != 0 {
							t.Errorf("masked slot %s[%d] = %g, want exactly 0", sn, i, s[i])
						}
					}
					continue
				}
				if math.IsNaN(float64(w.Value[i])) || math.IsInf(float64(w.Value[i]), 0) {
					t.Fatalf("w[%d] = %g", i, w.Value[i])
				}
				if w.Value[i] != 0 {
					moved++
				}
				for sn, s := range slots {
					if s[i] == 0 {
						t.Errorf("live slot %s[%d] is 0: the mask froze a live entry", sn, i)
					}
				}
			}
			if moved == 0 {
				t.Error("every live weight is zero")
			}
		})
	}
}

func TestClipNormMatchesPrescaledGradients(t *testing.T) {
	// Two params; global norm over the live entries is sqrt(6²+8²) = 10.
	// The masked entry's 1000 must not count.
	params := func(g1, g2 []float32) []optim.Param {
		return []optim.Param{
			{Name: "a", Value: []float32{1, 2}, Grad: g1},
			{Name: "b", Value: []float32{3, 4, 5}, Grad: g2, Mask: []float32{1, 1, 0}},
		}
	}
	ga, gb := []float32{6, 0}, []float32{0, 8, 1000}
	clipped := params(ga, gb)
	step(t, must(optim.NewSGD(optim.SGDConfig{LR: 0.5, ClipNorm: 1})), clipped...)

	ref := params([]float32{0.6, 0}, []float32{0, 0.8, 1000})
	step(t, must(optim.NewSGD(optim.SGDConfig{LR: 0.5})), ref...)

	// w -= 0.5*0.1*g: a = [1-0.3, 2], b = [3, 4-0.4, 0 (masked)]
	near(t, "a", clipped[0].Value, []float64{0.7, 2})
	near(t, "b", clipped[1].Value, []float64{3, 3.6, 0})
	near(t, "a vs prescaled", clipped[0].Value, []float64{float64(ref[0].Value[0]), float64(ref[0].Value[1])})
	near(t, "b vs prescaled", clipped[1].Value, []float64{float64(ref[1].Value[0]), float64(ref[1].Value[1]), float64(ref[1].Value[2])})
	same(t, "caller's grad a", ga, []float32{6, 0})
	same(t, "caller's grad b", gb, []float32{0, 8, 1000})

	// Below the threshold nothing is scaled: bit-identical to no clipping.
	loose := params([]float32{6, 0}, []float32{0, 8, 1000})
	step(t, must(optim.NewSGD(optim.SGDConfig{LR: 0.5, ClipNorm: 100})), loose...)
	plain := params([]float32{6, 0}, []float32{0, 8, 1000})
	step(t, must(optim.NewSGD(optim.SGDConfig{LR: 0.5})), plain...)
	same(t, "a, loose clip", loose[0].Value, plain[0].Value)
	same(t, "b, loose clip", loose[1].Value, plain[1].Value)
}

func TestClipValue(t *testing.T) {
	g := []float32{-5, 0.3, 5, -1}
	p := optim.Param{Name: "w", Value: make([]float32, 4), Grad: g}
	step(t, must(optim.NewSGD(optim.SGDConfig{LR: 1, ClipValue: 1})), p)
	// w = 0 - clamp(g, -1, 1) = -[-1, 0.3, 1, -1]
	near(t, "w", p.Value, []float64{1, -0.3, -1, 1})
	same(t, "caller's grad", g, []float32{-5, 0.3, 5, -1})

	// ClipValue applies first, then ClipNorm: [5, 5] -> [1, 1] (norm √2)
	// -> [1, 1]/√2; w = -[0.70710678, 0.70710678].
	p = optim.Param{Name: "w", Value: make([]float32, 2), Grad: []float32{5, 5}}
	step(t, must(optim.NewSGD(optim.SGDConfig{LR: 1, ClipValue: 1, ClipNorm: 1})), p)
	near(t, "w (value then norm)", p.Value, []float64{-0.70710678, -0.70710678})
}

func TestResetAt(t *testing.T) {
	for name, mk := range fourOptimizers(t, nil, 0) {
		t.Run(name, func(t *testing.T) {
			opt := mk()
			p := optim.Param{Name: "w", Value: []float32{1, 2, 3, 4, 5}}
			for _, g := range [][]float32{{1, 2, 3, 4, 5}, {-1, 0.5, 2, -3, 1}, {0.1, 0.2, 0.3, 0.4, 0.5}} {
				p.Grad = g
				step(t, opt, p)
			}
			before := opt.State()

			// Errors change nothing, even when some indices are valid.
			wantErr(t, "unknown name", opt.ResetAt("nope", []int{0}), "nope")
			wantErr(t, "index 5", opt.ResetAt("w", []int{0, 5}), `"w"`, "5")
			wantErr(t, "index -1", opt.ResetAt("w", []int{-1}), `"w"`, "-1")
			sameState(t, before, opt.State())

			if err := opt.ResetAt("w", []int{1, 3}); err != nil {
				t.Fatal(err)
			}
			after := opt.State()
			for sn, s := range after.Slots["w"] {
				old := before.Slots["w"][sn]
				for i := range s {
					switch {
					case i == 1 || i == 3:
						if s[i] != 0 {
							t.Errorf("%s[%d] = %g after reset, want 0", sn, i, s[i])
						}
					case s[i] != old[i]:
						t.Errorf("%s[%d] changed from %g to %g", sn, i, old[i], s[i])
					case s[i] == 0:
						t.Errorf("%s[%d] was 0 before the reset: test proves nothing", sn, i)
					}
				}
			}
		})
	}
}

// gradAt is a deterministic gradient for step k of a 4-entry parameter.
func gradAt(k int) []float32 {
	g := make([]float32, 4)
	for i := range g {
		g[i] = float32(math.Sin(float64(3*k+i+1))) * 3
	}
	return g
}

func TestStateRoundTripIsBitIdentical(t *testing.T) {
	sched := must(optim.Cosine(2, 10, 0.1))
	mask := []float32{1, 0, 1, 1}
	for name, mk := range fourOptimizers(t, sched, 2) {
		t.Run(name, func(t *testing.T) {
			const k = 5
			run := func(opt optim.Optimizer, p optim.Param, from, to int) {
				for s := from; s < to; s++ {
					p.Grad = gradAt(s)
					step(t, opt, p)
				}
			}
			// Reference: k+1 steps without interruption.
			ref := mk()
			pr := optim.Param{Name: "w", Value: []float32{1, -1, 2, -2}, Mask: mask}
			run(ref, pr, 0, k+1)

			// a: k steps, save, one more step.
			a := mk()
			pa := optim.Param{Name: "w", Value: []float32{1, -1, 2, -2}, Mask: mask}
			run(a, pa, 0, k)
			saved := a.State()

			// b: a fresh optimizer restored from the saved state.
			b := mk()
			if err := b.SetState(saved); err != nil {
				t.Fatal(err)
			}
			if b.Steps() != k || b.LR() != a.LR() {
				t.Fatalf("restored Steps/LR = %d/%v, want %d/%v", b.Steps(), b.LR(), k, a.LR())
			}
			pb := optim.Param{Name: "w", Value: clone(pa.Value), Mask: mask}

			// Scribbling on the saved state must reach neither a nor b.
			for _, s := range saved.Slots["w"] {
				for i := range s {
					s[i] = 123
				}
			}
			run(a, pa, k, k+1)
			run(b, pb, k, k+1)
			same(t, "a vs uninterrupted", pa.Value, pr.Value)
			same(t, "restored vs uninterrupted", pb.Value, pr.Value)
			sameState(t, b.State(), ref.State())
		})
	}
}

func TestSetStateValidation(t *testing.T) {
	opt := must(optim.NewAdam(optim.AdamConfig{LR: 0.1}))
	step(t, opt, optim.Param{Name: "w", Value: []float32{1, 2, 3}, Grad: []float32{1, 1, 1}})
	before := opt.State()
	mv := func(nm, nv int) map[string][]float32 {
		return map[string][]float32{optim.SlotM: make([]float32, nm), optim.SlotV: make([]float32, nv)}
	}
	bad := []struct {
		what string
		s    optim.State
		subs []string
	}{
		{"wrong length for a known name", optim.State{Step: 1, BaseLR: 0.1, Slots: map[string]map[string][]float32{"w": mv(2, 2)}}, []string{`"w"`, "length"}},
		{"slots of different lengths", optim.State{Step: 1, BaseLR: 0.1, Slots: map[string]map[string][]float32{"new": mv(4, 5)}}, []string{`"new"`, "length"}},
		{"unknown slot", optim.State{Step: 1, BaseLR: 0.1, Slots: map[string]map[string][]float32{"w": {"momentum": make([]float32, 3)}}}, []string{`"w"`, "momentum"}},
		{"missing slot", optim.State{Step: 1, BaseLR: 0.1, Slots: map[string]map[string][]float32{"w": {optim.SlotM: make([]float32, 3)}}}, []string{`"w"`, `"v"`}},
		{"negative step", optim.State{Step: -1, BaseLR: 0.1}, []string{"Step"}},
		{"zero base LR", optim.State{Step: 1}, []string{"BaseLR"}},
	}
	for _, c := range bad {
		wantErr(t, c.what, opt.SetState(c.s), c.subs...)
		sameState(t, before, opt.State())
	}

	// An unknown name is installed, and then fixes that parameter's length.
	good := optim.State{Step: 7, BaseLR: 0.2, Slots: map[string]map[string][]float32{"w": mv(3, 3), "new": mv(4, 4)}}
	if err := opt.SetState(good); err != nil {
		t.Fatal(err)
	}
	got := opt.State()
	if got.Step != 7 || got.BaseLR != 0.2 || len(got.Slots["new"][optim.SlotM]) != 4 {
		t.Errorf("after SetState: %+v", got)
	}
	err := opt.Step([]optim.Param{{Name: "new", Value: make([]float32, 5), Grad: make([]float32, 5)}})
	wantErr(t, "length against installed state", err, `"new"`, "5", "4")

	// Plain SGD has no slots: its state lists names with empty slot maps.
	sgd := must(optim.NewSGD(optim.SGDConfig{LR: 1}))
	step(t, sgd, optim.Param{Name: "w", Value: []float32{1}, Grad: []float32{1}})
	s := sgd.State()
	if m, ok := s.Slots["w"]; !ok || len(m) != 0 {
		t.Errorf("plain SGD state = %+v", s)
	}
	wantErr(t, "slot for plain SGD", sgd.SetState(optim.State{BaseLR: 1, Slots: map[string]map[string][]float32{"w": {optim.SlotMomentum: {0}}}}), "momentum")
	if err := sgd.SetState(s); err != nil {
		t.Fatal(err)
	}
	if err := sgd.ResetAt("w", []int{0}); err != nil {
		t.Errorf("ResetAt after SetState: %v", err)
	}
}

func TestStepErrorsNameTheParameter(t *testing.T) {
	for name, mk := range fourOptimizers(t, nil, 1) {
		t.Run(name, func(t *testing.T) {
			opt := mk()
			ok := optim.Param{Name: "fine", Value: []float32{1, 2}, Grad: []float32{1, 1}}
			cases := []struct {
				what  string
				bad   optim.Param
				subs  []string
				after bool // needs a successful first step with "resized" at length 3
			}{
				{"grad length", optim.Param{Name: "dense.W", Value: make([]float32, 3), Grad: make([]float32, 2)}, []string{`"dense.W"`, "Grad"}, false},
				{"mask length", optim.Param{Name: "conv.K", Value: make([]float32, 3), Grad: make([]float32, 3), Mask: make([]float32, 4)}, []string{`"conv.K"`, "Mask"}, false},
				{"resized", optim.Param{Name: "resized", Value: make([]float32, 4), Grad: make([]float32, 4)}, []string{`"resized"`, "4", "3"}, true},
				{"duplicate", optim.Param{Name: "fine", Value: []float32{1, 2}, Grad: []float32{1, 1}}, []string{`"fine"`, "more than once"}, false},
			}
			step(t, opt, optim.Param{Name: "resized", Value: make([]float32, 3), Grad: make([]float32, 3)})
			for _, c := range cases {
				okCopy := ok
				okCopy.Value = clone(ok.Value)
				err := opt.Step([]optim.Param{okCopy, c.bad})
				wantErr(t, c.what, err, c.subs...)
				same(t, c.what+": untouched valid param", okCopy.Value, ok.Value)
				if opt.Steps() != 1 {
					t.Errorf("%s: failed Step advanced the counter to %d", c.what, opt.Steps())
				}
			}
			// A failed call must not break the next one.
			step(t, opt, ok)
		})
	}
}

func TestConstructorValidation(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	sgd := func(c optim.SGDConfig) error { _, err := optim.NewSGD(c); return err }
	adam := func(c optim.AdamConfig) error { _, err := optim.NewAdam(c); return err }
	adamw := func(c optim.AdamConfig) error { _, err := optim.NewAdamW(c); return err }
	sched := func(_ optim.Schedule, err error) error { return err }
	cases := []struct {
		what string
		err  error
		sub  string
	}{
		{"SGD LR 0", sgd(optim.SGDConfig{}), "LR"},
		{"SGD LR -1", sgd(optim.SGDConfig{LR: -1}), "LR"},
		{"SGD LR NaN", sgd(optim.SGDConfig{LR: nan}), "LR"},
		{"SGD LR Inf", sgd(optim.SGDConfig{LR: inf}), "LR"},
		{"SGD Momentum 1", sgd(optim.SGDConfig{LR: 1, Momentum: 1}), "Momentum"},
		{"SGD Momentum -0.1", sgd(optim.SGDConfig{LR: 1, Momentum: -0.1}), "Momentum"},
		{"SGD Momentum NaN", sgd(optim.SGDConfig{LR: 1, Momentum: nan}), "Momentum"},
		{"SGD Nesterov without momentum", sgd(optim.SGDConfig{LR: 1, Nesterov: true}), "Nesterov"},
		{"SGD WeightDecay -1", sgd(optim.SGDConfig{LR: 1, WeightDecay: -1}), "WeightDecay"},
		{"SGD ClipNorm -1", sgd(optim.SGDConfig{LR: 1, ClipNorm: -1}), "ClipNorm"},
		{"SGD ClipValue NaN", sgd(optim.SGDConfig{LR: 1, ClipValue: nan}), "ClipValue"},
		{"Adam LR 0", adam(optim.AdamConfig{}), "LR"},
		{"Adam Beta1 1", adam(optim.AdamConfig{LR: 1, Beta1: 1}), "Beta1"},
		{"Adam Beta1 -0.5", adam(optim.AdamConfig{LR: 1, Beta1: -0.5}), "Beta1"},
		{"Adam Beta2 1.5", adam(optim.AdamConfig{LR: 1, Beta2: 1.5}), "Beta2"},
		{"Adam Eps -1", adam(optim.AdamConfig{LR: 1, Eps: -1}), "Eps"},
		{"Adam WeightDecay Inf", adam(optim.AdamConfig{LR: 1, WeightDecay: inf}), "WeightDecay"},
		{"Adam ClipValue -1", adam(optim.AdamConfig{LR: 1, ClipValue: -1}), "ClipValue"},
		{"AdamW LR -1", adamw(optim.AdamConfig{LR: -1}), "LR"},
		{"AdamW WeightDecay -0.01", adamw(optim.AdamConfig{LR: 1, WeightDecay: -0.01}), "WeightDecay"},
		{"AdamW ClipNorm NaN", adamw(optim.AdamConfig{LR: 1, ClipNorm: nan}), "ClipNorm"},
		{"StepDecay every 0", sched(optim.StepDecay(0, 0.5)), "every"},
		{"StepDecay gamma 0", sched(optim.StepDecay(10, 0)), "gamma"},
		{"Cosine warmup -1", sched(optim.Cosine(-1, 10, 0)), "warmupSteps"},
		{"Cosine total = warmup", sched(optim.Cosine(10, 10, 0)), "totalSteps"},
		{"Cosine minFactor 1.5", sched(optim.Cosine(0, 10, 1.5)), "minFactor"},
		{"Linear endFactor -1", sched(optim.Linear(0, 10, -1)), "endFactor"},
	}
	for _, c := range cases {
		wantErr(t, c.what, c.err, c.sub)
	}
	// Boundary values that are valid.
	for what, err := range map[string]error{
		"SGD all zero but LR": sgd(optim.SGDConfig{LR: 1}),
		"SGD momentum 0.99":   sgd(optim.SGDConfig{LR: 1, Momentum: 0.99, Nesterov: true}),
		"AdamW defaults":      adamw(optim.AdamConfig{LR: 1e-3}),
		"Cosine no warm-up":   sched(optim.Cosine(0, 1, 0)),
	} {
		if err != nil {
			t.Errorf("%s: %v", what, err)
		}
	}
}

func TestLRFollowsScheduleAndBase(t *testing.T) {
	opt := must(optim.NewSGD(optim.SGDConfig{LR: 1, Schedule: must(optim.StepDecay(2, 0.5))}))
	p := optim.Param{Name: "w", Value: []float32{0}, Grad: []float32{1}}
	for k, want := range []float64{1, 1, 0.5, 0.5, 0.25} {
		if opt.LR() != want {
			t.Errorf("LR before step %d = %v, want %v", k, opt.LR(), want)
		}
		step(t, opt, p)
	}
	// The steps used those rates: w = -(1+1+0.5+0.5+0.25).
	near(t, "w", p.Value, []float64{-3.25})
	opt.SetBaseLR(2)
	if opt.LR() != 0.5 { // 2 * 0.5^(5/2)
		t.Errorf("LR after SetBaseLR(2) = %v, want 0.5", opt.LR())
	}
	opt.SetBaseLR(-1)
	wantErr(t, "negative base LR", opt.Step([]optim.Param{p}), "LR")
	near(t, "w after failed step", p.Value, []float64{-3.25})
}

func TestClippingEqualsPreclippedGradients(t *testing.T) {
	// For every optimizer, three steps with raw gradients and clipping
	// switched on must match three steps without clipping fed gradients that
	// were clipped beforehand: clamped to [-0.5, 0.5] for ClipValue, divided
	// by their global norm over the live entries for ClipNorm 1 (all norms
	// here are well above 1).
	mask := []float32{1, 0, 1, 1, 1}
	raw := func(k int) (a, b []float32) {
		return []float32{3 * float32(k+1), -2, 0.25}, []float32{-4, 100, 0.1 * float32(k), 5, -0.3}
	}
	byValue := func(g []float32) []float32 {
		out := clone(g)
		for i := range out {
			out[i] = float32(math.Max(-0.5, math.Min(0.5, float64(out[i]))))
		}
		return out
	}
	byNorm := func(a, b []float32) ([]float32, []float32) {
		var sum float64
		for _, g := range a {
			sum += float64(g) * float64(g)
		}
		for i, g := range b {
			sum += float64(mask[i]) * float64(g) * float64(g)
		}
		n := math.Sqrt(sum)
		a, b = clone(a), clone(b)
		for i := range a {
			a[i] = float32(float64(a[i]) / n)
		}
		for i := range b {
			b[i] = float32(float64(b[i]) / n)
		}
		return a, b
	}
	run := func(opt optim.Optimizer, grads func(k int) (a, b []float32)) []float32 {
		pa := optim.Param{Name: "a", Value: []float32{1, -1, 0.5}}
		pb := optim.Param{Name: "b", Value: []float32{0.3, 0.2, -0.1, 0.7, 2}, Mask: mask}
		for k := range 3 {
			pa.Grad, pb.Grad = grads(k)
			step(t, opt, pa, pb)
		}
		return append(pa.Value, pb.Value...)
	}
	asFloat64 := func(v []float32) []float64 {
		out := make([]float64, len(v))
		for i := range v {
			out[i] = float64(v[i])
		}
		return out
	}
	type mkOpt func(clipNorm, clipValue float64) optim.Optimizer
	opts := map[string]mkOpt{
		"nesterov": func(cn, cv float64) optim.Optimizer {
			return must(optim.NewSGD(optim.SGDConfig{LR: 0.1, Momentum: 0.9, Nesterov: true, WeightDecay: 0.1, ClipNorm: cn, ClipValue: cv}))
		},
		"adam": func(cn, cv float64) optim.Optimizer {
			return must(optim.NewAdam(optim.AdamConfig{LR: 0.1, WeightDecay: 0.1, ClipNorm: cn, ClipValue: cv}))
		},
		"adamw": func(cn, cv float64) optim.Optimizer {
			return must(optim.NewAdamW(optim.AdamConfig{LR: 0.1, WeightDecay: 0.1, ClipNorm: cn, ClipValue: cv}))
		},
	}
	for name, mk := range opts {
		t.Run(name, func(t *testing.T) {
			got := run(mk(0, 0.5), raw)
			want := run(mk(0, 0), func(k int) ([]float32, []float32) {
				a, b := raw(k)
				return byValue(a), byValue(b)
			})
			near(t, "ClipValue", got, asFloat64(want))

			got = run(mk(1, 0), raw)
			want = run(mk(0, 0), func(k int) ([]float32, []float32) { return byNorm(raw(k)) })
			near(t, "ClipNorm", got, asFloat64(want))
		})
	}
}

func TestBaseLRRoundTrip(t *testing.T) {
	for _, o := range []optim.Optimizer{mustAdamForBaseLR(t), mustSGDForBaseLR(t)} {
		if o.BaseLR() != 0.5 {
			t.Fatalf("%T: BaseLR %v, want 0.5", o, o.BaseLR())
		}
		o.SetBaseLR(0.25)
		if o.BaseLR() != 0.25 || o.State().BaseLR != 0.25 {
			t.Fatalf("%T: BaseLR %v / state %v after SetBaseLR(0.25)", o, o.BaseLR(), o.State().BaseLR)
		}
	}
}

func mustAdamForBaseLR(t *testing.T) optim.Optimizer {
	o, err := optim.NewAdam(optim.AdamConfig{LR: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func mustSGDForBaseLR(t *testing.T) optim.Optimizer {
	o, err := optim.NewSGD(optim.SGDConfig{LR: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	return o
}
