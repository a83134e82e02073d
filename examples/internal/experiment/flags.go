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
	// Run trains it if it is not finished and writes no report. The
	// command's -cell-index N sets it to the key of the grid's cell N.
	Cell string

	// Executor runs the cells: ExecutorLocal (also for "") or
	// ExecutorSlurm.
	Executor string
	// Jobs is, for the local executor, how many cells train at once (0
	// and 1: one after the other), each child process with its share of
	// the cores; for the slurm executor, the most array tasks running at
	// once (0: as many as Slurm schedules).
	Jobs int
	// Slurm holds the slurm executor's job options.
	Slurm SlurmOptions
	// DryRun makes the slurm executor return the job script (in the
	// summary) without submitting it or writing anything.
	DryRun bool
	// Wait makes the slurm executor wait until the job array has ended,
	// then write the report; PollInterval is how often it asks Slurm
	// (default 2 s).
	Wait         bool
	PollInterval time.Duration
	// Status asks the g2g command for the status view (see Status)
	// instead of a run.
	Status bool
	// GridArgs are the flags that define the grid and its training, as
	// given on the command line minus those of how it runs, in -name=value
	// form. After a program and its subcommand and before -cell KEY or
	// -cell-index N, they train one cell of the grid: the child processes'
	// and the Slurm tasks' command (see Subprocess).
	GridArgs []string

	// gridFromOut is set by ParseGrid for -status without the grid's lists
	// (-dataset, -methods, -densities, -seeds): the status view then shows
	// the last grid run in Out (OUT/experiment.json).
	gridFromOut bool
}

// runFlags are the flags that say how a grid runs, not what it is: they
// are left out of RunConfig.GridArgs.
var runFlags = map[string]bool{
	"time-budget": true, "cell": true, "cell-index": true, "executor": true, "jobs": true, "dry-run": true, "wait": true,
	"status": true, "partition": true, "time-limit": true, "cpus-per-task": true, "mem": true, "job-name": true, "sbatch-args": true,
}

// slurmFlags are the flags that only the slurm executor takes.
var slurmFlags = []string{"partition", "time-limit", "cpus-per-task", "mem", "job-name", "sbatch-args", "dry-run", "wait"}

// perCellFlags are the runner flags the grid sets per cell or that name
// per-run outputs: the experiment command does not offer them.
var perCellFlags = map[string]bool{
	"model": true, "grouping": true, "density": true, "seed": true, "epochs": true, "dst": true, "hebbian": true,
	"log": true, "json": true, "quiet": true, "save": true, "export": true,
	"checkpoint-every": true, "checkpoint-dir": true, "keep-checkpoints": true, "resume": true,
}

// FlagSet returns the flag set of the g2g experiment command: the grid
// flags (-dataset, -methods, -densities, -seeds, -epochs, -subset) and the
// run flags (-out, -time-budget, -executor, -jobs, the slurm executor's,
// -status) into g and cfg, plus the shared training flags of the runner
// (-batch, -lr, -hidden, -groups, -data, ...) into g.Base. g.Base must
// hold the data set's defaults. -cell-index goes into cellIndex.
func FlagSet(name string, g *Grid, cfg *RunConfig, ds *runner.Dataset, methods, densities, seeds *string) *flag.FlagSet {
	fs, _ := flagSet(name, g, cfg, ds, methods, densities, seeds)
	return fs
}

// flagSet is FlagSet, also returning where -cell-index and -sbatch-args go.
func flagSet(name string, g *Grid, cfg *RunConfig, ds *runner.Dataset, methods, densities, seeds *string) (*flag.FlagSet, *flagExtras) {
	x := &flagExtras{cellIndex: -1}
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
	fs.IntVar(&x.cellIndex, "cell-index", x.cellIndex, "train only the grid's cell N (0, 1, ...: the order of -status), and write no report: "+
		"the command of a Slurm array task or a Kubernetes Indexed Job (-cell-index $JOB_COMPLETION_INDEX)")
	fs.StringVar(&cfg.Executor, "executor", ExecutorLocal, "how the cells run: local (child processes on this machine) or slurm (one Slurm job array, sbatch)")
	fs.IntVar(&cfg.Jobs, "jobs", cfg.Jobs, "local: cells trained at once, each with its share of the cores (0 or 1: one after the other); "+
		"slurm: most array tasks running at once (0: no limit)")
	fs.BoolVar(&cfg.Status, "status", cfg.Status, "list the cells as done, running, pending, failed or not started (result files, locks, squeue) and run nothing; "+
		"without -methods, -densities and -seeds, for the last grid run in -out")
	fs.StringVar(&cfg.Slurm.Partition, "partition", cfg.Slurm.Partition, "slurm: partition (sbatch --partition; default: the cluster's)")
	fs.StringVar(&cfg.Slurm.TimeLimit, "time-limit", cfg.Slurm.TimeLimit, "slurm: time limit per cell, e.g. 2h, 90m or Slurm's 1-12:00:00 (sbatch --time; default: the partition's)")
	fs.IntVar(&cfg.Slurm.CPUs, "cpus-per-task", 1, "slurm: CPUs per cell (sbatch --cpus-per-task; also the cell's GOMAXPROCS and OpenBLAS threads)")
	fs.StringVar(&cfg.Slurm.Mem, "mem", cfg.Slurm.Mem, "slurm: memory per cell, e.g. 4G or 1500M (sbatch --mem; default: the cluster's)")
	fs.StringVar(&cfg.Slurm.JobName, "job-name", cfg.Slurm.JobName, "slurm: the job array's name (default g2g-<base name of -out>)")
	fs.StringVar(&x.sbatchArgs, "sbatch-args", "", `slurm: more sbatch options, separated by spaces, e.g. "--qos=short --account=lab" (each becomes an #SBATCH line)`)
	fs.BoolVar(&cfg.DryRun, "dry-run", cfg.DryRun, "slurm: print the job script that would be submitted, and submit nothing")
	fs.BoolVar(&cfg.Wait, "wait", cfg.Wait, "slurm: wait until the job array has ended, then write the table and figures")
	scratch := flag.NewFlagSet("", flag.ContinueOnError)
	runner.RegisterFlags(scratch, &g.Base, ds)
	scratch.VisitAll(func(f *flag.Flag) {
		if !perCellFlags[f.Name] {
			fs.Var(f.Value, f.Name, f.Usage)
		}
	})
	return fs, x
}

