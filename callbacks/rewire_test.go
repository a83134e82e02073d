package callbacks

import (
	"math"
	"math/rand"
	"slices"
	"strings"
	"testing"

	"github.com/pkg/errors"

	"github.com/g2g-ml/g2g/layers"
	"github.com/g2g-ml/g2g/optim"
)

func newLayer(t *testing.T, in, out, groups int, density, intra float64) *layers.G2G {
	t.Helper()
	l, err := layers.NewG2G(layers.G2GConfig{
		Name: "g", In: in, Out: out, Groups: groups, Density: density, Intra: intra,
		Sampling: layers.SampleExact, Seed: 5,
	})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// steppedAdam returns an Adam that has taken one step on l's weight with a
// gradient of ones, so every active edge has nonzero moments.
func steppedAdam(t *testing.T, l layers.Sparse) *optim.Adam {
	t.Helper()
	opt := newAdam(t, 1e-3)
	w := l.Weight()
	g := make([]float32, w.Size())
	for k := range g {
		g[k] = 1
	}
	if err := opt.Step([]optim.Param{{Name: w.Name, Value: w.Data(), Grad: g, Mask: w.Mask.Data()}}); err != nil {
		t.Fatal(err)
	}
	return opt
}

// diff returns the edges that left and joined the mask.
func diff(before, after []float32) (pruned, grown []int) {
	for k := range after {
		switch {
		case before[k] != 0 && after[k] == 0:
			pruned = append(pruned, k)
		case before[k] == 0 && after[k] != 0:
			grown = append(grown, k)
		}
	}
	return pruned, grown
}

func TestRewirerMagnitudeRandom(t *testing.T) {
	l := newLayer(t, 16, 16, 4, 0.5, 1)
	opt := steppedAdam(t, l)
	m := l.Mask()
	before := append([]float32(nil), m.Data()...)
	w0 := append([]float32(nil), l.Weight().Data()...)
	active := m.Active()
	r := Rewirer{Prune: MagnitudeScore, Grow: RandomScore}
	rep, err := r.Rewire(&Update{Layer: l, Optimizer: opt, Rand: rand.New(rand.NewSource(1))}, 20)
	if err != nil {
		t.Fatal(err)
	}
	pruned, grown := diff(before, m.Data())
	if m.Active() != active || rep.Active != active {
		t.Fatalf("active %d -> %d (report %d)", active, m.Active(), rep.Active)
	}
	if len(pruned) != 20 || len(grown) != 20 || rep.Pruned != 20 || rep.Regrown != 20 {
		t.Fatalf("mask diff -%d +%d, report -%d +%d, want 20 each", len(pruned), len(grown), rep.Pruned, rep.Regrown)
	}
	// The pruned edges are the weakest: none survives with a smaller |w|.
	var maxPruned float64
	for _, k := range pruned {
		maxPruned = math.Max(maxPruned, math.Abs(float64(w0[k])))
	}
	for k, v := range m.Data() {
		if v != 0 && before[k] != 0 && math.Abs(float64(w0[k])) < maxPruned {
			t.Fatalf("edge %d (|w| %v) survived while one of |w| %v was pruned", k, w0[k], maxPruned)
		}
	}
	w := l.Weight().Data()
	for k, v := range m.Data() {
		if v == 0 && w[k] != 0 {
			t.Fatalf("masked edge %d has weight %v", k, w[k])
		}
	}
	for _, k := range grown {
		if w[k] != 0 {
			t.Fatalf("regrown edge %d starts at %v, want 0", k, w[k])
		}
	}
	st := opt.State().Slots[l.Weight().Name]
	for _, k := range append(pruned, grown...) {
		if st[optim.SlotM][k] != 0 || st[optim.SlotV][k] != 0 {
			t.Fatalf("edge %d: moments m %v v %v after the update, want 0", k, st[optim.SlotM][k], st[optim.SlotV][k])
		}
	}
	// Some untouched edge keeps its moments.
	for k, v := range m.Data() {
		if v != 0 && before[k] != 0 && st[optim.SlotM][k] == 0 {
			t.Fatalf("untouched edge %d lost its moment", k)
		}
	}
	if want := 20.0 / float64(active); rep.Churn != want || rep.Density != m.Density() {
		t.Fatalf("churn %v (want %v), density %v", rep.Churn, want, rep.Density)
	}
}

func TestRewirerTiesByIndex(t *testing.T) {
	l := newLayer(t, 8, 8, 2, 0.5, 1)
	m := l.Mask()
	flat := func(*Update) ([]float64, error) { return make([]float64, m.Len()), nil }
	act, inact := m.ActiveIndices(), m.InactiveIndices()
	r := Rewirer{Prune: flat, Grow: flat}
	rep, err := r.Rewire(&Update{Layer: l, Rand: rand.New(rand.NewSource(1))}, 3)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Pruned != 3 {
		t.Fatalf("pruned %d", rep.Pruned)
	}
	for _, k := range act[:3] {
		if m.Has(k) {
			t.Fatalf("equal scores: edge %d (among the lowest active indices) not pruned", k)
		}
	}
	for _, k := range inact[:3] {
		if !m.Has(k) {
			t.Fatalf("equal scores: edge %d (among the lowest inactive indices) not regrown", k)
		}
	}
}

func TestRewirerClassScope(t *testing.T) {
	for _, intra := range []float64{1, 0.75} {
		l := newLayer(t, 16, 16, 4, 0.5, intra)
		m := l.Mask()
		before := append([]float32(nil), m.Data()...)
		intraBefore := m.IntraCount()
		r := Rewirer{Prune: RandomScore, Grow: RandomScore, Scope: ScopeClass}
		rep, err := r.Rewire(&Update{Layer: l, Rand: rand.New(rand.NewSource(2))}, 30)
		if err != nil {
			t.Fatal(err)
		}
		pruned, grown := diff(before, m.Data())
		if len(pruned) != 30 || len(grown) != 30 {
			t.Fatalf("intra %v: -%d +%d, want 30 each", intra, len(pruned), len(grown))
		}
		if m.IntraCount() != intraBefore || rep.PrunedIntra != rep.RegrownIntra {
			t.Fatalf("intra %v: intra edges %d -> %d (report pruned %d regrown %d)", intra, intraBefore, m.IntraCount(), rep.PrunedIntra, rep.RegrownIntra)
		}
		if intra == 1 && rep.PrunedIntra != 0 {
			t.Fatalf("p = 1: %d intra edges pruned, but none can be regrown", rep.PrunedIntra)
		}
		if intra < 1 && rep.PrunedIntra == 0 {
			t.Fatalf("p = %v: no intra edge rewired out of 30", intra)
		}
	}
}

func TestRewirerCapsK(t *testing.T) {
	l := newLayer(t, 8, 8, 2, 0.75, 1) // 48 active, 16 inactive
	r := Rewirer{Prune: MagnitudeScore, Grow: RandomScore}
	rep, err := r.Rewire(&Update{Layer: l, Rand: rand.New(rand.NewSource(1))}, 40)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Pruned != 16 || rep.K != 40 || l.Mask().Active() != 48 {
		t.Fatalf("k 40 with 16 inactive edges: pruned %d, active %d", rep.Pruned, l.Mask().Active())
	}
}

func TestRewirerMix(t *testing.T) {
	l := newLayer(t, 16, 16, 4, 0.5, 1)
	m := l.Mask()
	// Part one prefers high indices, part two low ones.
	hi := func(*Update) ([]float64, error) {
		s := make([]float64, m.Len())
		for k := range s {
			s[k] = -float64(k)
		}
		return s, nil
	}
	lo := func(*Update) ([]float64, error) {
		s := make([]float64, m.Len())
		for k := range s {
			s[k] = float64(k)
		}
		return s, nil
	}
	act := m.ActiveIndices()
	r := Rewirer{PruneMix: []ScoreShare{{Score: hi, Share: 3}, {Score: lo, Share: 1}}, Grow: RandomScore}
	if _, err := r.Rewire(&Update{Layer: l, Rand: rand.New(rand.NewSource(1))}, 8); err != nil {
		t.Fatal(err)
	}
	for _, k := range act[len(act)-6:] {
		if m.Has(k) {
			t.Fatalf("3/4 of 8 = 6 highest active indices should be pruned; %d survived", k)
		}
	}
	for _, k := range act[:2] {
		if m.Has(k) {
			t.Fatalf("1/4 of 8 = 2 lowest active indices should be pruned; %d survived", k)
		}
	}
}

func TestRewirerErrorsLeaveLayer(t *testing.T) {
	l := newLayer(t, 8, 8, 2, 0.5, 1)
	before := append([]float32(nil), l.Mask().Data()...)
	w0 := append([]float32(nil), l.Weight().Data()...)
	boom := func(*Update, []int) ([]float32, error) { return nil, errors.New("boom") }
	nan := func(*Update) ([]float64, error) { return []float64{math.NaN()}, nil }
	short := func(*Update) ([]float64, error) { return []float64{1}, nil }
	cases := []struct {
		r    Rewirer
		want string
	}{
		{Rewirer{Prune: MagnitudeScore, Grow: RandomScore, Init: boom}, "boom"},
		{Rewirer{Prune: short, Grow: RandomScore}, "prune score: 1 scores for 64 edges"},
		{Rewirer{Prune: MagnitudeScore, Grow: func(u *Update) ([]float64, error) {
			s, _ := MagnitudeScore(u)
			s[3] = math.NaN()
			return s, nil
		}}, "grow score: NaN at edge 3"},
		{Rewirer{Grow: RandomScore}, "no prune score"},
		{Rewirer{Prune: nan, PruneMix: []ScoreShare{{Score: nan, Share: 1}}, Grow: RandomScore}, "only one of Prune and PruneMix"},
		{Rewirer{Prune: MagnitudeScore}, "no grow score"},
		{Rewirer{Prune: MagnitudeScore, Grow: RandomScore, Scope: "everywhere"}, `unknown Scope "everywhere"`},
	}
	for _, c := range cases {
		_, err := c.r.Rewire(&Update{Layer: l, Rand: rand.New(rand.NewSource(1))}, 5)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), `layer "g"`) {
			t.Errorf("err = %v, want it to contain %q and the layer", err, c.want)
		}
		if !slices.Equal(before, l.Mask().Data()) || !slices.Equal(w0, l.Weight().Data()) {
			t.Fatalf("%q: the failed update changed the layer", c.want)
		}
	}
}

