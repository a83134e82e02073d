package graph

import (
	"math"
	"math/rand"
	"path/filepath"
	"strings"
	"testing"

	"github.com/g2g-ml/g2g/datasets"
	"github.com/g2g-ml/g2g/layers"
)

// exportAndLoad exports m and loads it back for inference.
func exportAndLoad(t *testing.T, m *Model) *Inference {
	t.Helper()
	path := filepath.Join(t.TempDir(), "m.npz")
	if err := m.Export(path); err != nil {
		t.Fatal(err)
	}
	inf, err := LoadInference(path)
	if err != nil {
		t.Fatal(err)
	}
	return inf
}

// referenceScore is Model.Evaluate's loss and accuracy loop as it was
// written before it shared scoreLogits, kept as the definition the shared
// code must reproduce to the last bit.
func referenceScore(logits []float32, y []int, c int) (loss, acc float64) {
	logSoftmaxAt := func(row []float32, k int) float64 {
		mx := math.Inf(-1)
		for _, v := range row {
			mx = math.Max(mx, float64(v))
		}
		var s float64
		for _, v := range row {
			s += math.Exp(float64(v) - mx)
		}
		return float64(row[k]) - mx - math.Log(s)
	}
	var sum float64
	correct := 0
	for i, label := range y {
		row := logits[i*c : (i+1)*c]
		sum -= logSoftmaxAt(row, label)
		if argmax(row) == label {
			correct++
		}
	}
	n := float64(len(y))
	return sum / n, float64(correct) / n
}

// TestEvaluateBitIdentical checks Model.Evaluate and the exported model's
// Inference.Evaluate against the pre-refactoring loop, bit for bit.
func TestEvaluateBitIdentical(t *testing.T) {
	m := smallModel(t, 131)
	d := toyData(57, 6, 3, 132)
	inf := exportAndLoad(t, m)
	logits, err := m.Predict(d.X, 10)
	if err != nil {
		t.Fatal(err)
	}
	wantLoss, wantAcc := referenceScore(logits, d.Y, 3)
	for _, bs := range []int{1, 10, 100} {
		ml, ma, err := m.Evaluate(d, bs)
		if err != nil {
			t.Fatal(err)
		}
		il, ia, err := inf.Evaluate(d, bs)
		if err != nil {
			t.Fatal(err)
		}
		for name, got := range map[string][2]float64{"model": {ml, ma}, "exported": {il, ia}} {
			if math.Float64bits(got[0]) != math.Float64bits(wantLoss) || got[1] != wantAcc {
				t.Fatalf("batch %d, %s: loss %v acc %v, want %v %v bit for bit", bs, name, got[0], got[1], wantLoss, wantAcc)
			}
		}
	}
	if wantAcc == 0 || wantAcc == 1 {
		t.Fatalf("accuracy %v: the toy set does not exercise both branches", wantAcc)
	}
}

// TestScoreLogitsBitIdentical compares the shared loop with the
// pre-refactoring one on many random rows of widely spread logits, where a
// reordered sum or subtraction shows in the last bits.
func TestScoreLogitsBitIdentical(t *testing.T) {
	rng := rand.New(rand.NewSource(170))
	const n, c = 5000, 10
	logits := make([]float32, n*c)
	y := make([]int, n)
	for k := range logits {
		logits[k] = float32(rng.NormFloat64() * 8)
	}
	for i := range y {
		y[i] = rng.Intn(c)
	}
	loss, acc := scoreLogits(logits, y, c)
	wantLoss, wantAcc := referenceScore(logits, y, c)
	if math.Float64bits(loss) != math.Float64bits(wantLoss) || acc != wantAcc {
		t.Fatalf("loss %v acc %v, want %v %v bit for bit", loss, acc, wantLoss, wantAcc)
	}
}

// TestInferenceEvaluateByHand evaluates an exported identity layer (logits
// = inputs) on two samples worked out by hand:
//
//	x = (0, ln 3), y = 1: p(1) = 3/4, loss ln(4/3), correct
//	x = (2, 0),    y = 1: p(1) = 1/(1+e²), loss ln(1+e²), wrong
func TestInferenceEvaluateByHand(t *testing.T) {
	l := mustDense(t, layers.DenseConfig{Name: "id", In: 2, Out: 2})
	copy(l.Params()[0].Data(), []float32{1, 0, 0, 1})
	for _, p := range l.Params()[1:] {
		for k := range p.Data() {
			p.Data()[k] = 0
		}
	}
	m, err := Sequential([]int{2}, l)
	if err != nil {
		t.Fatal(err)
	}
	inf := exportAndLoad(t, m)
	d := &datasets.Dataset{Name: "two", X: []float32{0, float32(math.Log(3)), 2, 0}, Y: []int{1, 1}, Shape: []int{2}, Classes: 2}
	loss, acc, err := inf.Evaluate(d, 1)
	if err != nil {
		t.Fatal(err)
	}
	want := (math.Log(4.0/3) + math.Log(1+math.Exp(2))) / 2
	if math.Abs(loss-want) > 1e-7 || acc != 0.5 {
		t.Fatalf("loss %v acc %v, want %v and 0.5", loss, acc, want)
	}

	// Data that does not fit the model is refused, naming what differs.
	for _, c := range []struct {
		d    *datasets.Dataset
		want string
	}{
		{nil, "evaluate: empty dataset"},
		{&datasets.Dataset{Name: "wide", X: make([]float32, 3), Y: []int{0}, Shape: []int{3}, Classes: 2}, `"wide" has 3 values per sample (shape [3]), the exported model takes 2`},
		{&datasets.Dataset{Name: "many", X: make([]float32, 2), Y: []int{0}, Shape: []int{2}, Classes: 5}, `"many" has 5 classes, the exported model outputs 2`},
		{&datasets.Dataset{Name: "bad", X: make([]float32, 2), Y: []int{7}, Shape: []int{2}, Classes: 2}, "evaluate: "},
	} {
		if _, _, err := inf.Evaluate(c.d, 4); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("err = %v, want it to contain %q", err, c.want)
		}
	}
	if _, _, err := inf.Evaluate(d, 0); err == nil || !strings.Contains(err.Error(), "batch size") {
		t.Errorf("batch 0: err = %v", err)
	}
}
