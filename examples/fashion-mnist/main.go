// Command fashion-mnist trains G2GNet (or its dense twin) on Fashion-MNIST:
// the reference experiment of design.md §5.
//
// With no flags it trains the G2G MLP 784 → 1024 → 1024 → 1024 → 10 (index
// grouping, 8 ensembles, density 0.25) for 20 epochs with Adam (lr 1e-3,
// batch 256) and prints a table of test accuracy, parameters, active
// parameters, multiply-accumulates per sample and seconds per epoch. With
// -json the last line on stdout is one JSON object with the same numbers.
//
// Sparse training: -dst adds dynamic sparse training (callbacks.DST) with
// update fraction -zeta, prune criterion -prune (magnitude, random or
// hebbian), regrowth criterion -regrow (random, gradient or hebbian),
// -anneal, -scope and -grow-init; -dst -regrow hebbian is the paper's DST
// with Hebbian regrowth. -hebbian instead adds Hebbian rewiring
// (callbacks.Hebbian) with the same -zeta and -scope. Statistics for the
// Hebbian criteria are gathered on every -hebbian-n-th batch. Each update
// prints a one-line summary on stderr, and -log records the per-layer
// entries <layer>/pruned, /regrown, /churn, /density and /intra_fraction
// every epoch.
//
// The data is looked up in -data, then $G2G_DATA, then the user cache
// directory, then /usr/share/datasets/fashion-mnist (Debian's
// dataset-fashion-mnist package).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/pkg/errors"

	"github.com/g2g-ml/g2g/callbacks"
	"github.com/g2g-ml/g2g/datasets"
	"github.com/g2g-ml/g2g/examples/internal/g2gnet"
	"github.com/g2g-ml/g2g/graph"
	"github.com/g2g-ml/g2g/layers"
	"github.com/g2g-ml/g2g/optim"
)

type options struct {
	model, grouping, data, logPath string
	density, lr, intra             float64
	groups, epochs, batch          int
	seed                           int64
	exact, jsonOut, quiet          bool

	// Sparse training.
	dst, hebbian                                    bool
	zeta                                            float64
	prune, regrow, anneal, scope, growInit, measure string
	hebbianN                                        int
}

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "fashion-mnist:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("fashion-mnist", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.model, "model", "g2g", "model: dense or g2g")
	fs.StringVar(&o.grouping, "grouping", "index", "G2G ensemble grouping: index, random or mixer")
	fs.Float64Var(&o.density, "density", 0.25, "G2G density: fraction of edges kept, in (0, 1]")
	fs.Float64Var(&o.intra, "intra", 1, "G2G p: probability of keeping an intra-ensemble edge, in (0, 1]")
	fs.IntVar(&o.groups, "groups", 8, "G2G ensembles per layer side")
	fs.BoolVar(&o.exact, "exact", true, "sample exactly round(p'·#inter) inter edges (false: Bernoulli per edge)")
	fs.IntVar(&o.epochs, "epochs", 20, "training epochs")
	fs.IntVar(&o.batch, "batch", 256, "batch size")
	fs.Float64Var(&o.lr, "lr", 1e-3, "Adam learning rate")
	fs.Int64Var(&o.seed, "seed", 1, "random seed for everything")
	fs.StringVar(&o.data, "data", "", "directory with the four Fashion-MNIST IDX files (default: $G2G_DATA, user cache, /usr/share/datasets/fashion-mnist)")
	fs.StringVar(&o.logPath, "log", "", "write per-epoch metrics to this file (.csv or .jsonl)")
	fs.BoolVar(&o.jsonOut, "json", false, "end with one JSON line of results on stdout")
	fs.BoolVar(&o.quiet, "quiet", false, "no progress output")
	fs.BoolVar(&o.dst, "dst", false, "dynamic sparse training: prune and regrow after every epoch but the last")
	fs.BoolVar(&o.hebbian, "hebbian", false, "Hebbian rewiring after every epoch but the last (not with -dst; use -dst -regrow hebbian)")
	fs.Float64Var(&o.zeta, "zeta", 0.1, "rewiring: fraction of each layer's active edges replaced per update, in (0, 1)")
	fs.StringVar(&o.prune, "prune", "magnitude", "DST prune criterion: magnitude, random or hebbian")
	fs.StringVar(&o.regrow, "regrow", "random", "DST regrowth criterion: random, gradient or hebbian")
	fs.StringVar(&o.anneal, "anneal", "constant", "DST update-fraction decay: constant, cosine or linear")
	fs.StringVar(&o.scope, "scope", "anywhere", "rewiring scope: anywhere, or class to keep the intra/inter-ensemble counts")
	fs.StringVar(&o.growInit, "grow-init", "zero", "initial weight of regrown edges: zero or init (Hebbian also: sign)")
	fs.StringVar(&o.measure, "measure", "pearson", "Hebbian score: pearson or cosine")
	fs.IntVar(&o.hebbianN, "hebbian-n", callbacks.DefaultHebbianEveryN, "gather Hebbian statistics on every n-th batch")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, errors.Errorf("unexpected argument %q", fs.Arg(0))
	}
	switch {
	case o.model != "dense" && o.model != "g2g":
		return o, errors.Errorf("-model %q: want dense or g2g", o.model)
	case !(o.density > 0 && o.density <= 1):
		return o, errors.Errorf("-density %v: want a value in (0, 1]", o.density)
	case !(o.intra > 0 && o.intra <= 1):
		return o, errors.Errorf("-intra %v: want a value in (0, 1]", o.intra)
	case o.groups < 1:
		return o, errors.Errorf("-groups %d: want at least 1", o.groups)
	case o.epochs < 1:
		return o, errors.Errorf("-epochs %d: want at least 1", o.epochs)
	case o.batch < 1:
		return o, errors.Errorf("-batch %d: want at least 1", o.batch)
	case !(o.lr > 0):
		return o, errors.Errorf("-lr %v: want a positive value", o.lr)
	case o.dst && o.hebbian:
		return o, errors.New("-dst and -hebbian both rewire: use one (-dst -regrow hebbian is DST with Hebbian regrowth)")
	case (o.dst || o.hebbian) && o.model != "g2g":
		return o, errors.Errorf("-dst and -hebbian need -model g2g, got %q", o.model)
	case (o.dst || o.hebbian) && !(o.zeta > 0 && o.zeta < 1):
		return o, errors.Errorf("-zeta %v: want a value in (0, 1)", o.zeta)
	case o.hebbianN < 1:
		return o, errors.Errorf("-hebbian-n %d: want at least 1", o.hebbianN)
	}
	if _, err := layers.ParseGrouping(o.grouping); err != nil {
		return o, errors.Wrap(err, "-grouping")
	}
	return o, nil
}

