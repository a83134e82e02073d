package callbacks

import (
	"bytes"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/g2g-ml/g2g/graph"
)

// pearson is the textbook two-pass correlation.
func pearson(a, b []float64) float64 {
	var ma, mb float64
	for k := range a {
		ma += a[k]
		mb += b[k]
	}
	ma /= float64(len(a))
	mb /= float64(len(b))
	var sab, saa, sbb float64
	for k := range a {
		sab += (a[k] - ma) * (b[k] - mb)
		saa += (a[k] - ma) * (a[k] - ma)
		sbb += (b[k] - mb) * (b[k] - mb)
	}
	return sab / math.Sqrt(saa*sbb)
}

func TestHebbianScoresByHand(t *testing.T) {
	// 5 samples, 4 inputs, 3 outputs. Input 2 never fires, input 3 is
	// constant; output 2 never fires.
	x := [][]float64{{1, 0.5, 0, 0.7}, {2, 0, 0, 0.7}, {0, 1.5, 0, 0.7}, {3, 0.25, 0, 0.7}, {0.5, 2, 0, 0.7}}
	y := [][]float64{{0.5, 3, 0}, {1, 0, 0}, {0, 2, 0}, {2, 1, 0}, {0.25, 0, 0}}
	s := NewHebbianStats(4, 3)
	// Two batches, 3 then 2 samples.
	for _, r := range [][2]int{{0, 3}, {3, 5}} {
		var xb, yb []float32
		for n := r[0]; n < r[1]; n++ {
			for _, v := range x[n] {
				xb = append(xb, float32(v))
			}
			for _, v := range y[n] {
				yb = append(yb, float32(v))
			}
		}
		if err := s.Add(xb, yb, r[1]-r[0]); err != nil {
			t.Fatal(err)
		}
	}
	if s.N != 5 {
		t.Fatalf("N = %d", s.N)
	}
	col := func(m [][]float64, j int) []float64 {
		var out []float64
		for _, row := range m {
			out = append(out, row[j])
		}
		return out
	}
	p := s.Scores(MeasurePearson)
	c := s.Scores(MeasureCosine)
	for i := 0; i < 4; i++ {
		for j := 0; j < 3; j++ {
			k := i*3 + j
			a, b := col(x, i), col(y, j)
			if math.IsNaN(p[k]) || math.IsNaN(c[k]) {
				t.Fatalf("C(%d, %d) is NaN", i, j)
			}
			if i >= 2 || j == 2 { // dead or constant unit
				if p[k] != 0 {
					t.Errorf("Pearson C(%d, %d) = %v, want 0 (zero variance)", i, j, p[k])
				}
			} else if want := pearson(a, b); math.Abs(p[k]-want) > 1e-6 {
				t.Errorf("Pearson C(%d, %d) = %v, want %v", i, j, p[k], want)
			}
			var sab, saa, sbb float64
			for n := range a {
				sab += a[n] * b[n]
				saa += a[n] * a[n]
				sbb += b[n] * b[n]
			}
			want := 0.0
			if saa > 0 && sbb > 0 {
				want = sab / math.Sqrt(saa*sbb)
			}
			if math.Abs(c[k]-want) > 1e-6 || (i == 2 || j == 2) && c[k] != 0 {
				t.Errorf("cosine C(%d, %d) = %v, want %v", i, j, c[k], want)
			}
		}
	}
	// A known value: x0 = (1, 2, 0, 3, .5), y0 = (.5, 1, 0, 2, .25).
	if got, want := p[0], pearson(col(x, 0), col(y, 0)); math.Abs(got-want) > 1e-6 || want < 0.9 {
		t.Errorf("C(0, 0) = %v, want %v", got, want)
	}
	s.Reset()
	if s.N != 0 || slices.ContainsFunc(s.Scores(MeasurePearson), func(v float64) bool { return v != 0 }) {
		t.Fatal("Reset left statistics")
	}
	if err := s.Add(make([]float32, 3), make([]float32, 3), 1); err == nil {
		t.Fatal("mis-sized batch accepted")
	}
}

func TestHebbianInvariants(t *testing.T) {
	for name, cfg := range map[string]HebbianConfig{
		"pearson":           {Zeta: 0.2, EveryN: 1},
		"cosine magnitude":  {Zeta: 0.2, EveryN: 2, Measure: MeasureCosine, Prune: CriterionMagnitude},
		"abs class":         {Zeta: 0.2, EveryN: 1, Abs: true, Scope: ScopeClass},
		"sign init linear":  {Zeta: 0.3, EveryN: 1, GrowInit: GrowSign, Anneal: AnnealLinear},
		"init every second": {Zeta: 0.1, EveryN: 3, GrowInit: GrowInitial, Every: 2},
	} {
		t.Run(strings.ReplaceAll(name, " ", "_"), func(t *testing.T) {
			net := newTinyNet(t, 11, 0.75)
			opt := newAdam(t, 1e-2)
			h := newHebb(t, cfg)
			p := &probe{t: t, opt: opt, src: h.Reports}
			net.fit(t, opt, 5, h, p)
			want := 4 * 2 // after epochs 0..3, two layers
			if cfg.Every == 2 {
				want = 2 * 2 // after epochs 0 and 2
			}
			if len(h.Reports()) != want || p.changed == 0 {
				t.Fatalf("%d reports (want %d), %d edges changed", len(h.Reports()), want, p.changed)
			}
		})
	}
}

