package callbacks

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/g2g-ml/g2g/graph"
)

func TestTerminateOnDivergence(t *testing.T) {
	d, err := NewTerminateOnDivergence(DivergenceConfig{})
	if err != nil {
		t.Fatal(err)
	}
	c := &graph.Context{Epoch: 1, Step: 20, Loss: 2.5, Logs: map[string]float64{"loss": 250}}
	d.OnTrainBegin(c)
	d.OnBatchEnd(c) // reference 2.5
	c.Loss = 1e9    // later batches do not move it
	d.OnBatchEnd(c)
	if err := d.OnEpochEnd(c); err != nil {
		t.Fatalf("exactly 100 times the reference: %v", err)
	}
	c.Logs["loss"] = 250.01
	err = d.OnEpochEnd(c)
	if !errors.Is(err, ErrDiverged) || err.Error() != "loss is 250 at the end of epoch 1, more than 100 times the first batch's 2.5: training diverged" {
		t.Fatalf("above 100 times: %v", err)
	}
	c.Logs["loss"] = math.NaN()
	if err := d.OnEpochEnd(c); !errors.Is(err, ErrDiverged) {
		t.Fatalf("NaN: %v", err)
	}
	// A new run takes a new reference.
	d.OnTrainBegin(c)
	c.Loss = 3
	d.OnBatchEnd(c)
	c.Logs["loss"] = 250.01
	if err := d.OnEpochEnd(c); err != nil {
		t.Fatalf("reference 3: %v", err)
	}

	// An absolute bound on another entry, stopping instead of failing.
	m, err := NewTerminateOnDivergence(DivergenceConfig{Monitor: "val_loss", Factor: -1, Max: 10, Stop: true})
	if err != nil {
		t.Fatal(err)
	}
	c.Logs["val_loss"] = 10
	if err := m.OnEpochEnd(c); err != nil {
		t.Fatal(err)
	}
	c.Logs["val_loss"] = 11
	if err := m.OnEpochEnd(c); err != nil {
		t.Fatal(err)
	}
	if stopped, reason := c.Stopped(); !stopped || !strings.Contains(reason, "val_loss is 11") || !strings.Contains(reason, "bound 10") {
		t.Fatalf("stopped %v %q", stopped, reason)
	}
	delete(c.Logs, "val_loss")
	if err := m.OnEpochEnd(c); err == nil || !strings.Contains(err.Error(), `"val_loss" is not in the logs`) {
		t.Fatalf("missing entry: %v", err)
	}
	for _, cfg := range []DivergenceConfig{{Factor: 1}, {Factor: 0.5}, {Factor: math.NaN()}, {Factor: math.Inf(1)}, {Max: -1}, {Max: math.Inf(1)}, {Factor: -1}} {
		if _, err := NewTerminateOnDivergence(cfg); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
}
