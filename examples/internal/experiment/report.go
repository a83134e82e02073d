package experiment

import (
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/pkg/errors"

	"github.com/g2g-ml/g2g/examples/internal/report"
	"github.com/g2g-ml/g2g/examples/internal/runner"
	"github.com/g2g-ml/g2g/internal/atomicfile"
)

// HeatmapDensity is the density whose masks Report draws when the grid has
// it; otherwise the middle one of the finished sparse densities.
const HeatmapDensity = 0.25

// LoadResults reads every finished cell under out/runs, sorted by dataset,
// method, density and seed.
func LoadResults(out string) ([]*CellResult, error) {
	paths, err := filepath.Glob(filepath.Join(out, "runs", "*", "*", "d*", "seed*.json"))
	if err != nil {
		return nil, err
	}
	var rs []*CellResult
	for _, p := range paths {
		r, err := readCell(p)
		if err != nil {
			return nil, err
		}
		if r.MaskFile != "" {
			r.MaskFile = filepath.Join(filepath.Dir(p), r.MaskFile)
			// Masks are only for the figures: results copied without them
			// (as committed with the README) still make the tables.
			if _, err := os.Stat(r.MaskFile); errors.Is(err, fs.ErrNotExist) {
				r.MaskFile = ""
			}
		}
		rs = append(rs, r)
	}
	sort.SliceStable(rs, func(i, j int) bool {
		a, b := rs[i], rs[j]
		switch {
		case a.Dataset != b.Dataset:
			return a.Dataset < b.Dataset
		case a.Method != b.Method:
			return a.Method < b.Method
		case a.Density != b.Density:
			return a.Density < b.Density
		}
		return a.Seed < b.Seed
	})
	return rs, nil
}

// Report re-makes the table and the figures from the finished cells in
// out: results.md and results.csv, comparisons.csv (when some method can be
// paired with er or dense: see report.Compare), acc_vs_density.png,
// acc_vs_params.png, curves_val_acc.png, curves_loss.png, and
// mask_<method>_d<density>.png for every rewired method and one static G2G
// method at one density (HeatmapDensity when present), from its first
// seed. It returns the files written and errors when no cell has finished.
func Report(out string) ([]string, error) {
	rs, err := LoadResults(out)
	if err != nil {
		return nil, err
	}
	if len(rs) == 0 {
		return nil, errors.Errorf("%s: no finished runs in %s", out, filepath.Join(out, "runs"))
	}
	var ef *experimentFile
	if raw, err := os.ReadFile(filepath.Join(out, "experiment.json")); err == nil {
		ef = &experimentFile{}
		if err := json.Unmarshal(raw, ef); err != nil {
			return nil, errors.Wrapf(err, "%s/experiment.json", out)
		}
	}
	runs := make([]report.Run, len(rs))
	for i, r := range rs {
		runs[i] = report.Run{
			Dataset: r.Dataset, Method: r.Method, Density: r.Density, Seed: r.Seed,
			TestAcc: r.Result.TestAcc, Params: r.Result.Params, ActiveParams: r.Result.ActiveParams,
			MACs: r.Result.MACs, SecPerEpoch: r.Result.SecPerEpoch, History: r.History,
		}
	}
	rows := report.Aggregate(runs)
	vsER, vsDense := report.Compare(runs, report.ERMethod), report.Compare(runs, report.DenseMethod)
	what, short := describe(rs[0])
	var files []string
	add := func(name string, err error) error {
		if err != nil {
			return err
		}
		files = append(files, filepath.Join(out, name))
		return nil
	}

	heatmaps, err := plotHeatmaps(out, rs)
	if err != nil {
		return files, err
	}
	figures := []struct{ name, alt string }{
		{"acc_vs_density.png", "test accuracy versus density"},
		{"acc_vs_params.png", "test accuracy versus active parameters"},
		{"curves_val_acc.png", "test accuracy during training"},
		{"curves_loss.png", "training loss"},
	}
	for _, h := range heatmaps {
		figures = append(figures, struct{ name, alt string }{h, "mask before and after training: " + strings.TrimSuffix(strings.TrimPrefix(h, "mask_"), ".png")})
	}
	if err := add("results.md", atomicfile.Write(filepath.Join(out, "results.md"), func(w io.Writer) error {
		return writeResultsMarkdown(w, rs, rows, vsER, vsDense, ef, what, figures)
	})); err != nil {
		return files, err
	}
	if err := add("results.csv", atomicfile.Write(filepath.Join(out, "results.csv"), func(w io.Writer) error {
		return report.WriteCSV(w, rows)
	})); err != nil {
		return files, err
	}
	if len(vsER)+len(vsDense) > 0 {
		if err := add("comparisons.csv", atomicfile.Write(filepath.Join(out, "comparisons.csv"), func(w io.Writer) error {
			return report.WritePairedCSV(w, append(append([]report.Paired(nil), vsER...), vsDense...))
		})); err != nil {
			return files, err
		}
	}
	if err := add("acc_vs_density.png", report.PlotAccuracyVsDensity(filepath.Join(out, "acc_vs_density.png"), rows,
		short+": test accuracy vs density")); err != nil {
		return files, err
	}
	if err := add("acc_vs_params.png", report.PlotAccuracyVsParams(filepath.Join(out, "acc_vs_params.png"), rows,
		short+": test accuracy vs active parameters")); err != nil {
		return files, err
	}
	for _, m := range []struct{ metric, file, title string }{
		{"val_acc", "curves_val_acc.png", "test accuracy during training"},
		{"loss", "curves_loss.png", "training loss"},
	} {
		if err := add(m.file, report.PlotLearningCurves(filepath.Join(out, m.file), runs, m.metric, short+": "+m.title)); err != nil {
			return files, err
		}
	}
	for _, h := range heatmaps {
		files = append(files, filepath.Join(out, h))
	}
	return files, nil
}

