package experiment

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"

	"github.com/pkg/errors"

	"github.com/g2g-ml/g2g/callbacks"
	"github.com/g2g-ml/g2g/datasets"
	"github.com/g2g-ml/g2g/examples/internal/report"
	"github.com/g2g-ml/g2g/examples/internal/runner"
	"github.com/g2g-ml/g2g/graph/g2gnet"
	"github.com/g2g-ml/g2g/layers"
)

// Method is one model variant of a grid, parsed from its name:
//
//	dense                      the dense baseline (density ignored: one cell per seed)
//	dense-matched              dense, hidden widths narrowed so that the active
//	                           parameters are within 1 % of the G2G model's at
//	                           the cell's density (g2gnet.DenseMatched)
//	er                         unstructured random masks with exactly the edges of
//	                           the G2G model's layers, layer by layer (g2gnet.ER)
//	erk                        unstructured random masks with Erdős–Rényi-Kernel
//	                           densities and the G2G model's total (g2gnet.ERK)
//	g2g-<grouping>             static G2G masks; grouping index, random or mixer
//	blocks-<grouping>          ensemble-level G2G (whole blocks, -sampling blocks)
//	<sparse>+dst               dynamic sparse training (prune and regrow criteria from
//	                           the base options: magnitude / random by default)
//	<sparse>+hebbian           Hebbian rewiring
//	<sparse>+dst-hebbian       DST with Hebbian regrowth (the paper's combination)
//	<sparse>+dst-<P>-<R>       DST pruning by P (magnitude, random or hebbian) and
//	                           regrowing by R (random, gradient or hebbian),
//	                           whatever the base options say: the ablation grid
//
// where <sparse> is er, erk, g2g-<grouping> or blocks-<grouping>. The G2G
// model the baselines are matched to is that of the base options (-groups,
// -intra, -sampling; index grouping) at the cell's density and seed.
type Method struct {
	// Name is the method's name, e.g. "g2g-index+dst".
	Name string
	// Model is the kind of hidden layers; Grouping and Sampling are the G2G
	// options ("" for the base options').
	Model    g2gnet.Kind
	Grouping layers.Grouping
	Sampling layers.Sampling
	// DST and Hebbian select the rewiring; HebbianRegrow makes DST regrow
	// by Hebbian score.
	DST, Hebbian, HebbianRegrow bool
	// Prune and Regrow, when set, are DST's criteria for this method,
	// overriding the base options (+dst-<P>-<R>).
	Prune, Regrow callbacks.Criterion
}

// Sparse reports whether the method has masks (everything but dense and
// dense-matched).
func (m Method) Sparse() bool { return m.Model.Sparse() }

// Rewired reports whether the masks change during training.
func (m Method) Rewired() bool { return m.DST || m.Hebbian }

// PerDensity reports whether the method has a cell per density: every
// method but dense, whose one cell per seed has density 1.
func (m Method) PerDensity() bool { return m.Model != g2gnet.Dense }

// methodHelp lists the method names ParseMethod accepts.
const methodHelp = "want dense, dense-matched, er, erk, g2g-<grouping> or blocks-<grouping> with grouping index, random or mixer, " +
	"the sparse ones (all but dense and dense-matched) optionally followed by +dst, +hebbian, +dst-hebbian or " +
	"+dst-<prune>-<regrow> (prune magnitude, random or hebbian; regrow random, gradient or hebbian), e.g. g2g-index+dst, er+dst-random-hebbian"

// ParseMethod parses a method name (see [Method]).
func ParseMethod(name string) (Method, error) {
	m := Method{Name: name}
	base, rewire, plus := strings.Cut(name, "+")
	switch base {
	case report.DenseMethod:
		m.Model = g2gnet.Dense
	case string(g2gnet.DenseMatched):
		m.Model = g2gnet.DenseMatched
	case string(g2gnet.ER):
		m.Model = g2gnet.ER
	case string(g2gnet.ERK):
		m.Model = g2gnet.ERK
	default:
		kind, grouping, ok := strings.Cut(base, "-")
		if !ok || (kind != "g2g" && kind != "blocks") {
			return m, errors.Errorf("unknown method %q: %s", name, methodHelp)
		}
		g, err := layers.ParseGrouping(grouping)
		if err != nil {
			return m, errors.Wrapf(err, "unknown method %q", name)
		}
		m.Model, m.Grouping = g2gnet.G2G, g
		if kind == "blocks" {
			m.Sampling = layers.SampleBlocks
		}
	}
	if plus && !m.Model.Sparse() {
		return m, errors.Errorf("unknown method %q: %s has no masks to rewire", name, base)
	}
	switch rewire {
	case "":
		if plus {
			return m, errors.Errorf("unknown method %q: nothing after the +", name)
		}
	case "dst":
		m.DST = true
	case "hebbian":
		m.Hebbian = true
	case "dst-hebbian":
		m.DST, m.HebbianRegrow = true, true
	default:
		rule, ok := strings.CutPrefix(rewire, "dst-")
		prune, regrow, ok2 := strings.Cut(rule, "-")
		if !ok || !ok2 {
			return m, errors.Errorf("unknown method %q: rewiring %q is not dst, hebbian, dst-hebbian or dst-<prune>-<regrow>", name, "+"+rewire)
		}
		switch callbacks.Criterion(prune) {
		case callbacks.CriterionMagnitude, callbacks.CriterionRandom, callbacks.CriterionHebbian:
		default:
			return m, errors.Errorf("unknown method %q: DST prunes by magnitude, random or hebbian, not %q", name, prune)
		}
		switch callbacks.Criterion(regrow) {
		case callbacks.CriterionRandom, callbacks.CriterionGradient, callbacks.CriterionHebbian:
		default:
			return m, errors.Errorf("unknown method %q: DST regrows by random, gradient or hebbian, not %q", name, regrow)
		}
		m.DST, m.Prune, m.Regrow = true, callbacks.Criterion(prune), callbacks.Criterion(regrow)
	}
	return m, nil
}

