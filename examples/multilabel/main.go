// Command multilabel trains a multi-label classifier with an auxiliary
// head on pairs of Fashion-MNIST images: a sparse G2G network and its
// dense twin, side by side.
//
// Each sample is two Fashion-MNIST images placed side by side (28 × 56
// pixels): image i of the set and image π(i) of a fixed random
// permutation. Its targets are the multi-hot vector of the classes
// present (one or two of ten), for the main output "tags", trained with
// the sigmoid binary cross-entropy; and the class of the left image, for
// an auxiliary output "left", trained with the softmax cross-entropy and
// weighted by -aux (Keras's loss_weights). The model is 1568 → 1024 → 512
// (ReLU) with both heads on the last layer; the hidden layers are G2G
// layers of 8 ensembles at -density, or dense layers for the twin.
// Early stopping watches the validation macro-F1 ("val_tags/macro_f1",
// which it knows to maximise) and restores the best weights.
//
// It prints a table of test binary accuracy, macro-F1 over the ten labels
// and the auxiliary head's accuracy, and writes -png, a bar chart of each
// label's test F1 for both models.
//
// It uses only the framework's public packages, so it can be copied out
// of this repository as the start of a program of your own.
//
// Usage:
//
//	go run -tags openblas ./examples/multilabel [-epochs 5] [-density 0.25] [-aux 0.3] [-png f1.png] [-data DIR]
package main

import (
	"flag"
	"fmt"
	"image/color"
	"io"
	"math/rand"
	"os"
	"time"

	"github.com/pkg/errors"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/g2g-ml/g2g/callbacks"
	"github.com/g2g-ml/g2g/datasets"
	"github.com/g2g-ml/g2g/graph"
	"github.com/g2g-ml/g2g/layers"
	"github.com/g2g-ml/g2g/optim"
)

// pairs returns the two-image samples of d: sample i is image i beside
// image perm[i], perm drawn from seed. Its Targets are the multi-hot
// classes ("tags", the model's first output); its field "left" holds the
// left image's class (the auxiliary output).
func pairs(d *datasets.Dataset, seed int64) *datasets.Dataset {
	n := d.Len()
	perm := rand.New(rand.NewSource(seed)).Perm(n)
	out := &datasets.Dataset{
		Name: d.Name + "/pairs", X: make([]float32, n*28*56), Shape: []int{28, 56},
		Targets: make([]float32, n*10), TargetShape: []int{10},
		Fields: []datasets.Field{{Name: "left", Labels: make([]int, n), Classes: 10}},
	}
	for i := 0; i < n; i++ {
		a, b := d.X[i*784:(i+1)*784], d.X[perm[i]*784:(perm[i]+1)*784]
		x := out.X[i*28*56 : (i+1)*28*56]
		for r := 0; r < 28; r++ {
			copy(x[r*56:r*56+28], a[r*28:(r+1)*28])
			copy(x[r*56+28:(r+1)*56], b[r*28:(r+1)*28])
		}
		out.Targets[i*10+d.Y[i]] = 1
		out.Targets[i*10+d.Y[perm[i]]] = 1
		out.Fields[0].Labels[i] = d.Y[i]
	}
	return out
}

