package graph

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strings"

	"github.com/pkg/errors"

	"github.com/g2g-ml/g2g/internal/npz"
	"github.com/g2g-ml/g2g/optim"
)

// Checkpoint files are NumPy .npz archives (see internal/npz), so
// numpy.load opens them. They hold:
//
//	param/<name>           float32, the parameter's shape (masked entries are 0)
//	mask/<name>            uint8 0/1, the shape of the masked parameter <name>
//	optim/<name>/<slot>    float32, optimizer state (e.g. Adam's m and v)
//	g2g_meta               uint8, UTF-8 JSON: format, version, epoch, step,
//	                       optimizer step and base LR, callback states, the
//	                       caller's config, last metrics, and the SHA-256 of
//	                       every array's data
//
// The archive's CRC-32s and the SHA-256s detect truncated or corrupted
// files; writes are atomic, so a failed save never destroys the previous file.
const (
	checkpointFormat  = "g2g-checkpoint"
	checkpointVersion = 1
	metaName          = "g2g_meta"
)

// Stateful is implemented by callbacks whose state a checkpoint must hold
// for a resumed run to continue exactly (for example rewiring statistics).
type Stateful interface {
	// Name identifies the callback's state in the checkpoint.
	Name() string
	// MarshalState returns the state as JSON.
	MarshalState() ([]byte, error)
	// UnmarshalState restores state returned by MarshalState.
	UnmarshalState(data []byte) error
}

// TrainingState is what a checkpoint holds besides the model's parameters
// and masks.
type TrainingState struct {
	// Epoch is the number of completed epochs: resume with
	// FitConfig.InitialEpoch = Epoch.
	Epoch int `json:"epoch"`
	// Step is the number of optimizer steps taken: resume with
	// FitConfig.InitialStep = Step.
	Step int `json:"step"`
	// Optimizer is the optimizer's state, or nil.
	Optimizer *optim.State `json:"-"`
	// Callbacks maps a Stateful callback's name to its state.
	Callbacks map[string]json.RawMessage `json:"callbacks,omitempty"`
	// Config is the caller's configuration (for example the command-line
	// flags), stored so a resume can check it matches.
	Config json.RawMessage `json:"config,omitempty"`
	// Metrics are the logs of the last completed epoch.
	Metrics map[string]float64 `json:"metrics,omitempty"`
}

type metaParam struct {
	Name   string `json:"name"`
	Shape  []int  `json:"shape"`
	Masked bool   `json:"masked"`
}

type metaOptim struct {
	Step   int                 `json:"step"`
	BaseLR float64             `json:"base_lr"`
	Slots  map[string][]string `json:"slots"`
}

type meta struct {
	Format    string            `json:"format"`
	Version   int               `json:"version"`
	Params    []metaParam       `json:"params"`
	Optimizer *metaOptim        `json:"optimizer,omitempty"`
	SHA256    map[string]string `json:"sha256"`
	TrainingState
}

// Capture returns the training state at the end of the epoch c describes:
// completed epochs, steps, the optimizer's state and the state of every
// Stateful callback of the run. Call it from OnEpochEnd; it is
// CaptureState(c.Optimizer, c.Callbacks, c.Epoch, c.Step, c.Logs).
func Capture(c *Context) (TrainingState, error) {
	return CaptureState(c.Optimizer, c.Callbacks, c.Epoch, c.Step, c.Logs)
}

// CaptureState returns the training state after epoch (0-based) has
// completed with step optimizer steps taken: Epoch is epoch+1, Step is
// step, Metrics a copy of logs, the state of opt (when not nil) and of
// every Stateful callback among cbs. It needs no running Fit: call it after
// Fit returns, for example, to save a final checkpoint with
// Model.SaveCheckpoint (which adds the model's parameters and masks).
func CaptureState(opt optim.Optimizer, cbs []Callback, epoch, step int, logs map[string]float64) (TrainingState, error) {
	st := TrainingState{Epoch: epoch + 1, Step: step, Metrics: map[string]float64{}}
	for k, v := range logs {
		st.Metrics[k] = v
	}
	if opt != nil {
		os := opt.State()
		st.Optimizer = &os
	}
	for _, cb := range cbs {
		s, ok := cb.(Stateful)
		if !ok {
			continue
		}
		data, err := s.MarshalState()
		if err != nil {
			return st, errors.Wrapf(err, "state of callback %s", s.Name())
		}
		if st.Callbacks == nil {
			st.Callbacks = map[string]json.RawMessage{}
		}
		if _, dup := st.Callbacks[s.Name()]; dup {
			return st, errors.Errorf("two stateful callbacks are named %q", s.Name())
		}
		st.Callbacks[s.Name()] = data
	}
	return st, nil
}