// result is the -json summary line.
type result struct {
	Model        string  `json:"model"`
	Grouping     string  `json:"grouping,omitempty"`
	TestAcc      float64 `json:"test_acc"`
	TestLoss     float64 `json:"test_loss"`
	Params       int     `json:"params"`
	ActiveParams int     `json:"active_params"`
	Density      float64 `json:"density"`
	MACs         int     `json:"macs_per_sample"`
	SecPerEpoch  float64 `json:"sec_per_epoch"`
	Epochs       int     `json:"epochs"`
	Seed         int64   `json:"seed"`
	Rewiring     string  `json:"rewiring,omitempty"`
}

// rewiring returns the rewiring callback the flags ask for (nil for none)
// and its one-line description.
func rewiring(o options, log io.Writer) (graph.Callback, string, error) {
	hebbCfg := callbacks.HebbianConfig{
		EveryN: o.hebbianN, Measure: callbacks.Measure(o.measure), Scope: callbacks.Scope(o.scope),
		GrowInit: callbacks.GrowInit(o.growInit), Seed: o.seed, Log: log,
	}
	switch {
	case o.hebbian:
		hebbCfg.Zeta = o.zeta
		h, err := callbacks.NewHebbian(hebbCfg)
		if err != nil {
			return nil, "", err
		}
		return h, fmt.Sprintf("hebbian %s zeta=%g scope=%s", o.measure, o.zeta, o.scope), nil
	case o.dst:
		cfg := callbacks.DSTConfig{
			Zeta: o.zeta, Anneal: callbacks.Anneal(o.anneal),
			Prune: callbacks.Criterion(o.prune), Regrow: callbacks.Criterion(o.regrow),
			Scope: callbacks.Scope(o.scope), GrowInit: callbacks.GrowInit(o.growInit),
			Seed: o.seed, Log: log,
		}
		if o.prune == string(callbacks.CriterionHebbian) || o.regrow == string(callbacks.CriterionHebbian) {
			hebbCfg.Log = nil // a statistics source only (Zeta 0)
			h, err := callbacks.NewHebbian(hebbCfg)
			if err != nil {
				return nil, "", err
			}
			cfg.Hebbian = h
		}
		d, err := callbacks.NewDST(cfg)
		if err != nil {
			return nil, "", err
		}
		return d, fmt.Sprintf("dst %s/%s zeta=%g anneal=%s scope=%s", o.prune, o.regrow, o.zeta, o.anneal, o.scope), nil
	}
	return nil, "", nil
}

