package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/pkg/errors"

	"github.com/g2g-ml/g2g/examples/internal/runner"
	"github.com/g2g-ml/g2g/graph"
)

// evalFlags are the runner flags g2g eval offers: those that shape the
// model (to rebuild it for a checkpoint) and those that find the data.
var evalFlags = map[string]bool{
	"model": true, "grouping": true, "density": true, "intra": true, "groups": true, "sampling": true,
	"hidden": true, "seed": true, "data": true, "download": true, "mirror": true, "labels": true, "json": true,
}

// checkpointConfig returns the dataset name and the runner configuration a
// checkpoint was saved with (both empty if it holds none).
func checkpointConfig(path string) (string, json.RawMessage, error) {
	info, err := graph.ReadCheckpointInfo(path)
	if err != nil {
		if _, statErr := os.Stat(path); statErr == nil {
			return "", nil, errors.Errorf("-checkpoint: %v (for an exported model use -exported)", err)
		}
		return "", nil, errors.Wrap(err, "-checkpoint")
	}
	if len(info.Config) == 0 {
		return "", nil, nil
	}
	var cfg struct {
		Dataset string `json:"dataset"`
	}
	json.Unmarshal(info.Config, &cfg) // an unreadable config is reported when eval reads the options from it
	return cfg.Dataset, info.Config, nil
}

func eval(args []string, stdout, stderr io.Writer) error {
	ckPath := runner.FlagValue(args, "checkpoint", "")
	name := runner.FlagValue(args, "dataset", "")
	var config json.RawMessage
	if ckPath != "" {
		ckData, cfg, err := checkpointConfig(ckPath)
		if err != nil {
			return err
		}
		if name == "" {
			name = ckData
		}
		config = cfg
	}
	if name == "" {
		name = "fashion-mnist"
	}
	ds, err := lookupDataset(name)
	if err != nil {
		return err
	}
	o := runner.Defaults(ds)
	if config != nil {
		if err := json.Unmarshal(config, &o); err != nil {
			return errors.Wrapf(err, "-checkpoint %s: its configuration", ckPath)
		}
	}
	var exported, checkpoint string
	batch := 1000
	fs := newFlagSet("eval", `Usage: g2g eval (-exported FILE | -checkpoint FILE) [-dataset NAME] [-data DIR] [flags]

Reports the test accuracy and loss of a saved model on a data set's test set:
an exported model (g2g train -export), run by the inference engine, or a
training checkpoint (g2g train -save or -checkpoint-every), loaded into the
model it was trained as. A checkpoint carries its training settings, which
give the data set and model flags' defaults; flags given here override them.
`, stderr)
	fs.StringVar(&name, "dataset", name, "data set: fashion-mnist, mnist, cifar10 or cifar100 (default: the checkpoint's, else fashion-mnist)")
	fs.StringVar(&exported, "exported", "", "exported model (.npz written by g2g train -export)")
	fs.StringVar(&checkpoint, "checkpoint", "", "training checkpoint (.npz written by g2g train -save or -checkpoint-every)")
	fs.IntVar(&batch, "batch", batch, "evaluation batch size")
	scratch := flag.NewFlagSet("", flag.ContinueOnError)
	runner.RegisterFlags(scratch, &o, ds)
	scratch.VisitAll(func(f *flag.Flag) {
		if evalFlags[f.Name] {
			fs.Var(f.Value, f.Name, f.Usage)
		}
	})
	if err := parse(fs, args); err != nil {
		return err
	}
	switch {
	case (exported == "") == (checkpoint == ""):
		return errors.New("give exactly one of -exported FILE and -checkpoint FILE")
	case batch < 1:
		return errors.Errorf("-batch %d: want at least 1", batch)
	}
	if err := o.Validate(); err != nil {
		return err
	}

	// Load the model first, so that a bad file fails before the data loads.
	var inf *graph.Inference
	var model *graph.Model
	if exported != "" {
		if inf, err = graph.LoadInference(exported); err != nil {
			return err
		}
	} else {
		if model, err = runner.BuildModel(ds, &o); err != nil {
			return err
		}
		if _, err := model.LoadCheckpoint(checkpoint); err != nil {
			return errors.Wrap(err, "(are the model flags -model, -hidden, -labels those of the run?)")
		}
	}
	_, test, source, err := ds.Load(&o, stderr)
	if err != nil {
		return err
	}
	if ds.Stats != nil {
		if err := test.Normalize(*ds.Stats); err != nil {
			return err
		}
	}
	var loss, acc float64
	if model != nil {
		loss, acc, err = model.Evaluate(test, batch)
	} else if loss, acc, err = inf.Evaluate(test, batch); err != nil {
		err = errors.Wrap(err, "(wrong -dataset or -labels for the exported model?)")
	}
	if err != nil {
		return err
	}
	file := exported + checkpoint
	fmt.Fprintf(stdout, "%s: test accuracy %.2f %%, loss %.4f on %d %s test samples (%s)\n", file, 100*acc, loss, test.Len(), ds.Name, source)
	if o.JSON {
		line, err := json.Marshal(map[string]interface{}{
			"file": file, "dataset": ds.Name, "source": source, "test_acc": acc, "test_loss": loss, "samples": test.Len(),
		})
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, string(line))
	}
	return nil
}
