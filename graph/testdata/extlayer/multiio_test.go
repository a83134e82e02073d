package extlayer

import (
	"math"
	"math/rand"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"

	"github.com/g2g-ml/g2g/callbacks"
	"github.com/g2g-ml/g2g/datasets"
	"github.com/g2g-ml/g2g/graph"
	"github.com/g2g-ml/g2g/layers"
	"github.com/g2g-ml/g2g/optim"
)

// twoViews returns n samples of two views: "left" (X, 8 values) and
// "right" (a field, 5 values). The class (Y, 3 classes) depends on both;
// the "recon" output's targets are the right view itself, a second field
// over the same slice (no copy).
func twoViews(n int, seed int64) *datasets.Dataset {
	rng := rand.New(rand.NewSource(seed))
	d := &datasets.Dataset{Name: "views", X: make([]float32, n*8), Shape: []int{8}, Y: make([]int, n), Classes: 3}
	right := make([]float32, n*5)
	for i := 0; i < n; i++ {
		for k := 0; k < 8; k++ {
			d.X[i*8+k] = float32(rng.NormFloat64())
		}
		for k := 0; k < 5; k++ {
			right[i*5+k] = float32(rng.NormFloat64())
		}
		switch {
		case d.X[i*8]+right[i*5] > 1:
			d.Y[i] = 2
		case d.X[i*8+1]-right[i*5+1] > 0:
			d.Y[i] = 1
		}
	}
	d.Fields = []datasets.Field{
		{Name: "right", Shape: []int{5}, Values: right},
		{Name: "recon", Shape: []int{5}, Values: right},
	}
	return d
}

