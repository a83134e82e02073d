package experiment

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/pkg/errors"

	"github.com/g2g-ml/g2g/examples/internal/runner"
	"github.com/g2g-ml/g2g/internal/atomicfile"
	"github.com/g2g-ml/g2g/internal/npz"
	"github.com/g2g-ml/g2g/layers"
)

// CellResult is the JSON file a finished cell leaves in
// OUT/runs/<dataset>/<method>/d<density>/seed<seed>.json.
type CellResult struct {
	Dataset string  `json:"dataset"`
	Method  string  `json:"method"`
	Density float64 `json:"density"`
	Seed    int64   `json:"seed"`
	Epochs  int     `json:"epochs"`
	Subset  int     `json:"subset,omitempty"`
	// Options are the runner options of the run.
	Options runner.Options `json:"options"`
	// Result is the runner's result (test accuracy, counts, timings).
	Result runner.Result `json:"result"`
	// History holds the per-epoch logs (loss, acc, val_loss, val_acc, lr,
	// epoch_seconds, rewiring statistics); non-finite values are left out.
	History []map[string]float64 `json:"history"`
	// WallSeconds is the run's wall-clock time, data loading included.
	WallSeconds float64 `json:"wall_seconds"`
	// MaskLayer names the first sparse layer and MaskFile (relative to the
	// JSON file's directory) holds its mask before and after training;
	// both are empty for dense.
	MaskLayer string `json:"mask_layer,omitempty"`
	MaskFile  string `json:"mask_file,omitempty"`
	// Finished is when the run ended.
	Finished time.Time `json:"finished"`
}

// Settings are what every cell of an output directory shares; they are
// stored in OUT/experiment.json.
type Settings struct {
	Dataset string `json:"dataset"`
	Epochs  int    `json:"epochs"`
	Subset  int    `json:"subset"`
	// Base holds the shared runner options (the per-cell ones zeroed).
	Base runner.Options `json:"base"`
}

// experimentFile is OUT/experiment.json: the settings and the last grid run
// in the directory (to list the cells it did not finish).
type experimentFile struct {
	Settings  Settings  `json:"settings"`
	Methods   []string  `json:"methods"`
	Densities []float64 `json:"densities"`
	Seeds     []int64   `json:"seeds"`
}

// settings returns g's shared settings.
func (g *Grid) settings() Settings {
	b := g.Base
	b.Model, b.Grouping, b.Density, b.Seed, b.Epochs, b.DST, b.Hebbian = "", "", 0, 0, 0, false, false
	return Settings{Dataset: g.Dataset, Epochs: g.Epochs, Subset: g.Subset, Base: b}
}

// Summary says what Run did.
type Summary struct {
	// Ran are the cells trained now, Done those found finished and
	// skipped, and NotStarted those left out by the time budget.
	Ran, Done, NotStarted []Cell
	// Files are the report's files (see Report).
	Files []string
	// Elapsed is Run's wall-clock time.
	Elapsed time.Duration
}

// Run validates g, then trains its unfinished cells one after the other
// into cfg.Out (see the package doc for the layout) and writes the report
// from every finished cell. With a time budget it stops starting cells once
// the budget is spent and lists them in the summary. If a cell fails, Run
// still writes the report of what finished and returns the cell's error.
// With cfg.Subprocess each cell runs in a child process; with cfg.Cell Run
// trains that one cell only (the child's side) and writes no report.
func Run(g Grid, cfg RunConfig) (*Summary, error) {
	start := time.Now()
	log := cfg.Log
	if log == nil {
		log = io.Discard
	}
	if cfg.Out == "" {
		return nil, errors.New("no output directory")
	}
	ds, err := dataset(g.Dataset)
	if err != nil {
		return nil, err
	}
	data := loader(ds, g.Subset)
	if cfg.Cell != "" {
		return runOnly(data, &g, cfg)
	}
	if err := g.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Out, 0o755); err != nil {
		return nil, err
	}
	if err := claim(cfg.Out, &g); err != nil {
		return nil, err
	}
	cells := g.Cells()
	sum := &Summary{}
	var runErr error
	for i, c := range cells {
		tag := fmt.Sprintf("[%d/%d] %s", i+1, len(cells), c)
		path := c.Path(cfg.Out, g.Dataset)
		if r, err := readCell(path + ".json"); err == nil {
			sum.Done = append(sum.Done, c)
			fmt.Fprintf(log, "%s: already done (%.2f %%), skipped\n", tag, 100*r.Result.TestAcc)
			continue
		} else if !os.IsNotExist(errors.Cause(err)) {
			runErr = err
			break
		}
		if cfg.TimeBudget > 0 && time.Since(start) > cfg.TimeBudget {
			sum.NotStarted = append(sum.NotStarted, c)
			continue
		}
		var r *CellResult
		var err error
		if cfg.Subprocess != nil {
			r, err = runChild(cfg.Subprocess, c, path)
		} else {
			r, err = runCell(data, &g, c, path)
		}
		if err != nil {
			runErr = errors.Wrapf(err, "%s (log: %s.log)", c, path)
			break
		}
		sum.Ran = append(sum.Ran, c)
		fmt.Fprintf(log, "%s: %.2f %% test accuracy, %.1f s/epoch, %.0f s\n", tag, 100*r.Result.TestAcc, r.Result.SecPerEpoch, r.WallSeconds)
	}
	if len(sum.NotStarted) > 0 {
		fmt.Fprintf(log, "time budget %v spent: %d of %d cells not started:", cfg.TimeBudget, len(sum.NotStarted), len(cells))
		for _, c := range sum.NotStarted {
			fmt.Fprintf(log, " %s;", c)
		}
		fmt.Fprintln(log)
	}
	files, err := Report(cfg.Out)
	sum.Files, sum.Elapsed = files, time.Since(start)
	if runErr != nil {
		return sum, runErr
	}
	if err != nil {
		return sum, err
	}
	return sum, nil
}

