package graph

import (
	"testing"

	"github.com/g2g-ml/g2g/layers"
)

func BenchmarkPredictRef(b *testing.B) {
	var ls []layers.Layer
	in := 784
	for i, name := range []string{"h1", "h2", "h3"} {
		g, err := layers.NewG2G(layers.G2GConfig{Name: name, In: in, Out: 1024, Groups: 8, Density: 0.25, Activation: layers.ReLU, Seed: int64(i)})
		if err != nil {
			b.Fatal(err)
		}
		ls = append(ls, g)
		in = 1024
	}
	out, _ := layers.NewDense(layers.DenseConfig{Name: "out", In: 1024, Out: 10, Seed: 9})
	m, err := Sequential([]int{784}, append(ls, out)...)
	if err != nil {
		b.Fatal(err)
	}
	x := make([]float32, 10000*784)
	for i := range x {
		x[i] = float32(i%255) / 255
	}
	m.Predict(x[:1000*784], 1000)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := m.Predict(x, 1000); err != nil {
			b.Fatal(err)
		}
	}
}