// Grid is an experiment: every method at every density with every seed, on
// one data set, with shared training settings.
type Grid struct {
	// Dataset names the data set (see runner.Datasets): fashion-mnist,
	// mnist, cifar10 or cifar100.
	Dataset string
	// Methods are method names (see [Method]).
	Methods []string
	// Densities are the fractions of edges kept, each in (0, 1]; the dense
	// method ignores them.
	Densities []float64
	// Seeds are the seeds; each cell is run once per seed.
	Seeds []int64
	// Epochs is the number of training epochs of every cell.
	Epochs int
	// Subset, when positive, trains on the first Subset training samples
	// only (the test set is always whole).
	Subset int
	// Base holds the shared training options (batch, lr, hidden, groups,
	// rewiring knobs, data location). Its Model, Grouping, Density, Seed,
	// Epochs, DST and Hebbian are set per cell (and Prune and Regrow for the
	// +dst-<P>-<R> methods); its Sampling must be exact
	// or bernoulli (use the blocks-<grouping> methods for blocks) and its
	// Regrow not hebbian (use the +dst-hebbian methods).
	Base runner.Options
}

// Cell is one run of a grid: a method at a density with a seed.
type Cell struct {
	Method Method
	// Density is the cell's density: 1 for dense.
	Density float64
	Seed    int64
}

// String names the cell, e.g. "g2g-index d=0.25 seed 1".
func (c Cell) String() string {
	return fmt.Sprintf("%s d=%s seed %d", c.Method.Name, formatDensity(c.Density), c.Seed)
}

// Path returns the cell's file path under out without extension:
// out/runs/<dataset>/<method>/d<density>/seed<seed>.
func (c Cell) Path(out, dataset string) string {
	return fmt.Sprintf("%s/runs/%s/%s/d%s/seed%d", out, dataset, c.Method.Name, formatDensity(c.Density), c.Seed)
}

// Key identifies the cell on a command line: METHOD/DENSITY/SEED, e.g.
// "g2g-index+dst/0.25/1" (see RunConfig.Cell).
func (c Cell) Key() string {
	return fmt.Sprintf("%s/%s/%d", c.Method.Name, formatDensity(c.Density), c.Seed)
}

// cell returns the cell of g with the given key.
func (g *Grid) cell(key string) (Cell, error) {
	for _, c := range g.Cells() {
		if c.Key() == key {
			return c, nil
		}
	}
	return Cell{}, errors.Errorf("-cell %q: not a cell of the grid (want METHOD/DENSITY/SEED, e.g. dense/1/1)", key)
}

// formatDensity formats a density the way file names and tables show it.
func formatDensity(d float64) string { return strconv.FormatFloat(d, 'g', 6, 64) }

// Options returns the runner options of cell c of g.
func (g *Grid) Options(c Cell) runner.Options {
	o := g.Base
	o.Epochs, o.Seed = g.Epochs, c.Seed
	o.Model, o.DST, o.Hebbian = c.Method.Model, c.Method.DST, c.Method.Hebbian
	if c.Method.PerDensity() {
		o.Density = c.Density
		if c.Method.Grouping != "" {
			o.Grouping = c.Method.Grouping
		}
		if c.Method.Sampling != "" {
			o.Sampling = c.Method.Sampling
		}
		if c.Method.HebbianRegrow {
			o.Regrow = callbacks.CriterionHebbian
		}
		if c.Method.Prune != "" {
			o.Prune, o.Regrow = c.Method.Prune, c.Method.Regrow
		}
	}
	// Per-run outputs are the experiment's business, not the base's.
	o.Log, o.JSON, o.Save, o.Export, o.Resume, o.CheckpointEvery = "", false, "", "", "", 0
	return o
}

// Cells returns the grid's cells, seed by seed (every method and density of
// the first seed, then of the second, ...), so that a grid cut short by a
// time budget has whole seeds. Dense has one cell per seed, at density 1.
// It assumes a valid grid; unknown methods are left out.
func (g *Grid) Cells() []Cell {
	var cells []Cell
	for _, s := range g.Seeds {
		for _, name := range g.Methods {
			m, err := ParseMethod(name)
			if err != nil {
				continue
			}
			if !m.PerDensity() {
				cells = append(cells, Cell{Method: m, Density: 1, Seed: s})
				continue
			}
			for _, d := range g.Densities {
				cells = append(cells, Cell{Method: m, Density: d, Seed: s})
			}
		}
	}
	return cells
}

