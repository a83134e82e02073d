package optim_test

import (
	"math/rand/v2"
	"testing"

	"github.com/g2g-ml/g2g/internal/sparse/kernels"
	"github.com/g2g-ml/g2g/optim"
)

// g2gMask returns the mask and active indices of an in × out weight shaped
// like a G2G layer's (docs/design.md §1): the input and output units split
// into groups ensembles of equal size, every intra-ensemble edge active
// (row i holds a run of out/groups consecutive active entries), and the
// rest of the active entries, up to the given density, spread at random
// over the inter-ensemble positions.
func g2gMask(in, out, groups int, density float64, seed uint64) (mask []float32, active []int32) {
	rng := rand.New(rand.NewPCG(seed, 1))
	mask = make([]float32, in*out)
	gi, gj := in/groups, out/groups
	intra := in * gj
	inter := float64(int(density*float64(in*out))-intra) / float64(in*out-intra)
	for i := range in {
		for j := range out {
			if i/gi == j/gj || rng.Float64() < inter {
				mask[i*out+j] = 1
				active = append(active, int32(i*out+j))
			}
		}
	}
	return mask, active
}

// BenchmarkAdamStepG2G times one Adam step on a 1024 × 1024 parameter with a
// G2G-like mask of density 0.25 (8 ensembles: half the active entries in
// runs of 128, half scattered), passing the active indices as the graph
// package does. It reports the time per active entry (ns/active).
func BenchmarkAdamStepG2G(b *testing.B) { benchmarkAdamStepG2G(b) }

// BenchmarkAdamStepG2GGo is BenchmarkAdamStepG2G with the assembly kernel
// turned off: the Go code on the same packed state.
func BenchmarkAdamStepG2GGo(b *testing.B) {
	defer kernels.SetAccelerated(kernels.SetAccelerated(false))
	benchmarkAdamStepG2G(b)
}

func benchmarkAdamStepG2G(b *testing.B) {
	const in, out = 1024, 1024
	mask, active := g2gMask(in, out, 8, 0.25, 3)
	rng := rand.New(rand.NewPCG(1, 2))
	p := optim.Param{Name: "w", Value: make([]float32, in*out), Grad: make([]float32, in*out), Mask: mask, Active: active}
	for i := range p.Value {
		p.Value[i] = (rng.Float32() - 0.5) * mask[i]
		p.Grad[i] = (rng.Float32() - 0.5) * 1e-2
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
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(active)), "ns/active")
}
