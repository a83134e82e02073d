package graph

import (
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/g2g-ml/g2g/layers"
	"github.com/g2g-ml/g2g/optim"
)

// saveAt saves a checkpoint at the end of the given epoch.
type saveAt struct {
	BaseCallback
	epoch int
	path  string
}

func (s *saveAt) OnEpochEnd(c *Context) error {
	if c.Epoch != s.epoch {
		return nil
	}
	st, err := Capture(c)
	if err != nil {
		return err
	}
	st.Config = json.RawMessage(`{"seed":61}`)
	return c.Model.SaveCheckpoint(s.path, st)
}

// counterCB is a Stateful callback: it counts batches.
type counterCB struct {
	BaseCallback
	N int
}

func (c *counterCB) Name() string                  { return "counter" }
func (c *counterCB) OnBatchEnd(*Context) error     { c.N++; return nil }
func (c *counterCB) MarshalState() ([]byte, error) { return json.Marshal(c.N) }
func (c *counterCB) UnmarshalState(b []byte) error { return json.Unmarshal(b, &c.N) }

func allParams(m *Model) []float32 {
	var out []float32
	for _, p := range m.Params() {
		out = append(out, p.Data()...)
		if p.Mask != nil {
			out = append(out, p.Mask.Data()...)
		}
	}
	return out
}

func TestResumeIsBitIdentical(t *testing.T) {
	d := toyData(90, 6, 3, 60)
	path := filepath.Join(t.TempDir(), "ck.npz")
	fit := func(m *Model, opt optim.Optimizer, cfg FitConfig) {
		t.Helper()
		cfg.Epochs, cfg.BatchSize, cfg.Optimizer, cfg.Seed = 5, 16, opt, 61
		if _, err := m.Fit(d, cfg); err != nil {
			t.Fatal(err)
		}
	}
	// Uninterrupted run, saving after epoch index 1 (two epochs done).
	a := smallModel(t, 61)
	optA, _ := optim.NewAdamW(optim.AdamConfig{LR: 0.01, WeightDecay: 0.01})
	cntA := &counterCB{}
	fit(a, optA, FitConfig{Callbacks: []Callback{cntA, &saveAt{epoch: 1, path: path}}})

	// Fresh model with other initial weights, resumed from the checkpoint.
	b := smallModel(t, 99)
	optB, _ := optim.NewAdamW(optim.AdamConfig{LR: 0.01, WeightDecay: 0.01})
	st, err := b.LoadCheckpoint(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Epoch != 2 || st.Step != 12 || string(st.Config) != `{"seed":61}` {
		t.Fatalf("state epoch %d step %d config %s", st.Epoch, st.Step, st.Config)
	}
	cntB := &counterCB{}
	if err := Restore(st, optB, []Callback{cntB}); err != nil {
		t.Fatal(err)
	}
	if cntB.N != 12 {
		t.Fatalf("callback state %d, want 12", cntB.N)
	}
	fit(b, optB, FitConfig{InitialEpoch: st.Epoch, InitialStep: st.Step, Callbacks: []Callback{cntB}})

	pa, pb := allParams(a), allParams(b)
	for k := range pa {
		if math.Float32bits(pa[k]) != math.Float32bits(pb[k]) {
			t.Fatalf("value %d differs after resume: %v vs %v", k, pa[k], pb[k])
		}
	}
	if cntA.N != cntB.N || optA.Steps() != optB.Steps() {
		t.Fatalf("counters %d/%d, steps %d/%d", cntA.N, cntB.N, optA.Steps(), optB.Steps())
	}
}

func TestCheckpointRestoresMasks(t *testing.T) {
	a := smallModel(t, 70)
	g := a.SparseLayers()[0]
	act := g.Mask().ActiveIndices()
	inact := g.Mask().InactiveIndices()
	if err := g.Prune(act[:2]); err != nil {
		t.Fatal(err)
	}
	if err := g.Grow(inact[:2], []float32{0.5, 0.25}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "m.npz")
	if err := a.SaveCheckpoint(path, TrainingState{}); err != nil {
		t.Fatal(err)
	}
	b := smallModel(t, 70)
	if _, err := b.LoadCheckpoint(path); err != nil {
		t.Fatal(err)
	}
	gb := b.SparseLayers()[0]
	if gb.Mask().Active() != g.Mask().Active() || gb.Mask().Has(act[0]) || !gb.Mask().Has(inact[1]) || gb.Weight().Data()[inact[1]] != 0.25 {
		t.Fatal("rewired mask not restored")
	}
}

func TestCheckpointRejectsBadFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ck.npz")
	m := smallModel(t, 80)
	opt, _ := optim.NewAdam(optim.AdamConfig{LR: 0.01})
	if _, err := m.Fit(toyData(20, 6, 3, 1), FitConfig{Epochs: 1, BatchSize: 8, Optimizer: opt}); err != nil {
		t.Fatal(err)
	}
	os := opt.State()
	if err := m.SaveCheckpoint(path, TrainingState{Epoch: 1, Optimizer: &os}); err != nil {
		t.Fatal(err)
	}
	good, _ := readFile(path)

	// Truncated.
	trunc := filepath.Join(dir, "trunc.npz")
	writeFile(t, trunc, good[:len(good)-100])
	if _, err := m.LoadCheckpoint(trunc); err == nil || !strings.Contains(err.Error(), "trunc.npz") {
		t.Fatalf("truncated: %v", err)
	}
	// One flipped byte in the middle (weight data).
	bad := append([]byte(nil), good...)
	bad[len(bad)/3] ^= 0x40
	corrupt := filepath.Join(dir, "corrupt.npz")
	writeFile(t, corrupt, bad)
	if _, err := m.LoadCheckpoint(corrupt); err == nil {
		t.Fatal("corrupted file accepted")
	}
	// Another architecture: wider first layer.
	g1 := mustG2G(t, layers.G2GConfig{Name: "g1", In: 6, Out: 10, Groups: 2, Density: 0.5, Activation: layers.Tanh, Seed: 1})
	g2 := mustG2G(t, layers.G2GConfig{Name: "g2", In: 10, Out: 6, Groups: 2, Density: 0.6, Activation: layers.Sigmoid, Seed: 2})
	out := mustDense(t, layers.DenseConfig{Name: "out", In: 6, Out: 3, Seed: 3})
	other, err := Sequential([]int{6}, g1, g2, out)
	if err != nil {
		t.Fatal(err)
	}
	before := append([]float32(nil), g1.Weight().Data()...)
	_, err = other.LoadCheckpoint(path)
	if err == nil || !strings.Contains(err.Error(), `parameter "g1/W" has shape [6 8] in the file, (6, 10) in the model`) {
		t.Fatalf("mismatch: %v", err)
	}
	for k := range before {
		if before[k] != g1.Weight().Data()[k] {
			t.Fatal("a refused load changed the model")
		}
	}
	// Not a checkpoint at all.
	junk := filepath.Join(dir, "junk.npz")
	writeFile(t, junk, []byte("hello"))
	if _, err := m.LoadCheckpoint(junk); err == nil || !strings.Contains(err.Error(), "junk.npz") {
		t.Fatalf("junk: %v", err)
	}
	// Restore with a callback the checkpoint has no state for.
	st, err := m.LoadCheckpoint(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := Restore(st, opt, []Callback{&counterCB{}}); err == nil || !strings.Contains(err.Error(), "no state for callback counter") {
		t.Fatalf("missing callback state: %v", err)
	}
}

// TestPythonReadsCheckpoint opens a checkpoint with numpy alone
// (testdata/read_checkpoint.py). It needs python3 with numpy (Debian
// python3-numpy); it is skipped without them, except in CI.
func TestPythonReadsCheckpoint(t *testing.T) {
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import numpy").Run(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI needs %s with numpy (apt-get install python3-numpy): %v", py, err)
		}
		t.Skipf("no numpy: %v", err)
	}
	m := smallModel(t, 90)
	path := filepath.Join(t.TempDir(), "ck.npz")
	if err := m.SaveCheckpoint(path, TrainingState{Epoch: 3, Step: 42}); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(py, "testdata/read_checkpoint.py", path).CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	var got struct {
		Epoch, Step int
		Params      map[string]struct {
			Shape      []int
			Sum        float64
			Nonzero    int
			Active     int
			MaskedZero bool `json:"masked_zero"`
		}
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("python printed %q: %v", out, err)
	}
	if got.Epoch != 3 || got.Step != 42 || len(got.Params) != len(m.Params()) {
		t.Fatalf("python read %+v", got)
	}
	for _, p := range m.Params() {
		g := got.Params[p.Name]
		var sum float64
		nonzero := 0
		for _, v := range p.Data() {
			sum += float64(v)
			if v != 0 {
				nonzero++
			}
		}
		if math.Abs(g.Sum-sum) > 1e-9 || g.Nonzero != nonzero {
			t.Fatalf("%s: python sum %v nonzero %d, Go %v %d", p.Name, g.Sum, g.Nonzero, sum, nonzero)
		}
		if p.Mask != nil && (g.Active != p.Mask.Active() || !g.MaskedZero) {
			t.Fatalf("%s: python active %d masked-zero %v, Go active %d", p.Name, g.Active, g.MaskedZero, p.Mask.Active())
		}
	}
}

