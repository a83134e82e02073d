package graph

import (
	"encoding/json"
	"math"
	"math/rand"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pkg/errors"
	G "gorgonia.org/gorgonia"

	"github.com/g2g-ml/g2g/datasets"
	"github.com/g2g-ml/g2g/internal/npz"
	"github.com/g2g-ml/g2g/layers"
	"github.com/g2g-ml/g2g/optim"
)

// regressionData returns n samples of dim features whose 2 targets are
// fixed linear functions of them.
func regressionData(n, dim int, seed int64) *datasets.Dataset {
	rng := rand.New(rand.NewSource(seed))
	x := make([]float32, n*dim)
	y := make([]float32, n*2)
	for i := 0; i < n; i++ {
		for k := 0; k < dim; k++ {
			x[i*dim+k] = float32(rng.NormFloat64())
		}
		y[2*i] = x[i*dim] - 0.5*x[i*dim+1]
		y[2*i+1] = 0.3 * x[i*dim+2]
	}
	d, err := datasets.FromArrays("reg", x, []int{dim}, y, []int{2})
	if err != nil {
		panic(err)
	}
	return d
}

func adam(t testing.TB, lr float64) optim.Optimizer {
	t.Helper()
	opt, err := optim.NewAdam(optim.AdamConfig{LR: lr})
	if err != nil {
		t.Fatal(err)
	}
	return opt
}

// regModel is G2G 6 → 8 (tanh) → dense 8 → 2, linear outputs.
func regModel(t testing.TB, seed int64) *Model {
	t.Helper()
	g := mustG2G(t, layers.G2GConfig{Name: "g", In: 6, Out: 8, Groups: 2, Density: 0.5, Sampling: layers.SampleExact, Activation: layers.Tanh, Seed: seed})
	out := mustDense(t, layers.DenseConfig{Name: "out", In: 8, Out: 2, Seed: seed + 1})
	m, err := Sequential([]int{6}, g, out)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// A regression model trains on float targets with each regression loss,
// logs no accuracy by default, logs the metrics asked for, and its
// validation loss is EvaluateWith's.
func TestRegressionFit(t *testing.T) {
	train, val := regressionData(200, 6, 1), regressionData(60, 6, 2)
	for _, loss := range []Loss{MeanSquaredError{}, MeanAbsoluteError{}, Huber{Delta: 0.5}} {
		m := regModel(t, 3)
		before, err := m.EvaluateWith(val, EvalConfig{BatchSize: 32, Loss: loss})
		if err != nil {
			t.Fatal(err)
		}
		hist, err := m.Fit(train, FitConfig{Epochs: 15, BatchSize: 20, Optimizer: adam(t, 0.02), Seed: 1,
			Loss: loss, Metrics: []Metric{MSE{}, MAE{}}, Validation: val})
		if err != nil {
			t.Fatal(err)
		}
		last := hist.Last()
		for _, k := range []string{"loss", "mse", "mae", "val_loss", "val_mse", "val_mae"} {
			if _, ok := last[k]; !ok {
				t.Fatalf("%s: logs lack %q: %v", loss.Name(), k, last)
			}
		}
		if _, ok := last["acc"]; ok {
			t.Fatalf("%s: a regression logs acc", loss.Name())
		}
		if !(last["val_loss"] < 0.3*before["loss"]) {
			t.Fatalf("%s: validation loss %v after training, %v before", loss.Name(), last["val_loss"], before["loss"])
		}
		after, err := m.EvaluateWith(val, EvalConfig{BatchSize: 7, Loss: loss, Metrics: []Metric{MSE{}, MAE{}}})
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"loss", "mse", "mae"} {
			if !near(after[k], last["val_"+k], 1e-12) {
				t.Fatalf("%s: EvaluateWith %s = %v, Fit logged %v", loss.Name(), k, after[k], last["val_"+k])
			}
		}
		if loss.Name() == "mse" && !near(after["loss"], after["mse"], 1e-12) {
			t.Fatalf("mse loss %v, mse metric %v", after["loss"], after["mse"])
		}
	}
	m := regModel(t, 3)
	hist, err := m.Fit(train, FitConfig{Epochs: 1, BatchSize: 50, Optimizer: adam(t, 0.01), Loss: MeanSquaredError{}})
	if err != nil {
		t.Fatal(err)
	}
	if keys := slices.Sorted(mapKeys(hist.Last())); !slices.Equal(keys, []string{"epoch_seconds", "loss", "lr"}) {
		t.Fatalf("default regression logs %v", keys)
	}
}