// newModel returns the two-headed model: G2G hidden layers at density,
// or dense ones.
func newModel(dense bool, density float64, seed int64) (*graph.Model, error) {
	in := graph.Input("pixels", 28*56)
	var h1, h2 layers.Layer
	var err error
	if dense {
		if h1, err = layers.NewDense(layers.DenseConfig{Name: "hidden1", In: 28 * 56, Out: 1024, Activation: layers.ReLU, Seed: seed}); err != nil {
			return nil, err
		}
		h2, err = layers.NewDense(layers.DenseConfig{Name: "hidden2", In: 1024, Out: 512, Activation: layers.ReLU, Seed: seed + 1})
	} else {
		if h1, err = layers.NewG2G(layers.G2GConfig{Name: "hidden1", In: 28 * 56, Out: 1024, Groups: 8, Density: density,
			Sampling: layers.SampleExact, Activation: layers.ReLU, Seed: seed}); err != nil {
			return nil, err
		}
		h2, err = layers.NewG2G(layers.G2GConfig{Name: "hidden2", In: 1024, Out: 512, Groups: 8, Grouping: layers.GroupMixer, Depth: 1,
			Density: density, Sampling: layers.SampleExact, Activation: layers.ReLU, Seed: seed + 1})
	}
	if err != nil {
		return nil, err
	}
	tags, err := layers.NewDense(layers.DenseConfig{Name: "tags", In: 512, Out: 10, Seed: seed + 2})
	if err != nil {
		return nil, err
	}
	left, err := layers.NewDense(layers.DenseConfig{Name: "left", In: 512, Out: 10, Seed: seed + 3})
	if err != nil {
		return nil, err
	}
	h := graph.Apply(h2, graph.Apply(h1, in))
	return graph.NewMultiModel([]*graph.Ref{in}, []*graph.Ref{graph.Apply(tags, h), graph.Apply(left, h)})
}

// result is one model's test numbers.
type result struct {
	name           string
	density        float64
	params, active int
	logs           map[string]float64
	secPerEpoch    float64
}

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "multilabel:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("multilabel", flag.ContinueOnError)
	fs.SetOutput(stderr)
	epochs := fs.Int("epochs", 5, "training epochs")
	batch := fs.Int("batch", 128, "batch size")
	lr := fs.Float64("lr", 1e-3, "Adam learning rate")
	density := fs.Float64("density", 0.25, "density of the G2G layers")
	aux := fs.Float64("aux", 0.3, "weight of the auxiliary head's loss")
	seed := fs.Int64("seed", 1, "random seed")
	data := fs.String("data", "", "directory with the Fashion-MNIST IDX files (default: $G2G_DATA, user cache, /usr/share/datasets/fashion-mnist)")
	pngPath := fs.String("png", "f1.png", "bar chart of each label's test F1 (empty: none)")
	quiet := fs.Bool("quiet", false, "no progress lines")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *epochs < 1 {
		return errors.Errorf("-epochs %d: want at least 1", *epochs)
	}
	if !(*aux > 0) {
		return errors.Errorf("-aux %v: want a positive weight", *aux)
	}
	dir, err := datasets.FindFashionMNIST(*data)
	if err != nil {
		return err
	}
	train, test, err := datasets.LoadFashionMNIST(dir)
	if err != nil {
		return err
	}
	classNames := train.ClassNames
	// Validation data for early stopping: a tenth of the training images.
	train, val, err := train.Split(0.1, *seed)
	if err != nil {
		return err
	}
	train, val, test = pairs(train, *seed), pairs(val, *seed+1), pairs(test, *seed+2)

	// Training measures binary accuracy and macro-F1 on the main output
	// ("tags/binary_acc", "tags/macro_f1" and their "val_" twins in the
	// logs) and accuracy on the auxiliary one; the test adds every
	// label's F1 ("tags/f1_<label>").
	outputs := map[string]graph.OutputConfig{
		"tags": {Loss: graph.SigmoidCrossEntropy{}, Metrics: []graph.Metric{graph.BinaryAccuracy{}, graph.MacroF1{}}},
		"left": {Loss: graph.SoftmaxCrossEntropy{}, Weight: *aux, Metrics: []graph.Metric{graph.Accuracy{}}},
	}
	testOutputs := map[string]graph.OutputConfig{"tags": outputs["tags"], "left": outputs["left"]}
	tags := testOutputs["tags"]
	tags.Metrics = append([]graph.Metric(nil), tags.Metrics...)
	for c := 0; c < 10; c++ {
		tags.Metrics = append(tags.Metrics, graph.F1{Label: c})
	}
	testOutputs["tags"] = tags
	var results []result
	for _, dense := range []bool{false, true} {
		model, err := newModel(dense, *density, *seed)
		if err != nil {
			return err
		}
		r := result{name: "g2g", density: *density}
		if dense {
			r = result{name: "dense", density: 1}
		}
		opt, err := optim.NewAdam(optim.AdamConfig{LR: *lr})
		if err != nil {
			return err
		}
		stop, err := callbacks.NewEarlyStopping(callbacks.EarlyStoppingConfig{Monitor: "val_tags/macro_f1", Patience: 2, RestoreBestWeights: true})
		if err != nil {
			return err
		}
		cbs := []graph.Callback{stop}
		if !*quiet {
			cbs = append([]graph.Callback{callbacks.NewProgress(stderr)}, cbs...)
			fmt.Fprintf(stderr, "== %s model\n%s", r.name, model.Summary())
		}
		start := time.Now()
		hist, err := model.Fit(train, graph.FitConfig{
			Epochs: *epochs, BatchSize: *batch, Optimizer: opt, Seed: *seed, Validation: val,
			Outputs: outputs, Callbacks: cbs,
		})
		if err != nil {
			return errors.Wrapf(err, "%s model", r.name)
		}
		r.secPerEpoch = time.Since(start).Seconds() / float64(len(hist.Epochs))
		if r.logs, err = model.EvaluateWith(test, graph.EvalConfig{BatchSize: 1000, Outputs: testOutputs}); err != nil {
			return err
		}
		r.params, r.active = model.NumParams(), model.ActiveParams()
		results = append(results, r)
	}
	fmt.Fprintf(stdout, "%-6s %8s %10s %10s %12s %10s %10s %9s\n", "model", "density", "params", "active", "binary acc", "macro-F1", "left acc", "s/epoch")
	for _, r := range results {
		fmt.Fprintf(stdout, "%-6s %8.2f %10d %10d %12.4f %10.4f %10.4f %9.1f\n", r.name, r.density, r.params, r.active,
			r.logs["tags/binary_acc"], r.logs["tags/macro_f1"], r.logs["left/acc"], r.secPerEpoch)
	}
	if *pngPath != "" {
		if err := writeChart(*pngPath, classNames, results); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "figure: %s\n", *pngPath)
	}
	return nil
}

