package callbacks

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand"
	"slices"
	"strconv"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"

	"github.com/g2g-ml/g2g/graph"
	"github.com/g2g-ml/g2g/internal/rngs"
	"github.com/g2g-ml/g2g/layers"
)

// TestScheduleByHand works the schedule out by hand: epochs and steps,
// with End given or resolved at train begin.
func TestScheduleByHand(t *testing.T) {
	dueAt := func(s Schedule, n int) []int {
		var at []int
		for a := 0; a < n; a++ {
			if s.Due(a) {
				at = append(at, a)
			}
		}
		return at
	}

	// Epochs: every 2nd from 1; 8 epochs resolve End to 7 (no update after
	// the last epoch, 7), so updates at 1, 3, 5.
	s := Schedule{Every: 2, Start: 1, Zeta: 0.4, Anneal: AnnealLinear}
	if got := dueAt(s, 20); got != nil {
		t.Fatalf("unresolved schedule (End 0) due at %v", got)
	}
	if got := s.Next(0); got != -1 {
		t.Fatalf("unresolved Next(0) = %d", got)
	}
	if got := s.ZetaAt(4); got != 0.4 {
		t.Fatalf("unresolved ZetaAt(4) = %v, want ζ0", got)
	}
	r := s.Resolve(8, 5)
	if r.End != 7 || r.Steps() {
		t.Fatalf("resolved %+v, want End 7 in epochs", r)
	}
	if got := dueAt(r, 20); !slices.Equal(got, []int{1, 3, 5}) {
		t.Fatalf("due at %v, want [1 3 5]", got)
	}
	for at, want := range map[int]int{0: 1, 1: 1, 2: 3, 5: 5, 6: -1, 7: -1} {
		if got := r.Next(at); got != want {
			t.Errorf("Next(%d) = %d, want %d", at, got, want)
		}
	}
	// Linear: ζ_t = 0.4·(1 − (at − 1)/6).
	for at, want := range map[int]float64{1: 0.4, 4: 0.2, 7: 0} {
		if got := r.ZetaAt(at); math.Abs(got-want) > 1e-15 {
			t.Errorf("ZetaAt(%d) = %v, want %v", at, got, want)
		}
	}
	if got := r.K(4, 130); got != 26 { // round(0.2·130)
		t.Errorf("K(4, 130) = %d, want 26", got)
	}
	if got := r.K(1, 3); got != 1 { // round(1.2)
		t.Errorf("K(1, 3) = %d, want 1", got)
	}

	// Steps: every 3rd from step 2; 3 epochs of 4 batches resolve End to
	// 12, so updates at 2, 5, 8, 11.
	st := Schedule{EverySteps: 3, Start: 2, Zeta: 0.1}.Resolve(3, 4)
	if st.End != 12 || !st.Steps() {
		t.Fatalf("resolved %+v, want End 12 in steps", st)
	}
	if got := dueAt(st, 20); !slices.Equal(got, []int{2, 5, 8, 11}) {
		t.Fatalf("step mode due at %v, want [2 5 8 11]", got)
	}
	for at, want := range map[int]int{1: 2, 3: 5, 9: 11, 11: 11, 12: -1} {
		if got := st.Next(at); got != want {
			t.Errorf("step Next(%d) = %d, want %d", at, got, want)
		}
	}

	// A given End is kept.
	if got := (Schedule{Start: 2, End: 5}).Resolve(10, 3).End; got != 5 {
		t.Fatalf("Resolve changed End 5 to %d", got)
	}
}