// Validate checks the grid before anything runs: a known data set, non-empty
// lists without duplicates, known methods, densities in (0, 1], at least one
// epoch, valid base options, and, by building the model of every (method,
// density) with the first seed, densities the model can have (e.g. G2G
// needs density ≥ about 1/groups; blocks need density·groups whole). Errors
// name the entry at fault.
func (g *Grid) Validate() error {
	if _, err := dataset(g.Dataset); err != nil {
		return err
	}
	if len(g.Methods) == 0 {
		return errors.New("methods: the list is empty; " + methodHelp)
	}
	perDensity := false
	seen := map[string]bool{}
	for _, name := range g.Methods {
		if seen[name] {
			return errors.Errorf("methods: %q is listed twice", name)
		}
		seen[name] = true
		m, err := ParseMethod(name)
		if err != nil {
			return errors.Wrap(err, "methods")
		}
		perDensity = perDensity || m.PerDensity()
	}
	if perDensity && len(g.Densities) == 0 {
		return errors.New("densities: the list is empty; give at least one density in (0, 1] for the sparse and matched methods")
	}
	seenD := map[string]bool{}
	for _, d := range g.Densities {
		if !(d > 0 && d <= 1) {
			return errors.Errorf("densities: %v is out of range: a density is the fraction of edges kept, in (0, 1]", d)
		}
		if seenD[formatDensity(d)] {
			return errors.Errorf("densities: %v is listed twice", d)
		}
		seenD[formatDensity(d)] = true
	}
	if len(g.Seeds) == 0 {
		return errors.New("seeds: the list is empty; give at least one seed")
	}
	seenS := map[int64]bool{}
	for _, s := range g.Seeds {
		if seenS[s] {
			return errors.Errorf("seeds: %d is listed twice", s)
		}
		seenS[s] = true
	}
	if g.Epochs < 1 {
		return errors.Errorf("epochs %d: want at least 1", g.Epochs)
	}
	if g.Subset < 0 {
		return errors.Errorf("subset %d: want 0 (all training samples) or a positive count", g.Subset)
	}
	switch {
	case g.Base.Sampling == layers.SampleBlocks:
		return errors.New("-sampling blocks: name the ensemble-level methods blocks-<grouping> (e.g. blocks-index) instead")
	case g.Base.Regrow == callbacks.CriterionHebbian:
		return errors.New("-regrow hebbian: name the methods <sparse>+dst-hebbian (e.g. g2g-index+dst-hebbian) instead")
	}
	return g.validateCells(g.Cells())
}

// validateCells builds the model of every (method, density) among cells.
func (g *Grid) validateCells(cells []Cell) error {
	ds, err := dataset(g.Dataset)
	if err != nil {
		return err
	}
	checked := map[string]bool{}
	for _, c := range cells {
		key := c.Method.Name + " " + formatDensity(c.Density)
		if checked[key] {
			continue
		}
		checked[key] = true
		o := g.Options(c)
		where := c.Method.Name
		if c.Method.PerDensity() {
			where = fmt.Sprintf("method %s at density %v", c.Method.Name, c.Density)
		}
		if err := o.Validate(); err != nil {
			return errors.Wrap(err, where)
		}
		if _, err := runner.BuildModel(ds, &o); err != nil {
			return errors.Wrapf(err, "%s is impossible", where)
		}
	}
	return nil
}

// dataset returns the runner's data set called name.
func dataset(name string) (*runner.Dataset, error) {
	ds, err := runner.Lookup(name)
	if err != nil {
		return nil, errors.New("dataset " + err.Error())
	}
	return ds, nil
}

// loader returns a copy of ds whose Load keeps the data it loads the first
// time and hands out copies (runs normalise their sets in place), with the
// training set cut to its first subset samples when subset > 0.
func loader(ds *runner.Dataset, subset int) *runner.Dataset {
	c := *ds
	load := ds.Load
	var (
		mu          sync.Mutex
		train, test *datasets.Dataset
		source      string
	)
	c.Load = func(o *runner.Options, stderr io.Writer) (*datasets.Dataset, *datasets.Dataset, string, error) {
		mu.Lock()
		defer mu.Unlock()
		if train == nil {
			tr, te, src, err := load(o, stderr)
			if err != nil {
				return nil, nil, "", err
			}
			if subset > tr.Len() {
				return nil, nil, "", errors.Errorf("subset %d: the training set has only %d samples", subset, tr.Len())
			}
			train, test, source = tr, te, src
			if subset > 0 {
				train = tr.Subset(first(subset))
				source = fmt.Sprintf("%s (first %d training samples)", src, subset)
			}
		}
		return train.Subset(first(train.Len())), test.Subset(first(test.Len())), source, nil
	}
	return &c
}

// first returns 0, 1, ..., n-1.
func first(n int) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	return idx
}