// runOnly trains the one cell cfg.Cell names, unless it is finished.
func runOnly(data *runner.Dataset, g *Grid, cfg RunConfig) (*Summary, error) {
	start := time.Now()
	c, err := g.cell(cfg.Cell)
	if err != nil {
		return nil, err
	}
	if err := g.validateCells([]Cell{c}); err != nil {
		return nil, err
	}
	sum := &Summary{}
	path := c.Path(cfg.Out, g.Dataset)
	if _, err := readCell(path + ".json"); err == nil {
		sum.Done = []Cell{c}
	} else if !os.IsNotExist(errors.Cause(err)) {
		return nil, err
	} else {
		if _, err := runCell(data, g, c, path); err != nil {
			return nil, err
		}
		sum.Ran = []Cell{c}
	}
	sum.Elapsed = time.Since(start)
	return sum, nil
}

// runChild trains cell c in a child process, command -cell KEY, and reads
// the result it wrote.
func runChild(command []string, c Cell, path string) (*CellResult, error) {
	cmd := exec.Command(command[0], append(append([]string(nil), command[1:]...), "-cell", c.Key())...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(out.String())
		if i := strings.LastIndexByte(msg, '\n'); i >= 0 {
			msg = msg[i+1:]
		}
		return nil, errors.Errorf("child process: %v: %s", err, msg)
	}
	return readCell(path + ".json")
}

// claim checks that out holds no runs with other settings than g's and
// records g's settings and lists in out/experiment.json.
func claim(out string, g *Grid) error {
	path := filepath.Join(out, "experiment.json")
	now := g.settings()
	if raw, err := os.ReadFile(path); err == nil {
		var old experimentFile
		if err := json.Unmarshal(raw, &old); err != nil {
			return errors.Wrapf(err, "%s", path)
		}
		if diff := settingsDiff(old.Settings, now); diff != "" {
			return errors.Errorf("%s holds runs with other settings (%s): use another -out, or delete it", out, diff)
		}
	} else if !os.IsNotExist(err) {
		return err
	}
	ef := experimentFile{Settings: now, Methods: g.Methods, Densities: g.Densities, Seeds: g.Seeds}
	return writeJSON(path, ef)
}

// settingsDiff lists the settings that differ, as "name old (in OUT) vs
// new (now)".
func settingsDiff(old, now Settings) string {
	flat := func(s Settings) map[string]interface{} {
		m := map[string]interface{}{}
		raw, _ := json.Marshal(s.Base)
		json.Unmarshal(raw, &m)
		m["dataset"], m["epochs"], m["subset"] = s.Dataset, float64(s.Epochs), float64(s.Subset)
		return m
	}
	a, b := flat(old), flat(now)
	var diffs []string
	for k, v := range b {
		if !reflect.DeepEqual(a[k], v) {
			diffs = append(diffs, fmt.Sprintf("%s %v (in the directory) vs %v (now)", k, a[k], v))
		}
	}
	sort.Strings(diffs)
	return strings.Join(diffs, ", ")
}