func TestNewRewiringErrors(t *testing.T) {
	rw := Rewirer{Prune: MagnitudeScore, Grow: RandomScore}
	cases := []struct {
		cfg  RewiringConfig
		want string
	}{
		{RewiringConfig{Schedule: Schedule{Zeta: 1}, Rewirer: rw}, "rewiring: Zeta must be in (0, 1), got 1"},
		{RewiringConfig{Schedule: Schedule{Zeta: 0.1, Every: 1, EverySteps: 2}, Rewirer: rw}, "rewiring: set only one of Every (epochs) and EverySteps"},
		{RewiringConfig{Name: "mine", Schedule: Schedule{Zeta: 0.1, Start: 3, End: 3}, Rewirer: rw}, "mine: End (3) must be greater than Start (3)"},
		{RewiringConfig{Schedule: Schedule{Zeta: 0.1, Anneal: "exp"}, Rewirer: rw}, `rewiring: unknown Anneal "exp"`},
		{RewiringConfig{Schedule: Schedule{Zeta: 0.1}, Rewirer: Rewirer{Prune: MagnitudeScore}}, "rewiring: rewirer: no grow score"},
		{RewiringConfig{Schedule: Schedule{Zeta: 0.1}, Rewirer: rw, Layers: []string{""}}, "rewiring: Layers[0] is empty"},
	}
	for _, c := range cases {
		if _, err := NewRewiring(c.cfg); err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%+v: err = %v, want %q", c.cfg.Schedule, err, c.want)
		}
	}
	r, err := NewRewiring(RewiringConfig{Schedule: Schedule{Zeta: 0.1}, Rewirer: rw})
	if err != nil {
		t.Fatal(err)
	}
	if r.Name() != "rewiring" || r.Schedule().Anneal != AnnealConstant {
		t.Fatalf("defaults: name %q, schedule %+v", r.Name(), r.Schedule())
	}
}

