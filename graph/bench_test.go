package graph

import (
	"fmt"
	"testing"

	"github.com/g2g-ml/g2g/layers"
	"github.com/g2g-ml/g2g/optim"
)

// BenchmarkTrainStep measures one training step (forward, backward, Adam) of
// a 1024 → 1024 → 1024 → 10 MLP at batch 256: dense, and G2G with
// edge-level ("g2g") or ensemble-level ("blocks") masks at several
// densities on each kernel that applies. The kernel crossovers in package
// layers come from these numbers. Run with -tags openblas for the BLAS the
// examples use:
//
//	go test -tags openblas -run '^$' -bench TrainStep ./graph/
func BenchmarkTrainStep(b *testing.B) {
	type variant struct {
		sampling layers.Sampling
		density  float64
		kernel   layers.Kernel
	}
	var cases []variant
	for _, d := range []float64{0.5, 0.25, 0.125} {
		for _, k := range []layers.Kernel{layers.KernelDense, layers.KernelBlocks, layers.KernelSparse} {
			cases = append(cases, variant{layers.SampleExact, d, k}, variant{layers.SampleBlocks, d, k})
		}
	}
	cases = append([]variant{{}}, cases...)
	for _, c := range cases {
		name := "dense"
		if c.sampling != "" {
			mask := "g2g"
			if c.sampling == layers.SampleBlocks {
				mask = "blocks"
			}
			name = fmt.Sprintf("%s-%v/%s", mask, c.density, c.kernel)
		}
		b.Run(name, func(b *testing.B) {
			var ls []layers.Layer
			for i, name := range []string{"h1", "h2"} {
				var l layers.Layer
				var err error
				if c.sampling == "" {
					l, err = layers.NewDense(layers.DenseConfig{Name: name, In: 1024, Out: 1024, Activation: layers.ReLU, Seed: int64(i)})
				} else {
					var g *layers.G2G
					g, err = layers.NewG2G(layers.G2GConfig{Name: name, In: 1024, Out: 1024, Groups: 8, Density: c.density, Sampling: c.sampling, Activation: layers.ReLU, Seed: int64(i)})
					if err == nil {
						err = g.SetKernel(c.kernel)
					}
					l = g
				}
				if err != nil {
					b.Fatal(err)
				}
				ls = append(ls, l)
			}
			out, _ := layers.NewDense(layers.DenseConfig{Name: "out", In: 1024, Out: 10, Seed: 9})
			m, err := Sequential([]int{1024}, append(ls, out)...)
			if err != nil {
				b.Fatal(err)
			}
			d := toyData(256, 1024, 3, 1)
			opt, _ := optim.NewAdam(optim.AdamConfig{LR: 1e-3})
			step := func() {
				_, p, err := m.trainStep(labelBatch(d.X, d.Y), opt, 0, true)
				if err != nil {
					b.Fatal(err)
				}
				p.reset()
			}
			step() // compile
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				step()
			}
		})
	}
}
