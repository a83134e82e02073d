package graph

import (
	"encoding/json"
	"fmt"
	"sort"

	"github.com/pkg/errors"

	"github.com/g2g-ml/g2g/internal/npz"
)

// CheckpointInfo is what a checkpoint file says about itself, read without
// a model: enough to rebuild the model it was saved from (Config holds the
// caller's settings) or to list its contents.
type CheckpointInfo struct {
	// Format and Version identify the file format ("g2g-checkpoint", 1).
	Format  string
	Version int
	// Epoch and Step are the completed epochs and optimizer steps.
	Epoch, Step int
	// Config is the caller's configuration stored with the state
	// (TrainingState.Config), or nil.
	Config json.RawMessage
	// Metrics are the logs of the last completed epoch.
	Metrics map[string]float64
	// Params lists the model's parameters in the model's order.
	Params []CheckpointParam
	// Optimizer describes the optimizer's state, or is nil when the
	// checkpoint holds none.
	Optimizer *CheckpointOptimizer
	// Callbacks are the names of the callbacks whose state the checkpoint
	// holds, sorted.
	Callbacks []string
}

// CheckpointParam describes one parameter of a checkpoint.
type CheckpointParam struct {
	// Name is the parameter's name, e.g. "hidden1/W".
	Name string
	// Shape is the parameter's shape.
	Shape []int
	// Masked reports whether the checkpoint holds a mask for it.
	Masked bool
}

// CheckpointOptimizer describes the optimizer state of a checkpoint.
type CheckpointOptimizer struct {
	// Step is the optimizer's step count.
	Step int
	// BaseLR is the base learning rate its schedule scales.
	BaseLR float64
	// Slots maps a parameter's name to the names of its state slots (for
	// Adam, "m" and "v"), sorted.
	Slots map[string][]string
}

// ReadCheckpointInfo reads the metadata of the checkpoint at path (written
// by Model.SaveCheckpoint), without a model. It checks the file is a g2g
// checkpoint of a known format and version, not the arrays' checksums:
// Model.LoadCheckpoint checks those when it loads them.
func ReadCheckpointInfo(path string) (CheckpointInfo, error) {
	_, md, err := readCheckpoint(path)
	if err != nil {
		return CheckpointInfo{}, err
	}
	info := CheckpointInfo{
		Format: md.Format, Version: md.Version, Epoch: md.Epoch, Step: md.Step,
		Config: md.Config, Metrics: md.Metrics,
	}
	for _, p := range md.Params {
		info.Params = append(info.Params, CheckpointParam{Name: p.Name, Shape: p.Shape, Masked: p.Masked})
	}
	if md.Optimizer != nil {
		info.Optimizer = &CheckpointOptimizer{Step: md.Optimizer.Step, BaseLR: md.Optimizer.BaseLR, Slots: md.Optimizer.Slots}
	}
	for name := range md.Callbacks {
		info.Callbacks = append(info.Callbacks, name)
	}
	sort.Strings(info.Callbacks)
	return info, nil
}

// readCheckpoint reads the archive at path and decodes its metadata,
// checking the format and version. Errors name the file.
func readCheckpoint(path string) (map[string]npz.Array, meta, error) {
	fail := func(format string, args ...interface{}) (map[string]npz.Array, meta, error) {
		return nil, meta{}, errors.Errorf("checkpoint %s: %s", path, fmt.Sprintf(format, args...))
	}
	arrays, err := npz.Read(path)
	if err != nil {
		return nil, meta{}, errors.Wrap(err, "checkpoint")
	}
	raw, ok := arrays[metaName]
	if !ok {
		return fail("no %s entry: not a g2g checkpoint", metaName)
	}
	var md meta
	if err := json.Unmarshal(raw.Data, &md); err != nil {
		return fail("metadata is not valid JSON: %v", err)
	}
	if md.Format != checkpointFormat || md.Version != checkpointVersion {
		return fail("format %q version %d, want %q version %d", md.Format, md.Version, checkpointFormat, checkpointVersion)
	}
	return arrays, md, nil
}
