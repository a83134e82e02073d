package runner

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pkg/errors"

	"github.com/g2g-ml/g2g/callbacks"
	"github.com/g2g-ml/g2g/datasets"
	"github.com/g2g-ml/g2g/graph"
	"github.com/g2g-ml/g2g/graph/g2gnet"
	"github.com/g2g-ml/g2g/optim"
)

// Result is what a run reports; its JSON form is the -json line.
type Result struct {
	Dataset      string  `json:"dataset"`
	Source       string  `json:"source"`
	Model        string  `json:"model"`
	Grouping     string  `json:"grouping,omitempty"`
	Sampling     string  `json:"sampling,omitempty"`
	Rewiring     string  `json:"rewiring,omitempty"`
	TestAcc      float64 `json:"test_acc"`
	TestLoss     float64 `json:"test_loss"`
	Params       int     `json:"params"`
	ActiveParams int     `json:"active_params"`
	Density      float64 `json:"density"`
	MACs         int     `json:"macs_per_sample"`
	SecPerEpoch  float64 `json:"sec_per_epoch"`
	Epochs       int     `json:"epochs"`
	Seed         int64   `json:"seed"`
	ResumedAt    int     `json:"resumed_at,omitempty"`
	// History holds the logs of the epochs run in this process.
	History []map[string]float64 `json:"-"`
	// Model is the trained model.
	Trained *graph.Model `json:"-"`
}

// Main runs ds's command on the process's arguments and exits: status 0 on
// success (and for -h), 1 with a one-line error otherwise, 130 or 143 when
// SIGINT or SIGTERM stopped training (see InterruptContext).
func Main(ds *Dataset) {
	os.Exit(mainStatus(ds, os.Args[1:], os.Stdout, os.Stderr))
}

// mainStatus is Main without the exit: it returns the status.
func mainStatus(ds *Dataset, args []string, stdout, stderr io.Writer, extra ...graph.Callback) int {
	o, err := Parse(ds, args, stderr)
	if err == nil {
		ctx, release := InterruptContext(stderr)
		defer release()
		_, err = RunContext(ctx, ds, o, stdout, stderr, extra...)
	}
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "%s: %v\n", ds.Name, err)
		return ExitStatus(err)
	}
	return 0
}

// Command parses args and runs ds's command, printing to stdout and stderr.
func Command(ds *Dataset, args []string, stdout, stderr io.Writer) error {
	o, err := Parse(ds, args, stderr)
	if err != nil {
		return err
	}
	_, err = Run(ds, o, stdout, stderr)
	return err
}