// TestHebbianPrunesLowestRegrowsHighest captures the scores just before the
// update and checks the choice against them.
func TestHebbianPrunesLowestRegrowsHighest(t *testing.T) {
	net := newTinyNet(t, 12, 1)
	h := newHebb(t, HebbianConfig{Zeta: 0.25, EveryN: 2, End: 1, GrowInit: GrowSign, GrowScale: 0.05})
	scores := map[string][]float64{}
	masks := map[string][]float32{}
	var n int
	before := &hook{epochEnd: func(c *graph.Context) {
		if c.Epoch != 0 {
			return
		}
		n = h.State().Stats["h1"].N
		for _, l := range c.Sparse {
			s, err := h.Scores(l)
			if err != nil {
				t.Fatal(err)
			}
			scores[l.Name()] = append([]float64(nil), s...)
			masks[l.Name()] = append([]float32(nil), l.Mask().Data()...)
		}
	}}
	var nAfter = -1
	after := &hook{epochEnd: func(c *graph.Context) {
		if c.Epoch == 0 {
			nAfter = 0 // State leaves out layers without samples
			if s := h.State().Stats["h1"]; s != nil {
				nAfter = s.N
			}
		}
	}}
	// 64 samples in batches of 16: batches 0 and 2 are observed.
	net.fit(t, newAdam(t, 1e-2), 1, before, h, after)
	if n != 32 || nAfter != 0 {
		t.Fatalf("samples observed %d (want 32), after the update %d (want 0: statistics reset)", n, nAfter)
	}
	for _, l := range net.model.SparseLayers() {
		s, prev, now := scores[l.Name()], masks[l.Name()], l.Mask().Data()
		pruned, grown := diff(prev, now)
		if len(pruned) != 32 || len(grown) != 32 { // round(0.25·128)
			t.Fatalf("%s: -%d +%d", l.Name(), len(pruned), len(grown))
		}
		maxPruned, minGrown := math.Inf(-1), math.Inf(1)
		for _, k := range pruned {
			maxPruned = math.Max(maxPruned, s[k])
		}
		for _, k := range grown {
			minGrown = math.Min(minGrown, s[k])
		}
		w := l.Weight().Data()
		for k := range now {
			switch {
			case prev[k] != 0 && now[k] != 0 && s[k] < maxPruned:
				t.Fatalf("%s: kept edge %d scores %v below a pruned one (%v)", l.Name(), k, s[k], maxPruned)
			case prev[k] == 0 && now[k] == 0 && s[k] > minGrown:
				t.Fatalf("%s: inactive edge %d scores %v above a regrown one (%v)", l.Name(), k, s[k], minGrown)
			}
		}
		for _, k := range grown {
			want := float32(0)
			if s[k] > 0 {
				want = 0.05
			} else if s[k] < 0 {
				want = -0.05
			}
			if w[k] != want {
				t.Fatalf("%s: regrown edge %d (C %v) starts at %v, want %v", l.Name(), k, s[k], w[k], want)
			}
		}
	}
}

func TestRegrownEdgesLearn(t *testing.T) {
	for name, mk := range map[string]func(t *testing.T) graph.Callback{
		"dst":     func(t *testing.T) graph.Callback { return newDST(t, DSTConfig{Zeta: 0.3, End: 1}) },
		"hebbian": func(t *testing.T) graph.Callback { return newHebb(t, HebbianConfig{Zeta: 0.3, End: 1, EveryN: 1}) },
	} {
		t.Run(name, func(t *testing.T) {
			net := newTinyNet(t, 2, 1)
			var grown map[string][]int
			snap := &hook{epochEnd: func(c *graph.Context) {
				if c.Epoch != 0 {
					return
				}
				grown = map[string][]int{}
				for _, l := range c.Sparse {
					w := l.Weight().Data()
					for _, k := range l.Mask().ActiveIndices() {
						if w[k] == 0 {
							grown[l.Name()] = append(grown[l.Name()], k)
						}
					}
				}
			}}
			net.fit(t, newAdam(t, 1e-2), 3, mk(t), snap)
			total, moved := 0, 0
			for _, l := range net.model.SparseLayers() {
				if len(grown[l.Name()]) == 0 {
					t.Fatalf("layer %s: no zero-valued active edge right after the update", l.Name())
				}
				w := l.Weight().Data()
				for _, k := range grown[l.Name()] {
					total++
					if l.Mask().Has(k) && w[k] != 0 {
						moved++
					}
				}
			}
			t.Logf("%d of %d regrown edges moved", moved, total)
			// Edges from or to a dead ReLU unit get no gradient; the others
			// must have moved.
			if moved < total*3/4 {
				t.Fatalf("only %d of %d regrown edges left zero after two epochs", moved, total)
			}
		})
	}
}

