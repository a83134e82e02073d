package report

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/pkg/errors"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/g2g-ml/g2g/internal/atomicfile"
)

// dpi is the resolution of every PNG: at 96 dots per inch a point is 4/3
// pixels, so 12 pt text is 16 px high.
const dpi = 96

// px converts pixels at dpi to a vg length.
func px(n float64) vg.Length { return vg.Length(n * 72 / dpi) }

// sans is the typeface of every text: Liberation Sans, embedded in gonum/plot.
var sans = font.Font{Typeface: "Liberation", Variant: "Sans"}

// fontOf returns sans at size points.
func fontOf(size vg.Length) font.Font { return font.From(sans, size) }

// palette holds the method colours (Tableau 10, which stays distinguishable
// for most colour-blind readers); the dense baseline is black.
var palette = []color.RGBA{
	{0x1f, 0x77, 0xb4, 0xff}, {0xff, 0x7f, 0x0e, 0xff}, {0x2c, 0xa0, 0x2c, 0xff},
	{0xd6, 0x27, 0x28, 0xff}, {0x94, 0x67, 0xbd, 0xff}, {0x8c, 0x56, 0x4b, 0xff},
	{0xe3, 0x77, 0xc2, 0xff}, {0x7f, 0x7f, 0x7f, 0xff}, {0xbc, 0xbd, 0x22, 0xff},
	{0x17, 0xbe, 0xcf, 0xff},
}

// dashes tell apart the densities of one method in learning curves.
var dashes = [][]vg.Length{
	nil, {vg.Points(6), vg.Points(3)}, {vg.Points(2), vg.Points(2)},
	{vg.Points(8), vg.Points(3), vg.Points(2), vg.Points(3)},
}

// glyphs tell apart the methods in accuracy-versus-density plots.
var glyphs = []draw.GlyphDrawer{
	draw.CircleGlyph{}, draw.SquareGlyph{}, draw.TriangleGlyph{}, draw.PyramidGlyph{},
	draw.CrossGlyph{}, draw.PlusGlyph{}, draw.RingGlyph{}, draw.BoxGlyph{},
}

// methodColors assigns a colour to every method: black for dense, the
// palette in sorted method order for the others.
func methodColors(methods []string) map[string]color.Color {
	sorted := append([]string(nil), methods...)
	sort.Strings(sorted)
	out := map[string]color.Color{}
	i := 0
	for _, m := range sorted {
		if _, ok := out[m]; ok {
			continue
		}
		if m == DenseMethod {
			out[m] = color.Black
			continue
		}
		out[m] = palette[i%len(palette)]
		i++
	}
	return out
}

// newPlot returns a plot with the title and axis labels set and larger
// title and label fonts.
func newPlot(title, xLabel, yLabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font = fontOf(15)
	p.Title.Padding = vg.Points(8)
	p.X.Label.Text = xLabel
	p.Y.Label.Text = yLabel
	p.X.Label.TextStyle.Font = fontOf(13)
	p.Y.Label.TextStyle.Font = fontOf(13)
	p.X.Tick.Label.Font = fontOf(11)
	p.Y.Tick.Label.Font = fontOf(11)
	p.Add(plotter.NewGrid())
	return p
}

// newLegend returns an empty legend for renderWithLegend.
func newLegend() plot.Legend {
	l := plot.NewLegend()
	l.Top, l.Left = true, true
	l.TextStyle.Font = fontOf(11)
	l.ThumbnailWidth = vg.Points(28)
	l.Padding = vg.Points(3)
	return l
}

// legendTitle returns the style of the heading drawn above a legend.
func legendTitle() text.Style {
	s := newLegend().TextStyle
	s.Font = fontOf(12)
	return s
}

