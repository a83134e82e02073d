package extlayer

import (
	"math"
	"math/rand"
	"path/filepath"
	"strings"
	"testing"

	"github.com/g2g-ml/g2g/datasets"
	"github.com/g2g-ml/g2g/graph"
	"github.com/g2g-ml/g2g/layers"
	"github.com/g2g-ml/g2g/optim"
)

func toyData(n int) *datasets.Dataset {
	rng := rand.New(rand.NewSource(1))
	d := &datasets.Dataset{Name: "toy", X: make([]float32, n*8), Y: make([]int, n), Shape: []int{8}, Classes: 3}
	for i := 0; i < n; i++ {
		for k := 0; k < 8; k++ {
			d.X[i*8+k] = float32(rng.NormFloat64())
		}
		switch {
		case d.X[i*8] > 0.5:
			d.Y[i] = 2
		case d.X[i*8+1] > 0:
			d.Y[i] = 1
		}
	}
	return d
}

// hidden hides every method of a layer but those of layers.Layer, so that
// a model holding it predicts through the gorgonia graph.
type hidden struct{ layers.Layer }

// model returns Input(8) → Dense → mid → G2G → Dense, the layers built
// from fixed seeds.
func model(t *testing.T, mid func() layers.Layer) (*graph.Model, layers.Layer) {
	t.Helper()
	d1, err := layers.NewDense(layers.DenseConfig{Name: "d1", In: 8, Out: 6, Activation: layers.ReLU, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	g, err := layers.NewG2G(layers.G2GConfig{Name: "g", In: 6, Out: 6, Groups: 2, Density: 0.5, Activation: layers.ReLU, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	d2, err := layers.NewDense(layers.DenseConfig{Name: "d2", In: 6, Out: 3, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	l := mid()
	m, err := graph.Sequential([]int{8}, d1, l, g, d2)
	if err != nil {
		t.Fatal(err)
	}
	return m, l
}

func fit(t *testing.T, m *graph.Model, d *datasets.Dataset) {
	t.Helper()
	opt, err := optim.NewAdam(optim.AdamConfig{LR: 0.01})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Fit(d, graph.FitConfig{Epochs: 2, BatchSize: 16, Optimizer: opt, Seed: 1}); err != nil {
		t.Fatal(err)
	}
}

func same(t *testing.T, what string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d logits, want %d", what, len(got), len(want))
	}
	for k := range got {
		if math.Abs(float64(got[k]-want[k])) > 1e-5*(1+math.Abs(float64(want[k]))) {
			t.Fatalf("%s: logit %d = %v, want %v", what, k, got[k], want[k])
		}
	}
}

// A layer of another module that implements layers.Exportable trains,
// predicts on the inference runtime like the graph computes it, exports,
// and loads back through its registered kind.
func TestExportableLayer(t *testing.T) {
	d := toyData(80)
	m, l := model(t, func() layers.Layer { return NewTanhProjection("proj", 6, 6, 4) })
	fit(t, m, d)
	if p := m.PredictPath(); p != "inference runtime" {
		t.Fatalf("PredictPath() = %q", p)
	}
	got, err := m.Predict(d.X, 32)
	if err != nil {
		t.Fatal(err)
	}
	// The same trained layers with proj hidden: the graph path.
	twin, err := graph.Sequential([]int{8}, append(m.Layers()[:1:1], append([]layers.Layer{hidden{l}}, m.Layers()[2:]...)...)...)
	if err != nil {
		t.Fatal(err)
	}
	if p := twin.PredictPath(); !strings.Contains(p, "gorgonia graph") {
		t.Fatalf("twin PredictPath() = %q", p)
	}
	want, err := twin.Predict(d.X, 32)
	if err != nil {
		t.Fatal(err)
	}
	same(t, "runtime vs graph", got, want)
	path := filepath.Join(t.TempDir(), "m.npz")
	if err := m.Export(path); err != nil {
		t.Fatal(err)
	}
	inf, err := graph.LoadInference(path)
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := inf.Predict(d.X, 7)
	if err != nil {
		t.Fatal(err)
	}
	same(t, "exported vs model", loaded, got)
	if err := layers.RegisterKind(Kind, load); err == nil {
		t.Fatal("kind registered twice")
	}
}

// A layer of another module that implements neither interface trains,
// predicts through the gorgonia graph, and makes Export fail naming it.
func TestPlainLayer(t *testing.T) {
	d := toyData(80)
	m, _ := model(t, func() layers.Layer { return NewMix("mix", 6, 4) })
	fit(t, m, d)
	if p := m.PredictPath(); !strings.Contains(p, "gorgonia graph") || !strings.Contains(p, `"mix"`) {
		t.Fatalf("PredictPath() = %q", p)
	}
	logits, err := m.Predict(d.X, 32)
	if err != nil {
		t.Fatal(err)
	}
	if len(logits) != 80*3 {
		t.Fatalf("%d logits", len(logits))
	}
	if _, acc, err := m.Evaluate(d, 32); err != nil || !(acc > 0) {
		t.Fatalf("evaluate: accuracy %v, %v", acc, err)
	}
	err = m.Export(filepath.Join(t.TempDir(), "m.npz"))
	if err == nil || !strings.Contains(err.Error(), `layer "mix" of type *extlayer.Mix`) {
		t.Fatalf("export: %v", err)
	}
}
