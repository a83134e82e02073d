package experiment

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"runtime/debug"
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
	// Run says where and how the cell ran: host, process, command line,
	// scheduler job, start and end (absent in results of older versions).
	Run *RunInfo `json:"run,omitempty"`
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
	// Locked are the cells skipped because another runner holds their
	// lock (it is training them).
	Locked []Cell
	// Queued are the cells that a Slurm job array submitted earlier still
	// holds, pending or running: they are not submitted again.
	Queued []Cell
	// Submitted are the cells submitted to Slurm as job array JobID (in a
	// dry run, those that would be; JobID is then empty).
	Submitted []Cell
	JobID     string
	// Script is the Slurm job script, submitted or (dry run) not.
	Script string
	// Files are the report's files (see Report).
	Files []string
	// Elapsed is Run's wall-clock time.
	Elapsed time.Duration
}

// plan is a grid on its way through Run.
type plan struct {
	g     *Grid
	cfg   RunConfig
	cells []Cell // the whole grid, in order: a cell's index is its -cell-index
	todo  []int  // indices of the unfinished cells
	data  *runner.Dataset
	log   io.Writer
	start time.Time
	sum   *Summary
}

// tag names cell i in the log: "[3/12] g2g-index d=0.25 seed 1".
func (p *plan) tag(i int) string {
	return fmt.Sprintf("[%d/%d] %s", i+1, len(p.cells), p.cells[i])
}

// path returns the file path of cell i without extension.
func (p *plan) path(i int) string { return p.cells[i].Path(p.cfg.Out, p.g.Dataset) }

// Run validates g, then trains its unfinished cells into cfg.Out (see the
// package doc for the layout) with the executor cfg.Executor names and
// writes the report from every finished cell.
//
// The local executor trains cfg.Jobs cells at once (one by default), each
// in a child process when cfg.Subprocess is set; with a time budget it
// stops starting cells once the budget is spent and lists them in the
// summary. If a cell fails, no new cell starts; Run still writes the
// report of what finished and returns the cell's error. The slurm executor
// submits the unfinished cells as one job array (see the package doc) and
// writes the report only with cfg.Wait, once the array has ended.
//
// What can be checked is checked before anything runs or is submitted:
// the grid, the executor's options, that OUT holds no runs with other
// settings and can be written, and that the data loads (so a grid that
// fails on its data does not claim OUT for its settings). With cfg.Cell
// Run trains that one cell only (the child's and the array task's side)
// and writes no report.
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
		return runOnly(data, &g, cfg, log)
	}
	if err := g.Validate(); err != nil {
		return nil, err
	}
	if err := checkExecutor(&cfg); err != nil {
		return nil, err
	}
	if err := checkOut(cfg.Out); err != nil {
		return nil, err
	}
	p := &plan{g: &g, cfg: cfg, cells: g.Cells(), data: data, log: log, start: start, sum: &Summary{}}
	var done []string
	for i, c := range p.cells {
		if r, err := readCell(p.path(i) + ".json"); err == nil {
			p.sum.Done = append(p.sum.Done, c)
			done = append(done, fmt.Sprintf("%s: already done (%.2f %%), skipped\n", p.tag(i), 100*r.Result.TestAcc))
		} else if os.IsNotExist(errors.Cause(err)) {
			p.todo = append(p.todo, i)
		} else {
			return nil, err
		}
	}
	if err := checkClaim(cfg.Out, &g); err != nil {
		return nil, err
	}
	if cfg.Executor == ExecutorSlurm {
		return runSlurm(p, done)
	}
	created, err := prepareOut(cfg.Out)
	if err == nil && len(p.todo) > 0 {
		err = p.checkData()
	}
	if err == nil {
		err = writeClaim(cfg.Out, &g)
	}
	if err != nil {
		if created {
			os.Remove(cfg.Out) // only if still empty
		}
		return nil, err
	}
	p.logHead(done)
	runErr := runLocal(p)
	return p.finish(runErr)
}

