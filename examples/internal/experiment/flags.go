package experiment

import (
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/pkg/errors"

	"github.com/g2g-ml/g2g/examples/internal/runner"
)

// Default grid lists of the g2g experiment command.
const (
	DefaultMethods   = "dense,g2g-index,g2g-random,g2g-mixer,g2g-index+dst,g2g-index+hebbian,g2g-index+dst-hebbian"
	DefaultDensities = "0.125,0.25,0.5"
	DefaultSeeds     = "1,2,3"
	DefaultDataset   = "fashion-mnist"
)

// RunConfig holds how a grid is run, as opposed to what it is.
type RunConfig struct {
	// Out is the output directory (created if needed).
	Out string
	// TimeBudget, when positive, stops starting new cells once this much
	// time has passed since Run began; the report covers what finished.
	TimeBudget time.Duration
	// Log receives one line per cell and the report's file names; nil
	// discards them.
	Log io.Writer
	// Subprocess, when set, is a command line that runs one cell of the
	// same grid when given "-cell KEY" (g2g passes its own experiment
	// command): Run then trains every cell in a child process of its own,
	// so that memory a run leaves behind is returned to the system.
	Subprocess []string
	// Cell, when set, is the key (Cell.Key) of the only cell to train:
	// Run trains it if it is not finished and writes no report.
	Cell string
}

// perCellFlags are the runner flags the grid sets per cell or that name
// per-run outputs: the experiment command does not offer them.
var perCellFlags = map[string]bool{
	"model": true, "grouping": true, "density": true, "seed": true, "epochs": true, "dst": true, "hebbian": true,
	"log": true, "json": true, "quiet": true, "save": true, "export": true,
	"checkpoint-every": true, "checkpoint-dir": true, "keep-checkpoints": true, "resume": true,
}

// DatasetArg returns the value of a -dataset flag in args (def when there is
// none), so that commands can build the data set's flags before parsing.
func DatasetArg(args []string, def string) string {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		if !strings.HasPrefix(a, "-") {
			continue
		}
		name := strings.TrimLeft(a, "-")
		if v, ok := strings.CutPrefix(name, "dataset="); ok {
			def = v
		} else if name == "dataset" && i+1 < len(args) {
			def = args[i+1]
			i++
		}
	}
	return def
}

// FlagSet returns the flag set of the g2g experiment command: the grid
// flags (-dataset, -methods, -densities, -seeds, -epochs, -subset) and the
// run flags (-out, -time-budget) into g and cfg, plus the shared training
// flags of the runner (-batch, -lr, -hidden, -groups, -data, ...) into
// g.Base. g.Base must hold the data set's defaults.
func FlagSet(name string, g *Grid, cfg *RunConfig, ds *runner.Dataset, methods, densities, seeds *string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.StringVar(&g.Dataset, "dataset", g.Dataset, "data set: fashion-mnist, mnist, cifar10 or cifar100")
	fs.StringVar(methods, "methods", *methods, "comma-separated methods: dense, dense-matched, er, erk, g2g-<grouping> or blocks-<grouping> (grouping index, random or mixer), "+
		"each sparse one optionally with +dst, +hebbian, +dst-hebbian or +dst-<prune>-<regrow> (see g2g experiment -h)")
	fs.StringVar(densities, "densities", *densities, "comma-separated densities of the sparse methods (fractions of edges kept, in (0, 1])")
	fs.StringVar(seeds, "seeds", *seeds, "comma-separated seeds: every cell runs once per seed")
	fs.IntVar(&g.Epochs, "epochs", g.Epochs, "training epochs of every cell")
	fs.IntVar(&g.Subset, "subset", g.Subset, "train on the first n training samples only (0: all); the test set is always whole")
	fs.StringVar(&cfg.Out, "out", cfg.Out, "output directory: runs, tables and figures (default experiment-<dataset>)")
	fs.DurationVar(&cfg.TimeBudget, "time-budget", cfg.TimeBudget, "stop starting new cells after this long, e.g. 30m (0: no limit); the report covers what finished")
	fs.StringVar(&cfg.Cell, "cell", cfg.Cell, "train only this cell, METHOD/DENSITY/SEED, and write no report (used for the child processes)")
	scratch := flag.NewFlagSet("", flag.ContinueOnError)
	runner.RegisterFlags(scratch, &g.Base, ds)
	scratch.VisitAll(func(f *flag.Flag) {
		if !perCellFlags[f.Name] {
			fs.Var(f.Value, f.Name, f.Usage)
		}
	})
	return fs
}