// plotHeatmaps draws the mask heatmaps and returns their file names.
func plotHeatmaps(out string, rs []*CellResult) ([]string, error) {
	var densities []float64
	seen := map[float64]bool{}
	for _, r := range rs {
		if r.MaskFile != "" && !seen[r.Density] {
			seen[r.Density] = true
			densities = append(densities, r.Density)
		}
	}
	if len(densities) == 0 {
		return nil, nil
	}
	sort.Float64s(densities)
	d := densities[len(densities)/2]
	if seen[HeatmapDensity] {
		d = HeatmapDensity
	}
	// The first seed of every method at d (rs is sorted by seed).
	first := map[string]*CellResult{}
	var methods []string
	for _, r := range rs {
		if r.MaskFile != "" && r.Density == d && first[r.Method] == nil {
			first[r.Method] = r
			methods = append(methods, r.Method)
		}
	}
	var pick []*CellResult
	static := ""
	for _, name := range methods {
		m, err := ParseMethod(name)
		if err != nil {
			continue
		}
		if m.Rewired() {
			pick = append(pick, first[name])
		} else if static == "" || name == "g2g-index" {
			static = name
		}
	}
	if static != "" {
		pick = append([]*CellResult{first[static]}, pick...)
	}
	var names []string
	for _, r := range pick {
		before, after, err := readMasks(r.MaskFile)
		if err != nil {
			return names, err
		}
		name := fmt.Sprintf("mask_%s_d%s.png", r.Method, formatDensity(r.Density))
		title := fmt.Sprintf("%s, density %s, seed %d: mask of layer %s (%d → %d)",
			r.Method, formatDensity(r.Density), r.Seed, r.MaskLayer, before.In, before.Out)
		if err := report.PlotMaskHeatmap(filepath.Join(out, name), before, after, title); err != nil {
			return names, err
		}
		names = append(names, name)
	}
	return names, nil
}