// renderWithLegend draws p in a plotW × plotH pixel area and the legend to
// its right, under a heading, and returns the PNG encoder. The figure grows
// to fit the legend.
func renderWithLegend(p *plot.Plot, leg plot.Legend, heading string, plotW, plotH float64) io.WriterTo {
	measure := draw.New(vgimg.New(vg.Points(10), vg.Points(10)))
	lr := leg.Rectangle(measure)
	hs := legendTitle()
	lw := lr.Max.X - lr.Min.X
	if w := hs.Width(heading); w > lw {
		lw = w
	}
	lh := lr.Max.Y - lr.Min.Y + hs.Height(heading) + vg.Points(6)
	pad := vg.Points(12)
	w, h := px(plotW)+lw+2*pad, px(plotH)
	top := vg.Points(40) // leaves the title's band above the legend
	if need := lh + top + pad; need > h {
		h = need
	}
	c := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(dpi), vgimg.UseBackgroundColor(color.White))
	dc := draw.New(c)
	p.Draw(draw.Crop(dc, px(4), -(lw + 2*pad), px(4), -px(8)))
	la := draw.Crop(dc, w-lw-pad, -pad, pad, -top)
	hs.YAlign = text.YTop
	la.FillText(hs, vg.Point{X: la.Min.X, Y: la.Max.Y}, heading)
	leg.Draw(draw.Crop(la, 0, 0, 0, -(hs.Height(heading) + vg.Points(6))))
	return vgimg.PngCanvas{Canvas: c}
}

// savePNG writes the rendered figure atomically to path.
func savePNG(path string, fig io.WriterTo) error {
	return atomicfile.Write(path, func(w io.Writer) error {
		_, err := fig.WriteTo(w)
		return err
	})
}

// isAccuracy reports whether metric is an accuracy ("acc", "val_acc",
// "top5_acc", ...), plotted in percent.
func isAccuracy(metric string) bool {
	return metric == "acc" || strings.HasSuffix(metric, "_acc") || strings.HasSuffix(metric, "accuracy")
}

// metricLabel returns the y-axis label of a History metric, with its unit.
// val_* metrics are the test set's: the experiments pass the test set as
// graph.FitConfig.Validation.
func metricLabel(metric string) string {
	switch metric {
	case "acc":
		return "training accuracy (%)"
	case "val_acc":
		return "test accuracy (%)"
	case "loss":
		return "training loss (cross-entropy)"
	case "val_loss":
		return "test loss (cross-entropy)"
	case "lr":
		return "learning rate"
	case "epoch_seconds":
		return "time per epoch (s)"
	}
	if isAccuracy(metric) {
		return metric + " (%)"
	}
	return metric
}

// seriesKey identifies one line of a figure.
type seriesKey struct {
	dataset, method string
	density         float64
}

// label names a series in a legend; the dataset is named only when the
// figure mixes datasets.
func (k seriesKey) label(withDataset, withDensity bool) string {
	s := k.method
	if withDensity && k.method != DenseMethod {
		s += fmt.Sprintf(", density %s", formatDensity(k.density))
	}
	if withDataset {
		s = k.dataset + ": " + s
	}
	return s
}

// sortKeys orders series like Aggregate orders rows.
func sortKeys(keys []seriesKey) {
	sort.SliceStable(keys, func(a, b int) bool {
		ka, kb := keys[a], keys[b]
		return before(ka.dataset, ka.method, ka.density, kb.dataset, kb.method, kb.density)
	})
}

// curve is the per-epoch mean of a metric over the runs of one series.
type curve struct {
	key   seriesKey
	xys   plotter.XYs
	seeds int
}

// learningCurves averages metric over the runs of every (dataset, method,
// density), epoch by epoch, skipping missing and non-finite values.
// Epochs are numbered from 1. Accuracy metrics are scaled to percent.
func learningCurves(runs []Run, metric string) []curve {
	type acc struct {
		sum   []float64
		n     []int
		seeds int
	}
	groups := map[seriesKey]*acc{}
	var keys []seriesKey
	scale := 1.0
	if isAccuracy(metric) {
		scale = 100
	}
	for _, r := range runs {
		k := seriesKey{r.Dataset, r.Method, r.Density}
		used := false
		for e, logs := range r.History {
			v, ok := logs[metric]
			if !ok || math.IsNaN(v) || math.IsInf(v, 0) {
				continue
			}
			g := groups[k]
			if g == nil {
				g = &acc{}
				groups[k] = g
				keys = append(keys, k)
			}
			for len(g.sum) <= e {
				g.sum, g.n = append(g.sum, 0), append(g.n, 0)
			}
			g.sum[e] += v * scale
			g.n[e]++
			used = true
		}
		if used {
			groups[k].seeds++
		}
	}
	sortKeys(keys)
	out := make([]curve, 0, len(keys))
	for _, k := range keys {
		g := groups[k]
		c := curve{key: k, seeds: g.seeds}
		for e := range g.sum {
			if g.n[e] > 0 {
				c.xys = append(c.xys, plotter.XY{X: float64(e + 1), Y: g.sum[e] / float64(g.n[e])})
			}
		}
		out = append(out, c)
	}
	return out
}