// twoByTwo builds left, right → Concat → G2G → LayerNorm (this module's
// layer) → heads "cls" (3 logits) and "recon" (5 values), all layers from
// fixed seeds.
func twoByTwo(t *testing.T) *graph.Model {
	t.Helper()
	left, right := graph.Input("left", 8), graph.Input("right", 5)
	cat, err := layers.NewConcat("cat")
	if err != nil {
		t.Fatal(err)
	}
	trunk, err := layers.NewG2G(layers.G2GConfig{Name: "trunk", In: 13, Out: 12, Groups: 2, Density: 0.5,
		Sampling: layers.SampleExact, Activation: layers.ReLU, Seed: 11})
	if err != nil {
		t.Fatal(err)
	}
	cls, err := layers.NewDense(layers.DenseConfig{Name: "cls", In: 12, Out: 3, Seed: 12})
	if err != nil {
		t.Fatal(err)
	}
	recon, err := layers.NewDense(layers.DenseConfig{Name: "recon", In: 12, Out: 5, Seed: 13})
	if err != nil {
		t.Fatal(err)
	}
	h := graph.Apply(NewLayerNorm("norm", 12), graph.Apply(trunk, graph.Apply(cat, left, right)))
	m, err := graph.NewMultiModel([]*graph.Ref{left, right}, []*graph.Ref{graph.Apply(cls, h), graph.Apply(recon, h)})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// l1l2 is a loss of our own: mean squared error plus a tenth of the mean
// absolute error, trained through gorgonia's autodiff.
var l1l2 = graph.NewLoss("l1l2", func(out, target *G.Node) (*G.Node, error) {
	d, err := G.Sub(out, target)
	if err != nil {
		return nil, err
	}
	sq, err := G.Square(d)
	if err != nil {
		return nil, err
	}
	mse, err := G.Mean(sq)
	if err != nil {
		return nil, err
	}
	ab, err := G.Abs(d)
	if err != nil {
		return nil, err
	}
	mae, err := G.Mean(ab)
	if err != nil {
		return nil, err
	}
	tenth, err := G.Mul(mae, G.NewConstant(float32(0.1)))
	if err != nil {
		return nil, err
	}
	return G.Add(mse, tenth)
})

// maxErr is a metric of our own: the batch's largest absolute error.
var maxErr = graph.NewMetric("max_err", false, func(b graph.MetricBatch) (float64, error) {
	var m float64
	for i, v := range b.Output {
		m = math.Max(m, math.Abs(float64(v-b.Target[i])))
	}
	return m, nil
})

// fitConfig is the run's configuration: label-smoothed cross-entropy on
// cls, l1l2 with weight 0.5 and the max_err metric on recon, checkpoints
// in dir, early stopping on the custom metric (auto mode: it is to be
// minimised).
func fitConfig(t *testing.T, epochs int, dir string, val *datasets.Dataset) (graph.FitConfig, *callbacks.EarlyStopping) {
	t.Helper()
	opt, err := optim.NewAdam(optim.AdamConfig{LR: 0.01})
	if err != nil {
		t.Fatal(err)
	}
	ck, err := callbacks.NewModelCheckpoint(callbacks.CheckpointConfig{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	es, err := callbacks.NewEarlyStopping(callbacks.EarlyStoppingConfig{Monitor: "val_recon/max_err", Patience: 100})
	if err != nil {
		t.Fatal(err)
	}
	return graph.FitConfig{
		Epochs: epochs, BatchSize: 16, Optimizer: opt, Seed: 7, Validation: val,
		Loss: graph.SoftmaxCrossEntropy{LabelSmoothing: 0.1},
		Outputs: map[string]graph.OutputConfig{
			"recon": {Loss: l1l2, Weight: 0.5, Metrics: []graph.Metric{maxErr, graph.MSE{}}},
		},
		Callbacks: []graph.Callback{es, ck},
	}, es
}

func params(m *graph.Model) [][]float32 {
	var out [][]float32
	for _, p := range m.Params() {
		out = append(out, append([]float32(nil), p.Data()...))
	}
	return out
}

// A two-input, two-output model with a layer, a loss and a metric of this
// module trains, resumes from a checkpoint bit-identically, predicts on
// the inference runtime like its graph, and exports.
func TestTwoInputsTwoOutputsCustomEverything(t *testing.T) {
	train, val := twoViews(160, 1), twoViews(48, 2)
	const epochs = 4

	// The uninterrupted run.
	full := twoByTwo(t)
	cfg, es := fitConfig(t, epochs, t.TempDir(), val)
	hist, err := full.Fit(train, cfg)
	if err != nil {
		t.Fatal(err)
	}
	last := hist.Last()
	for _, k := range []string{"loss", "cls/loss", "cls/acc", "recon/loss", "recon/max_err", "recon/mse",
		"val_loss", "val_cls/acc", "val_recon/max_err", "val_recon/mse"} {
		if _, ok := last[k]; !ok {
			t.Fatalf("logs lack %q: %v", k, last)
		}
	}
	if best, epoch := es.Best(); best != hist.Epochs[epoch]["val_recon/max_err"] {
		t.Fatalf("early stopping's best %v is not epoch %d's value", best, epoch)
	}
	for e, logs := range hist.Epochs {
		if b, _ := es.Best(); logs["val_recon/max_err"] < b {
			t.Fatalf("epoch %d's max_err %v is below the best %v: auto mode maximised a metric to minimise", e, logs["val_recon/max_err"], b)
		}
	}
	if first := hist.Epochs[0]; !(last["val_recon/mse"] < first["val_recon/mse"]) || !(last["val_cls/acc"] > 0.5) {
		t.Fatalf("did not learn: first epoch %v, last %v", first, last)
	}

	// Interrupted after 2 epochs, resumed from the checkpoint in a new
	// model.
	dir := t.TempDir()
	part := twoByTwo(t)
	cfg, _ = fitConfig(t, 2, dir, val)
	if _, err := part.Fit(train, cfg); err != nil {
		t.Fatal(err)
	}
	resumed := twoByTwo(t)
	ckpt, err := callbacks.LatestCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	st, err := resumed.LoadCheckpoint(ckpt)
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ = fitConfig(t, epochs, t.TempDir(), val)
	if err := graph.Restore(st, cfg.Optimizer, cfg.Callbacks); err != nil {
		t.Fatal(err)
	}
	cfg.InitialEpoch, cfg.InitialStep = st.Epoch, st.Step
	rhist, err := resumed.Fit(train, cfg)
	if err != nil {
		t.Fatal(err)
	}
	want, got := params(full), params(resumed)
	for i := range want {
		for k := range want[i] {
			if math.Float32bits(want[i][k]) != math.Float32bits(got[i][k]) {
				t.Fatalf("parameter %s[%d]: resumed %v, uninterrupted %v", full.Params()[i].Name, k, got[i][k], want[i][k])
			}
		}
	}
	for k, v := range rhist.Last() {
		if k != "epoch_seconds" && math.Float64bits(v) != math.Float64bits(last[k]) {
			t.Fatalf("%s: resumed %v, uninterrupted %v", k, v, last[k])
		}
	}

	// Predict: the runtime (LayerNorm is Inferable) against the graph path
	// (the same layers, LayerNorm hidden), and the exported model.
	if p := full.PredictPath(); p != "inference runtime" {
		t.Fatalf("PredictPath() = %q", p)
	}
	outs, err := full.PredictDataset(val, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(outs) != 2 || len(outs[0]) != val.Len()*3 || len(outs[1]) != val.Len()*5 {
		t.Fatalf("outputs of %d and %d values", len(outs[0]), len(outs[1]))
	}
	ls := full.Layers() // cat, trunk, norm, cls, recon
	left, right := graph.Input("left", 8), graph.Input("right", 5)
	h := graph.Apply(hidden{ls[2]}, graph.Apply(ls[1], graph.Apply(ls[0], left, right)))
	twin, err := graph.NewMultiModel([]*graph.Ref{left, right}, []*graph.Ref{graph.Apply(ls[3], h), graph.Apply(ls[4], h)})
	if err != nil {
		t.Fatal(err)
	}
	if p := twin.PredictPath(); !strings.Contains(p, "gorgonia graph") {
		t.Fatalf("twin PredictPath() = %q", p)
	}
	graphOuts, err := twin.PredictDataset(val, 9)
	if err != nil {
		t.Fatal(err)
	}
	for o := range outs {
		same(t, "runtime vs graph", outs[o], graphOuts[o])
	}
	path := filepath.Join(t.TempDir(), "two.npz")
	if err := full.Export(path); err != nil {
		t.Fatal(err)
	}
	inf, err := graph.LoadInference(path)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(inf.InputNames(), []string{"left", "right"}) || !slices.Equal(inf.OutputNames(), []string{"cls", "recon"}) {
		t.Fatalf("exported inputs %v outputs %v", inf.InputNames(), inf.OutputNames())
	}
	loaded, err := inf.PredictMulti([][]float32{val.X, val.Fields[0].Values}, 7)
	if err != nil {
		t.Fatal(err)
	}
	for o := range outs {
		same(t, "exported vs model", loaded[o], outs[o])
	}
	// The exported model scores what the model scores, custom loss
	// included.
	ec := graph.EvalConfig{BatchSize: 16, Loss: cfg.Loss, Outputs: cfg.Outputs}
	mv, err := full.EvaluateWith(val, ec)
	if err != nil {
		t.Fatal(err)
	}
	iv, err := inf.EvaluateWith(val, ec)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range mv {
		if math.Abs(v-iv[k]) > 1e-5*(1+math.Abs(v)) {
			t.Fatalf("%s: exported %v, model %v", k, iv[k], v)
		}
		if math.Abs(v-last["val_"+k]) > 1e-12*(1+math.Abs(v)) {
			t.Fatalf("%s: EvaluateWith %v, Fit logged %v", k, v, last["val_"+k])
		}
	}
}

// The errors a user of several outputs meets name the culprit.
func TestMultiOutputErrors(t *testing.T) {
	m := twoByTwo(t)
	d := twoViews(20, 1)
	cfg, _ := fitConfig(t, 1, t.TempDir(), nil)
	cfg.Callbacks = nil
	bad := graph.NewLoss("rowwise", func(out, target *G.Node) (*G.Node, error) {
		d, err := G.Sub(out, target)
		if err != nil {
			return nil, err
		}
		return G.Sum(d, 1) // one value per sample: not a scalar
	})
	cfg.Outputs["recon"] = graph.OutputConfig{Loss: bad}
	if _, err := m.Fit(d, cfg); err == nil || !strings.Contains(err.Error(), `loss "rowwise" of output "recon"`) || !strings.Contains(err.Error(), "want a scalar") {
		t.Fatalf("non-scalar loss: %v", err)
	}
	cfg.Outputs["recon"] = graph.OutputConfig{Loss: graph.MeanSquaredError{}}
	d.Fields[1] = datasets.Field{Name: "recon", Shape: []int{4}, Values: make([]float32, 80)}
	if _, err := m.Fit(d, cfg); err == nil || !strings.Contains(err.Error(), `output "recon" has 5 values per sample`) {
		t.Fatalf("wrong target shape: %v", err)
	}
	if _, err := graph.MetricByName("max_error"); err == nil || !strings.Contains(err.Error(), `"max_error"`) {
		t.Fatalf("unknown metric: %v", err)
	}
}
