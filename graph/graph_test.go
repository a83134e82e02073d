package graph

import (
	"math"
	"math/rand"
	"runtime"
	"strings"
	"testing"
	"weak"

	"github.com/pkg/errors"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/g2g-ml/g2g/datasets"
	"github.com/g2g-ml/g2g/internal/sparse/kernels"
	"github.com/g2g-ml/g2g/layers"
	"github.com/g2g-ml/g2g/optim"
)

// toyData returns n samples of dim features in two or three classes that a
// small network can learn (class by the sign pattern of two features).
func toyData(n, dim, classes int, seed int64) *datasets.Dataset {
	rng := rand.New(rand.NewSource(seed))
	d := &datasets.Dataset{Name: "toy", X: make([]float32, n*dim), Y: make([]int, n), Shape: []int{dim}, Classes: classes}
	for i := 0; i < n; i++ {
		for k := 0; k < dim; k++ {
			d.X[i*dim+k] = float32(rng.NormFloat64())
		}
		c := 0
		if d.X[i*dim] > 0 {
			c = 1
		}
		if classes > 2 && d.X[i*dim+1] > 0.5 {
			c = 2
		}
		d.Y[i] = c
	}
	return d
}

func mustG2G(t testing.TB, cfg layers.G2GConfig) *layers.G2G {
	t.Helper()
	l, err := layers.NewG2G(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func mustDense(t testing.TB, cfg layers.DenseConfig) *layers.Dense {
	t.Helper()
	l, err := layers.NewDense(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// smallModel: G2G 6 → 8 (2 groups, density 0.5, tanh) → G2G 8 → 6 (sigmoid)
// → dense 6 → 3. Smooth activations keep finite differences accurate.
func smallModel(t testing.TB, seed int64) *Model {
	t.Helper()
	g1 := mustG2G(t, layers.G2GConfig{Name: "g1", In: 6, Out: 8, Groups: 2, Density: 0.5, Sampling: layers.SampleExact, Activation: layers.Tanh, Seed: seed})
	g2 := mustG2G(t, layers.G2GConfig{Name: "g2", In: 8, Out: 6, Groups: 2, Grouping: layers.GroupRandom, Density: 0.6, Activation: layers.Sigmoid, Seed: seed + 1})
	out := mustDense(t, layers.DenseConfig{Name: "out", In: 6, Out: 3, Seed: seed + 2})
	// Give the biases nonzero values so their gradients are exercised.
	for _, l := range []layers.Layer{g1, g2, out} {
		for _, p := range l.Params() {
			if p.NoDecay {
				for k := range p.Data() {
					p.Data()[k] = 0.1 * float32(k%3-1)
				}
			}
		}
	}
	m, err := Sequential([]int{6}, g1, g2, out)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// lossAndGrads runs one forward/backward pass on the batch and returns the
// loss and a copy of every parameter's gradient, clearing the accumulators.
func lossAndGrads(t *testing.T, m *Model, d *datasets.Dataset) (float64, map[*layers.Param][]float32) {
	t.Helper()
	p, err := m.program(d.Len(), true)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.load(d.X, d.Y); err != nil {
		t.Fatal(err)
	}
	if err := p.run(0); err != nil {
		t.Fatal(err)
	}
	defer p.reset()
	loss, err := p.lossValue()
	if err != nil {
		t.Fatal(err)
	}
	grads, err := p.grads()
	if err != nil {
		t.Fatal(err)
	}
	out := map[*layers.Param][]float32{}
	for i, prm := range p.params {
		out[prm] = append([]float32(nil), grads[i]...)
	}
	return loss, out
}

// reluModel is smallModel with ReLU units and layers without bias, so that
// every activation and both bias settings have their gradients checked.
func reluModel(t testing.TB, seed int64) *Model {
	t.Helper()
	g1 := mustG2G(t, layers.G2GConfig{Name: "g1", In: 6, Out: 8, Groups: 2, Density: 0.5, Sampling: layers.SampleExact, Activation: layers.ReLU, NoBias: true, Seed: seed})
	h := mustDense(t, layers.DenseConfig{Name: "h", In: 8, Out: 6, Activation: layers.ReLU, Seed: seed + 1})
	out := mustDense(t, layers.DenseConfig{Name: "out", In: 6, Out: 3, NoBias: true, Seed: seed + 2})
	for k := range h.Params()[1].Data() {
		h.Params()[1].Data()[k] = 0.05 * float32(k%3)
	}
	m, err := Sequential([]int{6}, g1, h, out)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestGradientsMatchFiniteDifferences(t *testing.T) {
	t.Run("tanh-sigmoid-linear", func(t *testing.T) { checkFiniteDifferences(t, smallModel(t, 3)) })
	t.Run("relu-nobias", func(t *testing.T) { checkFiniteDifferences(t, reluModel(t, 3)) })
}

func checkFiniteDifferences(t *testing.T, m *Model) {
	d := toyData(5, 6, 3, 4)
	_, grads := lossAndGrads(t, m, d)
	const eps = 1e-2
	checked := 0
	for _, prm := range m.Params() {
		w := prm.Data()
		for k := range w {
			if prm.Mask != nil && !prm.Mask.Has(k) {
				continue
			}
			orig := w[k]
			w[k] = orig + eps
			lp, _, err := m.Evaluate(d, d.Len())
			if err != nil {
				t.Fatal(err)
			}
			w[k] = orig - eps
			lm, _, err := m.Evaluate(d, d.Len())
			if err != nil {
				t.Fatal(err)
			}
			w[k] = orig
			fd := (lp - lm) / (2 * eps)
			got := float64(grads[prm][k])
			if math.Abs(fd-got) > 2e-3+2e-2*math.Abs(fd) {
				t.Errorf("%s[%d]: autodiff %v, finite difference %v", prm.Name, k, got, fd)
			}
			checked++
		}
	}
	if checked < 50 {
		t.Fatalf("only %d entries checked", checked)
	}
}

func TestNoGradientThroughMaskedEdges(t *testing.T) {
	m := smallModel(t, 5)
	d := toyData(16, 6, 3, 6)
	_, grads := lossAndGrads(t, m, d)
	nonzero := 0
	for _, l := range m.SparseLayers() {
		g := grads[l.Weight()]
		for k := range g {
			if !l.Mask().Has(k) && g[k] != 0 {
				t.Fatalf("%s: masked edge %d has gradient %v", l.Name(), k, g[k])
			}
			if l.Mask().Has(k) && g[k] != 0 {
				nonzero++
			}
		}
	}
	if nonzero == 0 {
		t.Fatal("no active edge received gradient: the test proves nothing")
	}
}

func TestEvalGraphGivesTrainingLogits(t *testing.T) {
	m := smallModel(t, 7)
	d := toyData(9, 6, 3, 8)
	p, err := m.program(9, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.load(d.X, d.Y); err != nil {
		t.Fatal(err)
	}
	if err := p.run(0); err != nil {
		t.Fatal(err)
	}
	tl, err := p.logitsData()
	if err != nil {
		t.Fatal(err)
	}
	trainLogits := append([]float32(nil), tl...)
	p.reset()
	// Different batch sizes, including a partial last batch.
	for _, bs := range []int{9, 4, 1} {
		el, err := m.Predict(d.X, bs)
		if err != nil {
			t.Fatal(err)
		}
		for k := range el {
			if math.Abs(float64(el[k]-trainLogits[k])) > 1e-6 {
				t.Fatalf("batch %d: logit %d: eval %v, train %v", bs, k, el[k], trainLogits[k])
			}
		}
	}
}

func TestFitKeepsMaskedWeightsExactlyZero(t *testing.T) {
	for _, name := range []string{"sgd-nesterov-wd", "adamw"} {
		m := smallModel(t, 11)
		var opt optim.Optimizer
		var err error
		if name == "adamw" {
			opt, err = optim.NewAdamW(optim.AdamConfig{LR: 0.05, WeightDecay: 0.1})
		} else {
			opt, err = optim.NewSGD(optim.SGDConfig{LR: 0.1, Momentum: 0.9, Nesterov: true, WeightDecay: 0.01})
		}
		if err != nil {
			t.Fatal(err)
		}
		d := toyData(100, 6, 3, 12)
		if _, err := m.Fit(d, FitConfig{Epochs: 10, BatchSize: 16, Optimizer: opt, Seed: 1}); err != nil {
			t.Fatal(err)
		}
		for _, l := range m.SparseLayers() {
			w := l.Weight().Data()
			moved := false
			for k := range w {
				if !l.Mask().Has(k) && w[k] != 0 {
					t.Fatalf("%s: %s masked weight %d = %v after training", name, l.Name(), k, w[k])
				}
				moved = moved || (l.Mask().Has(k) && w[k] != 0)
			}
			if !moved {
				t.Fatalf("%s: no active weight is nonzero", name)
			}
		}
	}
}

func TestFitLearnsAndTrainsOnPartialBatch(t *testing.T) {
	m := smallModel(t, 13)
	d := toyData(203, 6, 3, 14)
	opt, _ := optim.NewAdam(optim.AdamConfig{LR: 0.02})
	counter := &stepCounter{}
	hist, err := m.Fit(d, FitConfig{Epochs: 15, BatchSize: 50, Optimizer: opt, Callbacks: []Callback{counter}, Validation: d, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	// 203 samples in batches of 50: 4 full batches and one of 3, every epoch.
	if counter.steps != 15*5 || opt.Steps() != 75 {
		t.Fatalf("%d batch-end calls, %d optimizer steps, want 75", counter.steps, opt.Steps())
	}
	if counter.sizes[3] != 15 {
		t.Fatalf("partial batch seen %d times, want 15 (sizes %v)", counter.sizes[3], counter.sizes)
	}
	last := hist.Last()
	if last["val_acc"] < 0.85 {
		t.Fatalf("accuracy %v after training on a learnable toy task", last["val_acc"])
	}
	if hist.Epochs[0]["loss"] <= last["loss"] {
		t.Fatalf("loss did not decrease: %v → %v", hist.Epochs[0]["loss"], last["loss"])
	}
}

type stepCounter struct {
	BaseCallback
	steps int
	sizes map[int]int
}

func (s *stepCounter) OnBatchEnd(c *Context) error {
	if s.sizes == nil {
		s.sizes = map[int]int{}
	}
	s.steps++
	s.sizes[c.BatchSize]++
	return nil
}

func TestFitIsDeterministic(t *testing.T) {
	run := func() []float32 {
		m := smallModel(t, 21)
		opt, _ := optim.NewAdam(optim.AdamConfig{LR: 0.01})
		if _, err := m.Fit(toyData(64, 6, 3, 22), FitConfig{Epochs: 3, BatchSize: 10, Optimizer: opt, Seed: 9}); err != nil {
			t.Fatal(err)
		}
		var all []float32
		for _, p := range m.Params() {
			all = append(all, p.Data()...)
		}
		return all
	}
	a, b := run(), run()
	for k := range a {
		if a[k] != b[k] {
			t.Fatalf("parameter %d differs between identical runs: %v vs %v", k, a[k], b[k])
		}
	}
}

type failing struct {
	BaseCallback
	at int
}

func (f *failing) Name() string { return "failing" }

func (f *failing) OnBatchEnd(c *Context) error {
	if c.Step == f.at {
		return errors.New("boom")
	}
	return nil
}

type stopper struct{ BaseCallback }

func (stopper) OnEpochEnd(c *Context) error {
	if c.Epoch == 1 {
		c.StopTraining("enough")
	}
	return nil
}

func TestCallbackErrorAndStop(t *testing.T) {
	m := smallModel(t, 31)
	d := toyData(40, 6, 3, 32)
	opt, _ := optim.NewAdam(optim.AdamConfig{LR: 0.01})
	_, err := m.Fit(d, FitConfig{Epochs: 5, BatchSize: 10, Optimizer: opt, Callbacks: []Callback{&failing{at: 6}}})
	if err == nil {
		t.Fatal("callback error ignored")
	}
	for _, want := range []string{"callback failing", "OnBatchEnd", "epoch 1", "step 6", "boom"} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("error %q does not mention %q", err, want)
		}
	}
	hist, err := m.Fit(d, FitConfig{Epochs: 5, BatchSize: 10, Optimizer: opt, Callbacks: []Callback{stopper{}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(hist.Epochs) != 2 || hist.StopReason != "enough" {
		t.Fatalf("ran %d epochs, reason %q; want 2, enough", len(hist.Epochs), hist.StopReason)
	}
}

func TestActivationsAreTheLayerInputAndOutput(t *testing.T) {
	m := smallModel(t, 41)
	d := toyData(10, 6, 3, 42)
	opt, _ := optim.NewSGD(optim.SGDConfig{LR: 1e-9})
	probe := &actProbe{}
	if _, err := m.Fit(d, FitConfig{Epochs: 1, BatchSize: 10, Optimizer: opt, Callbacks: []Callback{probe}, NoShuffle: true}); err != nil {
		t.Fatal(err)
	}
	if probe.in == nil {
		t.Fatal("no activations")
	}
	// The first G2G layer's input is the batch itself.
	for k, v := range probe.in {
		if v != d.X[k] {
			t.Fatalf("input activation %d = %v, want %v", k, v, d.X[k])
		}
	}
	// Its output is tanh(x·(W⊙M) + b), recomputed by hand.
	g1 := m.SparseLayers()[0].(*layers.G2G)
	w, b := g1.Weight().Data(), g1.Bias().Data()
	for i := 0; i < 10; i++ {
		for j := 0; j < 8; j++ {
			var s float64
			for k := 0; k < 6; k++ {
				s += float64(d.X[i*6+k]) * float64(w[k*8+j]) * float64(g1.Mask().Data()[k*8+j])
			}
			want := math.Tanh(s + float64(b[j]))
			if got := float64(probe.out[i*8+j]); math.Abs(got-want) > 1e-5 {
				t.Fatalf("output (%d,%d) = %v, want %v", i, j, got, want)
			}
		}
	}
}

type actProbe struct {
	BaseCallback
	in, out, dense []float32
}

func (a *actProbe) OnBatchEnd(c *Context) error {
	in, out, ok := c.Activations(c.Sparse[0])
	if ok {
		a.in = append([]float32(nil), in.Data().([]float32)...)
		a.out = append([]float32(nil), out.Data().([]float32)...)
	}
	if g, ok := c.DenseGrad(c.Sparse[0]); ok {
		a.dense = append([]float32(nil), g.Data().([]float32)...)
	}
	return nil
}

func TestDenseGradExtendsWeightGradToInactiveEdges(t *testing.T) {
	m := smallModel(t, 43)
	// g1's mask leaves blocks empty, so block kernels run and the dense
	// gradient is dropped unless asked for.
	m.SparseLayers()[0].(*layers.G2G).KeepDenseGrad(true)
	d := toyData(12, 6, 3, 44)
	_, grads := lossAndGrads(t, m, d)
	probe := &actProbe{}
	opt, _ := optim.NewSGD(optim.SGDConfig{LR: 1e-30})
	if _, err := m.Fit(d, FitConfig{Epochs: 1, BatchSize: 12, Optimizer: opt, Callbacks: []Callback{probe}, NoShuffle: true}); err != nil {
		t.Fatal(err)
	}
	l := m.SparseLayers()[0]
	gw := grads[l.Weight()]
	if len(probe.dense) != len(gw) {
		t.Fatalf("dense gradient has %d entries, want %d", len(probe.dense), len(gw))
	}
	inactiveNonzero := 0
	for k := range gw {
		if l.Mask().Has(k) {
			if math.Abs(float64(probe.dense[k]-gw[k])) > 1e-6 {
				t.Fatalf("active edge %d: dense gradient %v, weight gradient %v", k, probe.dense[k], gw[k])
			}
		} else if probe.dense[k] != 0 {
			inactiveNonzero++
		}
	}
	if inactiveNonzero == 0 {
		t.Fatal("dense gradient is zero at every inactive edge")
	}
	// Check one inactive entry by finite differences: growing the edge with
	// weight ±eps changes the loss by about ±eps·dense[k].
	k := l.Mask().InactiveIndices()[0]
	const eps = 1e-2
	if err := l.Grow([]int{k}, []float32{eps}); err != nil {
		t.Fatal(err)
	}
	lp, _, _ := m.Evaluate(d, 12)
	l.Weight().Data()[k] = -eps
	lm, _, _ := m.Evaluate(d, 12)
	if err := l.Prune([]int{k}); err != nil {
		t.Fatal(err)
	}
	if fd := (lp - lm) / (2 * eps); math.Abs(fd-float64(probe.dense[k])) > 2e-3+2e-2*math.Abs(fd) {
		t.Fatalf("inactive edge %d: dense gradient %v, finite difference %v", k, probe.dense[k], fd)
	}
}

func TestFunctionalModelWithSkipConnection(t *testing.T) {
	in := Input("x", 6)
	h := Apply(mustG2G(t, layers.G2GConfig{Name: "a", In: 6, Out: 6, Groups: 2, Density: 0.6, Activation: layers.ReLU, Seed: 1}), in)
	h2 := Apply(mustG2G(t, layers.G2GConfig{Name: "b", In: 6, Out: 6, Groups: 3, Grouping: layers.GroupMixer, Depth: 1, Density: 0.5, Activation: layers.ReLU, Seed: 2}), h)
	add, _ := layers.NewAdd("skip")
	sum := Apply(add, h, h2)
	cat, _ := layers.NewConcat("cat")
	both := Apply(cat, sum, in)
	out := Apply(mustDense(t, layers.DenseConfig{Name: "out", In: 12, Out: 3, Seed: 3}), both)
	m, err := NewModel(in, out)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.SparseLayers()) != 2 || m.Classes() != 3 {
		t.Fatalf("%d sparse layers, %d classes", len(m.SparseLayers()), m.Classes())
	}
	opt, _ := optim.NewAdam(optim.AdamConfig{LR: 0.02})
	d := toyData(120, 6, 3, 5)
	hist, err := m.Fit(d, FitConfig{Epochs: 20, BatchSize: 32, Optimizer: opt, Validation: d})
	if err != nil {
		t.Fatal(err)
	}
	if acc := hist.Last()["val_acc"]; acc < 0.8 {
		t.Fatalf("skip-connection model reached only %v", acc)
	}
}

func TestModelErrors(t *testing.T) {
	d1 := mustDense(t, layers.DenseConfig{Name: "d1", In: 5, Out: 3})
	if _, err := Sequential([]int{4}, d1); err == nil || !strings.Contains(err.Error(), "want (batch, 5)") {
		t.Fatalf("width mismatch: %v", err)
	}
	d2 := mustDense(t, layers.DenseConfig{Name: "d1", In: 3, Out: 2})
	if _, err := Sequential([]int{5}, d1, d2); err == nil || !strings.Contains(err.Error(), "two different layers are named") {
		t.Fatalf("duplicate names: %v", err)
	}
	other := Input("other", 5)
	if _, err := NewModel(Input("x", 5), Apply(d1, other)); err == nil {
		t.Fatal("output not depending on the input accepted")
	}
	m := smallModel(t, 1)
	opt, _ := optim.NewAdam(optim.AdamConfig{LR: 0.01})
	bad := toyData(10, 5, 3, 1)
	if _, err := m.Fit(bad, FitConfig{Epochs: 1, BatchSize: 4, Optimizer: opt}); err == nil || !strings.Contains(err.Error(), "wants 6") {
		t.Fatalf("wrong sample size: %v", err)
	}
	if _, err := m.Fit(toyData(10, 6, 3, 1), FitConfig{Epochs: 0, BatchSize: 4, Optimizer: opt}); err == nil || !strings.Contains(err.Error(), "Epochs") {
		t.Fatalf("zero epochs: %v", err)
	}
	if _, err := m.Predict(make([]float32, 7), 2); err == nil {
		t.Fatal("ragged input accepted")
	}
}

func TestNaNLossStopsWithError(t *testing.T) {
	m := smallModel(t, 51)
	d := toyData(20, 6, 3, 52)
	d.X[0] = float32(math.NaN())
	opt, _ := optim.NewAdam(optim.AdamConfig{LR: 0.01})
	_, err := m.Fit(d, FitConfig{Epochs: 1, BatchSize: 20, Optimizer: opt})
	if err == nil || !strings.Contains(err.Error(), "loss is NaN") || !strings.Contains(err.Error(), "epoch 0, step 0") {
		t.Fatalf("NaN loss: err = %v", err)
	}
}

// Every kernel (dense, blocks, sparse) must give the same loss and
// gradients as the dense masked computation, for ensemble-level and
// edge-level masks, every grouping, and after rewiring.
func TestKernelsMatchDenseKernel(t *testing.T) {
	type layerSpec struct {
		sampling layers.Sampling
		grouping layers.Grouping
	}
	specs := map[string]layerSpec{
		"blocks-index": {layers.SampleBlocks, layers.GroupIndex},
		"exact-index":  {layers.SampleExact, layers.GroupIndex},
		"exact-random": {layers.SampleExact, layers.GroupRandom},
		"exact-mixer":  {layers.SampleExact, layers.GroupMixer},
		"bernoulli":    {layers.SampleBernoulli, layers.GroupIndex},
	}
	for name, spec := range specs {
		t.Run(name, func(t *testing.T) {
			build := func(k layers.Kernel) (*Model, []*layers.G2G) {
				g1 := mustG2G(t, layers.G2GConfig{Name: "g1", In: 12, Out: 16, Groups: 4, Density: 0.5, Sampling: spec.sampling, Grouping: spec.grouping, Activation: layers.Tanh, Seed: 5})
				g2 := mustG2G(t, layers.G2GConfig{Name: "g2", In: 16, Out: 8, Groups: 4, Density: 0.25, Sampling: spec.sampling, Grouping: spec.grouping, Activation: layers.Tanh, Seed: 6})
				for _, g := range []*layers.G2G{g1, g2} {
					if err := g.SetKernel(k); err != nil {
						t.Fatal(err)
					}
				}
				m, err := Sequential([]int{12}, g1, g2, mustDense(t, layers.DenseConfig{Name: "out", In: 8, Out: 3, Seed: 7}))
				if err != nil {
					t.Fatal(err)
				}
				return m, []*layers.G2G{g1, g2}
			}
			// 21 samples: not a multiple of the kernels' 16-wide lanes.
			d := toyData(21, 12, 3, 8)
			run := func(k layers.Kernel, rewire bool, fill float64) (float64, map[string][]float32, layers.Kernel) {
				m, gs := build(k)
				for _, g := range gs {
					tuning := g.Tuning()
					tuning.DenseBlockFill = fill
					if err := g.SetTuning(tuning); err != nil {
						t.Fatal(err)
					}
				}
				if rewire {
					// Move edges in both layers; the kernels must follow.
					lossAndGrads(t, m, d)
					for _, g := range gs {
						act := g.Mask().ActiveIndices()
						inact := g.Mask().InactiveIndices()
						if err := g.Prune(act[:3]); err != nil {
							t.Fatal(err)
						}
						if err := g.Grow(inact[len(inact)-3:], []float32{0.5, -0.25, 0.125}); err != nil {
							t.Fatal(err)
						}
					}
				}
				loss, g := lossAndGrads(t, m, d)
				out := map[string][]float32{}
				for p, v := range g {
					out[p.Name] = v
					if p.Mask == nil {
						continue
					}
					for k, mv := range p.Mask.Data() {
						if mv == 0 && v[k] != 0 {
							t.Fatalf("%s kernel: %s[%d] is masked but has gradient %v", gs[0].Kernel(), p.Name, k, v[k])
						}
					}
				}
				return loss, out, gs[1].Kernel()
			}
			for _, rewire := range []bool{false, true} {
				fill := layers.DefaultTuning().DenseBlockFill
				ld, gd, kd := run(layers.KernelDense, rewire, fill)
				if kd != layers.KernelDense {
					t.Fatalf("asked for dense, runs %s", kd)
				}
				for _, variant := range []string{"blocks", "sparse", "sparse+blas", "sparse+go"} {
					k := layers.Kernel(strings.Split(variant, "+")[0])
					asm, fill := kernels.Accelerated(), layers.DefaultTuning().DenseBlockFill
					switch variant {
					case "sparse+blas":
						fill = 0.5 // dense blocks through BLAS
					case "sparse+go":
						kernels.SetAccelerated(false) // the plain Go loops
					}
					lk, gk, ran := run(k, rewire, fill)
					kernels.SetAccelerated(asm)
					if k == layers.KernelSparse && ran != k || k == layers.KernelBlocks && ran != k && spec.grouping == layers.GroupIndex {
						t.Fatalf("asked for %s, runs %s", k, ran)
					}
					if math.Abs(lk-ld) > 1e-5 {
						t.Fatalf("rewired %v: loss %v with %s kernel, %v with dense", rewire, lk, variant, ld)
					}
					for name, v := range gd {
						for i := range v {
							if math.Abs(float64(v[i]-gk[name][i])) > 1e-5 {
								t.Fatalf("rewired %v: %s[%d]: %s kernel %v, dense %v", rewire, name, i, variant, gk[name][i], v[i])
							}
						}
					}
				}
			}
		})
	}
}

// A model nobody references any more must be garbage collected, compiled
// graphs, tape machines and all (a finalizer in a reference cycle once kept
// every compiled model alive).
func TestModelIsCollected(t *testing.T) {
	ref := func() weak.Pointer[program] {
		m := smallModel(t, 3)
		opt, _ := optim.NewAdam(optim.AdamConfig{LR: 0.01})
		if _, err := m.Fit(toyData(20, 6, 3, 1), FitConfig{Epochs: 1, BatchSize: 8, Optimizer: opt}); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Predict(toyData(5, 6, 3, 2).X, 5); err != nil {
			t.Fatal(err)
		}
		for _, p := range m.train {
			return weak.Make(p) // a compiled graph with its machine
		}
		t.Fatal("no training program")
		return weak.Pointer[program]{}
	}()
	for i := 0; i < 5 && ref.Value() != nil; i++ {
		runtime.GC()
	}
	if ref.Value() != nil {
		t.Fatal("a compiled training graph is still reachable after its model was dropped")
	}
}

// Evaluation runs the sparse kernels in chunks of samples; predictions of a
// batch spanning several chunks (and a ragged last one) must match the
// dense kernel's.
func TestSparsePredictInChunksMatchesDense(t *testing.T) {
	predict := func(k layers.Kernel) []float32 {
		g1 := mustG2G(t, layers.G2GConfig{Name: "g1", In: 12, Out: 40, Groups: 4, Density: 0.3, Sampling: layers.SampleExact, Activation: layers.ReLU, Seed: 1})
		g2 := mustG2G(t, layers.G2GConfig{Name: "g2", In: 40, Out: 24, Groups: 4, Density: 0.3, Sampling: layers.SampleExact, Activation: layers.ReLU, Seed: 2})
		for _, g := range []*layers.G2G{g1, g2} {
			if err := g.SetKernel(k); err != nil {
				t.Fatal(err)
			}
		}
		m, err := Sequential([]int{12}, g1, g2, mustDense(t, layers.DenseConfig{Name: "out", In: 24, Out: 3, Seed: 3}))
		if err != nil {
			t.Fatal(err)
		}
		p, err := m.Predict(toyData(601, 12, 3, 4).X, 601)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	sp, de := predict(layers.KernelSparse), predict(layers.KernelDense)
	for i := range de {
		if math.Abs(float64(sp[i]-de[i])) > 1e-5 {
			t.Fatalf("prediction %d: sparse %v, dense %v", i, sp[i], de[i])
		}
	}
}

// The training graph's fused cross-entropy must equal the loss Evaluate
// computes from the logits, and a NaN logit must give a NaN loss.
func TestTrainingLossMatchesEvaluate(t *testing.T) {
	m := smallModel(t, 61)
	d := toyData(13, 6, 3, 62)
	loss, _ := lossAndGrads(t, m, d)
	want, _, err := m.Evaluate(d, d.Len())
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(loss-want) > 1e-6*(1+want) {
		t.Fatalf("training loss %v, Evaluate %v", loss, want)
	}
	op := &crossEntropyOp{}
	z := tensor.New(tensor.WithShape(1, 2), tensor.WithBacking([]float32{float32(math.NaN()), 1}))
	y := tensor.New(tensor.WithShape(1, 2), tensor.WithBacking([]float32{0, 1}))
	v, err := op.Do(z, y)
	if err != nil {
		t.Fatal(err)
	}
	if l := float64(*v.(*G.F32)); !math.IsNaN(l) {
		t.Fatalf("NaN logit: loss %v", l)
	}
}

// Gradients are the gradient ops' outputs, not accumulators: two runs on
// the same batch and weights give the same gradients, with nothing cleared
// in between.
func TestGradientsDoNotAccumulate(t *testing.T) {
	m := smallModel(t, 71)
	d := toyData(10, 6, 3, 72)
	_, g1 := lossAndGrads(t, m, d)
	_, g2 := lossAndGrads(t, m, d)
	for p, v := range g1 {
		for k := range v {
			if v[k] != g2[p][k] {
				t.Fatalf("%s[%d]: %v, then %v", p.Name, k, v[k], g2[p][k])
			}
		}
	}
}