// PlotLearningCurves writes a PNG of metric (a History key such as
// "val_acc", "acc", "loss" or "val_loss") against the epoch: one line per
// (method, density), the mean over seeds at every epoch, coloured by method
// and dashed by density. Accuracies are shown in percent ("test accuracy
// (%)" for val_acc: the experiments validate on the test set), losses as
// cross-entropy. It errors when no run has the metric in its History.
func PlotLearningCurves(path string, runs []Run, metric string, title string) error {
	if len(runs) == 0 {
		return errors.Errorf("plot learning curves %s: no runs", path)
	}
	curves := learningCurves(runs, metric)
	if len(curves) == 0 {
		return errors.Errorf("plot learning curves %s: no run has %q in its history", path, metric)
	}
	datasets, methods := map[string]bool{}, []string{}
	densities := map[string]map[float64]bool{}
	for _, c := range curves {
		datasets[c.key.dataset] = true
		methods = append(methods, c.key.method)
		if densities[c.key.method] == nil {
			densities[c.key.method] = map[float64]bool{}
		}
		densities[c.key.method][c.key.density] = true
	}
	counts := make([]int, len(curves))
	for i, c := range curves {
		counts[i] = c.seeds
	}
	seeds, perEntry := seedsHeading(counts)
	colors := methodColors(methods)
	p := newPlot(title, "epoch", metricLabel(metric))
	leg := newLegend()
	dashIndex := map[string]int{}
	maxEpoch := 0.0
	for _, c := range curves {
		l, err := plotter.NewLine(c.xys)
		if err != nil {
			return errors.Wrapf(err, "plot learning curves %s: %s", path, c.key.label(true, true))
		}
		l.Color = colors[c.key.method]
		l.Width = vg.Points(1.8)
		l.Dashes = dashes[dashIndex[c.key.method]%len(dashes)]
		dashIndex[c.key.method]++
		p.Add(l)
		thumbs := []plot.Thumbnailer{l}
		if len(c.xys) == 1 { // a line of one point is invisible
			sc, err := plotter.NewScatter(c.xys)
			if err != nil {
				return errors.Wrapf(err, "plot learning curves %s: %s", path, c.key.label(true, true))
			}
			sc.Color, sc.Shape, sc.Radius = l.Color, draw.CircleGlyph{}, vg.Points(3)
			p.Add(sc)
			thumbs = append(thumbs, sc)
		}
		name := c.key.label(len(datasets) > 1, len(densities[c.key.method]) > 1 || c.key.density != 1)
		if perEntry {
			name += seedRange(c.seeds, c.seeds)
		}
		leg.Add(name, thumbs...)
		maxEpoch = math.Max(maxEpoch, c.xys[len(c.xys)-1].X)
	}
	p.X.Min, p.X.Max = 1, math.Max(maxEpoch, 2)
	p.X.Padding = 0
	p.X.Tick.Marker = integerTicks{}
	p.Y.Tick.Marker = niceTicks{}
	padY(p, 0.04)
	fig := renderWithLegend(p, leg, "mean over "+seeds, 760, 540)
	return errors.Wrap(savePNG(path, fig), "plot learning curves")
}

