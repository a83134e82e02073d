package graph

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/g2g-ml/g2g/internal/sparse/kernels"
	"github.com/g2g-ml/g2g/layers"
)

// checkSamePredictions checks that the model's Predict (the inference
// runtime over live weights) and its exported copy give the evaluation
// graph's logits, for batch sizes below, at and above the runtime's chunk.
func checkSamePredictions(t *testing.T, m *Model, x []float32) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "model.npz")
	if err := m.Export(path); err != nil {
		t.Fatal(err)
	}
	inf, err := LoadInference(path)
	if err != nil {
		t.Fatal(err)
	}
	want, err := m.predictGraph(x, 7)
	if err != nil {
		t.Fatal(err)
	}
	for _, bs := range []int{1, 3, 100, 300} {
		for name, predict := range map[string]func([]float32, int) ([]float32, error){"model": m.Predict, "exported": inf.Predict} {
			got, err := predict(x, bs)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("%s, batch %d: %d logits, want %d", name, bs, len(got), len(want))
			}
			for k := range got {
				if math.Abs(float64(got[k]-want[k])) > 1e-5*(1+math.Abs(float64(want[k]))) {
					t.Fatalf("%s, batch %d: logit %d = %v, evaluation graph gives %v", name, bs, k, got[k], want[k])
				}
			}
		}
	}
}

func TestExportPredictsLikeTheModel(t *testing.T) {
	m := smallModel(t, 101)
	d := toyData(23, 6, 3, 102)
	checkSamePredictions(t, m, d.X)
}

func TestExportFunctionalModel(t *testing.T) {
	in := Input("x", 6)
	h := Apply(mustG2G(t, layers.G2GConfig{Name: "a", In: 6, Out: 6, Groups: 2, Density: 0.6, Activation: layers.ReLU, Seed: 1}), in)
	h2 := Apply(mustG2G(t, layers.G2GConfig{Name: "b", In: 6, Out: 6, Groups: 3, Density: 0.5, Seed: 2}), h)
	act, _ := layers.NewActivation("act", layers.Tanh)
	add, _ := layers.NewAdd("skip")
	cat, _ := layers.NewConcat("cat")
	drop, _ := layers.NewDropout("drop", 0.5, 1)
	out := Apply(mustDense(t, layers.DenseConfig{Name: "out", In: 12, Out: 3, Activation: layers.Sigmoid, Seed: 3}),
		Apply(drop, Apply(cat, Apply(act, Apply(add, h, h2)), in)))
	m, err := NewModel(in, out)
	if err != nil {
		t.Fatal(err)
	}
	checkSamePredictions(t, m, toyData(11, 6, 3, 4).X)
}