// rewiring returns the rewiring callback o asks for (nil for none) and its
// one-line description.
func rewiring(o *Options, log io.Writer) (graph.Callback, string, error) {
	hebbCfg := callbacks.HebbianConfig{
		EveryN: o.HebbianN, Measure: o.Measure, Scope: o.Scope, GrowInit: o.GrowInit, Seed: o.Seed, Log: log,
	}
	switch {
	case o.Hebbian:
		hebbCfg.Zeta = o.Zeta
		h, err := callbacks.NewHebbian(hebbCfg)
		if err != nil {
			return nil, "", err
		}
		return h, fmt.Sprintf("hebbian %s zeta=%g scope=%s", o.Measure, o.Zeta, o.Scope), nil
	case o.DST:
		cfg := callbacks.DSTConfig{
			Zeta: o.Zeta, Anneal: o.Anneal, Prune: o.Prune, Regrow: o.Regrow,
			Scope: o.Scope, GrowInit: o.GrowInit, Seed: o.Seed, Log: log,
		}
		if o.Prune == callbacks.CriterionHebbian || o.Regrow == callbacks.CriterionHebbian {
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
		return d, fmt.Sprintf("dst %s/%s zeta=%g anneal=%s scope=%s", o.Prune, o.Regrow, o.Zeta, o.Anneal, o.Scope), nil
	}
	return nil, "", nil
}

// Run trains the model o describes on ds, with extra callbacks appended
// after the built-in ones (before checkpointing), and prints the results
// table (and with o.JSON a last JSON line) on stdout. It is RunContext with
// a context that is never done.
func Run(ds *Dataset, o Options, stdout, stderr io.Writer, extra ...graph.Callback) (*Result, error) {
	return RunContext(context.Background(), ds, o, stdout, stderr, extra...)
}

// RunContext is Run, stopped from outside through ctx (InterruptContext
// cancels it on SIGINT or SIGTERM): training stops after the current batch
// and the state reached is saved (see saveInterrupted); the error wraps the
// *graph.Interrupted.
func RunContext(ctx context.Context, ds *Dataset, o Options, stdout, stderr io.Writer, extra ...graph.Callback) (*Result, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if err := checkOutputs(&o); err != nil {
		return nil, err
	}
	// Build the model and callbacks before loading data, so configuration
	// errors come first.
	model, err := BuildModel(ds, &o)
	if err != nil {
		return nil, err
	}
	var rewireLog io.Writer = stderr
	if o.Quiet {
		rewireLog = nil
	}
	rewireCB, rewiringName, err := rewiring(&o, rewireLog)
	if err != nil {
		return nil, err
	}
	if o.Log != "" {
		switch strings.ToLower(filepath.Ext(o.Log)) {
		case ".csv", ".jsonl", ".json":
		default:
			return nil, errors.Errorf("-log %q: want a .csv or .jsonl file", o.Log)
		}
	}
	config, err := json.Marshal(struct {
		Dataset string `json:"dataset"`
		Options
	}{ds.Name, o})
	if err != nil {
		return nil, err
	}
	opt, err := NewOptimizer(&o)
	if err != nil {
		return nil, err
	}
	sched, err := lrScheduler(&o)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	train, test, source, err := ds.Load(&o, stderr)
	if err != nil {
		return nil, err
	}
	loadTime := time.Since(start)
	if ds.Stats != nil {
		for _, d := range []*datasets.Dataset{train, test} {
			if err := d.Normalize(*ds.Stats); err != nil {
				return nil, err
			}
		}
	}
	if !o.Quiet {
		fmt.Fprintf(stderr, "data: %s (%d train, %d test, loaded in %.1fs); BLAS: %s\n%s",
			source, train.Len(), test.Len(), loadTime.Seconds(), graph.BLAS(), model.Summary())
	}

	// Order matters: the learning-rate schedule sets the epoch's rate
	// before anything else runs; Progress ends the epoch's line before the rewiring
	// prints its summary; the rewiring writes its Logs entries before the
	// metrics logger records them; the checkpoint comes last so it holds
	// the epoch's rewiring.
	var cbs []graph.Callback
	if sched != nil {
		cbs = append(cbs, sched)
	}
	if !o.Quiet {
		cbs = append(cbs, callbacks.NewProgress(stderr))
	}
	if o.DivergeFactor > 0 {
		div, err := callbacks.NewTerminateOnDivergence(callbacks.DivergenceConfig{Factor: o.DivergeFactor})
		if err != nil {
			return nil, err
		}
		cbs = append(cbs, div)
	}
	if rewireCB != nil {
		cbs = append(cbs, rewireCB)
	}
	logAt := len(cbs) // the metrics logger goes here, once we know where training starts
	cbs = append(cbs, extra...)
	if o.CheckpointEvery > 0 {
		ck, err := callbacks.NewModelCheckpoint(callbacks.CheckpointConfig{
			Dir: o.CheckpointDir, Every: o.CheckpointEvery, KeepLast: o.KeepCheckpoints, Config: json.RawMessage(config),
		})
		if err != nil {
			return nil, err
		}
		cbs = append(cbs, ck)
	}

	fit := graph.FitConfig{
		Epochs: o.Epochs, BatchSize: o.Batch, Optimizer: opt, Callbacks: cbs,
		Validation: test, Seed: o.Seed,
	}
	if aug := Augmentation(ds, &o); aug != nil {
		fit.Augment = aug.Apply
	}
	res := &Result{Dataset: ds.Name, Source: source, Model: string(o.Model), Rewiring: rewiringName, Seed: o.Seed, Trained: model}
	if o.Resume != "" {
		if err := resume(model, opt, cbs, o, config, &fit, stderr); err != nil {
			return nil, err
		}
		res.ResumedAt = fit.InitialEpoch
	}
	if o.Log != "" {
		// A resumed run continues the log, dropping records the interrupted
		// run wrote after its checkpoint.
		var lg *callbacks.MetricsLogger
		csv := strings.ToLower(filepath.Ext(o.Log)) == ".csv"
		switch {
		case o.Resume != "" && csv:
			lg, err = callbacks.AppendCSVLogger(o.Log, fit.InitialEpoch)
		case o.Resume != "":
			lg, err = callbacks.AppendJSONLLogger(o.Log, fit.InitialEpoch)
		case csv:
			lg, err = callbacks.NewCSVLogger(o.Log)
		default:
			lg, err = callbacks.NewJSONLLogger(o.Log)
		}
		if err != nil {
			return nil, err
		}
		defer lg.Close()
		cbs = append(cbs[:logAt], append([]graph.Callback{lg}, cbs[logAt:]...)...)
		fit.Callbacks = cbs
	}
	var hist *graph.History
	if fit.InitialEpoch < fit.Epochs {
		if o.CPUProfile != "" {
			f, err := os.Create(o.CPUProfile)
			if err != nil {
				return nil, errors.Wrap(err, "-cpuprofile")
			}
			defer f.Close()
			if err := pprof.StartCPUProfile(f); err != nil {
				return nil, errors.Wrap(err, "-cpuprofile")
			}
			defer pprof.StopCPUProfile()
		}
		if hist, err = model.FitContext(ctx, train, fit); err != nil {
			var intr *graph.Interrupted
			if errors.As(err, &intr) {
				return nil, saveInterrupted(model, opt, cbs, &o, config, hist.Last(), intr)
			}
			if errors.Is(err, callbacks.ErrDiverged) {
				err = fmt.Errorf("%w (lower -lr %v? -diverge-factor sets the check)", err, o.LR)
			}
			return nil, err
		}
		res.History = hist.Epochs
	}
	if o.Save != "" {
		var logs map[string]float64
		if hist != nil {
			logs = hist.Last()
		}
		st, err := graph.CaptureState(opt, cbs, o.Epochs-1, opt.Steps(), logs)
		if err != nil {
			return nil, err
		}
		st.Config = config
		if err := writeOrKeep("-save", o.Save, func(p string) error { return model.SaveCheckpoint(p, st) }); err != nil {
			return nil, err
		}
	}
	if o.Export != "" {
		if err := writeOrKeep("-export", o.Export, model.Export); err != nil {
			return nil, err
		}
	}
	if res.TestLoss, res.TestAcc, err = model.Evaluate(test, 1000); err != nil {
		return nil, err
	}
	var secs float64
	for _, e := range res.History {
		secs += e["epoch_seconds"]
	}
	if len(res.History) > 0 {
		res.SecPerEpoch = secs / float64(len(res.History))
	}
	res.Params, res.ActiveParams, res.MACs = model.NumParams(), model.ActiveParams(), model.MACs()
	res.Epochs, res.Density = o.Epochs, SparseDensity(model)
	if o.Model == g2gnet.G2G {
		res.Grouping, res.Sampling = string(o.Grouping), string(o.Sampling)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "model\ttest acc\tparams\tactive params\tMACs/sample\ts/epoch\t")
	fmt.Fprintf(tw, "%s\t%.2f %%\t%d\t%d\t%d\t%.1f\t\n", o.Describe(rewiringName), 100*res.TestAcc, res.Params, res.ActiveParams, res.MACs, res.SecPerEpoch)
	if err := tw.Flush(); err != nil {
		return nil, err
	}
	if o.JSON {
		line, err := json.Marshal(res)
		if err != nil {
			return nil, err
		}
		fmt.Fprintln(stdout, string(line))
	}
	return res, nil
}

// resume loads the checkpoint o.Resume names (a file, or the newest
// periodic checkpoint in a directory) into the model, the optimizer and the
// stateful callbacks, checks it was written by the same configuration, and
// sets fit to continue after it.
func resume(model *graph.Model, opt optim.Optimizer, cbs []graph.Callback, o Options, config []byte, fit *graph.FitConfig, stderr io.Writer) error {
	path := o.Resume
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		if path, err = callbacks.LatestCheckpoint(path); err != nil {
			return errors.Wrap(err, "-resume")
		}
	}
	st, err := model.LoadCheckpoint(path)
	if err != nil {
		return errors.Wrap(err, "-resume")
	}
	if diff := configDiff(st.Config, config); diff != "" {
		return errors.Errorf("-resume %s: the checkpoint was written with other settings: %s", path, diff)
	}
	if err := graph.Restore(st, opt, cbs); err != nil {
		return errors.Wrapf(err, "-resume %s", path)
	}
	if st.Epoch > o.Epochs {
		return errors.Errorf("-resume %s: the checkpoint has %d epochs done, more than -epochs %d", path, st.Epoch, o.Epochs)
	}
	fit.InitialEpoch, fit.InitialStep = st.Epoch, st.Step
	if !o.Quiet {
		fmt.Fprintf(stderr, "resuming from %s: %d epochs and %d steps done\n", path, st.Epoch, st.Step)
	}
	return nil
}

// configDiff lists the settings that differ between two JSON configs.
func configDiff(saved, now []byte) string {
	var a, b map[string]interface{}
	if json.Unmarshal(saved, &a) != nil || json.Unmarshal(now, &b) != nil {
		return "unreadable configuration in the checkpoint"
	}
	var diffs []string
	for k, v := range b {
		if fmt.Sprint(a[k]) != fmt.Sprint(v) {
			diffs = append(diffs, fmt.Sprintf("%s %v (checkpoint) vs %v (now)", k, a[k], v))
		}
	}
	sort.Strings(diffs)
	return strings.Join(diffs, ", ")
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