func mapKeys(m map[string]float64) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// A loss written with gorgonia's operations trains through autodiff and
// gives the numbers of the built-in fused op it restates.
func TestCustomLossMatchesBuiltin(t *testing.T) {
	mse := NewLoss("my_mse", func(out, target *G.Node) (*G.Node, error) {
		d, err := G.Sub(out, target)
		if err != nil {
			return nil, err
		}
		sq, err := G.Square(d)
		if err != nil {
			return nil, err
		}
		return G.Mean(sq)
	})
	train, val := regressionData(90, 6, 4), regressionData(30, 6, 5)
	var weights [2][]float32
	var logs [2]map[string]float64
	for k, loss := range []Loss{MeanSquaredError{}, mse} {
		m := regModel(t, 8)
		hist, err := m.Fit(train, FitConfig{Epochs: 3, BatchSize: 16, Optimizer: adam(t, 0.01), Seed: 2, Loss: loss, Validation: val})
		if err != nil {
			t.Fatal(err)
		}
		logs[k] = hist.Last()
		for _, p := range m.Params() {
			weights[k] = append(weights[k], p.Data()...)
		}
	}
	for i := range weights[0] {
		if math.Abs(float64(weights[0][i]-weights[1][i])) > 1e-4 {
			t.Fatalf("weight %d: %v with the fused MSE, %v with the custom one", i, weights[0][i], weights[1][i])
		}
	}
	for _, k := range []string{"loss", "val_loss"} {
		if !near(logs[0][k], logs[1][k], 1e-4) {
			t.Fatalf("%s: %v with the fused MSE, %v with the custom one", k, logs[0][k], logs[1][k])
		}
	}
}

// Losses that do not return a scalar, panic or fail, wrong target shapes
// and bad output configurations are errors naming the culprit.
func TestLossAndTargetErrors(t *testing.T) {
	train := regressionData(20, 6, 1)
	fit := func(m *Model, d *datasets.Dataset, cfg FitConfig) error {
		cfg.Epochs, cfg.BatchSize, cfg.Optimizer = 1, 8, adam(t, 0.01)
		_, err := m.Fit(d, cfg)
		return err
	}
	vector := NewLoss("vector", func(out, target *G.Node) (*G.Node, error) { return G.Sub(out, target) })
	panics := NewLoss("panics", func(out, target *G.Node) (*G.Node, error) { panic("boom") })
	fails := NewLoss("fails", func(out, target *G.Node) (*G.Node, error) { return nil, errors.New("no such thing") })
	threeTargets := regressionData(20, 6, 1)
	threeTargets.TargetShape = []int{3}
	threeTargets.Targets = make([]float32, 60)
	wrongInput := regressionData(20, 5, 1)
	for _, c := range []struct {
		name string
		d    *datasets.Dataset
		cfg  FitConfig
		want []string
	}{
		{"not scalar", train, FitConfig{Loss: vector}, []string{`loss "vector" of output "out"`, "want a scalar", "(8, 2)"}},
		{"panic", train, FitConfig{Loss: panics}, []string{`loss "panics" of output "out" panicked: boom`}},
		{"error", train, FitConfig{Loss: fails}, []string{`loss "fails" of output "out"`, "no such thing"}},
		{"target shape", threeTargets, FitConfig{Loss: MeanSquaredError{}}, []string{`output "out" has 2 values per sample`, "have 3 (shape [3])"}},
		{"input shape", wrongInput, FitConfig{Loss: MeanSquaredError{}}, []string{`input "input" wants 6`, "has 5 values per sample"}},
		{"unknown output", train, FitConfig{Loss: MeanSquaredError{}, Outputs: map[string]OutputConfig{"aux": {}}},
			[]string{`"aux", which is not an output`, "outputs: out"}},
		{"negative weight", train, FitConfig{Loss: MeanSquaredError{}, Outputs: map[string]OutputConfig{"out": {Weight: -1}}},
			[]string{`output "out": loss Weight`}},
		{"duplicate metric", train, FitConfig{Loss: MeanSquaredError{}, Metrics: []Metric{MSE{}, MSE{}}}, []string{`two metrics are named "mse"`}},
		{"metric error", train, FitConfig{Loss: MeanSquaredError{}, Metrics: []Metric{TopKAccuracy{}}}, []string{`metric "top0_acc" of output "out"`, "K must be at least 1"}},
	} {
		err := fit(regModel(t, 1), c.d, c.cfg)
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %v, want it to contain %q", c.name, err, w)
			}
		}
	}
}

