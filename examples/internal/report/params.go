package report

import (
	"math"
	"sort"

	"github.com/pkg/errors"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// paramsSeries returns the rows of every (dataset, method) with a finite
// accuracy, each series sorted by active parameters, in the order of
// [Aggregate]'s rows.
func paramsSeries(rows []Row) [][]Row {
	type key struct{ dataset, method string }
	index := map[key]int{}
	var out [][]Row
	for _, r := range rows {
		if math.IsNaN(r.AccMean) {
			continue
		}
		k := key{r.Dataset, r.Method}
		i, ok := index[k]
		if !ok {
			i = len(out)
			index[k] = i
			out = append(out, nil)
		}
		out[i] = append(out[i], r)
	}
	for _, s := range out {
		sort.SliceStable(s, func(a, b int) bool { return s[a].ActiveParams < s[b].ActiveParams })
	}
	return out
}

// PlotAccuracyVsParams writes a PNG of the test accuracy (%) against the
// active parameters (in millions): one line with points per method through
// its densities, ordered by active parameters, with error bars of ± one
// standard deviation over seeds; a method with one row (dense) is a single
// point. Rows usually come from one dataset; with several, legend entries
// name the dataset. It errors when no row has a finite accuracy.
func PlotAccuracyVsParams(path string, rows []Row, title string) error {
	series := paramsSeries(rows)
	if len(series) == 0 {
		return errors.Errorf("plot accuracy vs parameters %s: no rows with a finite accuracy to plot", path)
	}
	datasets := map[string]bool{}
	var methods []string
	var counts []int
	maxX := 0.0
	for _, s := range series {
		for _, r := range s {
			datasets[r.Dataset] = true
			counts = append(counts, r.Seeds)
			maxX = math.Max(maxX, float64(r.ActiveParams)/1e6)
		}
		methods = append(methods, s[0].Method)
	}
	multi := len(datasets) > 1
	seeds, perEntry := seedsHeading(counts)
	colors := methodColors(methods)
	p := newPlot(title, "active parameters (millions)", "test accuracy (%)")
	leg := newLegend()
	for i, s := range series {
		k := seriesKey{dataset: s[0].Dataset, method: s[0].Method}
		pts := errPoints{XYs: make(plotter.XYs, len(s)), YErrors: make(plotter.YErrors, len(s))}
		lo, hi := s[0].Seeds, s[0].Seeds
		for j, r := range s {
			pts.XYs[j] = plotter.XY{X: float64(r.ActiveParams) / 1e6, Y: r.AccMean * 100}
			pts.YErrors[j] = struct{ Low, High float64 }{Low: r.AccStd * 100, High: r.AccStd * 100}
			lo, hi = min(lo, r.Seeds), max(hi, r.Seeds)
		}
		clr := colors[k.method]
		l, sc, err := plotter.NewLinePoints(pts.XYs)
		if err != nil {
			return errors.Wrapf(err, "plot accuracy vs parameters %s: %s", path, k.label(multi, false))
		}
		l.Color, l.Width = clr, vg.Points(1.8)
		sc.Color, sc.Shape, sc.Radius = clr, glyphs[i%len(glyphs)], vg.Points(3.5)
		eb, err := plotter.NewYErrorBars(pts)
		if err != nil {
			return errors.Wrapf(err, "plot accuracy vs parameters %s: %s error bars", path, k.label(multi, false))
		}
		eb.Color, eb.Width, eb.CapWidth = clr, vg.Points(1.2), vg.Points(7)
		p.Add(eb, l, sc)
		name := k.label(multi, false)
		if perEntry {
			name += seedRange(lo, hi)
		}
		leg.Add(name, l, sc)
	}
	p.X.Min, p.X.Max = 0, math.Max(maxX*1.08, 1e-6)
	p.X.Tick.Marker = niceTicks{}
	p.Y.Tick.Marker = niceTicks{}
	padY(p, 0.05)
	fig := renderWithLegend(p, leg, "mean ± std over "+seeds, 760, 540)
	return errors.Wrap(savePNG(path, fig), "plot accuracy vs parameters")
}