func readFile(path string) ([]byte, error) { return os.ReadFile(path) }

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// Dropout draws its masks from a stream keyed by the step, so a resumed run
// with dropout is bit-identical too.
func TestResumeWithDropoutIsBitIdentical(t *testing.T) {
	build := func() *Model {
		g := mustG2G(t, layers.G2GConfig{Name: "g", In: 6, Out: 12, Groups: 2, Density: 0.5, Activation: layers.ReLU, Seed: 1})
		drop, err := layers.NewDropout("drop", 0.3, 2)
		if err != nil {
			t.Fatal(err)
		}
		m, err := Sequential([]int{6}, g, drop, mustDense(t, layers.DenseConfig{Name: "out", In: 12, Out: 3, Seed: 3}))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	d := toyData(50, 6, 3, 4)
	path := filepath.Join(t.TempDir(), "ck.npz")
	a := build()
	optA, _ := optim.NewAdam(optim.AdamConfig{LR: 0.01})
	if _, err := a.Fit(d, FitConfig{Epochs: 4, BatchSize: 16, Optimizer: optA, Seed: 5, Callbacks: []Callback{&saveAt{epoch: 1, path: path}}}); err != nil {
		t.Fatal(err)
	}
	b := build()
	optB, _ := optim.NewAdam(optim.AdamConfig{LR: 0.01})
	st, err := b.LoadCheckpoint(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := Restore(st, optB, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Fit(d, FitConfig{Epochs: 4, BatchSize: 16, Optimizer: optB, Seed: 5, InitialEpoch: st.Epoch, InitialStep: st.Step}); err != nil {
		t.Fatal(err)
	}
	pa, pb := allParams(a), allParams(b)
	for k := range pa {
		if math.Float32bits(pa[k]) != math.Float32bits(pb[k]) {
			t.Fatalf("value %d differs after resume with dropout: %v vs %v", k, pa[k], pb[k])
		}
	}
}
