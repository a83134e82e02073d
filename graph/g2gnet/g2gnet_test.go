package g2gnet

import (
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/g2g-ml/g2g/layers"
)

func TestParseKind(t *testing.T) {
	for _, k := range Kinds() {
		got, err := ParseKind(string(k))
		if err != nil || got != k {
			t.Fatalf("ParseKind(%q) = %q, %v", k, got, err)
		}
	}
	if got := Kinds(); !reflect.DeepEqual(got, []Kind{Dense, G2G, DenseMatched, ER, ERK}) {
		t.Fatalf("Kinds() = %v", got)
	}
	for _, bad := range []string{"", "cnn", "G2G", "dense "} {
		if _, err := ParseKind(bad); err == nil || err.Error() != `unknown model "`+bad+`" (want dense, g2g, dense-matched, er or erk)` {
			t.Fatalf("ParseKind(%q): err = %v", bad, err)
		}
	}
	if Dense.Sparse() || !G2G.Sparse() || Kind("cnn").Sparse() || DenseMatched.Sparse() || !ER.Sparse() || !ERK.Sparse() {
		t.Fatal("Sparse: want only g2g, er and erk")
	}
}

// TestReferenceMLP checks the reference model against docs/design.md §5:
// 784 → 1024 → 1024 → 1024 → 10, G2G masks of density 0.25 (exact
// sampling) on the three hidden weight matrices only, and the dense twin.
func TestReferenceMLP(t *testing.T) {
	cfg := Reference()
	m, err := MLP(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hiddenW := 784*1024 + 2*1024*1024
	other := 3*1024 + 1024*10 + 10 // hidden biases, output layer
	if m.NumParams() != hiddenW+other || m.ActiveParams() != hiddenW/4+other {
		t.Fatalf("%d params, %d active; want %d, %d", m.NumParams(), m.ActiveParams(), hiddenW+other, hiddenW/4+other)
	}
	sparse := m.SparseLayers()
	if len(sparse) != 3 {
		t.Fatalf("%d sparse layers, want 3", len(sparse))
	}
	for _, l := range sparse {
		mk := l.Mask()
		if d := float64(mk.Active()) / float64(mk.Len()); math.Abs(d-0.25) > 1e-12 {
			t.Fatalf("%s: density %v, want exactly 0.25", l.Name(), d)
		}
		if g, ok := l.(*layers.G2G); !ok || g.Config().Groups != 8 {
			t.Fatalf("%s: %T, want a G2G layer with 8 groups", l.Name(), l)
		}
	}
	cfg.Model = Dense
	d, err := MLP(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.SparseLayers()) != 0 || d.ActiveParams() != d.NumParams() || d.NumParams() != m.NumParams() {
		t.Fatalf("dense twin: %d sparse layers, %d of %d params active", len(d.SparseLayers()), d.ActiveParams(), d.NumParams())
	}
	// One seed, one model: the same configuration builds the same weights.
	m2, err := MLP(Reference())
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float32, 784)
	for i := range x {
		x[i] = float32(i%7) / 7
	}
	a, _ := m.Predict(x, 1)
	b, _ := m2.Predict(x, 1)
	for k := range a {
		if a[k] != b[k] {
			t.Fatalf("logit %d: %v vs %v for the same configuration", k, a[k], b[k])
		}
	}
	cfg = Reference()
	cfg.Model = "erdos-renyi"
	if _, err := MLP(cfg); err == nil || !strings.Contains(err.Error(), `unknown model "erdos-renyi" (want dense, g2g, dense-matched, er or erk)`) {
		t.Fatalf("err = %v", err)
	}
}
