package optim_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/g2g-ml/g2g/internal/sparse/kernels"
	"github.com/g2g-ml/g2g/optim"
)

// optimizerPair is an optimizer and its definition, built alike.
type optimizerPair struct {
	name string
	opt  func() optim.Optimizer
	ref  func() *refOptimizer
}

// pairs returns every optimizer kind, with and without clipping, weight
// decay and momentum, each with its reference.
func pairs() []optimizerPair {
	sched := must(optim.Cosine(3, 40, 0.1))
	adam := []optim.AdamConfig{
		{LR: 0.01},
		{LR: 0.02, WeightDecay: 0.01, ClipNorm: 5, ClipValue: 0.5, Schedule: sched},
		{LR: 0.005, Beta1: 0.5, Beta2: 0.75, Eps: 1e-3, WeightDecay: 0.1},
	}
	sgd := []optim.SGDConfig{
		{LR: 0.05},
		{LR: 0.05, Momentum: 0.9, WeightDecay: 0.01},
		{LR: 0.05, Momentum: 0.9, Nesterov: true, WeightDecay: 0.01, ClipNorm: 5, ClipValue: 0.5, Schedule: sched},
	}
	var out []optimizerPair
	for i, c := range adam {
		out = append(out,
			optimizerPair{fmt.Sprintf("adam%d", i), func() optim.Optimizer { return must(optim.NewAdam(c)) }, func() *refOptimizer { return refAdam(c, false) }},
			optimizerPair{fmt.Sprintf("adamw%d", i), func() optim.Optimizer { return must(optim.NewAdamW(c)) }, func() *refOptimizer { return refAdam(c, true) }})
	}
	for i, c := range sgd {
		out = append(out, optimizerPair{fmt.Sprintf("sgd%d", i), func() optim.Optimizer { return must(optim.NewSGD(c)) }, func() *refOptimizer { return refSGD(c) }})
	}
	return out
}

// withAccel runs f with the AVX-512 kernels on (when the processor has
// them) and forced off.
func withAccel(t *testing.T, f func(t *testing.T)) {
	for _, on := range []bool{true, false} {
		prev := kernels.SetAccelerated(on)
		if on && !kernels.Accelerated() {
			kernels.SetAccelerated(prev)
			continue // no AVX-512 here: only the Go path
		}
		t.Run(fmt.Sprintf("avx512=%v", on), f)
		kernels.SetAccelerated(prev)
	}
}

// problem is a set of parameters being trained: "w", G2G-masked and
// stepped with Active; "u", masked and stepped with Active on even steps
// only (its state changes layout every step); "x", masked without Active;
// "b", dense.
type problem struct {
	rng     *rand.Rand
	w, u, x optim.Param
	b       optim.Param
	uActive []int32
}

func newProblem(in, out int, seed uint64) *problem {
	pr := &problem{rng: rand.New(rand.NewPCG(seed, 99))}
	mk := func(name string, mask []float32, active []int32) optim.Param {
		p := optim.Param{Name: name, Value: make([]float32, len(mask)), Grad: make([]float32, len(mask)), Mask: mask, Active: active}
		for i := range p.Value {
			p.Value[i] = float32(pr.rng.NormFloat64()) * mask[i]
		}
		return p
	}
	mask, active := g2gMask(in, out, 4, 0.3, seed)
	pr.w = mk("w", mask, active)
	mask, active = g2gMask(16, 24, 2, 0.5, seed+1)
	pr.u = mk("u", mask, active)
	pr.uActive = active
	mask, _ = g2gMask(12, 8, 2, 0.6, seed+2)
	pr.x = mk("x", mask, nil)
	pr.b = optim.Param{Name: "b", Value: make([]float32, out), Grad: make([]float32, out), NoDecay: true}
	return pr
}