func TestExportConvModel(t *testing.T) {
	conv, err := layers.NewConv2D(layers.Conv2DConfig{Name: "patch", InChannels: 2, OutChannels: 3, Height: 8, Width: 8,
		Kernel: 3, Stride: 2, Padding: 1, Activation: layers.ReLU, Flatten: true, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	for k := range conv.Bias().Data() {
		conv.Bias().Data()[k] = 0.05 * float32(k)
	}
	w := conv.OutputShape()[0]
	g := mustG2G(t, layers.G2GConfig{Name: "g", In: w, Out: 8, Groups: 2, Density: 0.5, Activation: layers.ReLU, Seed: 2})
	m, err := Sequential([]int{2, 8, 8}, conv, g, mustDense(t, layers.DenseConfig{Name: "out", In: 8, Out: 3, Seed: 3}))
	if err != nil {
		t.Fatal(err)
	}
	checkSamePredictions(t, m, toyData(5, 128, 3, 5).X)
}

func TestExportIsCompactAndChecked(t *testing.T) {
	g := mustG2G(t, layers.G2GConfig{Name: "g", In: 256, Out: 256, Groups: 8, Density: 0.125, Sampling: layers.SampleExact, Seed: 1})
	m, err := Sequential([]int{256}, g, mustDense(t, layers.DenseConfig{Name: "out", In: 256, Out: 2, Seed: 2}))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	exp, ck := filepath.Join(dir, "e.npz"), filepath.Join(dir, "c.npz")
	if err := m.Export(exp); err != nil {
		t.Fatal(err)
	}
	if err := m.SaveCheckpoint(ck, TrainingState{}); err != nil {
		t.Fatal(err)
	}
	se, _ := os.Stat(exp)
	sc, _ := os.Stat(ck)
	// 8192 active edges at 12 bytes each (int64 index + float32) vs 65536
	// float32 weights plus the mask.
	if se.Size() > sc.Size()/2 {
		t.Fatalf("export %d bytes, checkpoint %d: not compact", se.Size(), sc.Size())
	}
	raw, _ := os.ReadFile(exp)
	bad := filepath.Join(dir, "bad.npz")
	os.WriteFile(bad, raw[:len(raw)-50], 0o644)
	if _, err := LoadInference(bad); err == nil || !strings.Contains(err.Error(), "bad.npz") {
		t.Fatalf("truncated export: %v", err)
	}
	if _, err := LoadInference(ck); err == nil || !strings.Contains(err.Error(), "not a g2g exported model") {
		t.Fatalf("checkpoint loaded as export: %v", err)
	}
	inf, _ := LoadInference(exp)
	if _, err := inf.Predict(make([]float32, 255), 4); err == nil {
		t.Fatal("ragged input accepted")
	}
}

// An exported ensemble-level model gets its ensembles back, so its sparse
// layers find their blocks again: the block kernels without AVX-512, and,
// where BLAS multiplies full blocks faster than the edge kernels (OpenBLAS,
// DenseBlockFill ≤ 0.5), the sparse kernel's BLAS blocks.
func TestExportRestoresEnsembles(t *testing.T) {
	asm := kernels.Accelerated()
	defer kernels.SetAccelerated(asm)
	for _, accel := range []bool{false, true} {
		if accel && (!asm || layers.DefaultTuning().DenseBlockFill > 0.5) {
			continue // no sparse kernel with blocks here
		}
		kernels.SetAccelerated(accel)
		g1 := mustG2G(t, layers.G2GConfig{Name: "g1", In: 16, Out: 24, Groups: 4, Density: 0.5, Sampling: layers.SampleBlocks, Activation: layers.ReLU, Seed: 1})
		g2 := mustG2G(t, layers.G2GConfig{Name: "g2", In: 24, Out: 8, Groups: 4, Density: 0.25, Sampling: layers.SampleBlocks, Activation: layers.ReLU, Seed: 2})
		m, err := Sequential([]int{16}, g1, g2, mustDense(t, layers.DenseConfig{Name: "out", In: 8, Out: 3, Seed: 3}))
		if err != nil {
			t.Fatal(err)
		}
		checkSamePredictions(t, m, toyData(300, 16, 3, 4).X)
		path := filepath.Join(t.TempDir(), "b.npz")
		if err := m.Export(path); err != nil {
			t.Fatal(err)
		}
		inf, err := LoadInference(path)
		if err != nil {
			t.Fatal(err)
		}
		if n := g2.Freeze().Blocks(); n != 4 {
			t.Fatalf("accelerated %v: g2 runs %d dense blocks, want 4: the test proves nothing", accel, n)
		}
		for k, orig := range []*layers.G2G{g1, g2} {
			got, ok := inf.nodes[k].op.(*layers.FrozenG2G)
			if !ok {
				t.Fatalf("node %d runs %T, not a frozen G2G layer", k, inf.nodes[k].op)
			}
			if got.Kernel() != orig.Kernel() || got.Blocks() != orig.Freeze().Blocks() {
				t.Fatalf("accelerated %v: %s: runs %s with %d blocks, the layer %s with %d", accel, orig.Name(), got.Kernel(), got.Blocks(), orig.Kernel(), orig.Freeze().Blocks())
			}
		}
		if inf.nodes[0].chainEnd != 1 || inf.nodes[2].chainEnd != -1 {
			t.Fatalf("chains: %d, %d; want g1..g2 chained, out alone", inf.nodes[0].chainEnd, inf.nodes[2].chainEnd)
		}
	}
}
