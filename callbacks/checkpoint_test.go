package callbacks_test

import (
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/g2g-ml/g2g/callbacks"
	"github.com/g2g-ml/g2g/datasets"
	"github.com/g2g-ml/g2g/graph"
	"github.com/g2g-ml/g2g/layers"
	"github.com/g2g-ml/g2g/optim"
)

func toyModel(t *testing.T) (*graph.Model, *datasets.Dataset) {
	t.Helper()
	g, err := layers.NewG2G(layers.G2GConfig{Name: "g", In: 4, Out: 8, Groups: 2, Density: 0.75, Activation: layers.Tanh, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	head, _ := layers.NewDense(layers.DenseConfig{Name: "head", In: 8, Out: 2, Seed: 2})
	m, err := graph.Sequential([]int{4}, g, head)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(3))
	d := &datasets.Dataset{Name: "toy", Shape: []int{4}, Classes: 2}
	for i := 0; i < 40; i++ {
		a := rng.NormFloat64()
		d.X = append(d.X, float32(a), float32(rng.NormFloat64()), 0, 1)
		if a > 0 {
			d.Y = append(d.Y, 1)
		} else {
			d.Y = append(d.Y, 0)
		}
	}
	return m, d
}

func TestModelCheckpointKeepsLastAndBest(t *testing.T) {
	m, d := toyModel(t)
	dir := filepath.Join(t.TempDir(), "ck")
	ck, err := callbacks.NewModelCheckpoint(callbacks.CheckpointConfig{Dir: dir, KeepLast: 2, Monitor: "loss", Config: map[string]int{"seed": 1}})
	if err != nil {
		t.Fatal(err)
	}
	opt, _ := optim.NewAdam(optim.AdamConfig{LR: 0.05})
	if _, err := m.Fit(d, graph.FitConfig{Epochs: 5, BatchSize: 8, Optimizer: opt, Callbacks: []graph.Callback{ck}}); err != nil {
		t.Fatal(err)
	}
	names, _ := filepath.Glob(filepath.Join(dir, "*.npz"))
	for i := range names {
		names[i] = filepath.Base(names[i])
	}
	if strings.Join(names, " ") != "best.npz epoch-0004.npz epoch-0005.npz" {
		t.Fatalf("files %v", names)
	}
	latest, err := callbacks.LatestCheckpoint(dir)
	if err != nil || filepath.Base(latest) != "epoch-0005.npz" {
		t.Fatalf("latest %q, %v", latest, err)
	}
	st, err := m.LoadCheckpoint(latest)
	if err != nil {
		t.Fatal(err)
	}
	if st.Epoch != 5 || st.Step != 25 || string(st.Config) != `{"seed":1}` || st.Optimizer == nil || st.Optimizer.Step != 25 {
		t.Fatalf("state %+v", st)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 3 {
		t.Fatalf("%d entries in %s: temporary files left behind?", len(entries), dir)
	}
}

func TestModelCheckpointErrors(t *testing.T) {
	if _, err := callbacks.NewModelCheckpoint(callbacks.CheckpointConfig{}); err == nil {
		t.Fatal("missing Dir accepted")
	}
	if _, err := callbacks.NewModelCheckpoint(callbacks.CheckpointConfig{Dir: t.TempDir(), BestOnly: true}); err == nil {
		t.Fatal("BestOnly without Monitor accepted")
	}
	m, d := toyModel(t)
	ck, _ := callbacks.NewModelCheckpoint(callbacks.CheckpointConfig{Dir: t.TempDir(), Monitor: "val_acc"})
	opt, _ := optim.NewAdam(optim.AdamConfig{LR: 0.05})
	_, err := m.Fit(d, graph.FitConfig{Epochs: 1, BatchSize: 8, Optimizer: opt, Callbacks: []graph.Callback{ck}})
	if err == nil || !strings.Contains(err.Error(), `monitored metric "val_acc" is not in the logs`) || !strings.Contains(err.Error(), "model-checkpoint") {
		t.Fatalf("missing metric: %v", err)
	}
	if _, err := callbacks.LatestCheckpoint(t.TempDir()); err == nil {
		t.Fatal("empty dir gave a checkpoint")
	}
}
