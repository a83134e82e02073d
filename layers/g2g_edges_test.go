package layers

import (
	"math"
	"strings"
	"testing"
)

// TestEdgesIsExactAndUniform checks docs/design.md §2.3's exact edge
// count: exactly Edges active edges, the same mask for the same seed, and
// spread evenly: with 8 index ensembles per side, the intra-ensemble pairs
// are 1/8 of all, so the intra count of E uniform edges is hypergeometric
// with mean E/8; it must be within 6 standard deviations.
func TestEdgesIsExactAndUniform(t *testing.T) {
	const in, out, e = 256, 192, 12345
	a := newTestG2G(t, G2GConfig{In: in, Out: out, Groups: 8, Edges: e, Seed: 4})
	b := newTestG2G(t, G2GConfig{In: in, Out: out, Groups: 8, Edges: e, Seed: 4})
	if a.Mask().Active() != e || a.Config().Sampling != SampleExact {
		t.Fatalf("%d edges (sampling %q), want %d", a.Mask().Active(), a.Config().Sampling, e)
	}
	for k, v := range a.Mask().Data() {
		if b.Mask().Data()[k] != v {
			t.Fatalf("edge %d differs between two layers of the same seed", k)
		}
		if v == 0 && a.Weight().Data()[k] != 0 {
			t.Fatalf("masked weight %d is %v", k, a.Weight().Data()[k])
		}
	}
	n := float64(in * out)
	sd := math.Sqrt(e * (1.0 / 8) * (7.0 / 8) * (n - e) / (n - 1))
	if diff := float64(a.Mask().IntraCount()) - e/8.0; math.Abs(diff) > 6*sd {
		t.Fatalf("%d intra edges, want %v ± %.0f", a.Mask().IntraCount(), e/8.0, 6*sd)
	}
	// Every edge, and a single one.
	if l := newTestG2G(t, G2GConfig{In: 5, Out: 3, Groups: 1, Edges: 15, Seed: 1}); l.Mask().Active() != 15 {
		t.Fatalf("full: %d edges", l.Mask().Active())
	}
	if l := newTestG2G(t, G2GConfig{In: 5, Out: 3, Groups: 1, Edges: 1, Seed: 1}); l.Mask().Active() != 1 {
		t.Fatalf("one: %d edges", l.Mask().Active())
	}
	// The layer rewires like any G2G layer.
	k := a.Mask().ActiveIndices()[0]
	free := a.Mask().InactiveIndices()[0]
	if err := a.Prune([]int{k}); err != nil {
		t.Fatal(err)
	}
	if err := a.Grow([]int{free}, []float32{0.5}); err != nil || a.Mask().Active() != e {
		t.Fatalf("grow: %v, %d edges", err, a.Mask().Active())
	}
}

func TestEdgesRefusesOtherConnectivity(t *testing.T) {
	for _, tc := range []struct {
		cfg  G2GConfig
		want string
	}{
		{G2GConfig{In: 4, Out: 4, Groups: 1, Edges: 17}, "Edges must be in [1, In·Out = 16], got 17"},
		{G2GConfig{In: 4, Out: 4, Groups: 1, Edges: -1}, "Edges must be in [1, In·Out = 16], got -1"},
		{G2GConfig{In: 4, Out: 4, Groups: 1, Edges: 3, Density: 0.25}, "Edges (3) fixes the mask: leave Density, Inter and Intra unset"},
		{G2GConfig{In: 4, Out: 4, Groups: 1, Edges: 3, Intra: 0.5}, "Edges (3) fixes the mask"},
		{G2GConfig{In: 4, Out: 4, Groups: 1, Edges: 3, Inter: 0.5}, "Edges (3) fixes the mask"},
		{G2GConfig{In: 4, Out: 4, Groups: 2, Edges: 3, Sampling: SampleBlocks}, `Edges (3) draws an exact count: Sampling must be empty or exact, got "blocks"`},
	} {
		tc.cfg.Name = "er"
		if _, err := NewG2G(tc.cfg); err == nil || !strings.Contains(err.Error(), `layer "er": `+tc.want) {
			t.Errorf("%+v: err = %v, want %q", tc.cfg, err, tc.want)
		}
	}
}
