package graph

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

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
// checkpoint of a known format and version and that the header of every
// array (its dtype and shape) agrees with the metadata; it reads no array
// data, so it does not verify the checksums: Model.LoadCheckpoint checks
// those when it loads the arrays.
func ReadCheckpointInfo(path string) (CheckpointInfo, error) {
	c, err := openCheckpoint(path, -1)
	if err != nil {
		return CheckpointInfo{}, err
	}
	defer c.r.Close()
	if _, err := c.checkArrays(); err != nil {
		return CheckpointInfo{}, err
	}
	md := c.md
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

// metaLimit bounds the metadata entry of a checkpoint of a model of values
// parameter values: 16 MiB for the fixed part and 64 bytes per value for
// the callbacks' states, which hold up to two numbers per weight (DST's
// gradient sums as float32, Hebbian's Σx·y as float64: at most 40 bytes of
// JSON together).
func metaLimit(values int64) int64 { return 16<<20 + 64*values }

// maxSlots bounds the optimizer state slots per parameter a checkpoint may
// hold (Adam has 2, SGD with momentum 1).
const maxSlots = 8

// checkpointFile is an open checkpoint and its decoded metadata.
type checkpointFile struct {
	path string
	r    *npz.Reader
	md   meta
}

func (c *checkpointFile) errorf(format string, args ...interface{}) error {
	return errors.Errorf("checkpoint %s: %s", c.path, fmt.Sprintf(format, args...))
}

// openCheckpoint opens the archive at path and decodes its metadata (see
// readMeta). Errors name the file; the caller closes c.r.
func openCheckpoint(path string, values int64) (*checkpointFile, error) {
	r, err := npz.Open(path)
	if err != nil {
		return nil, errors.Wrap(err, "checkpoint")
	}
	c, err := readMeta(r, values)
	if err != nil {
		r.Close()
		return nil, err
	}
	return c, nil
}

// readMeta decodes the metadata of the checkpoint r reads, checking the
// format and version. The metadata entry is read only if it is at most
// metaLimit(values) bytes; values < 0 takes the number of values the
// parameter arrays' headers announce. Errors name r's file.
func readMeta(r *npz.Reader, values int64) (*checkpointFile, error) {
	c := &checkpointFile{path: r.Path(), r: r}
	if !r.Has(metaName) {
		return nil, c.errorf("no %s entry: not a g2g checkpoint", metaName)
	}
	if values < 0 {
		values = 0
		for _, name := range r.Names() {
			if !strings.HasPrefix(name, "param/") {
				continue
			}
			h, err := r.Header(name)
			if err != nil {
				return nil, errors.Wrap(err, "checkpoint")
			}
			values += int64(h.Len())
		}
	}
	raw, err := r.Read(metaName, metaLimit(values))
	if err != nil {
		return nil, errors.Wrap(err, "checkpoint")
	}
	if raw.Dtype != "|u1" && raw.Dtype != "<u1" {
		return nil, c.errorf("metadata %q has dtype %s, want |u1", metaName, raw.Dtype)
	}
	if err := json.Unmarshal(raw.Data, &c.md); err != nil {
		return nil, c.errorf("metadata is not valid JSON: %v", err)
	}
	if c.md.Format != checkpointFormat || c.md.Version != checkpointVersion {
		return nil, c.errorf("format %q version %d, want %q version %d", c.md.Format, c.md.Version, checkpointFormat, checkpointVersion)
	}
	return c, nil
}

// expected describes an array a checkpoint must hold: its dtype and shape
// (for optimizer slots, one dimension of at most maxLen values).
type expected struct {
	dtype  string
	shape  []int
	slot   bool
	maxLen int
}

// checkArrays checks that the archive holds exactly the arrays the
// metadata lists — a param/ array per parameter, a mask/ array per masked
// one, the optimizer's slots, each with a checksum — and that each array's
// header has the dtype and shape the metadata gives it, before any array
// data is read. It returns the expected arrays by name.
func (c *checkpointFile) checkArrays() (map[string]expected, error) {
	md := c.md
	want := map[string]expected{}
	sizes := map[string]int{}
	for _, p := range md.Params {
		n := 1
		for _, d := range p.Shape {
			if d < 0 || (d > 0 && n > npz.MaxEntryBytes/4/d) {
				return nil, c.errorf("parameter %q has shape %v in the metadata", p.Name, p.Shape)
			}
			n *= d
		}
		if _, dup := sizes[p.Name]; dup {
			return nil, c.errorf("parameter %q is listed twice in the metadata", p.Name)
		}
		sizes[p.Name] = n
		want["param/"+p.Name] = expected{dtype: "<f4", shape: p.Shape}
		if p.Masked {
			want["mask/"+p.Name] = expected{dtype: "|u1", shape: p.Shape}
		}
	}
	if md.Optimizer != nil {
		for _, name := range sortedKeys(md.Optimizer.Slots) {
			n, ok := sizes[name]
			if !ok {
				return nil, c.errorf("the metadata lists optimizer state for %q, which is not a parameter of the checkpoint", name)
			}
			slots := md.Optimizer.Slots[name]
			if len(slots) > maxSlots {
				return nil, c.errorf("parameter %q has %d optimizer slots, at most %d are allowed", name, len(slots), maxSlots)
			}
			for _, slot := range slots {
				if slot == "" || strings.Contains(slot, "/") {
					return nil, c.errorf("parameter %q has an optimizer slot named %q", name, slot)
				}
				want["optim/"+name+"/"+slot] = expected{dtype: "<f4", slot: true, maxLen: n}
			}
		}
	}
	for _, name := range c.r.Names() {
		if name == metaName {
			continue
		}
		if _, ok := want[name]; !ok {
			return nil, c.errorf("array %q is not one the metadata lists", name)
		}
		if _, ok := md.SHA256[name]; !ok {
			return nil, c.errorf("array %q has no checksum in the metadata", name)
		}
	}
	for _, name := range sortedKeys(want) {
		e := want[name]
		if !c.r.Has(name) {
			return nil, c.errorf("array %q is missing (truncated file?)", name)
		}
		h, err := c.r.Header(name)
		if err != nil {
			return nil, errors.Wrap(err, "checkpoint")
		}
		switch {
		case e.slot:
			if h.Dtype != e.dtype || len(h.Shape) != 1 || h.Shape[0] > e.maxLen {
				return nil, c.errorf("array %q has shape %v and dtype %s, want one dimension of at most %d values and dtype %s",
					name, h.Shape, h.Dtype, e.maxLen, e.dtype)
			}
		case h.Dtype != e.dtype || !slices.Equal(h.Shape, e.shape):
			return nil, c.errorf("array %q has shape %v and dtype %s in the file, but the metadata says %v and %s",
				name, h.Shape, h.Dtype, e.shape, e.dtype)
		}
	}
	return want, nil
}

// read reads a checked array: its data, bounded by its header's size, and
// verified against the metadata's SHA-256.
func (c *checkpointFile) read(name string, bytes int) (npz.Array, error) {
	a, err := c.r.Read(name, int64(bytes))
	if err != nil {
		return a, errors.Wrap(err, "checkpoint")
	}
	sum := sha256.Sum256(a.Data)
	if hex.EncodeToString(sum[:]) != c.md.SHA256[name] {
		return a, c.errorf("array %q fails its SHA-256 check (corrupted file)", name)
	}
	return a, nil
}