// ParseGrid parses the g2g experiment command's arguments (see FlagSet)
// and validates the grid (see Grid.Validate): every error comes before
// any run. Help (-h) returns flag.ErrHelp after printing the flags on
// stderr.
func ParseGrid(args []string, stderr io.Writer) (Grid, RunConfig, error) {
	g := Grid{Dataset: DatasetArg(args, DefaultDataset)}
	ds, err := dataset(g.Dataset)
	if err != nil {
		return g, RunConfig{}, errors.Wrap(err, "-dataset")
	}
	g.Base, g.Epochs = runner.Defaults(ds), ds.Epochs
	var cfg RunConfig
	methods, densities, seeds := DefaultMethods, DefaultDensities, DefaultSeeds
	preset, err := applyPreset(args, &g, &methods, &densities, &seeds)
	if err != nil {
		return g, cfg, err
	}
	fs := FlagSet("g2g experiment", &g, &cfg, ds, &methods, &densities, &seeds)
	fs.StringVar(&preset, "preset", preset, presetHelp())
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: g2g experiment [flags]

Runs a grid of training runs — every method at every density with every
seed — one after the other, then writes OUT/results.md and OUT/results.csv
(test accuracy mean ± std over seeds, parameters, active parameters, MACs
per sample, seconds per epoch, gain over dense) and PNG figures. Cells whose
result is already in OUT are skipped, so an interrupted grid resumes. The
grid is checked before anything runs. -dataset cifar10 or cifar100 adds
-augment (and cifar100 -labels). -preset table1 (or ablation) reproduces
the paper's Table I (its DST ablation) in one command; the report adds
paired differences to er and dense with 95 % confidence intervals.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return g, cfg, err
	}
	if fs.NArg() > 0 {
		return g, cfg, errors.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if g.Methods, err = splitList(methods); err != nil {
		return g, cfg, errors.Wrap(err, "-methods")
	}
	if g.Densities, err = parseFloats(densities); err != nil {
		return g, cfg, errors.Wrap(err, "-densities")
	}
	if g.Seeds, err = parseInts(seeds); err != nil {
		return g, cfg, errors.Wrap(err, "-seeds")
	}
	if cfg.Out == "" {
		cfg.Out = "experiment-" + g.Dataset
		if preset != "" {
			cfg.Out = "paper-" + g.Dataset
		}
	}
	if cfg.TimeBudget < 0 {
		return g, cfg, errors.Errorf("-time-budget %v: want 0 (no limit) or a positive duration", cfg.TimeBudget)
	}
	if cfg.Cell != "" {
		c, err := g.cell(cfg.Cell)
		if err != nil {
			return g, cfg, err
		}
		return g, cfg, g.validateCells([]Cell{c})
	}
	return g, cfg, g.Validate()
}

// splitList splits a comma-separated list, trimming spaces; an empty string
// is an empty list and an empty entry is an error.
func splitList(s string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []string
	for i, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			return nil, errors.Errorf("%q: entry %d is empty", s, i+1)
		}
		out = append(out, f)
	}
	return out, nil
}

func parseFloats(s string) ([]float64, error) {
	fields, err := splitList(s)
	var out []float64
	for _, f := range fields {
		v, err := strconv.ParseFloat(f, 64)
		if err != nil {
			return nil, errors.Errorf("%q is not a number", f)
		}
		out = append(out, v)
	}
	return out, err
}

func parseInts(s string) ([]int64, error) {
	fields, err := splitList(s)
	var out []int64
	for _, f := range fields {
		v, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return nil, errors.Errorf("%q is not an integer", f)
		}
		out = append(out, v)
	}
	return out, err
}
