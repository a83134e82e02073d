package layers

import (
	"math"
	"math/rand"
	"testing"
)

// Every kernel's frozen forward pass must compute act((W⊙M)ᵀ·xt + b), and
// the snapshot must not see later changes to the layer.
func TestFrozenForwardMatchesDefinition(t *testing.T) {
	for _, sampling := range []Sampling{SampleExact, SampleBlocks} {
		for _, k := range []Kernel{KernelDense, KernelBlocks, KernelSparse} {
			for _, fill := range []float64{2, 0.5} {
				l, err := NewG2G(G2GConfig{Name: "g", In: 40, Out: 24, Groups: 4, Density: 0.5, Sampling: sampling, Activation: ReLU, Kernel: k, Seed: 3})
				if err != nil {
					t.Fatal(err)
				}
				tuning := l.Tuning()
				tuning.DenseBlockFill = fill
				if err := l.SetTuning(tuning); err != nil {
					t.Fatal(err)
				}
				rng := rand.New(rand.NewSource(4))
				for i := range l.b.Data() {
					l.b.Data()[i] = float32(rng.NormFloat64())
				}
				const n = 37
				xt := make([]float32, 40*n)
				for i := range xt {
					xt[i] = float32(rng.NormFloat64())
				}
				f := l.Freeze()
				w, m, b := append([]float32(nil), l.w.Data()...), l.mask.Data(), append([]float32(nil), l.b.Data()...)
				l.w.Data()[0] += 100 // after the snapshot: must not matter
				l.b.Data()[0] += 100
				yt := make([]float32, 24*n)
				if err := f.ForwardFeatureMajor(xt, yt, n); err != nil {
					t.Fatal(err)
				}
				for j := 0; j < 24; j++ {
					for s := 0; s < n; s++ {
						want := float64(b[j])
						for i := 0; i < 40; i++ {
							want += float64(w[i*24+j]*m[i*24+j]) * float64(xt[i*n+s])
						}
						want = math.Max(want, 0)
						if got := float64(yt[j*n+s]); math.Abs(got-want) > 1e-4 {
							t.Fatalf("%s masks, %s kernel (ran %s), fill %v: y[%d, %d] = %v, want %v", sampling, k, f.Kernel(), fill, j, s, got, want)
						}
					}
				}
			}
		}
	}
	l, _ := NewG2G(G2GConfig{Name: "g", In: 4, Out: 4, Groups: 2, Density: 0.5, Seed: 1})
	if err := l.Freeze().ForwardFeatureMajor(make([]float32, 7), make([]float32, 8), 2); err == nil {
		t.Fatal("short input accepted")
	}
}