// twoByTwo returns a model of two inputs, "a" (4 values) and "b" (3),
// merged by Concat into a shared G2G trunk with two heads: "cls", 3
// logits, and "aux", 2 regression values read from the trunk and b.
func twoByTwo(t testing.TB, seed int64) *Model {
	t.Helper()
	a, b := Input("a", 4), Input("b", 3)
	cat, _ := layers.NewConcat("cat")
	trunk := mustG2G(t, layers.G2GConfig{Name: "trunk", In: 7, Out: 8, Groups: 2, Density: 0.5, Sampling: layers.SampleExact, Activation: layers.Tanh, Seed: seed})
	cls := mustDense(t, layers.DenseConfig{Name: "cls", In: 8, Out: 3, Seed: seed + 1})
	cat2, _ := layers.NewConcat("cat2")
	aux := mustDense(t, layers.DenseConfig{Name: "aux", In: 11, Out: 2, Seed: seed + 2})
	h := Apply(trunk, Apply(cat, a, b))
	m, err := NewMultiModel([]*Ref{a, b}, []*Ref{Apply(cls, h), Apply(aux, Apply(cat2, h, b))})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// twoByTwoData returns n samples: X feeds input "a", field "b" input b;
// labels Y (class from a's first values) are the targets of "cls", field
// "aux" (linear in a and b) those of "aux".
func twoByTwoData(n int, seed int64) *datasets.Dataset {
	rng := rand.New(rand.NewSource(seed))
	d := &datasets.Dataset{Name: "two", X: make([]float32, n*4), Shape: []int{4}, Y: make([]int, n), Classes: 3,
		Fields: []datasets.Field{{Name: "b", Shape: []int{3}, Values: make([]float32, n*3)}, {Name: "aux", Shape: []int{2}, Values: make([]float32, n*2)}}}
	b, aux := d.Fields[0].Values, d.Fields[1].Values
	for i := 0; i < n; i++ {
		for k := 0; k < 4; k++ {
			d.X[i*4+k] = float32(rng.NormFloat64())
		}
		for k := 0; k < 3; k++ {
			b[i*3+k] = float32(rng.NormFloat64())
		}
		switch {
		case d.X[i*4] > 0.5:
			d.Y[i] = 2
		case b[i*3] > 0:
			d.Y[i] = 1
		}
		aux[2*i] = d.X[i*4+1] + b[i*3+1]
		aux[2*i+1] = -b[i*3+2]
	}
	return d
}

// A model of two inputs and two outputs trains with a loss and metrics per
// output and a loss weight, logs each, evaluates, predicts on the graph,
// the runtime and an exported model alike, and its total loss is the
// weighted sum.
func TestTwoInputsTwoOutputs(t *testing.T) {
	train, val := twoByTwoData(240, 1), twoByTwoData(80, 2)
	m := twoByTwo(t, 5)
	if got := m.OutputNames(); !slices.Equal(got, []string{"cls", "aux"}) {
		t.Fatalf("outputs %v", got)
	}
	cfg := FitConfig{Epochs: 25, BatchSize: 32, Optimizer: adam(t, 0.02), Seed: 3, Validation: val,
		Outputs: map[string]OutputConfig{"aux": {Loss: MeanSquaredError{}, Weight: 0.5, Metrics: []Metric{MAE{}}}}}
	hist, err := m.Fit(train, cfg)
	if err != nil {
		t.Fatal(err)
	}
	last := hist.Last()
	want := []string{"aux/loss", "aux/mae", "cls/acc", "cls/loss", "epoch_seconds", "loss", "lr",
		"val_aux/loss", "val_aux/mae", "val_cls/acc", "val_cls/loss", "val_loss"}
	if keys := slices.Sorted(mapKeys(last)); !slices.Equal(keys, want) {
		t.Fatalf("logs %v, want %v", keys, want)
	}
	if !near(last["val_loss"], last["val_cls/loss"]+0.5*last["val_aux/loss"], 1e-12) {
		t.Fatalf("val_loss %v, want cls %v + 0.5·aux %v", last["val_loss"], last["val_cls/loss"], last["val_aux/loss"])
	}
	// The training total is the weighted sum batch by batch (in float32).
	if !near(last["loss"], last["cls/loss"]+0.5*last["aux/loss"], 1e-5) {
		t.Fatalf("loss %v, want cls %v + 0.5·aux %v", last["loss"], last["cls/loss"], last["aux/loss"])
	}
	if last["val_cls/acc"] < 0.75 || last["val_aux/mae"] > 0.4 {
		t.Fatalf("the heads did not learn: %v", last)
	}
	ev, err := m.EvaluateWith(val, EvalConfig{BatchSize: 17, Outputs: cfg.Outputs})
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range ev {
		if !near(v, last["val_"+k], 1e-12) {
			t.Fatalf("EvaluateWith %s = %v, Fit logged %v", k, v, last["val_"+k])
		}
	}
	// Predict: runtime, graph, exported.
	runtime, err := m.PredictDataset(val, 13)
	if err != nil {
		t.Fatal(err)
	}
	graphOut, err := m.predictGraphMulti([][]float32{val.X, val.Fields[0].Values}, val.Len(), 9)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "two.npz")
	if err := m.Export(path); err != nil {
		t.Fatal(err)
	}
	inf, err := LoadInference(path)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(inf.InputNames(), []string{"a", "b"}) || !slices.Equal(inf.OutputNames(), []string{"cls", "aux"}) ||
		!slices.Equal(inf.OutputSizes(), []int{3, 2}) {
		t.Fatalf("exported inputs %v outputs %v sizes %v", inf.InputNames(), inf.OutputNames(), inf.OutputSizes())
	}
	exported, err := inf.PredictMulti([][]float32{val.X, val.Fields[0].Values}, 64)
	if err != nil {
		t.Fatal(err)
	}
	for _, other := range [][][]float32{graphOut, exported} {
		for o := range runtime {
			if len(other[o]) != len(runtime[o]) {
				t.Fatalf("output %d: %d values, want %d", o, len(other[o]), len(runtime[o]))
			}
			for i := range runtime[o] {
				if math.Abs(float64(other[o][i]-runtime[o][i])) > 1e-5*(1+math.Abs(float64(runtime[o][i]))) {
					t.Fatalf("output %d value %d: %v, runtime %v", o, i, other[o][i], runtime[o][i])
				}
			}
		}
	}
	iev, err := inf.EvaluateWith(val, EvalConfig{BatchSize: 17, Outputs: cfg.Outputs})
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range iev {
		if !near(v, ev[k], 1e-12) {
			t.Fatalf("exported %s = %v, model %v", k, v, ev[k])
		}
	}
	// Single-input calls are refused with a pointer to the multi ones.
	if _, err := m.Predict(val.X, 10); err == nil || !strings.Contains(err.Error(), "use PredictMulti") {
		t.Fatalf("Predict on two inputs: %v", err)
	}
	// The exported file is version 2 and lists inputs and outputs.
	arrays, err := npz.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	var g exportGraph
	if err := json.Unmarshal(arrays[exportMeta].Data, &g); err != nil {
		t.Fatal(err)
	}
	if g.Version != 2 || len(g.Inputs) != 2 || g.Outputs[1].Name != "aux" || g.Outputs[1].Size != 2 {
		t.Fatalf("exported graph %+v", g)
	}
}

