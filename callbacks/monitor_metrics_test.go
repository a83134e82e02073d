package callbacks_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/g2g-ml/g2g/callbacks"
	"github.com/g2g-ml/g2g/graph"
	"github.com/g2g-ml/g2g/optim"
)

// Monitoring callbacks watch any metric: a misspelt entry is an error
// naming it and listing the entries there are, and auto mode follows the
// metric's direction (macro-F1 up, MAE down), which the "acc" rule of
// thumb would get wrong.
func TestMonitorAnyMetric(t *testing.T) {
	m, d := toyModel(t)
	metrics := []graph.Metric{graph.Accuracy{}, graph.MacroF1{}, graph.MAE{}}
	fit := func(cbs ...graph.Callback) (*graph.History, error) {
		opt, _ := optim.NewAdam(optim.AdamConfig{LR: 0.05})
		return m.Fit(d, graph.FitConfig{Epochs: 3, BatchSize: 8, Optimizer: opt, Validation: d, Metrics: metrics, Callbacks: cbs})
	}
	for _, mk := range []func(key string) (graph.Callback, error){
		func(key string) (graph.Callback, error) {
			return callbacks.NewEarlyStopping(callbacks.EarlyStoppingConfig{Monitor: key})
		},
		func(key string) (graph.Callback, error) {
			return callbacks.NewReduceLROnPlateau(callbacks.ReduceLROnPlateauConfig{Monitor: key})
		},
		func(key string) (graph.Callback, error) {
			return callbacks.NewModelCheckpoint(callbacks.CheckpointConfig{Dir: t.TempDir(), Monitor: key, BestOnly: true})
		},
	} {
		cb, err := mk("val_accuracy")
		if err != nil {
			t.Fatal(err)
		}
		_, err = fit(cb)
		if err == nil || !strings.Contains(err.Error(), `"val_accuracy"`) || !strings.Contains(err.Error(), "val_macro_f1") ||
			!strings.Contains(err.Error(), "OnEpochEnd") {
			t.Fatalf("%s: misspelt monitor: %v", graph.CallbackName(cb), err)
		}
	}
	// Auto mode: stop as soon as the monitored value gets worse in its
	// own direction; record the history to know which way that was.
	for _, key := range []string{"val_macro_f1", "val_mae"} {
		es, err := callbacks.NewEarlyStopping(callbacks.EarlyStoppingConfig{Monitor: key, Patience: 10})
		if err != nil {
			t.Fatal(err)
		}
		hist, err := fit(es)
		if err != nil {
			t.Fatal(err)
		}
		best, epoch := es.Best()
		for e, logs := range hist.Epochs {
			v := logs[key]
			if (key == "val_mae" && v < best) || (key == "val_macro_f1" && v > best) {
				t.Fatalf("%s: epoch %d has %v, better than the recorded best %v (epoch %d)", key, e, v, best, epoch)
			}
		}
		if hist.Epochs[epoch][key] != best {
			t.Fatalf("%s: best %v is not epoch %d's %v", key, best, epoch, hist.Epochs[epoch][key])
		}
	}
	// The logger writes every metric.
	var buf bytes.Buffer
	logger, err := callbacks.NewMetricsLogger(&buf, callbacks.FormatJSONL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fit(logger); err != nil {
		t.Fatal(err)
	}
	var rec map[string]float64
	if err := json.Unmarshal(bytes.Split(buf.Bytes(), []byte("\n"))[0], &rec); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"acc", "macro_f1", "mae", "val_acc", "val_macro_f1", "val_mae", "loss", "val_loss"} {
		if _, ok := rec[k]; !ok {
			t.Fatalf("logger record lacks %q: %v", k, rec)
		}
	}
}