// gradient fills g with a mix of ordinary, large (beyond ClipValue), tiny
// (below the tiny-gradient threshold, some subnormal) and zero entries.
func (pr *problem) gradient(g []float32) {
	for i := range g {
		r := pr.rng.Uint64()
		x := float32(int32(r>>32)) / (1 << 31) // uniform in [-1, 1)
		switch r % 10 {
		case 0:
			g[i] = x * 1e-20
		case 1:
			g[i] = 0
		case 2:
			g[i] = x * 5
		case 3:
			g[i] = x * 1e-41
		default:
			g[i] = x
		}
	}
}

// params returns this step's parameters with fresh gradients, or with the
// gradients of like (another problem's params of the same step) when it is
// given.
func (pr *problem) params(step int, like ...optim.Param) []optim.Param {
	for i, p := range []*optim.Param{&pr.w, &pr.u, &pr.x, &pr.b} {
		if like != nil {
			copy(p.Grad, like[i].Grad)
		} else {
			pr.gradient(p.Grad)
		}
	}
	u := pr.u
	u.Active = nil
	if step%2 == 0 {
		u.Active = pr.uActive
	}
	return []optim.Param{pr.w, u, pr.x, pr.b}
}

// rewire prunes about a tenth of w's active entries (zeroing their
// weights, as the layer's Prune does, when zeroPruned), regrows as many
// (one of them just pruned), gives w a new Active slice and returns the
// pruned and regrown indices, for ResetAt. With like, it prunes and
// regrows like's entries instead of drawing them.
func (pr *problem) rewire(zeroPruned bool, like ...[]int) (pruned, grown []int) {
	w := &pr.w
	if like != nil {
		pruned, grown = like[0], like[1]
	} else {
		k := len(w.Active)/10 + 1
		for _, j := range pr.rng.Perm(len(w.Active))[:k] {
			pruned = append(pruned, int(w.Active[j]))
		}
		grown = append(grown, pruned[0]) // pruned and regrown at once
		seen := map[int]bool{pruned[0]: true}
		for len(grown) < k {
			if i := pr.rng.IntN(len(w.Mask)); w.Mask[i] == 0 && !seen[i] {
				seen[i] = true
				grown = append(grown, i)
			}
		}
	}
	for _, i := range pruned {
		w.Mask[i] = 0
		if zeroPruned {
			w.Value[i] = 0
		}
	}
	for _, i := range grown {
		w.Mask[i] = 1
	}
	w.Active = nil
	for i, v := range w.Mask {
		if v != 0 {
			w.Active = append(w.Active, int32(i))
		}
	}
	return pruned, grown
}

// checkMaskedZero fails unless every masked weight of p is exactly zero.
func checkMaskedZero(t *testing.T, what string, p optim.Param) {
	t.Helper()
	for i, m := range p.Mask {
		if m == 0 && math.Float32bits(p.Value[i]) != 0 {
			t.Fatalf("%s: masked %s[%d] = %g, want exactly 0", what, p.Name, i, p.Value[i])
		}
	}
}