// logHead logs, once every check has passed, the grid's size and the
// cells found done.
func (p *plan) logHead(done []string) {
	fmt.Fprintf(p.log, "experiment: %d cells into %s (executor %s)\n", len(p.cells), p.cfg.Out, p.cfg.Executor)
	for _, line := range done {
		fmt.Fprint(p.log, line)
	}
}

// finish writes the report of every finished cell and completes the
// summary; runErr, the run's error, takes precedence over the report's.
func (p *plan) finish(runErr error) (*Summary, error) {
	files, err := Report(p.cfg.Out)
	p.sum.Files, p.sum.Elapsed = files, time.Since(p.start)
	if runErr != nil {
		return p.sum, runErr
	}
	return p.sum, err
}

// checkData loads the data once, as the cells will, so that a grid whose
// data is missing or too small (a -subset larger than the training set)
// fails before it claims the output directory or submits anything. Cells
// trained in this process keep the loaded data; otherwise it is dropped.
func (p *plan) checkData() error {
	data := p.data
	if p.cfg.Subprocess != nil {
		ds, err := dataset(p.g.Dataset)
		if err != nil {
			return err
		}
		data = loader(ds, p.g.Subset)
		defer debug.FreeOSMemory()
	}
	o := p.g.Options(p.cells[p.todo[0]])
	if _, _, _, err := data.Load(&o, io.Discard); err != nil {
		return errors.Wrap(err, "data")
	}
	return nil
}

// checkOut refuses an output path that cannot be a directory: one that
// exists and is no directory, or cannot be looked at.
func checkOut(out string) error {
	st, err := os.Stat(out)
	switch {
	case err == nil && !st.IsDir():
		return errors.Errorf("-out %s: not a directory", out)
	case err != nil && !os.IsNotExist(err):
		if pe, ok := err.(*os.PathError); ok {
			err = pe.Err
		}
		return errors.Errorf("-out %s: %v", out, err)
	}
	return nil
}

// prepareOut creates the output directory if needed (reporting whether it
// did) and checks that files can be created in it.
func prepareOut(out string) (created bool, err error) {
	st, err := os.Stat(out)
	switch {
	case err == nil && !st.IsDir():
		return false, errors.Errorf("-out %s: not a directory", out)
	case os.IsNotExist(err):
		if err := os.MkdirAll(out, 0o755); err != nil {
			return false, errors.Errorf("-out %s: cannot create the output directory: %v", out, err)
		}
		created = true
	case err != nil:
		return false, errors.Errorf("-out %s: %v", out, err)
	}
	f, err := os.CreateTemp(out, ".write-test-*")
	if err != nil {
		return created, errors.Errorf("-out %s: the output directory is not writable: %v", out, err)
	}
	f.Close()
	os.Remove(f.Name())
	return created, nil
}

// runOnly trains the one cell cfg.Cell names, unless it is finished or
// another process holds its lock (then it says so on log and succeeds).
func runOnly(data *runner.Dataset, g *Grid, cfg RunConfig, log io.Writer) (*Summary, error) {
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
		sum.Elapsed = time.Since(start)
		return sum, nil
	} else if !os.IsNotExist(errors.Cause(err)) {
		return nil, err
	}
	// A lone task (an array runner's, with no parent that claimed OUT)
	// must not mix settings either.
	if err := checkClaim(cfg.Out, g); err != nil {
		return nil, err
	}
	info := thisRun()
	lk := adoptLock(path, info)
	if lk == nil {
		if lk, err = lockCell(path, info); errors.Cause(err) == errLocked {
			fmt.Fprintf(log, "%s: %v: skipped\n", c, err)
			sum.Locked = []Cell{c}
			sum.Elapsed = time.Since(start)
			return sum, nil
		} else if err != nil {
			return nil, err
		}
	}
	defer lk.release()
	if w := lk.warning(); w != "" {
		fmt.Fprintf(log, "%s: %s\n", c, w)
	}
	// The lock is ours: the cell may have finished while another held it.
	if _, err := readCell(path + ".json"); err == nil {
		sum.Done = []Cell{c}
	} else {
		if _, err := runCell(data, g, c, path, info); err != nil {
			writeFailure(path, info, err.Error())
			return nil, err
		}
		// Claimed only now that a cell trained: an array task that fails on
		// its data leaves OUT free for the corrected grid.
		if err := writeClaimIfNone(cfg.Out, g); err != nil {
			return nil, err
		}
		sum.Ran = []Cell{c}
	}
	sum.Elapsed = time.Since(start)
	return sum, nil
}

