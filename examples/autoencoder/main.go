// Command autoencoder trains a sparse G2G autoencoder on Fashion-MNIST and
// its dense twin, and compares their reconstruction error on the test set.
//
// The model is 784 → 512 → 128 → 512 → 784, ReLU inside and a sigmoid on
// the reconstruction, trained with the mean squared error against the
// input itself (datasets.Dataset.InputTargets: no copy of the images is
// made) with Adam. The G2G model's four layers are G2G layers of 8
// ensembles (mixer grouping: each ensemble of a layer reads a slice of
// every ensemble of the layer before) at -density; the dense twin has
// dense layers of the same sizes. It prints a table of test MSE and MAE,
// parameters and seconds per epoch, and writes -png, a figure of test
// images (one per class) above their reconstructions by each model.
//
// It uses only the framework's public packages, so it can be copied out
// of this repository as the start of a program of your own.
//
// Usage:
//
//	go run -tags openblas ./examples/autoencoder [-epochs 5] [-density 0.25] [-png reconstructions.png] [-data DIR]
package main

import (
	"flag"
	"fmt"
	"image"
	"image/color"
	"io"
	"os"
	"time"

	"github.com/pkg/errors"
	_ "gonum.org/v1/plot" // registers its fonts (Liberation) in font.DefaultCache
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/g2g-ml/g2g/callbacks"
	"github.com/g2g-ml/g2g/datasets"
	"github.com/g2g-ml/g2g/graph"
	"github.com/g2g-ml/g2g/layers"
	"github.com/g2g-ml/g2g/optim"
)

// sizes are the widths of the autoencoder's layers, input to output.
var sizes = []int{784, 512, 128, 512, 784}

// newAutoencoder returns the G2G autoencoder at density (with ensembles
// groups) or, when dense is true, its dense twin. Layer i draws from seed
// + i.
func newAutoencoder(dense bool, density float64, groups int, seed int64) (*graph.Model, error) {
	var ls []layers.Layer
	for i := 0; i+1 < len(sizes); i++ {
		name := fmt.Sprintf("layer%d", i+1)
		act := layers.ReLU
		if i+2 == len(sizes) {
			act = layers.Sigmoid // pixels are in [0, 1]
		}
		var l layers.Layer
		var err error
		if dense {
			l, err = layers.NewDense(layers.DenseConfig{Name: name, In: sizes[i], Out: sizes[i+1], Activation: act, Seed: seed + int64(i)})
		} else {
			l, err = layers.NewG2G(layers.G2GConfig{Name: name, In: sizes[i], Out: sizes[i+1], Groups: groups,
				Grouping: layers.GroupMixer, Depth: i, Density: density, Sampling: layers.SampleExact,
				Activation: act, Seed: seed + int64(i)})
		}
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
	}
	return graph.Sequential([]int{784}, ls...)
}