// runCell trains cell c and writes its mask file and, last, its JSON file.
func runCell(ds *runner.Dataset, g *Grid, c Cell, path string) (*CellResult, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	o := g.Options(c)
	var before *layers.Mask
	var layer string
	if c.Method.Sparse() {
		// Masks depend only on the options and the seed: a fresh model
		// holds the mask the run starts from.
		m, err := runner.BuildModel(ds, &o)
		if err != nil {
			return nil, err
		}
		if sl := m.SparseLayers(); len(sl) > 0 {
			before, layer = sl[0].Mask().Clone(), sl[0].Name()
		}
	}
	logf, err := os.Create(path + ".log")
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	start := time.Now()
	res, err := runner.Run(ds, o, logf, logf)
	if err != nil {
		return nil, err
	}
	r := &CellResult{
		Dataset: g.Dataset, Method: c.Method.Name, Density: c.Density, Seed: c.Seed,
		Epochs: g.Epochs, Subset: g.Subset, Options: o, Result: *res,
		History: finite(res.History), WallSeconds: time.Since(start).Seconds(),
	}
	if before != nil {
		after := res.Trained.SparseLayers()[0].Mask()
		r.MaskLayer, r.MaskFile = layer, filepath.Base(path)+".masks.npz"
		if err := writeMasks(path+".masks.npz", before, after); err != nil {
			return nil, err
		}
	}
	r.Result.Trained, r.Result.History = nil, nil
	r.Finished = time.Now().UTC().Truncate(time.Second)
	return r, writeJSON(path+".json", r)
}

// finite returns a copy of the history without NaN and infinite values,
// which JSON cannot hold.
func finite(h []map[string]float64) []map[string]float64 {
	out := make([]map[string]float64, len(h))
	for i, e := range h {
		out[i] = map[string]float64{}
		for k, v := range e {
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				out[i][k] = v
			}
		}
	}
	return out
}

func writeJSON(path string, v interface{}) error {
	raw, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return errors.Wrapf(err, "encode %s", path)
	}
	return atomicfile.Write(path, func(w io.Writer) error {
		_, err := w.Write(append(raw, '\n'))
		return err
	})
}

// readCell reads a cell's JSON file; a missing file gives an error for
// which os.IsNotExist(errors.Cause(err)) holds.
func readCell(path string) (*CellResult, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, errors.WithStack(err)
	}
	var r CellResult
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, errors.Errorf("%s is not a cell result (%v): delete it to run the cell again", path, err)
	}
	return &r, nil
}

// writeMasks stores a layer's mask before and after training, with its
// ensemble assignments, as an .npz file: before and after (uint8 0/1,
// shape in × out), in_group and out_group (float32).
func writeMasks(path string, before, after *layers.Mask) error {
	bits := func(m *layers.Mask) []uint8 {
		b := make([]uint8, m.Len())
		for k, v := range m.Data() {
			if v != 0 {
				b[k] = 1
			}
		}
		return b
	}
	groups := func(g []int) []float32 {
		f := make([]float32, len(g))
		for i, v := range g {
			f[i] = float32(v)
		}
		return f
	}
	return npz.Write(path, []npz.Array{
		npz.Uint8("before", bits(before), before.In, before.Out),
		npz.Uint8("after", bits(after), after.In, after.Out),
		npz.Float32("in_group", groups(before.InGroup), before.In),
		npz.Float32("out_group", groups(before.OutGroup), before.Out),
	})
}

// readMasks reads a file written by writeMasks.
func readMasks(path string) (before, after *layers.Mask, err error) {
	arrays, err := npz.Read(path)
	if err != nil {
		return nil, nil, err
	}
	b, a := arrays["before"], arrays["after"]
	if len(b.Shape) != 2 || !reflect.DeepEqual(b.Shape, a.Shape) {
		return nil, nil, errors.Errorf("%s: want before and after masks of one 2-d shape, got %v and %v", path, b.Shape, a.Shape)
	}
	in, out := b.Shape[0], b.Shape[1]
	ig, err := arrays["in_group"].AsFloat32()
	if err != nil {
		return nil, nil, errors.Wrap(err, path)
	}
	og, err := arrays["out_group"].AsFloat32()
	if err != nil {
		return nil, nil, errors.Wrap(err, path)
	}
	ints := func(f []float32) []int {
		g := make([]int, len(f))
		for i, v := range f {
			g[i] = int(v)
		}
		return g
	}
	mk := func(data []byte) (*layers.Mask, error) {
		m, err := layers.NewMask(in, out, ints(ig), ints(og))
		if err != nil {
			return nil, err
		}
		if len(data) != in*out {
			return nil, errors.Errorf("%d mask entries for shape (%d, %d)", len(data), in, out)
		}
		for k, v := range data {
			if v != 0 {
				m.Set(k)
			}
		}
		return m, nil
	}
	if before, err = mk(b.Data); err != nil {
		return nil, nil, errors.Wrap(err, path)
	}
	if after, err = mk(a.Data); err != nil {
		return nil, nil, errors.Wrap(err, path)
	}
	return before, after, nil
}