// TestRewiringGatherLeft checks the left argument of the Gather hook, by
// hand, in both modes.
func TestRewiringGatherLeft(t *testing.T) {
	l, err := layers.NewG2G(layers.G2GConfig{Name: "g", In: 4, Out: 4, Groups: 2, Density: 0.5, Sampling: layers.SampleExact, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	run := func(s Schedule, epochs, batches int) []int {
		var lefts []int
		r, err := NewRewiring(RewiringConfig{Schedule: s, Rewirer: Rewirer{Prune: MagnitudeScore, Grow: RandomScore},
			Gather: func(_ *graph.Context, left int) error { lefts = append(lefts, left); return nil }})
		if err != nil {
			t.Fatal(err)
		}
		c := &graph.Context{Sparse: []layers.Sparse{l}, Epochs: epochs, Batches: batches, Logs: map[string]float64{}}
		if err := r.OnTrainBegin(c); err != nil {
			t.Fatal(err)
		}
		for c.Epoch = 0; c.Epoch < epochs; c.Epoch++ {
			for c.Batch = 0; c.Batch < batches; c.Batch++ {
				if err := r.OnBatchEnd(c); err != nil {
					t.Fatal(err)
				}
				c.Step++
			}
			if err := r.OnEpochEnd(c); err != nil {
				t.Fatal(err)
			}
		}
		return lefts
	}
	// Epochs: 5 epochs of 3 batches, every 2nd epoch → End 4, updates at
	// the ends of epochs 0 and 2; none follows epoch 2.
	got := run(Schedule{Every: 2, Zeta: 0.25}, 5, 3)
	want := []int{2, 1, 0, 5, 4, 3, 2, 1, 0, -1, -1, -1, -1, -1, -1}
	if !slices.Equal(got, want) {
		t.Errorf("epoch mode: left %v\nwant %v", got, want)
	}
	// Steps: 2 epochs of 3 batches (global steps 1..6), every 4th step →
	// End 6, an update at step 4 only (step 0 never ends a batch).
	got = run(Schedule{EverySteps: 4, Zeta: 0.25}, 2, 3)
	want = []int{3, 2, 1, 0, -1, -1}
	if !slices.Equal(got, want) {
		t.Errorf("step mode: left %v\nwant %v", got, want)
	}
	// Zeta 0: never an update.
	if got = run(Schedule{Every: 2}, 2, 2); !slices.Equal(got, []int{-1, -1, -1, -1}) {
		t.Errorf("Zeta 0: left %v", got)
	}
}

// TestUserScheduledRule builds a rule of one's own from two ScoreFuncs and
// runs it through Rewiring: updates on the schedule, constant active
// counts, reports, logs, hooks, streams "<Name>/<layer>/<at>" and state.
func TestUserScheduledRule(t *testing.T) {
	net := newTinyNet(t, 31, 0.75)
	opt := newAdam(t, 1e-2)
	const seed = 5
	// Prune: the edges whose weight is closest to +0.01 (an arbitrary
	// rule); grow: near the diagonal, random among equals.
	prune := func(u *Update) ([]float64, error) {
		w := u.Layer.Weight().Data()
		s := make([]float64, len(w))
		for k, v := range w {
			s[k] = math.Abs(float64(v) - 0.01)
		}
		return s, nil
	}
	firstDraw := map[string]float64{} // per "<layer>/<at>"
	grow := func(u *Update) ([]float64, error) {
		m := u.Layer.Mask()
		s := make([]float64, m.Len())
		for k := range s {
			i, j := m.Edge(k)
			d := u.Rand.Float64()
			if k == 0 {
				firstDraw[u.Layer.Name()+"/"+strconv.Itoa(u.At)] = d
			}
			s[k] = -math.Abs(float64(i-j)) + 0.5*d
		}
		return s, nil
	}
	var gathered, after int
	var log bytes.Buffer
	r, err := NewRewiring(RewiringConfig{
		Name:     "diag",
		Schedule: Schedule{Every: 2, Zeta: 0.25},
		Rewirer:  Rewirer{Prune: prune, Grow: grow},
		Seed:     seed,
		Log:      &log,
		Gather: func(c *graph.Context, left int) error {
			if left >= 0 {
				gathered++
			}
			return nil
		},
		K: func(u *Update, k int) (int, error) {
			if u.Layer.Name() == "h2" {
				return 3, nil
			}
			return k, nil
		},
		AfterRewire: func(u *Update, rep RewireReport) error {
			if rep.Layer != u.Layer.Name() || rep.At != u.At {
				t.Errorf("AfterRewire: report %+v for layer %s at %d", rep, u.Layer.Name(), u.At)
			}
			after++
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	p := &probe{t: t, opt: opt, src: r.Reports}
	sp := NewSparsityReport(nil)
	hist := net.fit(t, opt, 5, r, p, sp) // End 4: updates after epochs 0 and 2

	reps := r.Reports()
	if len(reps) != 4 || after != 4 {
		t.Fatalf("%d reports, %d AfterRewire calls, want 4 (2 updates × 2 layers)", len(reps), after)
	}
	for n, rep := range reps {
		at := 2 * (n / 2)
		if rep.At != at || rep.Epoch != at || rep.Zeta != 0.25 {
			t.Errorf("report %d: %+v, want at epoch %d, zeta 0.25", n, rep, at)
		}
		wantK := int(math.Round(0.25 * float64(rep.Active)))
		if rep.Layer == "h2" {
			wantK = 3
		}
		if rep.K != wantK || rep.Pruned != wantK || rep.Regrown != wantK {
			t.Errorf("report %d: %+v, want k = pruned = regrown = %d", n, rep, wantK)
		}
		// Update.Rand is the stream "diag/<layer>/<at>".
		key := rep.Layer + "/" + strconv.Itoa(at)
		if want := rngs.New(seed, "diag/"+key).Float64(); firstDraw[key] != want {
			t.Errorf("update %s: first draw %v, want %v from stream diag/%s", key, firstDraw[key], want, key)
		}
	}
	// Gather saw the 4 batches of epochs 0, 1 and 2, before an update.
	if gathered != 12 {
		t.Errorf("Gather saw %d batches with an update ahead, want 12", gathered)
	}
	for e, logs := range hist.Epochs {
		want := 0.0
		if e == 0 || e == 2 {
			want = 32 // round(0.25·128)
		}
		if logs["h1/pruned"] != want || logs["h1/regrown"] != want || logs["h1/density"] != 0.5 {
			t.Errorf("epoch %d logs: %v", e, logs)
		}
	}
	if n := strings.Count(log.String(), "\n"); n != 2 || !strings.HasPrefix(log.String(), "diag epoch 1/5 zeta 0.25: h1 -32 +32 density 0.5000 intra ") {
		t.Errorf("summary:\n%s", log.String())
	}

	// The state goes through JSON with the keys of DST's and Hebbian's.
	data, err := r.MarshalState()
	if err != nil {
		t.Fatal(err)
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(data, &keys); err != nil || len(keys) != 2 || keys["updates"] == nil || keys["reports"] == nil {
		t.Fatalf("state JSON %s", data)
	}
	r2, err := NewRewiring(RewiringConfig{Schedule: Schedule{Zeta: 0.1}, Rewirer: Rewirer{Prune: prune, Grow: grow}})
	if err != nil {
		t.Fatal(err)
	}
	if err := r2.UnmarshalState(data); err != nil {
		t.Fatal(err)
	}
	if st := r2.State(); st.Updates != 2 || !slices.Equal(st.Reports, reps) {
		t.Fatalf("restored state %+v", st)
	}
	if err := r2.SetState(RewiringState{Updates: -1}); err == nil || !strings.Contains(err.Error(), "rewiring: SetState: Updates must be >= 0") {
		t.Fatalf("negative Updates: err = %v", err)
	}
}

// TestSparsityReportReadsTypedReports checks that SparsityReport takes the
// pruned and regrown counts from Context.Rewires, not from the logs: a
// callback that reports without editing the mask or writing logs is
// counted, log entries without a report are not, and Fit empties the
// reports at every epoch begin.
func TestSparsityReportReadsTypedReports(t *testing.T) {
	net := newTinyNet(t, 32, 1)
	reporter := &hook{epochEnd: func(c *graph.Context) {
		switch c.Epoch {
		case 0: // two reports for h1, none for h2; the mask is untouched
			c.Rewires = append(c.Rewires, RewireReport{Layer: "h1", Pruned: 7, Regrown: 7}, RewireReport{Layer: "h1", Pruned: 2, Regrown: 2})
		case 1: // log entries only: not a report
			c.Logs["h1/pruned"], c.Logs["h1/regrown"] = 99, 99
		}
	}}
	var out bytes.Buffer
	hist := net.fit(t, newAdam(t, 1e-2), 3, reporter, NewSparsityReport(&out))
	for e, want := range []float64{9, 0, 0} {
		l := hist.Epochs[e]
		if l["h1/pruned"] != want || l["h1/regrown"] != want || l["h1/churn"] != 0 || l["h2/pruned"] != 0 {
			t.Errorf("epoch %d: h1 pruned %v regrown %v churn %v, h2 pruned %v; want h1 %v, churn 0 (mask), h2 0",
				e, l["h1/pruned"], l["h1/regrown"], l["h1/churn"], l["h2/pruned"], want)
		}
	}
	if !strings.HasPrefix(out.String(), "sparsity epoch 1/3: h1 density 0.5000 intra 0.5000 -9 +9 churn 0.0000 | h2 ") {
		t.Errorf("output %q", out.String())
	}

	// A Rewiring appends its reports to the context, in order, within the
	// epoch of the update.
	net = newTinyNet(t, 32, 1)
	var seen [][]RewireReport
	collect := &hook{epochEnd: func(c *graph.Context) { seen = append(seen, slices.Clone(c.Rewires)) }}
	d := newDST(t, DSTConfig{Zeta: 0.1, EverySteps: 3})
	net.fit(t, newAdam(t, 1e-2), 2, d, collect) // 8 steps: updates at 3 and 6
	if len(seen) != 2 || len(seen[0]) != 2 || len(seen[1]) != 2 || seen[0][0].Step != 3 || seen[1][1].Step != 6 || seen[1][1].Layer != "h2" {
		t.Fatalf("Context.Rewires per epoch: %+v", seen)
	}
	if !slices.Equal(append(seen[0], seen[1]...), d.Reports()) {
		t.Fatal("Context.Rewires differ from the callback's reports")
	}
}

// userSparse is a sparse layer of a user's own: it implements
// layers.Sparse only (computing through a G2G it keeps to itself).
type userSparse struct{ g *layers.G2G }

func (l *userSparse) Name() string            { return l.g.Name() }
func (l *userSparse) Params() []*layers.Param { return l.g.Params() }
func (l *userSparse) Weight() *layers.Param   { return l.g.Weight() }
func (l *userSparse) Mask() *layers.Mask      { return l.g.Mask() }
func (l *userSparse) Prune(idx []int) error   { return l.g.Prune(idx) }
func (l *userSparse) Grow(idx []int, v []float32) error {
	return l.g.Grow(idx, v)
}
func (l *userSparse) InitValue(rng *rand.Rand, i, j int) float32 { return l.g.InitValue(rng, i, j) }
func (l *userSparse) Forward(b *layers.Builder, in ...*G.Node) (*G.Node, error) {
	return l.g.Forward(b, in...)
}

// userGradSparse adds the dense-gradient capability, with a gradient of
// its own making: edge k gets (37·k mod 101) − 50.
type userGradSparse struct {
	userSparse
	kept bool
	grad []float32
}

func (l *userGradSparse) KeepDenseGrad(on bool) { l.kept = on }

func (l *userGradSparse) DenseGrad() []float32 {
	if !l.kept {
		return nil
	}
	if l.grad == nil {
		l.grad = make([]float32, l.Mask().Len())
		for k := range l.grad {
			l.grad[k] = float32(37*k%101) - 50
		}
	}
	return l.grad
}

// TestUserLayerGetsGradientRegrowth checks that a user's sparse layer that
// implements layers.DenseGradProvider is regrown by its dense gradient, and
// that one without it is refused when training begins.
func TestUserLayerGetsGradientRegrowth(t *testing.T) {
	mk := func() *layers.G2G {
		g, err := layers.NewG2G(layers.G2GConfig{Name: "u", In: 16, Out: 16, Groups: 4, Density: 0.5,
			Sampling: layers.SampleExact, Activation: layers.ReLU, Seed: 3})
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	model := func(l layers.Layer) *graph.Model {
		out, err := layers.NewDense(layers.DenseConfig{Name: "out", In: 16, Out: 2, Seed: 4})
		if err != nil {
			t.Fatal(err)
		}
		m, err := graph.Sequential([]int{16}, l, out)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	cfg := DSTConfig{Zeta: 0.25, Regrow: CriterionGradient, Seed: 1}

	// Without the capability.
	plain := &userSparse{g: mk()}
	_, err := model(plain).Fit(data16(32, 1), graph.FitConfig{Epochs: 2, BatchSize: 16, Optimizer: newAdam(t, 1e-2),
		Callbacks: []graph.Callback{newDST(t, cfg)}})
	if err == nil || !strings.Contains(err.Error(), `callback dst: OnTrainBegin`) || !strings.Contains(err.Error(), `layer "u" (*callbacks.userSparse) does not provide the dense gradient (layers.DenseGradProvider)`) {
		t.Fatalf("err = %v", err)
	}

	// With it: the regrown edges are the inactive ones with the largest
	// |gradient| (ties by index).
	l := &userGradSparse{userSparse: userSparse{g: mk()}}
	var before []float32
	snap := &hook{epochEnd: func(c *graph.Context) {
		if c.Epoch == 0 {
			before = slices.Clone(l.Mask().Data())
		}
	}}
	d := newDST(t, cfg)
	if _, err := model(l).Fit(data16(32, 1), graph.FitConfig{Epochs: 2, BatchSize: 16, Optimizer: newAdam(t, 1e-2),
		Callbacks: []graph.Callback{snap, d}}); err != nil {
		t.Fatal(err)
	}
	if !l.kept {
		t.Fatal("DST did not turn the dense gradient on")
	}
	var inactive, grown []int
	for k, v := range l.Mask().Data() {
		if before[k] == 0 {
			inactive = append(inactive, k)
			if v != 0 {
				grown = append(grown, k)
			}
		}
	}
	slices.SortFunc(inactive, func(a, b int) int {
		ga, gb := math.Abs(float64(l.grad[a])), math.Abs(float64(l.grad[b]))
		switch {
		case ga > gb:
			return -1
		case ga < gb:
			return 1
		}
		return a - b
	})
	want := slices.Clone(inactive[:32]) // round(0.25·128)
	slices.Sort(want)
	if reps := d.Reports(); len(reps) != 1 || reps[0].Regrown != 32 || !slices.Equal(grown, want) {
		t.Fatalf("regrown %v\nwant    %v (reports %+v)", grown, want, d.Reports())
	}
}