// Restore puts a loaded training state back into an optimizer and the
// Stateful callbacks among cbs. A callback whose state is missing from st,
// or a state without its callback, is an error: the resumed run would not
// continue the saved one.
func Restore(st TrainingState, opt optim.Optimizer, cbs []Callback) error {
	if st.Optimizer != nil && opt != nil {
		if err := opt.SetState(*st.Optimizer); err != nil {
			return errors.Wrap(err, "restore optimizer")
		}
	}
	used := map[string]bool{}
	for _, cb := range cbs {
		s, ok := cb.(Stateful)
		if !ok {
			continue
		}
		data, ok := st.Callbacks[s.Name()]
		if !ok {
			return errors.Errorf("restore: the checkpoint holds no state for callback %s", s.Name())
		}
		if err := s.UnmarshalState(data); err != nil {
			return errors.Wrapf(err, "restore callback %s", s.Name())
		}
		used[s.Name()] = true
	}
	for name := range st.Callbacks {
		if !used[name] {
			return errors.Errorf("restore: the checkpoint holds state for callback %s, which this run does not have", name)
		}
	}
	return nil
}

// SaveCheckpoint writes the model's parameters and masks and st to path,
// atomically.
func (m *Model) SaveCheckpoint(path string, st TrainingState) error {
	md := meta{Format: checkpointFormat, Version: checkpointVersion, SHA256: map[string]string{}, TrainingState: st}
	var arrays []npz.Array
	add := func(a npz.Array) {
		sum := sha256.Sum256(a.Data)
		md.SHA256[a.Name] = hex.EncodeToString(sum[:])
		arrays = append(arrays, a)
	}
	for _, p := range m.params {
		shape := []int(p.Value.Shape())
		add(npz.Float32("param/"+p.Name, p.Data(), shape...))
		md.Params = append(md.Params, metaParam{Name: p.Name, Shape: shape, Masked: p.Mask != nil})
		if p.Mask != nil {
			mk := make([]uint8, p.Mask.Len())
			for k, v := range p.Mask.Data() {
				if v != 0 {
					mk[k] = 1
				}
			}
			add(npz.Uint8("mask/"+p.Name, mk, shape...))
		}
	}
	if st.Optimizer != nil {
		mo := &metaOptim{Step: st.Optimizer.Step, BaseLR: st.Optimizer.BaseLR, Slots: map[string][]string{}}
		for _, name := range sortedKeys(st.Optimizer.Slots) {
			for _, slot := range sortedKeys(st.Optimizer.Slots[name]) {
				v := st.Optimizer.Slots[name][slot]
				add(npz.Float32("optim/"+name+"/"+slot, v, len(v)))
				mo.Slots[name] = append(mo.Slots[name], slot)
			}
		}
		md.Optimizer = mo
	}
	js, err := json.Marshal(md)
	if err != nil {
		return errors.Wrap(err, "checkpoint: encode metadata")
	}
	arrays = append(arrays, npz.Uint8(metaName, js, len(js)))
	return errors.Wrap(npz.Write(path, arrays), "checkpoint")
}

// LoadCheckpoint reads a checkpoint written by SaveCheckpoint into the model
// (parameters and masks, in place) and returns its training state. It checks
// the file's integrity and that its parameters match the model's exactly —
// names, shapes, dtypes, which ones are masked — and says what differs;
// every array's header is checked against the model before its data is
// read, and no array is read beyond the size the model gives it. Parameters
// must be finite and masked entries zero; optimizer state must be finite
// and valid (checkOptimizerSlot). On any error the model is left unchanged.
func (m *Model) LoadCheckpoint(path string) (TrainingState, error) {
	var values int64
	for _, p := range m.params {
		values += int64(p.Value.Shape().TotalSize())
	}
	c, err := openCheckpoint(path, values)
	if err != nil {
		return TrainingState{}, err
	}
	defer c.r.Close()
	return m.loadCheckpoint(c)
}

