package graph

import (
	"fmt"
	"strings"
	"testing"

	"github.com/g2g-ml/g2g/layers"
	"github.com/g2g-ml/g2g/optim"
)

// TestFitAugmentCalls checks that Augment sees every training batch once,
// with its size, epoch and index, before the step, and never the data set
// itself or the validation set.
func TestFitAugmentCalls(t *testing.T) {
	m := smallModel(t, 11)
	d := toyData(23, 6, 3, 12)
	val := toyData(7, 6, 3, 13)
	orig := append([]float32(nil), d.X...)
	opt, err := optim.NewAdam(optim.AdamConfig{LR: 1e-3})
	if err != nil {
		t.Fatal(err)
	}
	var calls []string
	aug := func(x []float32, n int, epoch, batch int) error {
		if len(x) != n*6 {
			t.Fatalf("augment got %d values for %d samples", len(x), n)
		}
		calls = append(calls, fmt.Sprintf("%d/%d:%d", epoch, batch, n))
		for i := range x {
			x[i] = -x[i] // in place
		}
		return nil
	}
	_, err = m.Fit(d, FitConfig{Epochs: 3, InitialEpoch: 1, BatchSize: 10, Optimizer: opt, Seed: 1, Validation: val, Augment: aug})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(calls, " "), "1/0:10 1/1:10 1/2:3 2/0:10 2/1:10 2/2:3"; got != want {
		t.Fatalf("augment calls %q, want %q", got, want)
	}
	for i := range orig {
		if d.X[i] != orig[i] {
			t.Fatal("augmentation modified the training set")
		}
	}
}

// TestFitAugmentFeedsTheStep checks that the step trains on the augmented
// batch: zeroing the inputs leaves the first layer's weights (whose
// gradient x^T·dy is then zero) untouched, while without augmentation they
// move.
func TestFitAugmentFeedsTheStep(t *testing.T) {
	d := toyData(16, 6, 3, 14)
	zero := func(x []float32, n int, epoch, batch int) error {
		clear(x)
		return nil
	}
	for _, aug := range []func([]float32, int, int, int) error{nil, zero} {
		l1 := mustDense(t, layers.DenseConfig{Name: "l1", In: 6, Out: 5, Activation: layers.Tanh, Seed: 1})
		l2 := mustDense(t, layers.DenseConfig{Name: "l2", In: 5, Out: 3, Seed: 2})
		m, err := Sequential([]int{6}, l1, l2)
		if err != nil {
			t.Fatal(err)
		}
		before := append([]float32(nil), l1.Weight().Data()...)
		opt, _ := optim.NewAdam(optim.AdamConfig{LR: 1e-2})
		if _, err := m.Fit(d, FitConfig{Epochs: 2, BatchSize: 8, Optimizer: opt, Augment: aug}); err != nil {
			t.Fatal(err)
		}
		moved := false
		for k, v := range l1.Weight().Data() {
			moved = moved || v != before[k]
		}
		if moved != (aug == nil) {
			t.Fatalf("augment=%v: first-layer weights moved=%v", aug != nil, moved)
		}
	}
}

func TestFitAugmentError(t *testing.T) {
	m := smallModel(t, 15)
	d := toyData(12, 6, 3, 16)
	opt, _ := optim.NewAdam(optim.AdamConfig{LR: 1e-3})
	bad := func(x []float32, n int, epoch, batch int) error {
		if batch == 1 {
			return fmt.Errorf("bad crop")
		}
		return nil
	}
	hist, err := m.Fit(d, FitConfig{Epochs: 2, BatchSize: 5, Optimizer: opt, Augment: bad})
	if err == nil || !strings.Contains(err.Error(), "fit: augment (epoch 0, batch 1): bad crop") {
		t.Fatalf("err = %v", err)
	}
	if len(hist.Epochs) != 0 {
		t.Fatalf("%d epochs logged", len(hist.Epochs))
	}
}