// PlotAccuracyVsDensity writes a PNG of the test accuracy (%) against the
// density (fraction of edges kept): one line with points per sparse method,
// error bars of ± one standard deviation over seeds, and every dense row as
// a horizontal dashed line with a shaded ± std band. Rows usually come from
// one dataset; with several, legend entries name the dataset. It errors on
// no rows.
func PlotAccuracyVsDensity(path string, rows []Row, title string) error {
	if len(rows) == 0 {
		return errors.Errorf("plot accuracy vs density %s: no rows to plot", path)
	}
	datasets := map[string]bool{}
	var methods []string
	type series struct {
		key  seriesKey
		rows []Row
	}
	var sparse []*series
	var dense []Row
	index := map[seriesKey]*series{}
	maxD := 0.0
	for _, r := range rows {
		datasets[r.Dataset] = true
		methods = append(methods, r.Method)
		if math.IsNaN(r.AccMean) {
			continue
		}
		if r.Method == DenseMethod {
			dense = append(dense, r)
			continue
		}
		maxD = math.Max(maxD, r.Density)
		k := seriesKey{dataset: r.Dataset, method: r.Method}
		s := index[k]
		if s == nil {
			s = &series{key: k}
			index[k] = s
			sparse = append(sparse, s)
		}
		s.rows = append(s.rows, r)
	}
	if len(sparse) == 0 && len(dense) == 0 {
		return errors.Errorf("plot accuracy vs density %s: no rows with a finite accuracy to plot", path)
	}
	xmax := 1.0
	if len(sparse) > 0 {
		xmax = math.Min(1, math.Ceil(maxD*1.15*10)/10)
	}
	var counts []int
	for _, r := range dense {
		counts = append(counts, r.Seeds)
	}
	for _, s := range sparse {
		for _, r := range s.rows {
			counts = append(counts, r.Seeds)
		}
	}
	seeds, perEntry := seedsHeading(counts)
	colors := methodColors(methods)
	p := newPlot(title, "density (fraction of edges kept)", "test accuracy (%)")
	leg := newLegend()
	multi := len(datasets) > 1
	for i, r := range dense {
		y, sd := r.AccMean*100, r.AccStd*100
		l, err := plotter.NewLine(plotter.XYs{{X: 0, Y: y}, {X: xmax, Y: y}})
		if err != nil {
			return errors.Wrapf(err, "plot accuracy vs density %s: dense line", path)
		}
		l.Color = color.Black
		l.Width = vg.Points(1.5)
		l.Dashes = dashes[1+i%(len(dashes)-1)]
		thumbs := []plot.Thumbnailer{l}
		if sd > 0 {
			band, err := plotter.NewPolygon(plotter.XYs{{X: 0, Y: y - sd}, {X: xmax, Y: y - sd}, {X: xmax, Y: y + sd}, {X: 0, Y: y + sd}})
			if err != nil {
				return errors.Wrapf(err, "plot accuracy vs density %s: dense band", path)
			}
			band.Color = color.RGBA{0xdd, 0xdd, 0xdd, 0xff}
			band.LineStyle.Width = 0
			p.Add(band)
			thumbs = []plot.Thumbnailer{band, l}
		}
		p.Add(l)
		name := DenseMethod
		if multi {
			name = r.Dataset + ": " + name
		}
		name += fmt.Sprintf(" %.2f ± %.2f %%", y, sd)
		if perEntry {
			name += seedRange(r.Seeds, r.Seeds)
		}
		leg.Add(name, thumbs...)
	}
	sort.SliceStable(sparse, func(a, b int) bool {
		ka, kb := sparse[a].key, sparse[b].key
		if ka.dataset != kb.dataset {
			return ka.dataset < kb.dataset
		}
		return ka.method < kb.method
	})
	for i, s := range sparse {
		sort.SliceStable(s.rows, func(a, b int) bool { return s.rows[a].Density < s.rows[b].Density })
		pts := errPoints{XYs: make(plotter.XYs, len(s.rows)), YErrors: make(plotter.YErrors, len(s.rows))}
		lo, hi := s.rows[0].Seeds, s.rows[0].Seeds
		for j, r := range s.rows {
			pts.XYs[j] = plotter.XY{X: r.Density, Y: r.AccMean * 100}
			pts.YErrors[j] = struct{ Low, High float64 }{Low: r.AccStd * 100, High: r.AccStd * 100}
			lo, hi = min(lo, r.Seeds), max(hi, r.Seeds)
		}
		clr := colors[s.key.method]
		l, sc, err := plotter.NewLinePoints(pts.XYs)
		if err != nil {
			return errors.Wrapf(err, "plot accuracy vs density %s: %s", path, s.key.label(multi, false))
		}
		l.Color, l.Width = clr, vg.Points(1.8)
		sc.Color, sc.Shape, sc.Radius = clr, glyphs[i%len(glyphs)], vg.Points(3.5)
		eb, err := plotter.NewYErrorBars(pts)
		if err != nil {
			return errors.Wrapf(err, "plot accuracy vs density %s: %s error bars", path, s.key.label(multi, false))
		}
		eb.Color, eb.Width, eb.CapWidth = clr, vg.Points(1.2), vg.Points(7)
		p.Add(eb, l, sc)
		name := s.key.label(multi, false)
		if perEntry {
			name += seedRange(lo, hi)
		}
		leg.Add(name, l, sc)
	}
	p.X.Min, p.X.Max = 0, xmax
	p.X.Tick.Marker = niceTicks{}
	p.Y.Tick.Marker = niceTicks{}
	padY(p, 0.05)
	fig := renderWithLegend(p, leg, "mean ± std over "+seeds, 760, 540)
	return errors.Wrap(savePNG(path, fig), "plot accuracy vs density")
}