// Packed state must give, bit for bit, the weights and state of the old
// full-size algorithm, over many steps with rewiring (prune, regrow,
// ResetAt) in between, on the AVX-512 kernel and on the Go code, for a
// parameter large enough to be split between goroutines too.
func TestPackedMatchesReference(t *testing.T) {
	sizes := [][2]int{{24, 32}, {384, 320}} // the second is split between goroutines
	if testing.Short() {
		sizes = sizes[:1]
	}
	withAccel(t, func(t *testing.T) {
		for _, size := range sizes {
			for _, pair := range pairs() {
				large := []string{"adam1", "adamw2", "sgd1", "sgd2"}
				if raceDetector {
					large = large[:1]
				}
				if size[0] > 100 && !slices.Contains(large, pair.name) {
					continue // the split between goroutines is the same code for all
				}
				t.Run(fmt.Sprintf("%s/%dx%d", pair.name, size[0], size[1]), func(t *testing.T) {
					a, b := newProblem(size[0], size[1], 5), newProblem(size[0], size[1], 5)
					opt, ref := pair.opt(), pair.ref()
					for s := range 40 {
						switch s {
						case 5, 12, 13, 33:
							// Rewire: DST's order (prune, grow, then ResetAt).
							pa, ga := a.rewire(s != 12)
							pb, gb := b.rewire(s != 12, pa, ga)
							if s == 33 {
								// A weight edited directly under a 0 mask
								// is zeroed by the next step with a new
								// Active list.
								a.w.Value[pa[1]], b.w.Value[pb[1]] = 7, 7
							}
							if err := opt.ResetAt("w", append(pa, ga...)); err != nil {
								t.Fatal(err)
							}
							ref.ResetAt("w", append(pb, gb...))
						case 27:
							// A reset without rewiring, at active entries.
							idx := []int{int(a.w.Active[0]), int(a.w.Active[len(a.w.Active)/2])}
							if err := opt.ResetAt("w", idx); err != nil {
								t.Fatal(err)
							}
							ref.ResetAt("w", idx)
						}
						pa := a.params(s)
						pb := b.params(s, pa...)
						step(t, opt, pa...)
						ref.Step(pb)
						for i, p := range pa {
							same(t, fmt.Sprintf("step %d: %s", s, p.Name), p.Value, pb[i].Value)
							if p.Mask != nil {
								checkMaskedZero(t, fmt.Sprintf("step %d", s), p)
							}
						}
						if t.Failed() {
							t.FailNow()
						}
						if size[0] < 100 || s%10 == 9 {
							sameState(t, opt.State(), ref.State())
						}
					}
				})
			}
		}
	})
}

// State gives full-size slots (zero at masked entries) from packed state,
// and SetState takes them back: a run saved and restored, into a fresh
// optimizer or into itself, continues bit-identical to an uninterrupted
// run, across later rewiring.
func TestStateRoundTripAcrossPacking(t *testing.T) {
	withAccel(t, func(t *testing.T) {
		for _, pair := range pairs() {
			t.Run(pair.name, func(t *testing.T) {
				run := func(restore string) (*problem, optim.State) {
					pr := newProblem(40, 48, 8)
					opt := pair.opt()
					for s := range 20 {
						if s == 6 || s == 14 {
							pruned, grown := pr.rewire(true)
							if err := opt.ResetAt("w", append(pruned, grown...)); err != nil {
								t.Fatal(err)
							}
						}
						if s == 10 {
							saved := opt.State()
							for _, slot := range saved.Slots["w"] {
								if len(slot) != len(pr.w.Value) {
									t.Fatalf("State: slot of length %d, want the parameter's %d", len(slot), len(pr.w.Value))
								}
								for i, m := range pr.w.Mask {
									if m == 0 && slot[i] != 0 {
										t.Fatalf("State: masked entry %d holds %g", i, slot[i])
									}
								}
							}
							switch restore {
							case "fresh":
								opt = pair.opt()
								fallthrough
							case "self":
								if err := opt.SetState(saved); err != nil {
									t.Fatal(err)
								}
							}
						}
						step(t, opt, pr.params(s)...)
					}
					return pr, opt.State()
				}
				want, wantState := run("")
				for _, how := range []string{"fresh", "self"} {
					got, gotState := run(how)
					same(t, how+": w", got.w.Value, want.w.Value)
					same(t, how+": u", got.u.Value, want.u.Value)
					same(t, how+": b", got.b.Value, want.b.Value)
					sameState(t, gotState, wantState)
				}
			})
		}
	})
}