// Data that does not map to a model's inputs and outputs is refused,
// naming the input or output and what is missing.
func TestBindingErrors(t *testing.T) {
	m := twoByTwo(t, 1)
	opt := adam(t, 0.01)
	good := twoByTwoData(10, 1)
	noB := twoByTwoData(10, 1)
	noB.Fields = noB.Fields[1:]
	noAux := twoByTwoData(10, 1)
	noAux.Fields = noAux.Fields[:1]
	badAux := twoByTwoData(10, 1)
	badAux.Fields[1].Shape = []int{1}
	badAux.Fields[1].Values = badAux.Fields[1].Values[:10]
	labelsB := twoByTwoData(10, 1)
	labelsB.Fields[0] = datasets.Field{Name: "b", Labels: make([]int, 10), Classes: 2}
	for _, c := range []struct {
		d    *datasets.Dataset
		want string
	}{
		{noB, `input "b" has no data: "two" has no field named "b", and its X already feeds input "a" (fields: aux)`},
		{noAux, `output "aux" has no targets: "two" has no field named "aux" and gives its own targets to output "cls"`},
		{badAux, `output "aux" has 2 values per sample (shape [2]); its targets, field "aux" of "two", have 1 (shape [1])`},
		{labelsB, `input "b": field "b" of "two" holds labels`},
	} {
		_, err := m.Fit(c.d, FitConfig{Epochs: 1, BatchSize: 4, Optimizer: opt, Outputs: map[string]OutputConfig{"aux": {Loss: MeanSquaredError{}}}})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v, want an error containing %s", err, c.want)
		}
	}
	if _, err := m.Fit(good, FitConfig{Epochs: 1, BatchSize: 4, Optimizer: opt, Outputs: map[string]OutputConfig{"aux": {Loss: MeanSquaredError{}}}}); err != nil {
		t.Fatal(err)
	}
	// Model construction errors.
	a := Input("a", 4)
	d := mustDense(t, layers.DenseConfig{Name: "d", In: 4, Out: 2})
	out := Apply(d, a)
	if _, err := NewMultiModel([]*Ref{a, Input("unused", 2)}, []*Ref{out}); err == nil || !strings.Contains(err.Error(), `does not depend on input "unused"`) {
		t.Errorf("unused input: %v", err)
	}
	if _, err := NewMultiModel([]*Ref{a}, []*Ref{out, out}); err == nil || !strings.Contains(err.Error(), `two outputs are named "d"`) {
		t.Errorf("duplicate output: %v", err)
	}
	if _, err := NewMultiModel([]*Ref{a}, []*Ref{a}); err == nil || !strings.Contains(err.Error(), "is an Input") {
		t.Errorf("input as output: %v", err)
	}
}

