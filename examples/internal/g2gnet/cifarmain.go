package g2gnet

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pkg/errors"

	"github.com/g2g-ml/g2g/callbacks"
	"github.com/g2g-ml/g2g/datasets"
	"github.com/g2g-ml/g2g/graph"
	"github.com/g2g-ml/g2g/internal/rngs"
	"github.com/g2g-ml/g2g/layers"
	"github.com/g2g-ml/g2g/optim"
)

// CIFAROptions are the parsed flags of the CIFAR commands.
type CIFAROptions struct {
	Model, Grouping, Data, LogPath, Mirror string
	Density, LR, Intra                     float64
	Groups, Epochs, Batch                  int
	Seed                                   int64
	Exact, JSON, Quiet, Augment, Download  bool
}

// CIFARCommand describes one CIFAR command (cifar10 or cifar100) for
// [RunCIFAR].
type CIFARCommand struct {
	// Name is the command name, used in flag errors and output.
	Name string
	// DataHelp documents the -data flag.
	DataHelp string
	// Stats normalises the images (per channel).
	Stats datasets.Stats
	// Flags adds command-specific flags to fs; Check validates them after
	// parsing, and Classes then gives the number of classes.
	Flags   func(fs *flag.FlagSet)
	Check   func() error
	Classes func() int
	// Load finds and loads the training and test sets for o, returning a
	// description of the source for the log.
	Load func(o CIFAROptions, stderr io.Writer) (train, test *datasets.Dataset, source string, err error)
}

// ParseCIFARFlags parses the flags shared by the CIFAR commands (those of
// examples/fashion-mnist plus -augment, -download and -mirror) and the
// command's own.
func ParseCIFARFlags(cmd CIFARCommand, args []string, stderr io.Writer) (CIFAROptions, error) {
	var o CIFAROptions
	fs := flag.NewFlagSet(cmd.Name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.Model, "model", "g2g", "model: dense or g2g")
	fs.StringVar(&o.Grouping, "grouping", "index", "G2G ensemble grouping: index, random or mixer")
	fs.Float64Var(&o.Density, "density", 0.25, "G2G density: fraction of edges kept, in (0, 1]")
	fs.Float64Var(&o.Intra, "intra", 1, "G2G p: probability of keeping an intra-ensemble edge, in (0, 1]")
	fs.IntVar(&o.Groups, "groups", 8, "G2G ensembles per layer side")
	fs.BoolVar(&o.Exact, "exact", true, "sample exactly round(p'·#inter) inter edges (false: Bernoulli per edge)")
	fs.IntVar(&o.Epochs, "epochs", 20, "training epochs")
	fs.IntVar(&o.Batch, "batch", 256, "batch size")
	fs.Float64Var(&o.LR, "lr", 1e-3, "Adam learning rate")
	fs.Int64Var(&o.Seed, "seed", 1, "random seed for everything")
	fs.StringVar(&o.Data, "data", "", cmd.DataHelp)
	fs.StringVar(&o.LogPath, "log", "", "write per-epoch metrics to this file (.csv or .jsonl)")
	fs.BoolVar(&o.JSON, "json", false, "end with one JSON line of results on stdout")
	fs.BoolVar(&o.Quiet, "quiet", false, "no progress output")
	fs.BoolVar(&o.Augment, "augment", true, "random crop (padding 4) and horizontal flip of training images")
	fs.BoolVar(&o.Download, "download", false, "download the official binary set into the user cache if it is not found")
	fs.StringVar(&o.Mirror, "mirror", "", "base URL to download from instead of the official one (with -download)")
	if cmd.Flags != nil {
		cmd.Flags(fs)
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, errors.Errorf("unexpected argument %q", fs.Arg(0))
	}
	switch {
	case o.Model != "dense" && o.Model != "g2g":
		return o, errors.Errorf("-model %q: want dense or g2g", o.Model)
	case !(o.Density > 0 && o.Density <= 1):
		return o, errors.Errorf("-density %v: want a value in (0, 1]", o.Density)
	case !(o.Intra > 0 && o.Intra <= 1):
		return o, errors.Errorf("-intra %v: want a value in (0, 1]", o.Intra)
	case o.Groups < 1:
		return o, errors.Errorf("-groups %d: want at least 1", o.Groups)
	case o.Epochs < 1:
		return o, errors.Errorf("-epochs %d: want at least 1", o.Epochs)
	case o.Batch < 1:
		return o, errors.Errorf("-batch %d: want at least 1", o.Batch)
	case !(o.LR > 0):
		return o, errors.Errorf("-lr %v: want a positive value", o.LR)
	case o.Mirror != "" && !o.Download:
		return o, errors.New("-mirror needs -download")
	}
	if _, err := layers.ParseGrouping(o.Grouping); err != nil {
		return o, errors.Wrap(err, "-grouping")
	}
	if cmd.Check != nil {
		if err := cmd.Check(); err != nil {
			return o, err
		}
	}
	return o, nil
}

