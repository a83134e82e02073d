package sparse

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/g2g-ml/g2g/internal/sparse/kernels"
)

// fm returns v (batch × n) feature-major with zero padding columns.
func fm(v []float32, n, batch int) []float32 {
	bp := kernels.Padded(batch)
	t := make([]float32, n*bp)
	for s := 0; s < batch; s++ {
		for u := 0; u < n; u++ {
			t[u*bp+s] = v[s*n+u]
		}
	}
	return t
}

// Every layout of every kernel computes the same products as batch-major
// operands, bit for bit on the sparse kernel (the same kernels, sums in
// the same order, only the transposes saved); feature-major results have
// zero padding columns, which the next layer's weight gradient sums over.
func TestLayoutsMatchBatchMajor(t *testing.T) {
	const in, out, g, batch = 24, 20, 4, 19
	rng := rand.New(rand.NewSource(3))
	m := testMask(in, out, g, 0.2, rng)
	w := randSlice(in*out, rng)
	x := randSlice(batch*in, rng)
	dy := randSlice(batch*out, rng)
	bp := kernels.Padded(batch)
	for _, k := range []Kernel{Sparse, Dense, Blocks} {
		for _, fill := range []float64{2, 0.5} {
			tuning := DefaultTuning()
			tuning.DenseBlockFill = fill
			p := NewPlan(m, k, tuning)
			ref := &Product{}
			ref.SetTraining()
			y, _ := p.Forward(ref, w, m.Data, x, batch)
			dx, _ := p.InputGrad(ref, dy, w, m.Data, batch)
			dw, _ := p.WeightGrad(ref, x, dy, m.Data, batch, nil)
			y, dx, dw = append([]float32(nil), y...), append([]float32(nil), dx...), append([]float32(nil), dw...)
			for _, lay := range []Layout{{InFM: true}, {OutFM: true}, {InFM: true, OutFM: true}} {
				t.Run(fmt.Sprintf("%s-fill%v-%+v", k, fill, lay), func(t *testing.T) {
					exact := k == Sparse
					pr := &Product{}
					pr.SetTraining()
					xin, dyin := x, dy
					if lay.InFM {
						xin = fm(x, in, batch)
					}
					if lay.OutFM {
						dyin = fm(dy, out, batch)
					}
					gy, err := p.ForwardIn(pr, w, m.Data, xin, batch, lay)
					if err != nil {
						t.Fatal(err)
					}
					wantY := y
					if lay.OutFM {
						wantY = fm(y, out, batch)
					}
					same(t, "y", gy, wantY, exact)
					gdx, err := p.InputGradIn(pr, dyin, w, m.Data, batch, lay)
					if err != nil {
						t.Fatal(err)
					}
					wantDx := dx
					if lay.InFM {
						wantDx = fm(dx, in, batch)
					}
					same(t, "dx", gdx, wantDx, exact)
					gdw, err := p.WeightGradIn(pr, xin, dyin, m.Data, batch, lay, nil)
					if err != nil {
						t.Fatal(err)
					}
					same(t, "dW", gdw, dw, exact)
					if lay.OutFM && len(gy) != out*bp {
						t.Fatalf("feature-major y has %d values, want %d", len(gy), out*bp)
					}
				})
			}
		}
	}
}

func same(t *testing.T, what string, got, want []float32, exact bool) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if exact && math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("%s[%d] = %v, batch-major %v", what, i, got[i], want[i])
		}
		if !exact && math.Abs(float64(got[i]-want[i])) > 1e-4*(1+math.Abs(float64(want[i]))) {
			t.Fatalf("%s[%d] = %v, batch-major %v", what, i, got[i], want[i])
		}
	}
}