func run(args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	cfg := g2gnet.Reference()
	cfg.Model, cfg.Grouping, cfg.Density, cfg.Intra, cfg.Groups, cfg.Seed = o.model, layers.Grouping(o.grouping), o.density, o.intra, o.groups, o.seed
	cfg.Sampling = layers.SampleBernoulli
	if o.exact {
		cfg.Sampling = layers.SampleExact
	}
	// Build the model and the callbacks before loading data, so
	// configuration errors come first.
	model, err := g2gnet.MLP(cfg)
	if err != nil {
		return err
	}
	var rewireLog io.Writer = stderr
	if o.quiet {
		rewireLog = nil
	}
	rewireCB, rewiringName, err := rewiring(o, rewireLog)
	if err != nil {
		return err
	}
	dir, err := datasets.FindFashionMNIST(o.data)
	if err != nil {
		return err
	}
	train, test, err := datasets.LoadFashionMNIST(dir)
	if err != nil {
		return err
	}
	if !o.quiet {
		fmt.Fprintf(stderr, "data: %s (%d train, %d test); BLAS: %s\n%s", dir, train.Len(), test.Len(), graph.BLAS(), model.Summary())
	}
	opt, err := optim.NewAdam(optim.AdamConfig{LR: o.lr})
	if err != nil {
		return err
	}
	var cbs []graph.Callback
	// Order matters: Progress ends the epoch's line before the rewiring
	// prints its summary, and the rewiring writes its Logs entries before
	// the metrics logger records them.
	if !o.quiet {
		cbs = append(cbs, callbacks.NewProgress(stderr))
	}
	if rewireCB != nil {
		cbs = append(cbs, rewireCB)
	}
	if o.logPath != "" {
		var lg *callbacks.MetricsLogger
		switch strings.ToLower(filepath.Ext(o.logPath)) {
		case ".csv":
			lg, err = callbacks.NewCSVLogger(o.logPath)
		case ".jsonl", ".json":
			lg, err = callbacks.NewJSONLLogger(o.logPath)
		default:
			err = errors.Errorf("-log %q: want a .csv or .jsonl file", o.logPath)
		}
		if err != nil {
			return err
		}
		defer lg.Close()
		cbs = append(cbs, lg)
	}
	hist, err := model.Fit(train, graph.FitConfig{
		Epochs: o.epochs, BatchSize: o.batch, Optimizer: opt, Callbacks: cbs,
		Validation: test, Seed: o.seed,
	})
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
	res := result{
		Model: o.model, TestAcc: testAcc, TestLoss: testLoss,
		Params: model.NumParams(), ActiveParams: model.ActiveParams(), MACs: model.MACs(),
		SecPerEpoch: secs / float64(len(hist.Epochs)), Epochs: len(hist.Epochs), Seed: o.seed,
		Rewiring: rewiringName,
	}
	res.Density = sparseDensity(model)
	if o.model == "g2g" {
		res.Grouping = o.grouping
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "model\ttest acc\tparams\tactive params\tMACs/sample\ts/epoch\t")
	name := o.model
	if o.model == "g2g" {
		name = fmt.Sprintf("g2g (%s, G=%d, d=%g)", o.grouping, o.groups, o.density)
		if rewiringName != "" {
			name = fmt.Sprintf("g2g (%s, G=%d, d=%g, %s)", o.grouping, o.groups, o.density, rewiringName)
		}
	}
	fmt.Fprintf(tw, "%s\t%.2f %%\t%d\t%d\t%d\t%.1f\t\n", name, 100*testAcc, res.Params, res.ActiveParams, res.MACs, res.SecPerEpoch)
	if err := tw.Flush(); err != nil {
		return err
	}
	if o.jsonOut {
		line, err := json.Marshal(res)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, string(line))
	}
	return nil
}

// sparseDensity returns the density of the model's masked weights taken
// together (1 for a model without masks).
func sparseDensity(m *graph.Model) float64 {
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