// A full-size state as the old optimizers saved it (checkpoints written
// before the state was packed) loads, and training continues exactly as
// the old algorithm would, also when the state holds values at masked
// entries (the first step drops them, as the old full pass zeroed them).
func TestOldFullSizeStateLoads(t *testing.T) {
	withAccel(t, func(t *testing.T) {
		for _, pair := range pairs() {
			t.Run(pair.name, func(t *testing.T) {
				a, b := newProblem(30, 20, 3), newProblem(30, 20, 3)
				ref := pair.ref()
				for s := range 8 {
					a.params(s)
					ref.Step(b.params(s, a.params(s)...))
				}
				old := ref.State()
				for _, slot := range old.Slots["w"] {
					for i, m := range a.w.Mask {
						if m == 0 && i%3 == 0 {
							slot[i] = 0.25 // not from the old optimizers, but accepted
						}
					}
				}
				copy(a.w.Value, b.w.Value)
				copy(a.u.Value, b.u.Value)
				copy(a.x.Value, b.x.Value)
				copy(a.b.Value, b.b.Value)
				opt := pair.opt()
				if err := opt.SetState(old); err != nil {
					t.Fatal(err)
				}
				sameState(t, opt.State(), old) // before any step, as installed
				ref = pair.ref()
				if err := setRefState(ref, old); err != nil {
					t.Fatal(err)
				}
				for s := 8; s < 16; s++ {
					if s == 11 {
						pa, ga := a.rewire(true)
						pb, gb := b.rewire(true, pa, ga)
						if err := opt.ResetAt("w", append(pa, ga...)); err != nil {
							t.Fatal(err)
						}
						ref.ResetAt("w", append(pb, gb...))
					}
					pa := a.params(s)
					step(t, opt, pa...)
					ref.Step(b.params(s, pa...))
					same(t, fmt.Sprintf("step %d: w", s), a.w.Value, b.w.Value)
					sameState(t, opt.State(), ref.State())
				}
			})
		}
	})
}

// setRefState installs s into r, as the old SetState did.
func setRefState(r *refOptimizer, s optim.State) error {
	r.steps, r.baseLR = s.Step, s.BaseLR
	r.slots = map[string][][]float32{}
	for name, slots := range s.Slots {
		st := make([][]float32, len(r.slotNames))
		for k, sn := range r.slotNames {
			v, ok := slots[sn]
			if !ok {
				return fmt.Errorf("slot %s of %s missing", sn, name)
			}
			st[k] = slices.Clone(v)
		}
		r.slots[name] = st
	}
	return nil
}

// ResetAt on packed state zeroes the active entries named, accepts (and
// ignores) entries that are not active, whose state is zero, and still
// rejects indices out of range and unknown names, changing nothing.
func TestResetAtPacked(t *testing.T) {
	for _, pair := range pairs() {
		t.Run(pair.name, func(t *testing.T) {
			pr := newProblem(10, 12, 4)
			opt := pair.opt()
			for s := range 3 {
				step(t, opt, pr.params(s)...)
			}
			before := opt.State()
			n := len(pr.w.Value)
			wantErr(t, "index n", opt.ResetAt("w", []int{int(pr.w.Active[0]), n}), `"w"`, fmt.Sprint(n))
			wantErr(t, "index -1", opt.ResetAt("w", []int{-1}), `"w"`, "-1")
			wantErr(t, "unknown", opt.ResetAt("nope", []int{0}), "nope")
			sameState(t, before, opt.State())

			inactive := slices.Index(pr.w.Mask, 0)
			reset := []int{int(pr.w.Active[1]), inactive, int(pr.w.Active[len(pr.w.Active)-1])}
			if err := opt.ResetAt("w", reset); err != nil {
				t.Fatal(err)
			}
			after := opt.State()
			for sn, s := range after.Slots["w"] {
				old := before.Slots["w"][sn]
				for i := range s {
					want := old[i]
					if slices.Contains(reset, i) {
						want = 0
					}
					if math.Float32bits(s[i]) != math.Float32bits(want) {
						t.Errorf("%s[%d] = %g, want %g", sn, i, s[i], want)
					}
				}
				if old[reset[0]] == 0 || old[reset[2]] == 0 {
					t.Errorf("%s: state was already 0 where it was reset: the test proves nothing", sn)
				}
			}
		})
	}
}
