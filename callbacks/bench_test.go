package callbacks

import (
	"math/rand"
	"testing"

	"github.com/g2g-ml/g2g/layers"
)

// BenchmarkRewire1024 times one magnitude/random update of 10 % of the
// edges of a 1024×1024 G2G layer at density 0.25 (the reference model's).
func BenchmarkRewire1024(b *testing.B) {
	l, err := layers.NewG2G(layers.G2GConfig{Name: "g", In: 1024, Out: 1024, Groups: 8, Density: 0.25, Sampling: layers.SampleExact, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	r := Rewirer{Prune: MagnitudeScore, Grow: RandomScore}
	k := l.Mask().Active() / 10
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		if _, err := r.Rewire(&Update{Layer: l, Rand: rand.New(rand.NewSource(int64(n)))}, k); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHebbianAdd1024 times the statistics of one batch of 256 for a
// 1024×1024 layer.
func BenchmarkHebbianAdd1024(b *testing.B) {
	s := NewHebbianStats(1024, 1024)
	rng := rand.New(rand.NewSource(1))
	x, y := make([]float32, 256*1024), make([]float32, 256*1024)
	for k := range x {
		x[k], y[k] = rng.Float32(), rng.Float32()
	}
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		if err := s.Add(x, y, 256); err != nil {
			b.Fatal(err)
		}
	}
}