func TestAnnealFractions(t *testing.T) {
	const z0, T = 0.3, 10
	for tt := 0; tt <= T; tt++ {
		want := z0 * (1 + math.Cos(math.Pi*float64(tt)/T)) / 2
		if got := AnnealCosine.Fraction(z0, tt, T); math.Abs(got-want) > 1e-15 {
			t.Errorf("cosine t=%d: %v, want %v", tt, got, want)
		}
		if got, want := AnnealLinear.Fraction(z0, tt, T), z0*(1-float64(tt)/T); math.Abs(got-want) > 1e-15 {
			t.Errorf("linear t=%d: %v, want %v", tt, got, want)
		}
		if got := AnnealConstant.Fraction(z0, tt, T); got != z0 {
			t.Errorf("constant t=%d: %v", tt, got)
		}
	}
	if got := AnnealCosine.Fraction(z0, T/2, T); math.Abs(got-z0/2) > 1e-15 {
		t.Errorf("cosine half way: %v, want %v", got, z0/2)
	}
}

func TestScheduleNext(t *testing.T) {
	s := Schedule{Every: 3, Start: 2, End: 10}
	var due []int
	for at := 0; at < 12; at++ {
		if s.Due(at) {
			due = append(due, at)
		}
	}
	if !slices.Equal(due, []int{2, 5, 8}) {
		t.Fatalf("due at %v", due)
	}
	for at, want := range map[int]int{0: 2, 2: 2, 3: 5, 5: 5, 8: 8, 9: -1, 11: -1} {
		if got := s.Next(at); got != want {
			t.Errorf("next(%d) = %d, want %d", at, got, want)
		}
	}
}