// CIFARResult is the -json summary line of the CIFAR commands; it has the
// fields of examples/fashion-mnist's plus the data set and its source.
type CIFARResult struct {
	Model        string  `json:"model"`
	Grouping     string  `json:"grouping,omitempty"`
	Dataset      string  `json:"dataset"`
	Source       string  `json:"source"`
	TestAcc      float64 `json:"test_acc"`
	TestLoss     float64 `json:"test_loss"`
	Params       int     `json:"params"`
	ActiveParams int     `json:"active_params"`
	Density      float64 `json:"density"`
	MACs         int     `json:"macs_per_sample"`
	SecPerEpoch  float64 `json:"sec_per_epoch"`
	Epochs       int     `json:"epochs"`
	Seed         int64   `json:"seed"`
}

// RunCIFAR runs a CIFAR command: parse the flags, build design.md §5's
// CIFAR model, load and normalise the data, train with Adam (and random
// crop + flip unless -augment=false), evaluating on the test set after
// every epoch, and print a results table (and with -json a last line of
// JSON) on stdout.
func RunCIFAR(cmd CIFARCommand, args []string, stdout, stderr io.Writer) error {
	o, err := ParseCIFARFlags(cmd, args, stderr)
	if err != nil {
		return err
	}
	cfg := CIFARReference(cmd.Classes())
	cfg.Model, cfg.Grouping, cfg.Density, cfg.Intra, cfg.Groups, cfg.Seed = o.Model, layers.Grouping(o.Grouping), o.Density, o.Intra, o.Groups, o.Seed
	cfg.Sampling = layers.SampleBernoulli
	if o.Exact {
		cfg.Sampling = layers.SampleExact
	}
	// Build the model before loading data, so configuration errors come first.
	model, err := CIFAR(cfg)
	if err != nil {
		return err
	}
	var lg *callbacks.MetricsLogger
	if o.LogPath != "" {
		switch strings.ToLower(filepath.Ext(o.LogPath)) {
		case ".csv", ".jsonl", ".json":
		default:
			return errors.Errorf("-log %q: want a .csv or .jsonl file", o.LogPath)
		}
	}
	start := time.Now()
	train, test, source, err := cmd.Load(o, stderr)
	if err != nil {
		return err
	}
	loadTime := time.Since(start)
	want := []int{cfg.Channels, cfg.Size, cfg.Size}
	for _, d := range []*datasets.Dataset{train, test} {
		if fmt.Sprint(d.Shape) != fmt.Sprint(want) {
			return errors.Errorf("%s: images of shape %v, the model wants %v", d.Name, d.Shape, want)
		}
		if d.Classes != cfg.Classes {
			return errors.Errorf("%s: %d classes, the model wants %d", d.Name, d.Classes, cfg.Classes)
		}
		if err := d.Normalize(cmd.Stats); err != nil {
			return err
		}
	}
	if !o.Quiet {
		fmt.Fprintf(stderr, "data: %s (%d train, %d test, loaded in %.1fs); BLAS: %s\n%s",
			source, train.Len(), test.Len(), loadTime.Seconds(), graph.BLAS(), model.Summary())
	}
	opt, err := optim.NewAdam(optim.AdamConfig{LR: o.LR})
	if err != nil {
		return err
	}
	var cbs []graph.Callback
	if !o.Quiet {
		cbs = append(cbs, callbacks.NewProgress(stderr))
	}
	if o.LogPath != "" {
		if strings.ToLower(filepath.Ext(o.LogPath)) == ".csv" {
			lg, err = callbacks.NewCSVLogger(o.LogPath)
		} else {
			lg, err = callbacks.NewJSONLLogger(o.LogPath)
		}
		if err != nil {
			return err
		}
		defer lg.Close()
		cbs = append(cbs, lg)
	}
	fit := graph.FitConfig{
		Epochs: o.Epochs, BatchSize: o.Batch, Optimizer: opt, Callbacks: cbs,
		Validation: test, Seed: o.Seed,
	}
	if o.Augment {
		aug := &datasets.RandomCropFlip{Shape: want, Pad: 4, Flip: true, Fill: cmd.Stats.Zero(), Seed: rngs.Derive(o.Seed, "augment")}
		fit.Augment = aug.Apply
	}
	hist, err := model.Fit(train, fit)
	if err != nil {
		return err
	}
	testLoss, testAcc, err := model.Evaluate(test, 1000)
	if err != nil {
		return err
	}
	var secs float64
	for _, e := range hist.Epochs {
		secs += e["epoch_seconds"]
	}
	res := CIFARResult{
		Model: o.Model, Dataset: cmd.Name, Source: source, TestAcc: testAcc, TestLoss: testLoss,
		Params: model.NumParams(), ActiveParams: model.ActiveParams(), MACs: model.MACs(),
		SecPerEpoch: secs / float64(len(hist.Epochs)), Epochs: len(hist.Epochs), Seed: o.Seed,
		Density: SparseDensity(model),
	}
	name := o.Model
	if o.Model == "g2g" {
		res.Grouping = o.Grouping
		name = fmt.Sprintf("g2g (%s, G=%d, d=%g)", o.Grouping, o.Groups, o.Density)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "model\ttest acc\tparams\tactive params\tMACs/sample\ts/epoch\t")
	fmt.Fprintf(tw, "%s\t%.2f %%\t%d\t%d\t%d\t%.1f\t\n", name, 100*testAcc, res.Params, res.ActiveParams, res.MACs, res.SecPerEpoch)
	if err := tw.Flush(); err != nil {
		return err
	}
	if o.JSON {
		line, err := json.Marshal(res)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, string(line))
	}
	return nil
}

