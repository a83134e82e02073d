package optim_test

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/g2g-ml/g2g/optim"
)

// Every optimizer, on both the AVX-512 and the Go path, stores each
// updated active entry at its mirror place and touches no other mirror
// entry; the update itself is bit-identical to a step without a mirror.
// The active list mixes runs of 16 consecutive indices (the kernel's
// vector path), scattered groups and a tail; the runs have no mirror
// place, the others consecutive places (the kernel's vector store) or
// scattered ones.
func TestStepWritesMirror(t *testing.T) {
	const n = 4000
	rng := rand.New(rand.NewPCG(5, 6))
	mask := make([]float32, n)
	var active []int32
	for i := range n {
		if (i/64)%2 == 0 || rng.IntN(5) == 0 {
			mask[i] = 1
			active = append(active, int32(i))
		}
	}
	// Like a G2G layer's copy: no place for the runs (its BLAS blocks),
	// consecutive places for the scattered entries.
	at := make([]int32, len(active))
	mirrorLen := 0
	for k, i := range active {
		if (i/64)%2 == 0 {
			at[k] = -1
			continue
		}
		at[k] = int32(mirrorLen)
		mirrorLen++
	}
	// Places in active order (as G2G's copy has them: runs of 16
	// consecutive places take the kernel's vector store), and scattered.
	perm := rng.Perm(mirrorLen)
	scattered := make([]int32, len(at))
	for k, a := range at {
		scattered[k] = a
		if a >= 0 {
			scattered[k] = int32(perm[a])
		}
	}
	for name, at := range map[string][]int32{"in order": at, "scattered": scattered} {
		t.Run(name, func(t *testing.T) { testStepWritesMirror(t, mask, active, at, mirrorLen) })
	}
}

func testStepWritesMirror(t *testing.T, mask []float32, active, at []int32, mirrorLen int) {
	const n = 4000
	const sentinel = -7.5
	for _, pair := range pairs() {
		withAccel(t, func(t *testing.T) {
			mk := func(mirror bool) (optim.Param, []float32) {
				p := optim.Param{Name: "w", Value: make([]float32, n), Grad: make([]float32, n), Mask: mask, Active: active}
				r := rand.New(rand.NewPCG(7, 8))
				for i := range p.Value {
					p.Value[i] = float32(r.NormFloat64()) * mask[i]
					p.Grad[i] = float32(r.NormFloat64()) * 0.1
				}
				var m []float32
				if mirror {
					// Guard zones of 32 entries on both sides catch
					// stores outside the mirror.
					m = make([]float32, 32+mirrorLen+32)
					for i := range m {
						m[i] = sentinel
					}
					p.Mirror, p.MirrorAt = m[32:32+mirrorLen:32+mirrorLen], at
				}
				return p, m
			}
			plain, _ := mk(false)
			mirrored, m := mk(true)
			a, b := pair.opt(), pair.opt()
			if mw, ok := b.(optim.MirrorWriter); !ok || !mw.WritesMirrors() {
				t.Fatalf("%s does not report writing mirrors", pair.name)
			}
			for step := range 3 {
				if err := a.Step([]optim.Param{plain}); err != nil {
					t.Fatal(err)
				}
				if err := b.Step([]optim.Param{mirrored}); err != nil {
					t.Fatal(err)
				}
				for i := range plain.Value {
					if math.Float32bits(plain.Value[i]) != math.Float32bits(mirrored.Value[i]) {
						t.Fatalf("%s step %d: entry %d = %v with a mirror, %v without", pair.name, step, i, mirrored.Value[i], plain.Value[i])
					}
				}
				for k, pos := range at {
					if pos >= 0 && math.Float32bits(m[32+pos]) != math.Float32bits(mirrored.Value[active[k]]) {
						t.Fatalf("%s step %d: mirror[%d] = %v, want entry %d's %v", pair.name, step, pos, m[32+pos], active[k], mirrored.Value[active[k]])
					}
				}
				for _, v := range append(m[:32:32], m[32+mirrorLen:]...) {
					if v != sentinel {
						t.Fatalf("%s: stored outside the mirror: %v", pair.name, v)
					}
				}
			}
		})
	}
}

// A MirrorAt that does not fit Active or points beyond Mirror is an error
// naming the parameter, and nothing is updated.
func TestBadMirrorIsAnError(t *testing.T) {
	mask := []float32{1, 0, 1, 1}
	active := []int32{0, 2, 3}
	for name, c := range map[string]struct {
		mirror []float32
		at     []int32
		active []int32
	}{
		"short":     {make([]float32, 3), []int32{0, 1}, active},
		"beyond":    {make([]float32, 2), []int32{0, 1, 2}, active},
		"no active": {make([]float32, 3), []int32{0, 1, 2}, nil},
	} {
		p := optim.Param{Name: "w", Value: []float32{1, 0, 2, 3}, Grad: []float32{1, 1, 1, 1}, Mask: mask, Active: c.active, Mirror: c.mirror, MirrorAt: c.at}
		opt := must(optim.NewAdam(optim.AdamConfig{LR: 0.1}))
		err := opt.Step([]optim.Param{p})
		if err == nil || !strings.Contains(err.Error(), `"w"`) || !strings.Contains(err.Error(), "MirrorAt") {
			t.Errorf("%s: error %v, want one naming the parameter and MirrorAt", name, err)
		}
		if p.Value[0] != 1 || p.Value[2] != 2 {
			t.Errorf("%s: values changed by a failed step: %v", name, p.Value)
		}
	}
}
