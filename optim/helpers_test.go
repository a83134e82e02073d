package optim_test

import (
	"math"
	"strings"
	"testing"

	"github.com/g2g-ml/g2g/optim"
)

const tol = 1e-6

// near fails the test unless got[i] is within tol of want[i] for every i.
func near(t *testing.T, what string, got []float32, want []float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: len = %d, want %d", what, len(got), len(want))
	}
	for i := range want {
		if d := math.Abs(float64(got[i]) - want[i]); !(d <= tol) {
			t.Errorf("%s[%d] = %.9g, want %.9g (diff %.3g)", what, i, got[i], want[i], d)
		}
	}
}

// same fails the test unless a and b are bit-identical.
func same(t *testing.T, what string, a, b []float32) {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("%s: len %d vs %d", what, len(a), len(b))
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			t.Errorf("%s[%d]: %.9g vs %.9g", what, i, a[i], b[i])
		}
	}
}

func step(t *testing.T, opt optim.Optimizer, params ...optim.Param) {
	t.Helper()
	if err := opt.Step(params); err != nil {
		t.Fatalf("Step: %v", err)
	}
}

// wantErr fails the test unless err is non-nil and mentions every one of subs.
func wantErr(t *testing.T, what string, err error, subs ...string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error, want one mentioning %q", what, subs)
		return
	}
	for _, s := range subs {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("%s: error %q does not mention %q", what, err, s)
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func clone(s []float32) []float32 { return append([]float32(nil), s...) }

// sameState fails the test unless a and b hold the same names, slots and
// bit-identical values.
func sameState(t *testing.T, a, b optim.State) {
	t.Helper()
	if a.Step != b.Step || a.BaseLR != b.BaseLR {
		t.Errorf("Step/BaseLR: %d/%v vs %d/%v", a.Step, a.BaseLR, b.Step, b.BaseLR)
	}
	if len(a.Slots) != len(b.Slots) {
		t.Fatalf("%d params vs %d", len(a.Slots), len(b.Slots))
	}
	for name, sa := range a.Slots {
		sb, ok := b.Slots[name]
		if !ok || len(sa) != len(sb) {
			t.Fatalf("param %q: slots %v vs %v", name, sa, sb)
		}
		for sn, va := range sa {
			vb, ok := sb[sn]
			if !ok {
				t.Fatalf("param %q: slot %q missing", name, sn)
			}
			same(t, name+"."+sn, va, vb)
		}
	}
}
