package graph

import (
	"math"
	"strings"
	"testing"
)

// metricOn returns a metric over the given batches.
func metricOn(t *testing.T, m Metric, batches ...MetricBatch) float64 {
	t.Helper()
	st := m.NewState()
	if r := st.Result(); !math.IsNaN(r) {
		t.Fatalf("%s before any batch: %v, want NaN", m.Name(), r)
	}
	for _, b := range batches {
		if err := st.Update(b); err != nil {
			t.Fatalf("%s: %v", m.Name(), err)
		}
	}
	return st.Result()
}

// Each built-in metric on batches worked out by hand.
func TestMetricsByHand(t *testing.T) {
	// Three samples of three classes: argmax 1, 0 (first of a tie), 2.
	out := []float32{0, 5, 1, 2, 2, 0, 0, 1, 3}
	labels := []int{1, 1, 0}
	onehot := []float32{0, 1, 0, 0, 1, 0, 1, 0, 0}
	cls := MetricBatch{N: 3, Width: 3, Output: out, Target: onehot, Labels: labels}
	soft := MetricBatch{N: 3, Width: 3, Output: out, Target: []float32{0.2, 0.7, 0.1, 0.1, 0.8, 0.1, 0.6, 0.3, 0.1}}
	// Regression: d = (1, 0, −2, 0) over 2 samples of 2.
	reg := MetricBatch{N: 2, Width: 2, Output: []float32{1, 2, 3, 4}, Target: []float32{0, 2, 5, 4}}
	// Multi-label, 3 samples × 2 labels, logits: predicted positive when > 0.
	//   sample 0: pred (1, 0) target (1, 1) → label 0 TP, label 1 FN
	//   sample 1: pred (1, 1) target (0, 1) → label 0 FP, label 1 TP
	//   sample 2: pred (0, 0) target (0, 0) → both TN
	// label 0: TP 1, FP 1, FN 0 → F1 2/3; label 1: TP 1, FP 0, FN 1 → F1 2/3.
	// Right entries: 1, 0, 0, 1, 1, 1 → binary accuracy 4/6.
	ml := MetricBatch{N: 3, Width: 2, Output: []float32{2, -1, 0.5, 3, -2, 0}, Target: []float32{1, 1, 0, 1, 0, 0}}
	cases := []struct {
		name string
		m    Metric
		b    []MetricBatch
		want float64
	}{
		{"acc labels", Accuracy{}, []MetricBatch{cls}, 1.0 / 3},
		{"acc soft targets", Accuracy{}, []MetricBatch{soft}, 1.0 / 3},
		// Sample 1 (class 1): outputs 2, 2, 0 — class 0 ranks above it on the tie,
		// so it is second; sample 2 (class 0): two outputs above it.
		{"top2 labels", TopKAccuracy{K: 2}, []MetricBatch{cls}, 2.0 / 3},
		{"top1 is acc", TopKAccuracy{K: 1}, []MetricBatch{cls}, 1.0 / 3},
		{"mse", MSE{}, []MetricBatch{reg}, 1.25},
		{"mae", MAE{}, []MetricBatch{reg}, 0.75},
		{"binary acc", BinaryAccuracy{}, []MetricBatch{ml}, 4.0 / 6},
		// Threshold 0.9 on probabilities: logit > ln 9 ≈ 2.197: only 3 is positive.
		// Right: 0,0,1,1,1,1 → 4/6.
		{"binary acc 0.9", BinaryAccuracy{Threshold: 0.9}, []MetricBatch{ml}, 4.0 / 6},
		{"f1 label 0", F1{Label: 0}, []MetricBatch{ml}, 2.0 / 3},
		{"f1 label 1", F1{Label: 1}, []MetricBatch{ml}, 2.0 / 3},
		{"macro f1", MacroF1{}, []MetricBatch{ml}, 2.0 / 3},
		// Over two batches, the counts add up: the same as one.
		{"macro f1 split", MacroF1{}, []MetricBatch{
			{N: 1, Width: 2, Output: ml.Output[:2], Target: ml.Target[:2]},
			{N: 2, Width: 2, Output: ml.Output[2:], Target: ml.Target[2:]}}, 2.0 / 3},
		{"acc split", Accuracy{}, []MetricBatch{
			{N: 2, Width: 3, Output: out[:6], Labels: labels[:2]},
			{N: 1, Width: 3, Output: out[6:], Labels: labels[2:]}}, 1.0 / 3},
	}
	for _, c := range cases {
		if got := metricOn(t, c.m, c.b...); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
	// Macro-F1 with a label never positive nor predicted: its F1 is 0.
	// Label 0: TP 1 → 1; label 1: nothing → 0; mean ½.
	none := MetricBatch{N: 1, Width: 2, Output: []float32{1, -1}, Target: []float32{1, 0}}
	if got := metricOn(t, MacroF1{}, none); got != 0.5 {
		t.Errorf("macro f1 with an empty label: %v, want 0.5", got)
	}
	// Probabilities: 0.6 > 0.5 positive, 0.4 not.
	if got := metricOn(t, BinaryAccuracy{Probabilities: true}, MetricBatch{N: 1, Width: 2, Output: []float32{0.6, 0.4}, Target: []float32{1, 1}}); got != 0.5 {
		t.Errorf("binary accuracy on probabilities: %v, want 0.5", got)
	}
}

// A metric of one's own is averaged over batches weighted by their sizes.
func TestCustomMetric(t *testing.T) {
	first := NewMetric("first", true, func(b MetricBatch) (float64, error) {
		var s float64
		for i := 0; i < b.N; i++ {
			s += float64(b.Output[i*b.Width])
		}
		return s / float64(b.N), nil
	})
	if first.Name() != "first" || !first.Maximize() {
		t.Fatalf("name %q maximize %v", first.Name(), first.Maximize())
	}
	// Batch means 1 (one sample) and 4 (three samples: 3, 4, 5): (1 + 12) / 4.
	got := metricOn(t, first,
		MetricBatch{N: 1, Width: 2, Output: []float32{1, 0}},
		MetricBatch{N: 3, Width: 2, Output: []float32{3, 0, 4, 0, 5, 0}})
	if got != 13.0/4 {
		t.Fatalf("custom metric %v, want 3.25", got)
	}
}

// Metrics that cannot measure an output, and unknown names, are errors
// naming them.
func TestMetricErrors(t *testing.T) {
	one := MetricBatch{N: 2, Width: 1, Output: []float32{1, 2}, Target: []float32{1, 0}}
	for _, c := range []struct {
		m    Metric
		want string
	}{
		{Accuracy{}, "accuracy needs at least 2 output values"},
		{TopKAccuracy{K: 0}, "K must be at least 1"},
		{F1{Label: 3}, "Label 3 is outside"},
		{BinaryAccuracy{Threshold: 2}, "Threshold"},
	} {
		err := c.m.NewState().Update(one)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error containing %q", c.m.Name(), err, c.want)
		}
	}
	_, err := MetricByName("accuracy_top")
	if err == nil || !strings.Contains(err.Error(), `"accuracy_top"`) || !strings.Contains(err.Error(), "macro_f1") {
		t.Fatalf("unknown metric: %v", err)
	}
	for name, want := range map[string]string{"acc": "acc", "accuracy": "acc", "top5_acc": "top5_acc", "mse": "mse",
		"mae": "mae", "binary_acc": "binary_acc", "f1_3": "f1_3", "macro_f1": "macro_f1"} {
		m, err := MetricByName(name)
		if err != nil || m.Name() != want {
			t.Errorf("MetricByName(%q) = %v, %v; want %s", name, m, err, want)
		}
	}
}