// TestBestNMatchesSort checks the selection against a full sort, with many
// ties.
func TestBestNMatchesSort(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for trial := 0; trial < 200; trial++ {
		size := 1 + rng.Intn(300)
		score := make([]float64, size)
		for k := range score {
			score[k] = float64(rng.Intn(1 + rng.Intn(20)))
		}
		cand := rng.Perm(size)[:1+rng.Intn(size)]
		n := rng.Intn(len(cand) + 2)
		for _, desc := range []bool{false, true} {
			full := slices.Clone(cand)
			slices.SortFunc(full, rankCmp(score, desc))
			got := bestN(cand, score, n, desc)
			if !slices.Equal(got, full[:min(n, len(full))]) {
				t.Fatalf("trial %d (n %d, desc %v): %v, want %v", trial, n, desc, got, full[:min(n, len(full))])
			}
		}
	}
	// Sorted and reversed inputs.
	score := make([]float64, 5000)
	for k := range score {
		score[k] = float64(k)
	}
	up := make([]int, 5000)
	for k := range up {
		up[k] = k
	}
	down := slices.Clone(up)
	slices.Reverse(down)
	for _, c := range [][]int{up, down} {
		if got := bestN(c, score, 10, false); !slices.Equal(got, up[:10]) {
			t.Fatalf("got %v", got)
		}
	}
}