// writeChart draws each label's test F1, one bar per model, as a PNG.
func writeChart(path string, classNames []string, results []result) error {
	p := plot.New()
	p.Title.Text = "Fashion-MNIST pairs: test F1 per label"
	p.Y.Label.Text = "F1"
	p.Y.Min, p.Y.Max = 0, 1.2 // room for the legend above the bars
	p.Y.Tick.Marker = plot.ConstantTicks([]plot.Tick{{Value: 0, Label: "0"}, {Value: 0.2, Label: "0.2"},
		{Value: 0.4, Label: "0.4"}, {Value: 0.6, Label: "0.6"}, {Value: 0.8, Label: "0.8"}, {Value: 1, Label: "1"}})
	colors := []color.Color{color.RGBA{0x1f, 0x77, 0xb4, 0xff}, color.Black}
	width := vg.Points(12)
	for k, r := range results {
		vals := make(plotter.Values, 10)
		for c := range vals {
			vals[c] = r.logs[fmt.Sprintf("tags/f1_%d", c)]
		}
		bars, err := plotter.NewBarChart(vals, width)
		if err != nil {
			return errors.Wrap(err, "chart")
		}
		bars.Color = colors[k%len(colors)]
		bars.LineStyle.Width = 0
		bars.Offset = width * vg.Length(2*k-len(results)+1) / 2
		p.Add(bars)
		p.Legend.Add(fmt.Sprintf("%s %.2f (macro-F1 %.3f)", r.name, r.density, r.logs["tags/macro_f1"]), bars)
	}
	p.Legend.Top = true
	p.Legend.Left = true
	if len(classNames) == 10 {
		p.NominalX(classNames...)
	}
	return errors.Wrap(p.Save(9*vg.Inch, 4*vg.Inch, path), "chart")
}
