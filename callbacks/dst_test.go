package callbacks

import (
	"bytes"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/g2g-ml/g2g/graph"
	"github.com/g2g-ml/g2g/layers"
	"github.com/g2g-ml/g2g/optim"
)

func newDST(t testing.TB, cfg DSTConfig) *DST {
	t.Helper()
	d, err := NewDST(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func newHebb(t testing.TB, cfg HebbianConfig) *Hebbian {
	t.Helper()
	h, err := NewHebbian(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestDSTInvariants trains with DST under every criterion and checks, at
// every step and update: constant active counts, disjoint drop and grow
// sets, zero masked weights, zero moments at changed positions.
func TestDSTInvariants(t *testing.T) {
	cases := map[string]func() DSTConfig{
		"magnitude/random": func() DSTConfig { return DSTConfig{Zeta: 0.2} },
		"random/random":    func() DSTConfig { return DSTConfig{Zeta: 0.2, Prune: CriterionRandom} },
		"magnitude/gradient": func() DSTConfig {
			return DSTConfig{Zeta: 0.2, Regrow: CriterionGradient, GradBatches: 2, GrowInit: GrowInitial}
		},
		"hebbian/hebbian": func() DSTConfig {
			return DSTConfig{Zeta: 0.2, Prune: CriterionHebbian, Regrow: CriterionHebbian, Hebbian: newHebb(t, HebbianConfig{EveryN: 1})}
		},
		"mix/hebbian class": func() DSTConfig {
			return DSTConfig{Zeta: 0.2, PruneMix: []CriterionShare{{CriterionMagnitude, 0.5}, {CriterionHebbian, 0.5}},
				Regrow: CriterionHebbian, Scope: ScopeClass, Hebbian: newHebb(t, HebbianConfig{Measure: MeasureCosine, EveryN: 2})}
		},
	}
	for name, cfg := range cases {
		t.Run(strings.ReplaceAll(name, "/", "_"), func(t *testing.T) {
			net := newTinyNet(t, 1, 0.75)
			opt := newAdam(t, 1e-2)
			d := newDST(t, cfg())
			p := &probe{t: t, opt: opt, src: d.Reports}
			hist := net.fit(t, opt, 4, d, p)
			if got := len(d.Reports()); got != 3*2 { // updates after epochs 0, 1, 2; two layers
				t.Fatalf("%d reports, want 6", got)
			}
			if p.changed == 0 {
				t.Fatal("no edge changed")
			}
			for _, r := range d.Reports() {
				if want := int(math.Round(0.2 * float64(r.Active))); r.K != want || r.Pruned != want {
					t.Fatalf("report %+v: want k = pruned = %d", r, want)
				}
			}
			last := hist.Last()
			if last["h1/pruned"] != 0 || last["h1/density"] != 0.5 {
				t.Fatalf("last epoch (no update): logs %v", last)
			}
			if first := hist.Epochs[0]; first["h1/pruned"] == 0 || first["h2/churn"] == 0 {
				t.Fatalf("first epoch logs lack the update: %v", first)
			}
		})
	}
}

// hook is a callback built from functions.
type hook struct {
	graph.BaseCallback
	epochEnd func(c *graph.Context)
	batchEnd func(c *graph.Context)
}

func (h *hook) OnEpochEnd(c *graph.Context) error {
	if h.epochEnd != nil {
		h.epochEnd(c)
	}
	return nil
}

func (h *hook) OnBatchEnd(c *graph.Context) error {
	if h.batchEnd != nil {
		h.batchEnd(c)
	}
	return nil
}

func TestDSTCosineSchedule(t *testing.T) {
	net := newTinyNet(t, 3, 1)
	const z0 = 0.4
	d := newDST(t, DSTConfig{Zeta: z0, Anneal: AnnealCosine, Start: 1, End: 7, Layers: []string{"h1"}})
	net.fit(t, newAdam(t, 1e-2), 8, d)
	reps := d.Reports()
	if len(reps) != 6 {
		t.Fatalf("%d reports, want 6 (epochs 1..6)", len(reps))
	}
	for n, r := range reps {
		tt := r.At - 1
		want := z0 * (1 + math.Cos(math.Pi*float64(tt)/6)) / 2
		if r.At != n+1 || r.Layer != "h1" || math.Abs(r.Zeta-want) > 1e-12 {
			t.Fatalf("update %d: at %d zeta %v, want at %d zeta %v", n, r.At, r.Zeta, n+1, want)
		}
		if r.K != int(math.Round(want*float64(r.Active))) {
			t.Fatalf("update %d: k %d, want round(%v·%d)", n, r.K, want, r.Active)
		}
		if got := d.Zeta(r.At); got != r.Zeta {
			t.Fatalf("Zeta(%d) = %v, report %v", r.At, got, r.Zeta)
		}
	}
}

func TestDSTStepMode(t *testing.T) {
	net := newTinyNet(t, 4, 1)
	opt := newAdam(t, 1e-2)
	var log bytes.Buffer
	d := newDST(t, DSTConfig{Zeta: 0.1, EverySteps: 3, Start: 2, Regrow: CriterionGradient, GradBatches: 2, Log: &log})
	active := map[string]int{}
	for _, l := range net.model.SparseLayers() {
		active[l.Name()] = l.Mask().Active()
	}
	check := &hook{batchEnd: func(c *graph.Context) {
		for _, l := range c.Sparse {
			if l.Mask().Active() != active[l.Name()] {
				t.Fatalf("step %d: active count moved", c.Step)
			}
			w := l.Weight().Data()
			for k, v := range l.Mask().Data() {
				if v == 0 && w[k] != 0 {
					t.Fatalf("step %d: masked weight %d is %v", c.Step, k, w[k])
				}
			}
		}
	}}
	net.fit(t, opt, 3, d, check) // 4 batches per epoch, 12 steps; updates at 2, 5, 8 (End = 12 excluded, 11 not due)
	var at []int
	for _, r := range d.Reports() {
		if r.Layer == "h1" {
			at = append(at, r.At)
		}
		if r.Step != r.At {
			t.Fatalf("report step %d at %d", r.Step, r.At)
		}
	}
	if !slices.Equal(at, []int{2, 5, 8, 11}) {
		t.Fatalf("updates at steps %v, want [2 5 8 11]", at)
	}
	if n := strings.Count(log.String(), "\n"); n != 4 || !strings.HasPrefix(log.String(), "dst step 2 (epoch 1/3) zeta 0.1: h1 -") {
		t.Fatalf("summary lines:\n%s", log.String())
	}
}

func TestDSTSameSeedSameMasks(t *testing.T) {
	run := func(seed int64) map[string][]float32 {
		net := newTinyNet(t, 5, 0.75)
		h := newHebb(t, HebbianConfig{EveryN: 1})
		d := newDST(t, DSTConfig{Zeta: 0.25, Prune: CriterionRandom, Regrow: CriterionHebbian, Hebbian: h, GrowInit: GrowInitial, Seed: seed})
		net.fit(t, newAdam(t, 1e-2), 3, d)
		return masksOf(net.model)
	}
	a, b, c := run(1), run(1), run(2)
	for name := range a {
		if !slices.Equal(a[name], b[name]) {
			t.Fatalf("layer %s: same seed, different masks", name)
		}
	}
	if slices.Equal(a["h1"], c["h1"]) && slices.Equal(a["h2"], c["h2"]) {
		t.Fatal("different DST seeds gave the same masks")
	}
}

// TestDSTResume checks that a run resumed at an epoch boundary, with the
// weights, masks and optimizer state restored and a fresh DST given the
// saved state, rewires exactly as the uninterrupted run.
func TestDSTResume(t *testing.T) {
	// Hebbian regrowth every 2 epochs: the statistics of epoch 1 cross the
	// checkpoint at the end of epoch 1, to be used at the end of epoch 2.
	cfg := func() DSTConfig {
		return DSTConfig{Zeta: 0.2, Every: 2, Prune: CriterionRandom, Regrow: CriterionHebbian, GrowInit: GrowInitial, Seed: 9,
			Hebbian: newHebb(t, HebbianConfig{EveryN: 1})}
	}
	full := newTinyNet(t, 6, 1)
	dFull := newDST(t, cfg())
	full.fit(t, newAdam(t, 1e-2), 4, dFull)

	part := newTinyNet(t, 6, 1)
	opt := newAdam(t, 1e-2)
	d1 := newDST(t, cfg())
	train := data16(64, 7)
	// The first part is interrupted after epoch 1 (as by a crash after a
	// checkpoint); its configuration still says 4 epochs.
	stop := &hook{epochEnd: func(c *graph.Context) {
		if c.Epoch == 1 {
			c.StopTraining("checkpoint")
		}
	}}
	if _, err := part.model.Fit(train, graph.FitConfig{Epochs: 4, BatchSize: 16, Optimizer: opt, Seed: 3, Callbacks: []graph.Callback{d1, stop}}); err != nil {
		t.Fatal(err)
	}
	// "Checkpoint": a fresh model and optimizer with the saved values.
	resumed := newTinyNet(t, 6, 1)
	for n, p := range resumed.model.Params() {
		src := part.model.Params()[n]
		copy(p.Data(), src.Data())
		if p.Mask != nil {
			copy(p.Mask.Data(), src.Mask.Data())
			if err := p.Mask.Recount(); err != nil {
				t.Fatal(err)
			}
		}
	}
	opt2 := newAdam(t, 1e-2)
	if err := opt2.SetState(opt.State()); err != nil {
		t.Fatal(err)
	}
	d2 := newDST(t, cfg())
	saved, err := d1.MarshalState()
	if err != nil {
		t.Fatal(err)
	}
	if err := d2.UnmarshalState(saved); err != nil {
		t.Fatal(err)
	}
	if n := d2.State().Hebbian.Stats["h1"].N; n != 64 {
		t.Fatalf("restored Hebbian statistics hold %d samples, want 64 (epoch 1)", n)
	}
	if _, err := resumed.model.Fit(train, graph.FitConfig{Epochs: 4, InitialEpoch: 2, InitialStep: 8, BatchSize: 16, Optimizer: opt2, Seed: 3, Callbacks: []graph.Callback{d2}}); err != nil {
		t.Fatal(err)
	}
	a, b := masksOf(full.model), masksOf(resumed.model)
	for name := range a {
		if !slices.Equal(a[name], b[name]) {
			t.Fatalf("layer %s: resumed run has a different mask", name)
		}
	}
	if !slices.Equal(dFull.Reports(), d2.Reports()) {
		t.Fatalf("reports differ:\n%v\n%v", dFull.Reports(), d2.Reports())
	}
}

// DST and Hebbian are saved by graph's checkpoints.
var (
	_ graph.Stateful = (*DST)(nil)
	_ graph.Stateful = (*Hebbian)(nil)
)

func TestDSTConfigErrors(t *testing.T) {
	h := newHebb(t, HebbianConfig{})
	cases := []struct {
		cfg  DSTConfig
		want string
	}{
		{DSTConfig{}, "Zeta must be in (0, 1), got 0"},
		{DSTConfig{Zeta: 1}, "Zeta must be in (0, 1), got 1"},
		{DSTConfig{Zeta: math.NaN()}, "Zeta must be in (0, 1)"},
		{DSTConfig{Zeta: 0.1, Every: 2, EverySteps: 10}, "only one of Every (epochs) and EverySteps"},
		{DSTConfig{Zeta: 0.1, Every: -1}, "Every must be >= 0"},
		{DSTConfig{Zeta: 0.1, EverySteps: -1}, "EverySteps must be >= 0"},
		{DSTConfig{Zeta: 0.1, Start: -1}, "Start must be >= 0"},
		{DSTConfig{Zeta: 0.1, Start: 5, End: 5}, "End (5) must be greater than Start (5)"},
		{DSTConfig{Zeta: 0.1, Anneal: "exp"}, `unknown Anneal "exp"`},
		{DSTConfig{Zeta: 0.1, Prune: "smallest"}, `Prune: unknown prune criterion "smallest"`},
		{DSTConfig{Zeta: 0.1, Prune: CriterionGradient}, "gradient is a regrowth criterion only"},
		{DSTConfig{Zeta: 0.1, Prune: CriterionHebbian}, "criterion hebbian needs DSTConfig.Hebbian"},
		{DSTConfig{Zeta: 0.1, Regrow: CriterionHebbian}, "Regrow is hebbian but Hebbian is nil"},
		{DSTConfig{Zeta: 0.1, Regrow: "best"}, `unknown Regrow "best"`},
		{DSTConfig{Zeta: 0.1, Scope: "ensemble"}, `unknown Scope "ensemble"`},
		{DSTConfig{Zeta: 0.1, GrowInit: GrowSign}, `unknown GrowInit "sign"`},
		{DSTConfig{Zeta: 0.1, GradBatches: -2}, "GradBatches must be >= 0"},
		{DSTConfig{Zeta: 0.1, EverySteps: 2, GradBatches: 3}, "GradBatches (3) must not exceed EverySteps (2)"},
		{DSTConfig{Zeta: 0.1, Prune: CriterionRandom, PruneMix: []CriterionShare{{CriterionRandom, 1}}}, "only one of Prune and PruneMix"},
		{DSTConfig{Zeta: 0.1, PruneMix: []CriterionShare{{CriterionRandom, 0}}}, "PruneMix[0].Share must be > 0"},
		{DSTConfig{Zeta: 0.1, PruneMix: []CriterionShare{{CriterionMagnitude, 1}, {"x", 1}}}, `PruneMix[1]: unknown prune criterion "x"`},
		{DSTConfig{Zeta: 0.1, PruneFunc: MagnitudeScore, Prune: CriterionRandom}, "only one of Prune, PruneMix and PruneFunc"},
		{DSTConfig{Zeta: 0.1, GrowFunc: RandomScore, Regrow: CriterionRandom}, "only one of Regrow and GrowFunc"},
		{DSTConfig{Zeta: 0.1, Layers: []string{""}}, "Layers[0] is empty"},
	}
	_ = h
	for _, c := range cases {
		_, err := NewDST(c.cfg)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "dst: ") {
			t.Errorf("%+v: err = %v, want it to contain %q", c.cfg, err, c.want)
		}
	}
}

// TestCallbackErrorsAreWrapped checks that an error from one of these
// callbacks stops Fit with the callback's name, the hook, the epoch and the
// step.
func TestCallbackErrorsAreWrapped(t *testing.T) {
	net := newTinyNet(t, 7, 1)
	d := newDST(t, DSTConfig{Zeta: 0.1, Layers: []string{"h3"}})
	_, err := net.model.Fit(data16(32, 1), graph.FitConfig{Epochs: 2, BatchSize: 16, Optimizer: newAdam(t, 1e-2), Callbacks: []graph.Callback{d}})
	if err == nil || !strings.Contains(err.Error(), "callback dst: OnTrainBegin (epoch 0, step 0)") || !strings.Contains(err.Error(), `no sparse layer "h3" (the model has h1, h2)`) {
		t.Fatalf("err = %v", err)
	}

	// A value poisoned at epoch end, caught by TerminateOnNaN after it.
	poison := &hook{epochEnd: func(c *graph.Context) {
		if c.Epoch == 1 {
			c.Logs["h1/churn"] = math.NaN()
		}
	}}
	net = newTinyNet(t, 7, 1)
	d = newDST(t, DSTConfig{Zeta: 0.1})
	_, err = net.model.Fit(data16(32, 1), graph.FitConfig{Epochs: 3, BatchSize: 16, Optimizer: newAdam(t, 1e-2),
		Callbacks: []graph.Callback{d, poison, NewTerminateOnNaN()}})
	want := "callback terminate-on-nan: OnEpochEnd (epoch 1, step 4): h1/churn is NaN at the end of epoch 1, step 4"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant %s", err, want)
	}

	// An error raised inside the rewiring, at epoch end.
	bad := func(u *Update) ([]float64, error) { return nil, errorString("my score failed") }
	net = newTinyNet(t, 7, 1)
	d = newDST(t, DSTConfig{Zeta: 0.1, GrowFunc: bad})
	_, err = net.model.Fit(data16(32, 1), graph.FitConfig{Epochs: 2, BatchSize: 16, Optimizer: newAdam(t, 1e-2), Callbacks: []graph.Callback{d}})
	want = `callback dst: OnEpochEnd (epoch 0, step 2): rewire layer "h1": grow score: my score failed`
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant %s", err, want)
	}
}

type errorString string

func (e errorString) Error() string { return string(e) }

func TestDSTLogsInCSV(t *testing.T) {
	net := newTinyNet(t, 8, 1)
	var buf bytes.Buffer
	lg, err := NewMetricsLogger(&buf, FormatCSV)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	d := newDST(t, DSTConfig{Zeta: 0.25, Log: &out})
	net.fit(t, newAdam(t, 1e-2), 3, d, NewSparsityReport(nil), lg)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	header := strings.Split(lines[0], ",")
	for _, k := range []string{"h1/pruned", "h1/regrown", "h1/churn", "h1/density", "h1/intra_fraction", "h2/pruned"} {
		if !slices.Contains(header, k) {
			t.Errorf("CSV header lacks %q: %s", k, lines[0])
		}
	}
	if len(lines) != 4 {
		t.Fatalf("CSV:\n%s", buf.String())
	}
	col := slices.Index(header, "h1/pruned")
	for e, want := range []string{"32", "32", "0"} { // round(0.25·128)
		if got := strings.Split(lines[e+1], ",")[col]; got != want {
			t.Errorf("epoch %d: h1/pruned %s, want %s", e, got, want)
		}
	}
	if n := strings.Count(out.String(), "\n"); n != 2 || !strings.HasPrefix(out.String(), "dst epoch 1/3 zeta 0.25: h1 -32 +32 density 0.5000 intra ") {
		t.Errorf("summary:\n%s", out.String())
	}
}

func TestDSTState(t *testing.T) {
	d := newDST(t, DSTConfig{Zeta: 0.1})
	s := DSTState{Updates: 3, Reports: []RewireReport{{Layer: "h1", Pruned: 2}}, GradSum: map[string][]float32{"h1": {1, 2}}, GradCount: map[string]int{"h1": 1}}
	if err := d.SetState(s); err != nil {
		t.Fatal(err)
	}
	s.GradSum["h1"][0] = 5 // the callback holds a copy
	got := d.State()
	if got.Updates != 3 || len(got.Reports) != 1 || got.GradSum["h1"][0] != 1 || got.GradCount["h1"] != 1 {
		t.Fatalf("state %+v", got)
	}
	if err := d.SetState(DSTState{Updates: -1}); err == nil {
		t.Fatal("negative Updates accepted")
	}
	if err := d.SetState(DSTState{GradCount: map[string]int{"x": 2}}); err == nil {
		t.Fatal("GradCount without GradSum accepted")
	}
	// A restored gradient of the wrong size is caught when training begins.
	net := newTinyNet(t, 1, 1)
	_, err := net.model.Fit(data16(16, 1), graph.FitConfig{Epochs: 1, BatchSize: 16, Optimizer: newAdam(t, 1e-2), Callbacks: []graph.Callback{d}})
	if err == nil || !strings.Contains(err.Error(), `restored gradient sum of layer "h1" does not fit`) {
		t.Fatalf("err = %v", err)
	}
}

// The optimizer used in the probe must expose State; SGD without momentum
// has no slots at all, which must not trip the reset.
func TestDSTWithPlainSGD(t *testing.T) {
	net := newTinyNet(t, 9, 1)
	opt, err := optim.NewSGD(optim.SGDConfig{LR: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	d := newDST(t, DSTConfig{Zeta: 0.2})
	net.fit(t, opt, 3, d, &probe{t: t, opt: opt, src: d.Reports})
}

// The block and sparse kernels compute the weight gradient at active edges
// only, skipping the dense gradient unless asked for it: RigL-style
// regrowth must ask, on either kernel.
func TestDSTGradientRegrowthOnSparseKernels(t *testing.T) {
	for _, k := range []layers.Kernel{layers.KernelBlocks, layers.KernelSparse} {
		t.Run(string(k), func(t *testing.T) { testGradientRegrowth(t, k) })
	}
}

func testGradientRegrowth(t *testing.T, k layers.Kernel) {
	mk := func(name string, s int64) *layers.G2G {
		l, err := layers.NewG2G(layers.G2GConfig{Name: name, In: 16, Out: 16, Groups: 4, Density: 0.5,
			Sampling: layers.SampleBlocks, Activation: layers.ReLU, Seed: s})
		if err != nil {
			t.Fatal(err)
		}
		if err := l.SetKernel(k); err != nil {
			t.Fatal(err)
		}
		return l
	}
	h1, h2 := mk("h1", 1), mk("h2", 2)
	if h1.Kernel() != k {
		t.Fatalf("runs the %s kernel, not %s: the test proves nothing", h1.Kernel(), k)
	}
	out, _ := layers.NewDense(layers.DenseConfig{Name: "out", In: 16, Out: 2, Seed: 3})
	m, err := graph.Sequential([]int{16}, h1, h2, out)
	if err != nil {
		t.Fatal(err)
	}
	d, err := NewDST(DSTConfig{Zeta: 0.25, Regrow: CriterionGradient, Seed: 4})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Fit(data16(64, 7), graph.FitConfig{Epochs: 3, BatchSize: 16, Optimizer: newAdam(t, 0.01), Callbacks: []graph.Callback{d}}); err != nil {
		t.Fatal(err)
	}
	for _, r := range d.Reports() {
		if r.Regrown != r.Pruned || r.Regrown == 0 || r.Active != 128 {
			t.Fatalf("report %+v", r)
		}
	}
}