// describe names the experiment for headings, e.g. "Fashion-MNIST MLP, 3
// epochs on 20,000 training samples", and, shorter, for figure titles,
// e.g. "Fashion-MNIST MLP, 3 epochs, 20k samples" (the figures centre
// their titles without wrapping them).
func describe(r *CellResult) (long, short string) {
	name := map[string]string{"fashion-mnist": "Fashion-MNIST", "mnist": "MNIST", "cifar10": "CIFAR-10", "cifar100": "CIFAR-100"}[r.Dataset]
	if name == "" {
		name = r.Dataset
	}
	model := "MLP"
	if strings.HasPrefix(r.Dataset, "cifar") {
		model = "patch encoder + MLP"
	}
	long = fmt.Sprintf("%s %s, %d epoch%s", name, model, r.Epochs, plural(r.Epochs))
	short = long
	if r.Subset > 0 {
		long += fmt.Sprintf(" on %s training samples", thousands(r.Subset))
		n := fmt.Sprint(r.Subset)
		if r.Subset%1000 == 0 {
			n = fmt.Sprintf("%dk", r.Subset/1000)
		}
		short += ", " + n + " samples"
	}
	return long, short
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func thousands(n int) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// writeResultsMarkdown writes results.md: a heading with the settings, the
// table, the paired comparisons with er and dense, the cells of the last
// grid that have not finished, and the figures.
func writeResultsMarkdown(w io.Writer, rs []*CellResult, rows []report.Row, vsER, vsDense []report.Paired, ef *experimentFile, what string, figures []struct{ name, alt string }) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n", what)
	o := rs[0].Options
	if ef != nil {
		o = ef.Settings.Base
	}
	hidden := strings.ReplaceAll(o.Hidden, ",", " → ")
	fmt.Fprintf(&b, "Hidden layers %s; G2G with %d ensembles per side, %s sampling, p = %g; %s, batch %d; rewiring ζ = %g (+dst: prune %s, regrow %s; +dst-hebbian: regrow by Hebbian score; +dst-P-R: prune by P, regrow by R).\n",
		hidden, o.Groups, o.Sampling, o.Intra, optimizerText(o), o.Batch, o.Zeta, o.Prune, o.Regrow)
	fmt.Fprintf(&b, "Baselines, matched to the G2G model of these settings at the same density and seed: dense-matched is dense with narrower hidden layers "+
		"(within 1 %% of its active parameters), er has unstructured random masks with the same edges per layer, erk the same edges in all with "+
		"Erdős–Rényi-Kernel densities.\n")
	fmt.Fprintf(&b, "Test accuracy is the mean ± sample standard deviation over seeds, on the whole test set; "+
		"the gain over dense is in percentage points; MACs are multiply-accumulates of one sample's forward pass; "+
		"density is the fraction of edges kept in the G2G layers (the output layer is dense; dense-matched's is that of the G2G model it matches).\n\n")
	if err := report.WriteMarkdown(&b, rows); err != nil {
		return err
	}
	if len(vsER)+len(vsDense) > 0 {
		fmt.Fprintf(&b, "\n## Paired differences\n\nTest accuracy of each method minus that of er (same density) and of dense, seed by seed; "+
			"mean difference and its %g %% confidence interval (Student's t with seeds − 1 degrees of freedom), in percentage points. "+
			"Significant: the interval excludes 0. With one shared seed there is no interval.\n\n", 100*report.Confidence)
		if err := report.WritePairedMarkdown(&b, vsER, vsDense); err != nil {
			return err
		}
	}
	if ef != nil {
		done := map[string]bool{}
		for _, r := range rs {
			done[fmt.Sprintf("%s/%s/%s/%d", r.Dataset, r.Method, formatDensity(r.Density), r.Seed)] = true
		}
		g := Grid{Dataset: ef.Settings.Dataset, Methods: ef.Methods, Densities: ef.Densities, Seeds: ef.Seeds}
		var missing []string
		for _, c := range g.Cells() {
			if !done[fmt.Sprintf("%s/%s/%s/%d", g.Dataset, c.Method.Name, formatDensity(c.Density), c.Seed)] {
				missing = append(missing, c.String())
			}
		}
		if len(missing) > 0 {
			fmt.Fprintf(&b, "\nNot finished (%d of %d cells of the last grid): %s.\n", len(missing), len(g.Cells()), strings.Join(missing, "; "))
		}
	}
	b.WriteString("\n")
	for _, f := range figures {
		fmt.Fprintf(&b, "![%s](%s)\n", f.alt, f.name)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// optimizerText describes the optimizer of o, e.g. "Adam lr 0.001, weight
// decay 0.0001 (coupled), cosine learning-rate schedule".
func optimizerText(o runner.Options) string {
	s := fmt.Sprintf("Adam lr %g", o.LR)
	switch {
	case o.WeightDecay > 0 && o.Decoupled:
		s = fmt.Sprintf("AdamW lr %g, weight decay %g (decoupled)", o.LR, o.WeightDecay)
	case o.WeightDecay > 0:
		s += fmt.Sprintf(", weight decay %g (coupled, biases exempt)", o.WeightDecay)
	}
	if o.LRSchedule != runner.LRConstant {
		s += ", learning rate per epoch: " + o.LRSchedule.String()
	}
	return s
}