// An autoencoder's targets are its inputs as the model sees them: after
// augmentation, without a copy in the data set.
func TestInputTargetsAreAugmentedInputs(t *testing.T) {
	d := regressionData(30, 6, 1)
	d.Targets, d.TargetShape, d.InputTargets = nil, nil, true
	enc := mustDense(t, layers.DenseConfig{Name: "enc", In: 6, Out: 3, Activation: layers.Tanh, Seed: 1})
	dec := mustDense(t, layers.DenseConfig{Name: "dec", In: 3, Out: 6, Seed: 2})
	m, err := Sequential([]int{6}, enc, dec)
	if err != nil {
		t.Fatal(err)
	}
	augment := func(x []float32, n, epoch, batch int) error {
		for k := range x {
			x[k] = float32(epoch*100 + batch*10 + k%6)
		}
		return nil
	}
	checked := 0
	probe := NewMetric("probe", false, func(b MetricBatch) (float64, error) {
		for k, v := range b.Target {
			if want := float32(k % 6); v-float32(int(v)/10*10) != want {
				return 0, errors.Errorf("target %d is %v, not the augmented input", k, v)
			}
		}
		checked++
		return 0, nil
	})
	if _, err := m.Fit(d, FitConfig{Epochs: 2, BatchSize: 8, Optimizer: adam(t, 0.001), Loss: MeanSquaredError{},
		Metrics: []Metric{probe}, Augment: augment}); err != nil {
		t.Fatal(err)
	}
	if checked != 8 {
		t.Fatalf("probe saw %d batches, want 8", checked)
	}
	// Evaluated, the targets are the (unaugmented) inputs: a model
	// predicting zeros scores the mean square of the inputs.
	for _, p := range m.Params() {
		clear(p.Data())
	}
	logs, err := m.EvaluateWith(d, EvalConfig{BatchSize: 7, Loss: MeanSquaredError{}})
	if err != nil {
		t.Fatal(err)
	}
	var want float64
	for _, v := range d.X {
		want += float64(v) * float64(v)
	}
	want /= float64(len(d.X))
	if !near(logs["loss"], want, 1e-12) {
		t.Fatalf("loss of a zero model %v, want the inputs' mean square %v", logs["loss"], want)
	}
}

// The training graphs follow the loss: a new loss recompiles them, the
// same one reuses them.
func TestTrainingProgramsFollowTheLoss(t *testing.T) {
	m := regModel(t, 1)
	d := regressionData(16, 6, 1)
	fit := func(l Loss) {
		if _, err := m.Fit(d, FitConfig{Epochs: 1, BatchSize: 16, Optimizer: adam(t, 0.01), Loss: l}); err != nil {
			t.Fatal(err)
		}
	}
	fit(MeanSquaredError{})
	p := m.train[16]
	fit(MeanSquaredError{})
	if m.train[16] != p {
		t.Fatal("the same loss recompiled the training graph")
	}
	fit(Huber{})
	if m.train[16] == p {
		t.Fatal("a new loss kept the old training graph")
	}
}

