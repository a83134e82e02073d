package graph

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/g2g-ml/g2g/internal/npz"
	"github.com/g2g-ml/g2g/optim"
)

// TestReadCheckpointInfo saves a checkpoint after two epochs of training
// and reads its metadata back without a model.
func TestReadCheckpointInfo(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ck.npz")
	m := smallModel(t, 141)
	opt, _ := optim.NewAdam(optim.AdamConfig{LR: 0.01})
	cnt := &counterCB{}
	// 20 samples in batches of 8: 3 steps per epoch, 6 after two epochs.
	if _, err := m.Fit(toyData(20, 6, 3, 142), FitConfig{Epochs: 2, BatchSize: 8, Optimizer: opt, Seed: 1,
		Callbacks: []Callback{cnt, &saveAt{epoch: 1, path: path}}}); err != nil {
		t.Fatal(err)
	}
	info, err := ReadCheckpointInfo(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Format != "g2g-checkpoint" || info.Version != 1 || info.Epoch != 2 || info.Step != 6 || string(info.Config) != `{"seed":61}` {
		t.Fatalf("info %+v", info)
	}
	if _, ok := info.Metrics["loss"]; !ok {
		t.Fatalf("metrics %v lack the epoch's loss", info.Metrics)
	}
	var want []CheckpointParam
	for _, p := range m.Params() {
		want = append(want, CheckpointParam{Name: p.Name, Shape: []int(p.Value.Shape()), Masked: p.Mask != nil})
	}
	if !reflect.DeepEqual(info.Params, want) {
		t.Fatalf("params %+v, want %+v", info.Params, want)
	}
	if info.Params[0].Name != "g1/W" || !info.Params[0].Masked || info.Params[len(info.Params)-1].Masked {
		t.Fatalf("params %+v: want g1/W masked first, the dense output's bias unmasked last", info.Params)
	}
	if o := info.Optimizer; o == nil || o.Step != 6 || o.BaseLR != 0.01 || !reflect.DeepEqual(o.Slots["g1/W"], []string{"m", "v"}) {
		t.Fatalf("optimizer %+v", info.Optimizer)
	}
	if !reflect.DeepEqual(info.Callbacks, []string{"counter"}) {
		t.Fatalf("callbacks %v", info.Callbacks)
	}

	// Without an optimizer or callbacks, those are absent.
	bare := filepath.Join(t.TempDir(), "bare.npz")
	if err := m.SaveCheckpoint(bare, TrainingState{}); err != nil {
		t.Fatal(err)
	}
	if info, err := ReadCheckpointInfo(bare); err != nil || info.Optimizer != nil || info.Callbacks != nil || info.Config != nil {
		t.Fatalf("bare checkpoint: %+v, %v", info, err)
	}
}

func TestReadCheckpointInfoRejectsOtherFiles(t *testing.T) {
	dir := t.TempDir()
	// An exported model is an .npz archive, but not a checkpoint.
	exported := filepath.Join(dir, "exported.npz")
	if err := smallModel(t, 150).Export(exported); err != nil {
		t.Fatal(err)
	}
	otherFormat := filepath.Join(dir, "other.npz")
	js, _ := json.Marshal(map[string]interface{}{"format": "g2g-checkpoint", "version": 99})
	if err := npz.Write(otherFormat, []npz.Array{npz.Uint8(metaName, js, len(js))}); err != nil {
		t.Fatal(err)
	}
	junk := filepath.Join(dir, "junk.npz")
	if err := os.WriteFile(junk, []byte("not a zip"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ path, want string }{
		{exported, "checkpoint " + exported + ": no g2g_meta entry: not a g2g checkpoint"},
		{otherFormat, "checkpoint " + otherFormat + `: format "g2g-checkpoint" version 99, want "g2g-checkpoint" version 1`},
		{junk, "junk.npz"},
		{filepath.Join(dir, "missing.npz"), "missing.npz"},
	} {
		if _, err := ReadCheckpointInfo(c.path); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to contain %q", filepath.Base(c.path), err, c.want)
		}
	}
}

// TestCaptureState captures a run's state after Fit has returned, with no
// Context, and checks it is what Capture gives inside the run.
func TestCaptureState(t *testing.T) {
	m := smallModel(t, 160)
	opt, _ := optim.NewAdam(optim.AdamConfig{LR: 0.01})
	cnt := &counterCB{}
	var inside TrainingState
	grab := &captureAtEnd{into: &inside}
	hist, err := m.Fit(toyData(20, 6, 3, 161), FitConfig{Epochs: 2, BatchSize: 8, Optimizer: opt, Seed: 1, Callbacks: []Callback{cnt, grab}})
	if err != nil {
		t.Fatal(err)
	}
	logs := hist.Last()
	st, err := CaptureState(opt, []Callback{cnt, grab}, 1, opt.Steps(), logs)
	if err != nil {
		t.Fatal(err)
	}
	if st.Epoch != 2 || st.Step != 6 || string(st.Callbacks["counter"]) != "6" || st.Optimizer == nil || st.Optimizer.Step != 6 {
		t.Fatalf("state epoch %d step %d callbacks %s optimizer %+v", st.Epoch, st.Step, st.Callbacks, st.Optimizer)
	}
	if !reflect.DeepEqual(st.Optimizer, inside.Optimizer) || !reflect.DeepEqual(st.Callbacks, inside.Callbacks) || st.Epoch != inside.Epoch || st.Step != inside.Step {
		t.Fatal("CaptureState after Fit differs from Capture at the last epoch's end")
	}
	// Metrics are a copy: later changes to the logs do not reach the state.
	logs["loss"] = -1
	if st.Metrics["loss"] == -1 || len(st.Metrics) == 0 {
		t.Fatalf("metrics %v", st.Metrics)
	}
	// Two stateful callbacks with one name cannot both be saved.
	if _, err := CaptureState(nil, []Callback{cnt, &counterCB{}}, 0, 0, nil); err == nil || !strings.Contains(err.Error(), `two stateful callbacks are named "counter"`) {
		t.Fatalf("duplicate names: err = %v", err)
	}
	if st, err := CaptureState(nil, nil, 0, 0, nil); err != nil || st.Optimizer != nil || st.Callbacks != nil || st.Epoch != 1 {
		t.Fatalf("nothing to capture: %+v, %v", st, err)
	}
}

// captureAtEnd calls Capture at the end of the last epoch.
type captureAtEnd struct {
	BaseCallback
	into *TrainingState
}

func (c *captureAtEnd) OnEpochEnd(ctx *Context) error {
	if ctx.Epoch != ctx.Epochs-1 {
		return nil
	}
	st, err := Capture(ctx)
	*c.into = st
	return err
}