// result is one model's numbers.
type result struct {
	name            string
	density         float64
	params, active  int
	testMSE, testAE float64
	secPerEpoch     float64
	recon           []float32 // reconstructions of the figure's images
}

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "autoencoder:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("autoencoder", flag.ContinueOnError)
	fs.SetOutput(stderr)
	epochs := fs.Int("epochs", 5, "training epochs")
	batch := fs.Int("batch", 128, "batch size")
	lr := fs.Float64("lr", 1e-3, "Adam learning rate")
	density := fs.Float64("density", 0.25, "density of the G2G layers")
	groups := fs.Int("groups", 8, "ensembles per G2G layer")
	seed := fs.Int64("seed", 1, "random seed")
	data := fs.String("data", "", "directory with the Fashion-MNIST IDX files (default: $G2G_DATA, user cache, /usr/share/datasets/fashion-mnist)")
	pngPath := fs.String("png", "reconstructions.png", "figure of test images and their reconstructions (empty: none)")
	quiet := fs.Bool("quiet", false, "no progress lines")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *epochs < 1 {
		return errors.Errorf("-epochs %d: want at least 1", *epochs)
	}
	dir, err := datasets.FindFashionMNIST(*data)
	if err != nil {
		return err
	}
	train, test, err := datasets.LoadFashionMNIST(dir)
	if err != nil {
		return err
	}
	// The targets are the images themselves; the labels stay for the
	// figure.
	train.InputTargets, test.InputTargets = true, true
	shown := onePerClass(test)

	var results []result
	for _, dense := range []bool{false, true} {
		model, err := newAutoencoder(dense, *density, *groups, *seed)
		if err != nil {
			return err
		}
		opt, err := optim.NewAdam(optim.AdamConfig{LR: *lr})
		if err != nil {
			return err
		}
		r := result{name: "g2g", density: *density}
		if dense {
			r = result{name: "dense", density: 1}
		}
		var cbs []graph.Callback
		if !*quiet {
			cbs = append(cbs, callbacks.NewProgress(stderr))
			fmt.Fprintf(stderr, "== %s autoencoder\n%s", r.name, model.Summary())
		}
		start := time.Now()
		_, err = model.Fit(train, graph.FitConfig{
			Epochs: *epochs, BatchSize: *batch, Optimizer: opt, Seed: *seed, Validation: test,
			Loss:      graph.MeanSquaredError{},
			Metrics:   []graph.Metric{graph.MAE{}},
			Callbacks: cbs,
		})
		if err != nil {
			return errors.Wrapf(err, "%s autoencoder", r.name)
		}
		r.secPerEpoch = time.Since(start).Seconds() / float64(*epochs)
		logs, err := model.EvaluateWith(test, graph.EvalConfig{BatchSize: 1000, Loss: graph.MeanSquaredError{}, Metrics: []graph.Metric{graph.MAE{}}})
		if err != nil {
			return err
		}
		r.testMSE, r.testAE = logs["loss"], logs["mae"]
		r.params, r.active = model.NumParams(), model.ActiveParams()
		if r.recon, err = model.Predict(shown, len(shown)/784); err != nil {
			return err
		}
		results = append(results, r)
	}
	fmt.Fprintf(stdout, "%-6s %8s %10s %10s %10s %10s %9s\n", "model", "density", "params", "active", "test MSE", "test MAE", "s/epoch")
	for _, r := range results {
		fmt.Fprintf(stdout, "%-6s %8.2f %10d %10d %10.5f %10.5f %9.1f\n", r.name, r.density, r.params, r.active, r.testMSE, r.testAE, r.secPerEpoch)
	}
	if *pngPath != "" {
		if err := writeFigure(*pngPath, shown, results); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "figure: %s\n", *pngPath)
	}
	return nil
}

// onePerClass returns the pixels of the first test image of each class
// (fewer when a class is missing), in class order.
func onePerClass(d *datasets.Dataset) []float32 {
	var out []float32
	for c := 0; c < d.Classes; c++ {
		for i, y := range d.Y {
			if y == c {
				out = append(out, d.X[i*784:(i+1)*784]...)
				break
			}
		}
	}
	return out
}

// writeFigure draws the images of shown in a row and, below, each model's
// reconstructions, each row labelled, as a PNG at path.
func writeFigure(path string, shown []float32, results []result) error {
	const scale, gap, label = 3, 4, 120 // pixels
	n := len(shown) / 784
	rows := [][]float32{shown}
	names := []string{"input"}
	for _, r := range results {
		rows = append(rows, r.recon)
		names = append(names, fmt.Sprintf("%s %.2f", r.name, r.density))
	}
	w := label + n*(28*scale+gap)
	h := len(rows)*(28*scale+gap) + gap
	pt := func(px int) vg.Length { return vg.Length(px) * vg.Inch / 96 }
	c := vgimg.NewWith(vgimg.UseWH(pt(w), pt(h)), vgimg.UseDPI(96), vgimg.UseBackgroundColor(color.White))
	face := font.DefaultCache.Lookup(font.Font{Typeface: "Liberation", Variant: "Sans"}, vg.Points(11))
	for r, row := range rows {
		top := h - gap - r*(28*scale+gap) // vg's origin is the bottom left corner
		c.FillString(face, vg.Point{X: pt(6), Y: pt(top - 28*scale/2 - 5)}, names[r])
		for k := 0; k < n; k++ {
			img := image.NewGray(image.Rect(0, 0, 28*scale, 28*scale)) // nearest-neighbour upscaling
			for i, v := range row[k*784 : (k+1)*784] {
				g := uint8(255*min(max(v, 0), 1) + 0.5)
				for dy := 0; dy < scale; dy++ {
					for dx := 0; dx < scale; dx++ {
						img.Pix[(i/28*scale+dy)*img.Stride+i%28*scale+dx] = g
					}
				}
			}
			x := label + k*(28*scale+gap)
			c.DrawImage(vg.Rectangle{Min: vg.Point{X: pt(x), Y: pt(top - 28*scale)}, Max: vg.Point{X: pt(x + 28*scale), Y: pt(top)}}, img)
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return errors.Wrap(err, "figure")
	}
	if _, err := (vgimg.PngCanvas{Canvas: c}).WriteTo(f); err != nil {
		f.Close()
		return errors.Wrapf(err, "figure %s", path)
	}
	return errors.Wrapf(f.Close(), "figure %s", path)
}