// Context tells callbacks which entries Fit logs and which way each
// improves.
func TestContextLogKeys(t *testing.T) {
	m := twoByTwo(t, 1)
	d := twoByTwoData(20, 1)
	var keys []string
	var maxAcc, maxLoss, known, knownTypo bool
	probe := &hookProbe{begin: func(c *Context) error {
		keys = c.LogKeys()
		maxAcc, _ = c.Maximize("val_cls/acc")
		maxLoss, known = c.Maximize("aux/loss")
		_, knownTypo = c.Maximize("val_cls/accuracy")
		return nil
	}}
	cfg := FitConfig{Epochs: 1, BatchSize: 8, Optimizer: adam(t, 0.01), Callbacks: []Callback{probe},
		Outputs: map[string]OutputConfig{"aux": {Loss: MeanSquaredError{}}}, Validation: d}
	if _, err := m.Fit(d, cfg); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(keys, "val_aux/loss") || !maxAcc || maxLoss || !known || knownTypo {
		t.Fatalf("keys %v, max acc %v, max loss %v (known %v), typo known %v", keys, maxAcc, maxLoss, known, knownTypo)
	}
	cfg.Validation = nil
	if _, err := m.Fit(d, cfg); err != nil {
		t.Fatal(err)
	}
	if slices.Contains(keys, "val_loss") || !slices.Contains(keys, "cls/acc") {
		t.Fatalf("without validation data: keys %v", keys)
	}
}

type hookProbe struct {
	BaseCallback
	begin func(c *Context) error
}

func (h *hookProbe) OnTrainBegin(c *Context) error { return h.begin(c) }

// A model whose output keeps its image shape, (batch, C, H, W), trains
// with a built-in loss (on a flat view) and with a loss of one's own (on
// the output's shape) against targets of that many values, and agrees
// with EvaluateWith.
func TestImageShapedOutput(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	const n = 24
	d := &datasets.Dataset{Name: "img", X: make([]float32, n*16), Shape: []int{1, 4, 4}, InputTargets: true}
	for k := range d.X {
		d.X[k] = float32(rng.Float64())
	}
	conv, err := layers.NewConv2D(layers.Conv2DConfig{Name: "conv", InChannels: 1, OutChannels: 1, Height: 4, Width: 4, Kernel: 3, Padding: 1, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	m, err := Sequential([]int{1, 4, 4}, conv)
	if err != nil {
		t.Fatal(err)
	}
	if s := m.OutputShapes()[0]; !slices.Equal(s, []int{1, 4, 4}) {
		t.Fatalf("output shape %v", s)
	}
	var shapes [][]int
	own := NewLoss("own_mse", func(out, target *G.Node) (*G.Node, error) {
		shapes = append(shapes, out.Shape().Clone(), target.Shape().Clone())
		diff, err := G.Sub(out, target)
		if err != nil {
			return nil, err
		}
		sq, err := G.Square(diff)
		if err != nil {
			return nil, err
		}
		return G.Mean(sq)
	})
	for _, loss := range []Loss{MeanSquaredError{}, own} {
		before, err := m.EvaluateWith(d, EvalConfig{BatchSize: 10, Loss: loss})
		if err != nil {
			t.Fatal(err)
		}
		hist, err := m.Fit(d, FitConfig{Epochs: 30, BatchSize: 8, Optimizer: adam(t, 0.05), Loss: loss, Validation: d})
		if err != nil {
			t.Fatal(err)
		}
		after := hist.Last()["val_loss"]
		if !(after < 0.5*before["loss"]) {
			t.Fatalf("%s: loss %v before, %v after", loss.Name(), before["loss"], after)
		}
	}
	// Built for evaluation (batches of 10 and 4), training (8) and, once
	// for all epochs, validation (8), each time with nodes of the output's
	// shape.
	if len(shapes) != 8 {
		t.Fatalf("the custom loss was built %d times, want 4 (evaluation graphs are cached)", len(shapes)/2)
	}
	for _, s := range shapes {
		if !slices.Equal(s[1:], []int{1, 4, 4}) {
			t.Fatalf("the custom loss saw shapes %v, want the output's (batch, 1, 4, 4)", shapes)
		}
	}
}