// SparseDensity returns the density of the model's masked weights taken
// together (1 for a model without masks).
func SparseDensity(m *graph.Model) float64 {
	active, total := 0, 0
	for _, l := range m.SparseLayers() {
		active += l.Mask().Active()
		total += l.Mask().Len()
	}
	if total == 0 {
		return 1
	}
	return float64(active) / float64(total)
}

// LoadCIFARPath loads a CIFAR training and test set from path: the official
// binary release of kind (a directory or archive, see datasets.LoadCIFAR10
// and LoadCIFAR100) or else an image folder with train/ and test/ splits
// (a directory or archive, see datasets.LoadImageFolders). The error
// reports why both failed.
func LoadCIFARPath(path string, kind datasets.CIFARKind) (train, test *datasets.Dataset, err error) {
	var binErr error
	if kind == datasets.CIFAR10 {
		train, test, binErr = datasets.LoadCIFAR10(path)
	} else {
		train, test, binErr = datasets.LoadCIFAR100(path, kind)
	}
	if binErr == nil {
		return train, test, nil
	}
	ds, imgErr := datasets.LoadImageFolders(path, datasets.ImageFolderOptions{Channels: 3}, "train", "test")
	if imgErr == nil {
		return ds[0], ds[1], nil
	}
	return nil, nil, errors.Errorf("%s is neither the official binary set (%v) nor an image folder with train/ and test/ (%v)", path, binErr, imgErr)
}

// DownloadCIFAR fetches set into the user cache (or from mirror) with a
// progress bar on stderr unless quiet, and returns the cache directory.
func DownloadCIFAR(set datasets.RemoteSet, mirror string, quiet bool, stderr io.Writer) (string, error) {
	d := &datasets.Downloader{BaseURL: mirror}
	if !quiet {
		d.Progress = stderr
	}
	return d.Fetch(context.Background(), set)
}

// FirstFile returns the first of paths that is an existing file, or "".
func FirstFile(paths ...string) string {
	for _, p := range paths {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	return ""
}
