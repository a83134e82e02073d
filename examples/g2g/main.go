// Command g2g trains, evaluates and compares G2GNet models (arXiv 2508.14140)
// from one binary, built on the same packages as the per-data-set examples:
//
//	g2g train      -dataset fashion-mnist|mnist|cifar10|cifar100 [training flags]
//	g2g eval       -exported model.npz | -checkpoint ck.npz  [-dataset ...] [-data DIR]
//	g2g experiment -methods ... -densities ... -seeds ... -out DIR [-epochs N -subset N -time-budget D]
//	g2g experiment -preset table1|ablation -dataset ...   (the paper's Table I, its DST ablation)
//	               [-executor local -jobs N | -executor slurm [-partition P -time-limit T ...] | -status]
//	g2g plot       -out DIR
//
// train is the runner of the examples (see examples/fashion-mnist) with a
// -dataset flag. eval reports a saved model's test accuracy. experiment runs
// a grid of methods × densities × seeds, resumable, on this machine (-jobs
// cells at once) or as one Slurm job array, and writes a Markdown and CSV
// table and PNG figures into -out (see package examples/internal/experiment);
// plot re-makes them from the runs saved in -out without training. "g2g -h"
// lists the commands and "g2g CMD -h" shows a command's flags. Errors are one
// line on stderr and exit status 1; g2g train stopped by SIGINT or SIGTERM
// (after the current batch, its state saved) exits 130 or 143.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/pkg/errors"

	"github.com/g2g-ml/g2g/examples/internal/experiment"
	"github.com/g2g-ml/g2g/examples/internal/runner"
)

// command is one g2g subcommand.
type command struct {
	name, summary string
	run           func(args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"train", "train a model on one data set (the examples' runner, with -dataset)", train},
		{"eval", "report the test accuracy of an exported model or a checkpoint", eval},
		{"experiment", "run a grid of methods × densities × seeds and write the table and figures", runExperiment},
		{"plot", "re-make an experiment's table and figures from its saved runs", plot},
	}
}

const usageHead = `g2g trains sparse, brain-inspired G2GNet models (ensemble-to-ensemble
connectivity, dynamic sparse training, Hebbian rewiring) and compares them.

Usage: g2g <command> [flags]

Commands:
`

const usageTail = `
Run "g2g <command> -h" for a command's flags. Example, a small Fashion-MNIST
grid with 3 seeds, its table and figures in ./fmnist:

  g2g experiment -dataset fashion-mnist -methods dense,g2g-index,g2g-index+dst \
      -densities 0.125,0.25,0.5 -seeds 1,2,3 -epochs 3 -subset 20000 -out fmnist
`

func usage(w io.Writer) {
	fmt.Fprint(w, usageHead)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-11s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, usageTail)
}

func main() {
	self = func() (string, error) { return os.Executable() }
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// self returns the path of the g2g binary, so that g2g experiment can run
// each cell in a child process; nil runs the cells in this process.
var self func() (string, error)

// run runs g2g with args and returns the exit status: 0 on success and for
// help, 1 after printing a one-line error.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "g2g: no command given: want train, eval, experiment or plot (g2g -h for help)")
		return 1
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help", "help":
		if name == "help" && len(args) > 1 {
			return run([]string{args[1], "-h"}, stdout, stderr)
		}
		usage(stdout)
		return 0
	}
	for _, c := range commands() {
		if c.name == name {
			err := c.run(args[1:], stdout, stderr)
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			if err != nil {
				fmt.Fprintf(stderr, "g2g %s: %s\n", name, oneLine(err))
				return runner.ExitStatus(err)
			}
			return 0
		}
	}
	fmt.Fprintf(stderr, "g2g: unknown command %q: want train, eval, experiment or plot (g2g -h for help)\n", name)
	return 1
}

// oneLine returns the error's message on one line.
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

// lookupDataset returns the runner's data set called name.
func lookupDataset(name string) (*runner.Dataset, error) {
	ds, err := runner.Lookup(name)
	if err != nil {
		return nil, errors.New("-dataset " + err.Error())
	}
	return ds, nil
}

