package callbacks

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/g2g-ml/g2g/datasets"
	"github.com/g2g-ml/g2g/graph"
	"github.com/g2g-ml/g2g/layers"
	"github.com/g2g-ml/g2g/optim"
)

// toyData returns n samples of 4 values; the label is whether the first two
// sum to more than the last two.
func toyData(n int) *datasets.Dataset {
	d := &datasets.Dataset{Name: "toy", X: make([]float32, 4*n), Y: make([]int, n), Shape: []int{4}, Classes: 2}
	for i := 0; i < n; i++ {
		x := d.X[4*i : 4*i+4]
		for j := range x {
			x[j] = float32((i*7+j*13)%11)/11 - 0.5
		}
		if x[0]+x[1] > x[2]+x[3] {
			d.Y[i] = 1
		}
	}
	return d
}

func TestFitEndToEnd(t *testing.T) {
	g, err := layers.NewG2G(layers.G2GConfig{Name: "g", In: 4, Out: 8, Groups: 2, Density: 0.5, Sampling: layers.SampleExact, Activation: layers.ReLU, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	out, err := layers.NewDense(layers.DenseConfig{Name: "out", In: 8, Out: 2, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	model, err := graph.Sequential([]int{4}, g, out)
	if err != nil {
		t.Fatal(err)
	}
	opt, err := optim.NewAdam(optim.AdamConfig{LR: 1e-2})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "metrics.jsonl")
	logger, err := NewJSONLLogger(path)
	if err != nil {
		t.Fatal(err)
	}
	defer logger.Close()
	var progress bytes.Buffer
	hist, err := model.Fit(toyData(32), graph.FitConfig{
		Epochs: 2, BatchSize: 8, Optimizer: opt, Seed: 1,
		Validation: toyData(8),
		Callbacks:  []graph.Callback{NewProgress(&progress), logger},
	})
	if err != nil {
		t.Fatal(err)
	}
	recs := readJSONL(t, path)
	if len(recs) != 2 {
		t.Fatalf("%d records, want 2", len(recs))
	}
	for e, r := range recs {
		if r["epoch"] != float64(e) || r["step"] != float64(4*(e+1)) {
			t.Errorf("record %d: epoch %v step %v", e, r["epoch"], r["step"])
		}
		for _, k := range []string{"loss", "acc", "val_loss", "val_acc", "lr", "epoch_seconds", "g/density", "g/intra_fraction"} {
			if _, ok := r[k].(float64); !ok {
				t.Errorf("record %d: %q = %v", e, k, r[k])
			}
		}
		if r["loss"] != hist.Epochs[e]["loss"] || r["g/density"] != 0.5 {
			t.Errorf("record %d: loss %v (history %v), g/density %v", e, r["loss"], hist.Epochs[e]["loss"], r["g/density"])
		}
	}
	lines := strings.Split(strings.TrimSuffix(progress.String(), "\n"), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "epoch 1/2  loss ") || !strings.HasPrefix(lines[1], "epoch 2/2  loss ") {
		t.Errorf("progress output:\n%s", progress.String())
	}
	if !strings.Contains(lines[1], "val_acc ") || !strings.Contains(lines[1], "lr 0.01") {
		t.Errorf("progress line lacks val_acc or lr: %q", lines[1])
	}
}