// loadCheckpoint is LoadCheckpoint on an open checkpoint whose metadata
// entry was bounded by the model's size.
func (m *Model) loadCheckpoint(c *checkpointFile) (TrainingState, error) {
	fail := func(format string, args ...interface{}) (TrainingState, error) {
		return TrainingState{}, c.errorf(format, args...)
	}
	md := c.md
	// Compare the parameter lists before reading any array.
	have := map[string]metaParam{}
	for _, p := range md.Params {
		have[p.Name] = p
	}
	var problems []string
	for _, p := range m.params {
		mp, ok := have[p.Name]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("parameter %q missing from the file", p.Name))
		case !reflect.DeepEqual(mp.Shape, []int(p.Value.Shape())):
			problems = append(problems, fmt.Sprintf("parameter %q has shape %v in the file, %v in the model", p.Name, mp.Shape, p.Value.Shape()))
		case mp.Masked != (p.Mask != nil):
			problems = append(problems, fmt.Sprintf("parameter %q is masked in only one of file and model", p.Name))
		}
		delete(have, p.Name)
	}
	for name := range have {
		problems = append(problems, fmt.Sprintf("parameter %q in the file is not in the model", name))
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return fail("does not match the model: %s", strings.Join(problems, "; "))
	}
	// The metadata matches the model: now the arrays' headers must match
	// the metadata.
	if _, err := c.checkArrays(); err != nil {
		return TrainingState{}, err
	}
	values32 := map[string][]float32{}
	masks := map[string][]uint8{}
	for _, p := range m.params {
		n := p.Value.Shape().TotalSize()
		a, err := c.read("param/"+p.Name, 4*n)
		if err != nil {
			return TrainingState{}, err
		}
		v, err := a.AsFloat32()
		if err != nil {
			return fail("%v", err)
		}
		if k := nonFinite(v); k >= 0 {
			return fail("parameter %q holds %v at index %d (array %q): parameters must be finite", p.Name, v[k], k, a.Name)
		}
		if p.Mask != nil {
			mk, err := c.read("mask/"+p.Name, n)
			if err != nil {
				return TrainingState{}, err
			}
			for k, b := range mk.Data {
				if b > 1 {
					return fail("mask of %q holds %d at %d, want 0 or 1", p.Name, b, k)
				}
				if b == 0 && v[k] != 0 {
					return fail("parameter %q is %v at masked position %d, want 0", p.Name, v[k], k)
				}
			}
			masks[p.Name] = mk.Data
		}
		values32[p.Name] = v
	}
	st := md.TrainingState
	if md.Optimizer != nil {
		os := optim.State{Step: md.Optimizer.Step, BaseLR: md.Optimizer.BaseLR, Slots: map[string]map[string][]float32{}}
		sizes := map[string]int{}
		for _, p := range m.params {
			sizes[p.Name] = p.Value.Shape().TotalSize()
		}
		for _, name := range sortedKeys(md.Optimizer.Slots) {
			os.Slots[name] = map[string][]float32{}
			for _, slot := range md.Optimizer.Slots[name] {
				a, err := c.read("optim/"+name+"/"+slot, 4*sizes[name])
				if err != nil {
					return TrainingState{}, err
				}
				v, err := a.AsFloat32()
				if err != nil {
					return fail("%v", err)
				}
				if err := checkOptimizerSlot(name, slot, v); err != nil {
					return fail("%v", err)
				}
				os.Slots[name][slot] = v
			}
		}
		st.Optimizer = &os
	}
	// Everything checked: write into the model.
	for _, p := range m.params {
		copy(p.Data(), values32[p.Name])
		if mk, ok := masks[p.Name]; ok {
			d := p.Mask.Data()
			for k, b := range mk {
				d[k] = float32(b)
			}
			if err := p.Mask.Recount(); err != nil {
				return fail("%v", err)
			}
		}
	}
	return st, nil
}

// nonFinite returns the index of the first NaN or infinite value of v, or
// -1.
func nonFinite(v []float32) int {
	for k, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return k
		}
	}
	return -1
}

// checkOptimizerSlot checks the values of one optimizer state slot of the
// named parameter as a checkpoint stores them: every value finite, and
// Adam's second moment (slot optim.SlotV, a running mean of squared
// gradients) not negative. It does not depend on the slot's length (an
// optimizer may keep state for a parameter's active entries only).
func checkOptimizerSlot(param, slot string, v []float32) error {
	if k := nonFinite(v); k >= 0 {
		return errors.Errorf("optimizer state of %q: slot %s holds %v at index %d, want finite values", param, slot, v[k], k)
	}
	if slot == optim.SlotV {
		for k, x := range v {
			if x < 0 {
				return errors.Errorf("optimizer state of %q: slot %s holds %v at index %d: Adam's second moment must not be negative", param, slot, x, k)
			}
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