func TestHebbianSameSeedSameMasks(t *testing.T) {
	run := func() map[string][]float32 {
		net := newTinyNet(t, 13, 0.75)
		h := newHebb(t, HebbianConfig{Zeta: 0.2, EveryN: 1, GrowInit: GrowInitial, Seed: 4})
		net.fit(t, newAdam(t, 1e-2), 3, h)
		return masksOf(net.model)
	}
	a, b := run(), run()
	for name := range a {
		if !slices.Equal(a[name], b[name]) {
			t.Fatalf("layer %s: same seed, different masks", name)
		}
	}
}

func TestHebbianStatsOnlyAndState(t *testing.T) {
	net := newTinyNet(t, 14, 1)
	before := masksOf(net.model)
	h := newHebb(t, HebbianConfig{EveryN: 1}) // Zeta 0: statistics only
	hist := net.fit(t, newAdam(t, 1e-2), 2, h)
	after := masksOf(net.model)
	for name := range before {
		if !slices.Equal(before[name], after[name]) {
			t.Fatalf("a statistics-only Hebbian changed layer %s", name)
		}
	}
	if _, ok := hist.Last()["h1/pruned"]; ok {
		t.Fatal("a statistics-only Hebbian wrote rewiring logs")
	}
	st := h.State()
	if st.Stats["h1"].N != 128 || st.Stats["h2"].N != 128 {
		t.Fatalf("observed %d and %d samples, want 2 epochs × 64", st.Stats["h1"].N, st.Stats["h2"].N)
	}
	h2 := newHebb(t, HebbianConfig{})
	data, err := h.MarshalState()
	if err != nil {
		t.Fatal(err)
	}
	if err := h2.UnmarshalState(data); err != nil {
		t.Fatal(err)
	}
	if err := h2.UnmarshalState([]byte("{")); err == nil {
		t.Fatal("bad JSON accepted")
	}
	st.Stats["h1"].SumXY[0] = 1e9 // the callback holds a copy
	s1, err := h.Scores(net.h1)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := h2.Scores(net.h1)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s1, s2) {
		t.Fatal("restored statistics give other scores")
	}
	h.ResetStats()
	if _, err := h.Scores(net.h1); err == nil || !strings.Contains(err.Error(), `no statistics for layer "h1"`) {
		t.Fatalf("scores after reset: err = %v", err)
	}
	bad := HebbianState{Stats: map[string]*HebbianStats{"h1": {In: 2, Out: 2, SumX: make([]float64, 2)}}}
	if err := h2.SetState(bad); err == nil || !strings.Contains(err.Error(), "malformed statistics") {
		t.Fatalf("malformed state: err = %v", err)
	}
}

func TestHebbianConfigErrors(t *testing.T) {
	cases := []struct {
		cfg  HebbianConfig
		want string
	}{
		{HebbianConfig{Zeta: -0.1}, "Zeta must be in (0, 1), got -0.1"},
		{HebbianConfig{Zeta: 1.5}, "Zeta must be in (0, 1)"},
		{HebbianConfig{Zeta: 0.1, EveryN: -1}, "EveryN must be >= 0"},
		{HebbianConfig{Zeta: 0.1, Every: -1}, "Every must be >= 0"},
		{HebbianConfig{Zeta: 0.1, Start: 3, End: 2}, "End (2) must be greater than Start (3)"},
		{HebbianConfig{Zeta: 0.1, Measure: "spearman"}, `unknown Measure "spearman"`},
		{HebbianConfig{Zeta: 0.1, Prune: CriterionRandom}, `unknown Prune "random"`},
		{HebbianConfig{Zeta: 0.1, GrowInit: "ones"}, `unknown GrowInit "ones"`},
		{HebbianConfig{Zeta: 0.1, GrowScale: math.Inf(1)}, "GrowScale must be >= 0 and finite"},
		{HebbianConfig{Zeta: 0.1, Scope: "x"}, `unknown Scope "x"`},
		{HebbianConfig{Zeta: 0.1, Anneal: "x"}, `unknown Anneal "x"`},
		{HebbianConfig{Zeta: 0.1, Layers: []string{"a", ""}}, "Layers[1] is empty"},
	}
	for _, c := range cases {
		_, err := NewHebbian(c.cfg)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "hebbian: ") {
			t.Errorf("%+v: err = %v, want it to contain %q", c.cfg, err, c.want)
		}
	}
}

func TestHebbianSummaryLine(t *testing.T) {
	net := newTinyNet(t, 15, 1)
	var out bytes.Buffer
	h := newHebb(t, HebbianConfig{Zeta: 0.25, EveryN: 1, Log: &out, Layers: []string{"h2"}})
	net.fit(t, newAdam(t, 1e-2), 2, h)
	if !strings.HasPrefix(out.String(), "hebbian epoch 1/2 zeta 0.25: h2 -32 +32 density 0.5000 intra ") || strings.Count(out.String(), "\n") != 1 {
		t.Fatalf("summary:\n%s", out.String())
	}
}