// errPoints feeds plotter.NewYErrorBars.
type errPoints struct {
	plotter.XYs
	plotter.YErrors
}

// integerTicks marks whole numbers only (epochs), at most about ten labels.
type integerTicks struct{}

// Ticks implements plot.Ticker.
func (integerTicks) Ticks(min, max float64) []plot.Tick {
	lo, hi := math.Ceil(min), math.Floor(max)
	step := 1.0
	for (hi-lo)/step > 10 {
		switch {
		case step == 1 || step == 10 || step == 100:
			step *= 2
		case step == 2 || step == 20 || step == 200:
			step = step / 2 * 5
		default:
			step *= 2
		}
	}
	minor := hi-lo <= 40
	var ticks []plot.Tick
	for v := lo; v <= hi; v++ {
		labelled := math.Mod(v, step) == 0
		if labelled {
			ticks = append(ticks, plot.Tick{Value: v, Label: fmt.Sprintf("%g", v)})
		} else if minor {
			ticks = append(ticks, plot.Tick{Value: v})
		}
	}
	return ticks
}

// niceTicks labels four to eight round values (steps of 1, 2 or 5 times a
// power of ten) with unlabelled minor ticks between them.
type niceTicks struct{}

// Ticks implements plot.Ticker.
func (niceTicks) Ticks(min, max float64) []plot.Tick {
	if !(max > min) || math.IsInf(min, 0) || math.IsInf(max, 0) {
		return plot.DefaultTicks{}.Ticks(min, max)
	}
	span := max - min
	mag := math.Pow(10, math.Floor(math.Log10(span/10)))
	var step, minor float64
	for _, m := range []float64{1, 2, 5, 10, 20, 50, 100} {
		step = m * mag
		minor = step / 5
		if m == 2 || m == 20 {
			minor = step / 2
		}
		if span/step <= 8 {
			break
		}
	}
	prec := max0(0, int(-math.Floor(math.Log10(step)+1e-9)))
	var ticks []plot.Tick
	for i := math.Ceil(min/minor - 1e-9); i*minor <= max+minor*1e-9; i++ {
		v := i * minor
		if v == 0 {
			v = 0 // drops the sign of −0
		}
		t := plot.Tick{Value: v}
		if q := v / step; math.Abs(q-math.Round(q)) < 1e-6 {
			t.Label = strconv.FormatFloat(v, 'f', prec, 64)
		}
		ticks = append(ticks, t)
	}
	return ticks
}

// max0 returns the larger of two ints.
func max0(a, b int) int {
	if a > b {
		return a
	}
	return b
}

// padY widens the y range by frac of its span on both sides, so that
// lines, points and error bars do not touch the frame.
func padY(p *plot.Plot, frac float64) {
	span := p.Y.Max - p.Y.Min
	if span <= 0 {
		span = math.Max(math.Abs(p.Y.Max), 1)
	}
	p.Y.Min -= frac * span
	p.Y.Max += frac * span
}

// seedsHeading describes the seed counts of a figure's series for its
// legend heading, "3 seeds" when they agree; perEntry reports that they do
// not, so each legend entry names its own.
func seedsHeading(counts []int) (heading string, perEntry bool) {
	lo, hi := counts[0], counts[0]
	for _, c := range counts {
		lo, hi = min(lo, c), max(hi, c)
	}
	if lo == hi {
		return fmt.Sprintf("%d seed%s", lo, plural(lo)), false
	}
	return "seeds", true
}

// seedRange is a legend entry's own seed count, " (3 seeds)", or its
// range over the entry's points, " (3–5 seeds)".
func seedRange(lo, hi int) string {
	if lo == hi {
		return fmt.Sprintf(" (%d seed%s)", lo, plural(lo))
	}
	return fmt.Sprintf(" (%d–%d seeds)", lo, hi)
}

// plural returns "s" unless n is 1.
func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