// flagExtras receives the flags that RunConfig holds in another form.
type flagExtras struct {
	cellIndex  int
	sbatchArgs string
}

// ParseGrid parses the g2g experiment command's arguments (see FlagSet)
// and validates the grid (see Grid.Validate): every error comes before
// any run. Help (-h) returns flag.ErrHelp after printing the flags on
// stderr.
func ParseGrid(args []string, stderr io.Writer) (Grid, RunConfig, error) {
	g := Grid{Dataset: runner.FlagValue(args, "dataset", DefaultDataset)}
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
	fs, x := flagSet("g2g experiment", &g, &cfg, ds, &methods, &densities, &seeds)
	fs.StringVar(&preset, "preset", preset, presetHelp())
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: g2g experiment [flags]

Runs a grid of training runs — every method at every density with every
seed — then writes OUT/results.md and OUT/results.csv (test accuracy mean ±
std over seeds, parameters, active parameters, MACs per sample, seconds per
epoch, gain over dense) and PNG figures. Cells whose result is already in
OUT are skipped, so an interrupted grid resumes. The grid is checked before
anything runs. -dataset cifar10 or cifar100 adds -augment (and cifar100
-labels). -preset table1 (or ablation) reproduces the paper's Table I (its
DST ablation) in one command; the report adds paired differences to er and
dense with 95 % confidence intervals.

Executors: local (default) trains the cells on this machine, -jobs N of them
at once; slurm submits the unfinished ones as one Slurm job array (sbatch)
whose tasks write into OUT (a shared file system): run the same command
again after failures to submit only the missing cells, -status to see where
each cell is, and g2g plot -out OUT for the table of what finished.

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
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) {
		set[f.Name] = true
		if !runFlags[f.Name] {
			cfg.GridArgs = append(cfg.GridArgs, "-"+f.Name+"="+f.Value.String())
		}
	})
	cfg.gridFromOut = cfg.Status && !(set["dataset"] || set["methods"] || set["densities"] || set["seeds"])
	if err := checkRunFlags(&cfg, set, x); err != nil {
		return g, cfg, err
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
	if cfg.Status {
		// The status view trains nothing: the grid needs no validation.
		return g, cfg, nil
	}
	if x.cellIndex >= 0 {
		cells := g.Cells()
		if x.cellIndex >= len(cells) {
			return g, cfg, errors.Errorf("-cell-index %d: the grid has %d cells (0 to %d)", x.cellIndex, len(cells), len(cells)-1)
		}
		cfg.Cell = cells[x.cellIndex].Key()
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

// checkRunFlags checks the flags of how the grid runs: a known executor,
// only its own options, and their values. set holds the flags given.
func checkRunFlags(cfg *RunConfig, set map[string]bool, x *flagExtras) error {
	switch cfg.Executor {
	case ExecutorLocal, ExecutorSlurm:
	default:
		return errors.Errorf("-executor %q: want local or slurm", cfg.Executor)
	}
	if cfg.Executor != ExecutorSlurm {
		for _, name := range slurmFlags {
			if set[name] {
				return errors.Errorf("-%s: only with -executor slurm", name)
			}
		}
	} else if set["time-budget"] {
		return errors.New("-time-budget: only with -executor local (give Slurm a -time-limit per cell instead)")
	}
	if x.cellIndex < -1 {
		return errors.Errorf("-cell-index %d: want a cell's index, 0 or more", x.cellIndex)
	}
	if set["cell"] && set["cell-index"] {
		return errors.New("-cell and -cell-index: give one of them")
	}
	if cfg.Status && (set["cell"] || set["cell-index"] || set["dry-run"] || set["wait"]) {
		return errors.New("-status: lists the cells and runs nothing; leave out -cell, -cell-index, -dry-run and -wait")
	}
	if cfg.DryRun && cfg.Wait {
		return errors.New("-dry-run and -wait: a dry run submits nothing to wait for")
	}
	if set["cpus-per-task"] && cfg.Slurm.CPUs < 1 {
		return errors.Errorf("-cpus-per-task %d: want 1 or more", cfg.Slurm.CPUs)
	}
	cfg.Slurm.Args = strings.Fields(x.sbatchArgs)
	return cfg.check()
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