// newFlagSet returns a flag set for g2g cmd whose -h prints head before
// the flags.
func newFlagSet(cmd, head string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("g2g "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, head+"\nFlags:\n")
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args into fs and refuses positional arguments.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return errors.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

func train(args []string, stdout, stderr io.Writer) error {
	name := runner.FlagValue(args, "dataset", experiment.DefaultDataset)
	ds, err := lookupDataset(name)
	if err != nil {
		return err
	}
	o := runner.Defaults(ds)
	fs := newFlagSet("train", `Usage: g2g train [-dataset NAME] [flags]

Trains G2GNet (or its dense twin, -model dense) on one data set, the model of
docs/design.md §5 for it, and prints test accuracy, parameters, active parameters,
MACs per sample and seconds per epoch. -dst and -hebbian rewire the masks;
-save, -export, -checkpoint-every and -resume handle checkpoints. -dataset
cifar10 or cifar100 adds -augment (and cifar100 -labels); the flags below are
those of the data set given, fashion-mnist by default.
`, stderr)
	fs.StringVar(&name, "dataset", name, "data set: fashion-mnist, mnist, cifar10 or cifar100")
	runner.RegisterFlags(fs, &o, ds)
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := o.Validate(); err != nil {
		return err
	}
	ctx, release := runner.InterruptContext(stderr)
	defer release()
	_, err = runner.RunContext(ctx, ds, o, stdout, stderr)
	return err
}

func runExperiment(args []string, stdout, stderr io.Writer) error {
	g, cfg, err := experiment.ParseGrid(args, stderr)
	if err != nil {
		return err
	}
	cfg.Log = stderr
	if cfg.Status {
		return experiment.WriteStatus(stdout, g, cfg)
	}
	if cfg.Cell != "" { // a child process or an array task of the command below
		_, err := experiment.Run(g, cfg)
		return err
	}
	if self != nil {
		// Each cell in a child process (or Slurm task) running this binary:
		// memory a run leaves behind (about 0.2 GB for the reference MLP)
		// goes back to the system.
		exe, err := self()
		if err != nil {
			return err
		}
		cfg.Subprocess = append([]string{exe, "experiment"}, cfg.GridArgs...)
	}
	sum, err := experiment.Run(g, cfg)
	if sum != nil {
		printSummary(stdout, sum, cfg)
	}
	return err
}

// printSummary prints what ran or was submitted and the report's files,
// then the table; for a dry run, the job script.
func printSummary(w io.Writer, sum *experiment.Summary, cfg experiment.RunConfig) {
	if cfg.DryRun {
		if sum.Script == "" {
			fmt.Fprintln(w, "# nothing to submit")
		}
		fmt.Fprint(w, sum.Script)
		return
	}
	if cfg.Executor == experiment.ExecutorSlurm {
		fmt.Fprintf(w, "%d cells submitted", len(sum.Submitted))
		if sum.JobID != "" {
			fmt.Fprintf(w, " as job array %s", sum.JobID)
		}
		fmt.Fprintf(w, ", %d already done, %d queued or running elsewhere", len(sum.Done), len(sum.Queued)+len(sum.Locked))
		if cfg.Wait {
			fmt.Fprintf(w, "; %d finished while waiting", len(sum.Ran))
		}
		fmt.Fprintf(w, ", in %s\n", sum.Elapsed.Round(1e9))
	} else {
		fmt.Fprintf(w, "%d cells run, %d already done, %d not started (time budget)", len(sum.Ran), len(sum.Done), len(sum.NotStarted))
		if len(sum.Locked) > 0 {
			fmt.Fprintf(w, ", %d skipped (another runner holds them)", len(sum.Locked))
		}
		fmt.Fprintf(w, ", in %s\n", sum.Elapsed.Round(1e9))
	}
	printFiles(w, sum.Files, cfg.Out)
}

func printFiles(w io.Writer, files []string, out string) {
	for _, f := range files {
		fmt.Fprintln(w, "wrote", f)
	}
	if raw, err := os.ReadFile(out + "/results.md"); err == nil && len(files) > 0 {
		fmt.Fprintf(w, "\n%s", raw)
	}
}

func plot(args []string, stdout, stderr io.Writer) error {
	out := ""
	fs := newFlagSet("plot", `Usage: g2g plot -out DIR

Re-makes an experiment's table (DIR/results.md, DIR/results.csv) and figures
(DIR/acc_vs_density.png, DIR/curves_val_acc.png, DIR/curves_loss.png,
DIR/mask_<method>_d<density>.png) from the runs saved in DIR/runs, without
training.
`, stderr)
	fs.StringVar(&out, "out", out, "the experiment's output directory (g2g experiment -out)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if out == "" {
		return errors.New("-out: give the experiment's output directory")
	}
	if st, err := os.Stat(out); err != nil || !st.IsDir() {
		return errors.Errorf("-out %s: not a directory", out)
	}
	files, err := experiment.Report(out)
	printFiles(stdout, files, out)
	return err
}
