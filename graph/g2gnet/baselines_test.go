package g2gnet

import (
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/g2g-ml/g2g/layers"
)

// TestDenseMatchedReference works the parameter-matched dense models of
// docs/design.md §5 out by hand. Fashion-MNIST: the G2G model has
// 784·1024/4 + 2·1024²/4 hidden edges, 3·1024 hidden biases and a
// 1024·10 + 10 output layer, 738,314 active parameters; a dense model of
// width w has 784w + w + 2(w² + w) + 10w + 10 = 2w² + 797w + 10, which is
// 737,890 for w = 440 (424 below) and 740,449 for w = 441 (2,135 above).
// CIFAR: the encoder's 3·8·8·32 + 32 = 6,176 parameters are on both sides;
// the G2G model has 674,858 and width w gives 2w² + 525w + 6,186, which is
// 673,253 for w = 461 (1,605 below) and 675,624 for w = 462 (766 above).
func TestDenseMatchedReference(t *testing.T) {
	cfg := Reference()
	widths, target, count, err := MatchedWidths(cfg, 784, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(widths, []int{440, 440, 440}) || target != 738314 || count != 737890 {
		t.Fatalf("fashion-mnist: widths %v, target %d, count %d", widths, target, count)
	}
	cfg.Model = DenseMatched
	m, err := MLP(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if m.ActiveParams() != 737890 || m.NumParams() != 737890 || len(m.SparseLayers()) != 0 {
		t.Fatalf("dense-matched: %d active of %d params, %d sparse layers", m.ActiveParams(), m.NumParams(), len(m.SparseLayers()))
	}
	cfg.Model = G2G
	g, err := MLP(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if g.ActiveParams() != target {
		t.Fatalf("the G2G model has %d active parameters, the target was %d", g.ActiveParams(), target)
	}

	c := CIFARReference(10)
	c.Model = DenseMatched
	cm, err := CIFAR(c)
	if err != nil {
		t.Fatal(err)
	}
	c.Model = G2G
	cg, err := CIFAR(c)
	if err != nil {
		t.Fatal(err)
	}
	if cm.ActiveParams() != 675624 || cg.ActiveParams() != 674858 || !strings.Contains(cm.Summary(), "237006") /* 512·462 + 462 */ {
		t.Fatalf("cifar: dense-matched %d, g2g %d\n%s", cm.ActiveParams(), cg.ActiveParams(), cm.Summary())
	}
}

// TestDenseMatchedWithinOnePercent checks, over densities, groupings and
// uneven hidden widths, that the matched count is within 1 % of the G2G
// model's, and that no other scale t of the widths comes closer (brute
// force over every t).
func TestDenseMatchedWithinOnePercent(t *testing.T) {
	for _, tc := range []struct {
		hidden   []int
		density  float64
		grouping layers.Grouping
	}{
		{[]int{256, 256}, 0.25, layers.GroupIndex},
		{[]int{256, 128, 64}, 0.5, layers.GroupMixer},
		{[]int{200, 300}, 0.125, layers.GroupRandom},
		{[]int{128, 128}, 1, layers.GroupIndex},
	} {
		cfg := MLPConfig{Input: 100, Hidden: tc.hidden, Classes: 10, Model: G2G, Groups: 8, Grouping: tc.grouping,
			Density: tc.density, Intra: 1, Sampling: layers.SampleExact, Seed: 3}
		g, err := MLP(cfg)
		if err != nil {
			t.Fatal(err)
		}
		widths, target, count, err := MatchedWidths(cfg, 100, 0)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Model = DenseMatched
		m, err := MLP(cfg)
		if err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("%v d=%v %s", tc.hidden, tc.density, tc.grouping)
		if target != g.ActiveParams() || count != m.ActiveParams() {
			t.Fatalf("%s: target %d vs G2G %d; count %d vs model %d", name, target, g.ActiveParams(), count, m.ActiveParams())
		}
		if off := math.Abs(float64(count-target)) / float64(target); off > 0.01 {
			t.Fatalf("%s: %d parameters for %d: %.3f %% off", name, count, target, 100*off)
		}
		top := 0
		for _, h := range tc.hidden {
			top = max(top, h)
		}
		for s := 1; s <= top; s++ {
			if n := denseCount(100, 0, 10, scaled(tc.hidden, s)); abs(n-target) < abs(count-target) {
				t.Fatalf("%s: widths %v give %d, closer to %d than the chosen %v (%d)", name, scaled(tc.hidden, s), n, target, widths, count)
			}
		}
		if tc.density == 1 && !reflect.DeepEqual(widths, tc.hidden) {
			t.Fatalf("%s: at density 1 the widths should stay %v, got %v", name, tc.hidden, widths)
		}
	}
}

// TestDenseMatchedImpossible: 10 inputs, one hidden layer of 8, 3
// classes, G = 2, density 0.5: the G2G model has 40 edges, 8 biases and a
// 27-parameter output layer, 75 in all; a dense width w has 14w + 3, 73
// for w = 5 (2.7 % off) and 87 for w = 6. Neither is within 1 %.
func TestDenseMatchedImpossible(t *testing.T) {
	cfg := MLPConfig{Input: 10, Hidden: []int{8}, Classes: 3, Model: DenseMatched, Groups: 2, Density: 0.5, Intra: 1,
		Sampling: layers.SampleExact, Seed: 1}
	_, err := MLP(cfg)
	if err == nil || !strings.Contains(err.Error(), "model dense-matched: no uniform scaling of the hidden widths [8] comes within 1 % of the G2G model's 75 active parameters (closest: widths [5] with 73 parameters, 2.67 % off)") {
		t.Fatalf("err = %v", err)
	}
	// A density the G2G model cannot have is refused for its baselines too.
	for _, k := range []Kind{DenseMatched, ER, ERK} {
		cfg := Reference()
		cfg.Model, cfg.Density = k, 0.05
		if _, err := MLP(cfg); err == nil || !strings.Contains(err.Error(), "the G2G model it is matched to") {
			t.Fatalf("%s at density 0.05: %v", k, err)
		}
	}
}

// smallConfig is a G2G model small enough for mask statistics to run fast.
func smallConfig(sampling layers.Sampling, grouping layers.Grouping) MLPConfig {
	return MLPConfig{Input: 192, Hidden: []int{256, 256, 128}, Classes: 10, Model: G2G, Groups: 8, Grouping: grouping,
		Density: 0.25, Intra: 1, Sampling: sampling, Seed: 7}
}

// TestERMatchesEdgesPerLayer checks that every ER layer has exactly the
// edges of the G2G layer it replaces, for exact sampling and for Bernoulli
// sampling (whose counts vary with the seed), and carries its ensembles.
func TestERMatchesEdgesPerLayer(t *testing.T) {
	for _, s := range []layers.Sampling{layers.SampleExact, layers.SampleBernoulli} {
		cfg := smallConfig(s, layers.GroupIndex)
		g, err := MLP(cfg)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Model = ER
		e, err := MLP(cfg)
		if err != nil {
			t.Fatal(err)
		}
		gs, es := g.SparseLayers(), e.SparseLayers()
		if len(es) != 3 || g.ActiveParams() != e.ActiveParams() {
			t.Fatalf("%s: %d sparse layers, %d vs %d active params", s, len(es), e.ActiveParams(), g.ActiveParams())
		}
		for l := range gs {
			gm, em := gs[l].Mask(), es[l].Mask()
			if em.Active() != gm.Active() || em.Groups != 8 || !reflect.DeepEqual(em.InGroup, gm.InGroup) || !reflect.DeepEqual(em.OutGroup, gm.OutGroup) {
				t.Fatalf("%s %s: %d edges (%d groups), want %d with the G2G layer's ensembles", s, es[l].Name(), em.Active(), em.Groups, gm.Active())
			}
		}
	}
}

// intraFraction returns the fraction of m's active edges that join units
// of the same ensemble under the assignments inG, outG.
func intraFraction(m *layers.Mask, inG, outG []int) float64 {
	n := 0
	for _, k := range m.ActiveIndices() {
		i, j := m.Edge(k)
		if inG[i] == outG[j] {
			n++
		}
	}
	return float64(n) / float64(m.Active())
}

// TestERHasNoEnsembleStructure measures, for every hidden layer, the
// fraction of active edges that are intra-ensemble under the G2G layer's
// own grouping (index, then mixer). With E edges drawn uniformly from N
// pairs of which N/G are intra, the intra count is hypergeometric with
// mean E/G and variance E·(1/G)(1 − 1/G)(N − E)/(N − 1): an ER or ERK mask
// must be within 6 standard deviations of 1/G (for a 256×256 layer at
// density 0.25, 1/8 ± 0.013). The G2G mask, whose every intra pair is
// active, has (N/G)/E = 0.5 and fails the same bound by far.
func TestERHasNoEnsembleStructure(t *testing.T) {
	for _, grouping := range []layers.Grouping{layers.GroupIndex, layers.GroupMixer} {
		cfg := smallConfig(layers.SampleExact, grouping)
		g, err := MLP(cfg)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []Kind{G2G, ER, ERK} {
			cfg.Model = k
			m, err := MLP(cfg)
			if err != nil {
				t.Fatal(err)
			}
			for l, s := range m.SparseLayers() {
				ref := g.SparseLayers()[l].Mask()
				mk := s.Mask()
				const groups = 8.0
				n, e := float64(mk.Len()), float64(mk.Active())
				sd := math.Sqrt(e*(1/groups)*(1-1/groups)*(n-e)/(n-1)) / e
				f := intraFraction(mk, ref.InGroup, ref.OutGroup)
				if own := mk.IntraFraction(); own != f {
					t.Errorf("%s %s %s: the mask's own intra fraction %v, %v under the G2G layer's ensembles", grouping, k, s.Name(), own, f)
				}
				within := math.Abs(f-1/groups) <= 6*sd
				if within != (k != G2G) {
					t.Errorf("%s %s %s: intra fraction %.4f, 1/G = %.4f ± %.4f (6 sd): within = %v", grouping, k, s.Name(), f, 1/groups, 6*sd, within)
				}
			}
		}
	}
}

// TestERKEdgesByHand checks ERKEdges against cases worked out by hand.
func TestERKEdgesByHand(t *testing.T) {
	for _, tc := range []struct {
		name   string
		shapes [][2]int
		total  int
		want   []int
	}{
		// 6×4 and 4×4, 20 edges: ε·(10 + 8) = 20, ε = 10/9; real counts
		// 11.11 and 8.89 (densities 0.463 and 0.556); the floors 11 + 8
		// leave one edge, which goes to the larger remainder (0.89).
		{"small", [][2]int{{6, 4}, {4, 4}}, 20, []int{11, 9}},
		// 2×2 and 10×10, 54 edges: ε·(4 + 20) = 54 gives ε = 2.25 and a
		// density 2.25·4/4 > 1 for the 2×2 layer, which becomes dense (4
		// edges); the other gets the remaining 50 (ε = 2.5, density 0.5).
		{"capped", [][2]int{{2, 2}, {10, 10}}, 54, []int{4, 50}},
		// The reference MLP at density 0.25: 724,992 edges; ε = 724992 /
		// (1808 + 2·2048) = 122.797; real counts 222,016.52 and twice
		// 251,487.74 (densities 0.2765, 0.2398, 0.2398); the floors leave
		// two edges, one to each 1024×1024 layer (remainder 0.74 > 0.52).
		{"reference", [][2]int{{784, 1024}, {1024, 1024}, {1024, 1024}}, 724992, []int{222016, 251488, 251488}},
		// Everything dense.
		{"full", [][2]int{{3, 2}, {2, 5}}, 16, []int{6, 10}},
	} {
		got, err := ERKEdges(tc.shapes, tc.total)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
	for _, total := range []int{0, 17} {
		if _, err := ERKEdges([][2]int{{3, 2}, {2, 5}}, total); err == nil || !strings.Contains(err.Error(), "want 1 to 16") {
			t.Errorf("total %d: err = %v", total, err)
		}
	}
	// One edge for two layers: one of them would get none.
	if _, err := ERKEdges([][2]int{{4, 4}, {4, 4}}, 1); err == nil || !strings.Contains(err.Error(), "would get 0 edges") {
		t.Errorf("1 edge for 2 layers: err = %v", err)
	}
}

// TestERKModel checks that the ERK model has the G2G model's total edge
// count, spread by ERKEdges.
func TestERKModel(t *testing.T) {
	cfg := smallConfig(layers.SampleExact, layers.GroupIndex)
	g, err := MLP(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Model = ERK
	m, err := MLP(cfg)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	var shapes [][2]int
	for _, s := range g.SparseLayers() {
		total += s.Mask().Active()
		shapes = append(shapes, [2]int{s.Mask().In, s.Mask().Out})
	}
	want, err := ERKEdges(shapes, total)
	if err != nil {
		t.Fatal(err)
	}
	for l, s := range m.SparseLayers() {
		if s.Mask().Active() != want[l] {
			t.Fatalf("%s: %d edges, want %d", s.Name(), s.Mask().Active(), want[l])
		}
	}
	if m.ActiveParams() != g.ActiveParams() {
		t.Fatalf("erk: %d active params, g2g %d", m.ActiveParams(), g.ActiveParams())
	}
	// (in + out)/(in·out) is 384/32768 for 256 → 128, 448/49152 for
	// 192 → 256 and 512/65536 for 256 → 256: the densities follow that
	// order, unlike ER's equal ones.
	d := func(l int) float64 { return m.SparseLayers()[l].Mask().Density() }
	if !(d(2) > d(0) && d(0) > d(1)) {
		t.Fatalf("erk densities %v %v %v: want the 256→128 layer densest, then 192→256, then 256→256", d(0), d(1), d(2))
	}
}
