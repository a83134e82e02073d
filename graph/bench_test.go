package graph

import (
	"testing"

	"github.com/g2g-ml/g2g/layers"
	"github.com/g2g-ml/g2g/optim"
)

// BenchmarkTrainStep measures one training step (forward, backward, Adam) of
// a 1024 → 1024 → 1024 → 10 MLP at batch 256: dense, edge-level G2G and
// ensemble-level G2G (block kernels) at density 0.25. Run with -tags openblas
// for the BLAS the examples use.
func BenchmarkTrainStep(b *testing.B) {
	for _, kind := range []string{"dense", "g2g-0.25", "blocks-0.25", "blocks-0.125"} {
		b.Run(kind, func(b *testing.B) {
			var ls []layers.Layer
			for i, name := range []string{"h1", "h2"} {
				var l layers.Layer
				var err error
				switch kind {
				case "dense":
					l, err = layers.NewDense(layers.DenseConfig{Name: name, In: 1024, Out: 1024, Activation: layers.ReLU, Seed: int64(i)})
				default:
					cfg := layers.G2GConfig{Name: name, In: 1024, Out: 1024, Groups: 8, Density: 0.25, Sampling: layers.SampleExact, Activation: layers.ReLU, Seed: int64(i)}
					if kind != "g2g-0.25" {
						cfg.Sampling = layers.SampleBlocks
					}
					if kind == "blocks-0.125" {
						cfg.Density = 0.125
					}
					l, err = layers.NewG2G(cfg)
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
				_, _, p, err := m.trainStep(d.X, d.Y, opt, 0)
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
