package graph

import (
	"math"
	"testing"

	"github.com/g2g-ml/g2g/optim"
)

// Consecutive sparse layers hand their activations and gradients over
// feature-major in training graphs; that saves transposes and changes no
// number: weights after training, the losses, and the activations
// callbacks read are bit-identical to batch-major hand-overs.
func TestFeatureMajorChainsChangeNoNumber(t *testing.T) {
	train := func(chains bool) (losses []float64, weights [][]float32, acts [][]float32, fmTaps int) {
		prev := featureMajorChains
		featureMajorChains = chains
		defer func() { featureMajorChains = prev }()
		m := sparseChainModel(t, [][2]int{{40, 48}, {48, 48}, {48, 32}})
		d := toyData(21, 40, 5, 3) // 21 samples: padded rows
		opt, _ := optim.NewAdam(optim.AdamConfig{LR: 1e-2})
		for step := 0; step < 5; step++ {
			loss, p, err := m.trainStep(labelBatch(d.X, d.Y), opt, step, false)
			if err != nil {
				t.Fatal(err)
			}
			losses = append(losses, loss)
			ctx := &Context{prog: p}
			fmTaps = 0
			for _, tp := range p.taps {
				if tp.InputFM || tp.OutputFM {
					fmTaps++
				}
			}
			acts = nil
			for _, s := range m.SparseLayers() {
				in, out, ok := ctx.Activations(s)
				if !ok {
					t.Fatalf("no activations for %s", s.Name())
				}
				acts = append(acts, append([]float32(nil), in.Float32s()...), append([]float32(nil), out.Float32s()...))
			}
			p.reset()
		}
		for _, prm := range m.Params() {
			weights = append(weights, append([]float32(nil), prm.Data()...))
		}
		return losses, weights, acts, fmTaps
	}
	l1, w1, a1, fm1 := train(true)
	l0, w0, a0, fm0 := train(false)
	if fm1 != 3 || fm0 != 0 {
		t.Fatalf("feature-major taps: %d with chains (want 3: a's output, b, c's input), %d without", fm1, fm0)
	}
	for i := range l1 {
		if l1[i] != l0[i] {
			t.Fatalf("step %d: loss %v with chains, %v without", i, l1[i], l0[i])
		}
	}
	for _, pair := range [][2][][]float32{{w1, w0}, {a1, a0}} {
		for k := range pair[0] {
			for i := range pair[0][k] {
				if math.Float32bits(pair[0][k][i]) != math.Float32bits(pair[1][k][i]) {
					t.Fatalf("value %d of array %d differs: %v with chains, %v without", i, k, pair[0][k][i], pair[1][k][i])
				}
			}
		}
	}
}