// claimPath is OUT/experiment.json.
func claimPath(out string) string { return filepath.Join(out, "experiment.json") }

// checkClaim refuses an output directory that holds runs with other
// settings than g's; it writes nothing.
func checkClaim(out string, g *Grid) error {
	path := claimPath(out)
	raw, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	} else if err != nil {
		return errors.WithStack(err)
	}
	var old experimentFile
	if err := json.Unmarshal(raw, &old); err != nil {
		return errors.Wrapf(err, "%s", path)
	}
	if diff := settingsDiff(old.Settings, g.settings()); diff != "" {
		return errors.Errorf("%s holds runs with other settings (%s): use another -out, or delete it", out, diff)
	}
	return nil
}

// writeClaim records g's settings and lists in OUT/experiment.json (after
// checkClaim accepted the directory).
func writeClaim(out string, g *Grid) error {
	ef := experimentFile{Settings: g.settings(), Methods: g.Methods, Densities: g.Densities, Seeds: g.Seeds}
	return writeJSON(claimPath(out), ef)
}

// writeClaimIfNone writes the claim when OUT has none yet.
func writeClaimIfNone(out string, g *Grid) error {
	if _, err := os.Stat(claimPath(out)); err == nil {
		return nil
	}
	return writeClaim(out, g)
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

// runCell trains cell c and writes its mask file and, last, its JSON file,
// which records info (the run's host, process, command and start) with the
// end time. A failure record of an earlier attempt is removed.
func runCell(ds *runner.Dataset, g *Grid, c Cell, path string, info RunInfo) (*CellResult, error) {
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
	end := time.Now().UTC()
	r.Finished = end.Truncate(time.Second)
	info.Ended = end.Truncate(time.Millisecond)
	r.Run = &info
	if err := writeJSON(path+".json", r); err != nil {
		return nil, err
	}
	os.Remove(failurePath(path))
	return r, nil
}

// Failure is the record a failed cell leaves in
// OUT/runs/.../seed<seed>.failed (JSON), for the status view; it is removed
// when the cell later succeeds. A cell killed outright (SIGKILL, a
// scheduler's time limit) leaves none unless its parent process writes it.
type Failure struct {
	// Error is the error, or how the process ended.
	Error string `json:"error"`
	// Run is the failed run, Run.Ended when it ended.
	Run RunInfo `json:"run"`
}

// failurePath is the failure record of the cell whose files start with path.
func failurePath(path string) string { return path + ".failed" }

// writeFailure records that the cell whose files start with path failed
// with msg in the run info describes; it is best effort (the error that
// caused it is what gets reported).
func writeFailure(path string, info RunInfo, msg string) {
	info.Ended = time.Now().UTC().Truncate(time.Millisecond)
	if os.MkdirAll(filepath.Dir(path), 0o755) == nil {
		writeJSON(failurePath(path), Failure{Error: msg, Run: info})
	}
}

// readFailure reads a cell's failure record (nil if there is none).
func readFailure(path string) *Failure {
	raw, err := os.ReadFile(failurePath(path))
	if err != nil {
		return nil
	}
	var f Failure
	if json.Unmarshal(raw, &f) != nil {
		return &Failure{Error: "unreadable failure record " + failurePath(path)}
	}
	return &f
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
