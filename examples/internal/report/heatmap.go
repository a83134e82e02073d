package report

import (
	"fmt"
	"image"
	"image/color"
	"math"
	"sort"

	"github.com/pkg/errors"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/g2g-ml/g2g/layers"
)

// MaxHeatmapCells is the largest number of grid cells per side of a mask
// heatmap panel: a larger mask is downsampled by averaging blocks of
// ceil(side / MaxHeatmapCells) units.
const MaxHeatmapCells = 512

// Heatmap colours: an active edge is dark, an inactive one light, an edge
// regrown during training (active after, not before) red and one pruned
// (active before, not after) light blue. A downsampled block mixes them in
// proportion to its edges.
var (
	colActive   = color.RGBA{0x26, 0x26, 0x26, 0xff}
	colInactive = color.RGBA{0xf4, 0xf4, 0xf4, 0xff}
	colRegrown  = color.RGBA{0xe0, 0x1b, 0x1b, 0xff}
	colPruned   = color.RGBA{0x74, 0xb4, 0xe8, 0xff}
)

// maskGrid is a mask pair with units sorted by ensemble and averaged over
// blocks: what PlotMaskHeatmap draws.
type maskGrid struct {
	in, out int
	// inOrder and outOrder map a sorted position to its unit.
	inOrder, outOrder []int
	// inBounds and outBounds are the sorted positions where an ensemble
	// starts, followed by the side's length.
	inBounds, outBounds []int
	// rowBlock and colBlock are the units per cell; the last cell of a
	// side may hold fewer.
	rowBlock, colBlock int
	rows, cols         int
	// before is the fraction of each cell's edges active before training;
	// kept, regrown and pruned the fractions active in both masks, in after
	// only and in before only. Cells are row-major, rows = inputs.
	before, kept, regrown, pruned []float64
	// Edge counts: active before and after, regrown, pruned, and the
	// intra-ensemble ones among the active before and after.
	nBefore, nAfter, nRegrown, nPruned, intraBefore, intraAfter int
	groups                                                      int
}

// ensembleOrder returns the units sorted by ensemble, stable within one,
// and the sorted positions where each ensemble starts, followed by len(groups).
func ensembleOrder(groups []int) (order, bounds []int) {
	order = make([]int, len(groups))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return groups[order[a]] < groups[order[b]] })
	for p, u := range order {
		if p == 0 || groups[u] != groups[order[p-1]] {
			bounds = append(bounds, p)
		}
	}
	return order, append(bounds, len(groups))
}

// newMaskGrid sorts the units of before and after by before's ensembles and
// averages them over blocks so that neither side has more than maxCells
// cells.
func newMaskGrid(before, after *layers.Mask, maxCells int) (*maskGrid, error) {
	if before == nil || after == nil {
		return nil, errors.New("need both masks (before and after training)")
	}
	if before.In != after.In || before.Out != after.Out {
		return nil, errors.Errorf("mask shapes differ: before (%d, %d), after (%d, %d)", before.In, before.Out, after.In, after.Out)
	}
	in, out := before.In, before.Out
	if in < 1 || out < 1 || len(before.Data()) != in*out || len(after.Data()) != in*out ||
		len(before.InGroup) != in || len(before.OutGroup) != out {
		return nil, errors.Errorf("malformed mask of shape (%d, %d)", in, out)
	}
	g := &maskGrid{in: in, out: out, groups: before.Groups}
	g.inOrder, g.inBounds = ensembleOrder(before.InGroup)
	g.outOrder, g.outBounds = ensembleOrder(before.OutGroup)
	g.rowBlock = (in + maxCells - 1) / maxCells
	g.colBlock = (out + maxCells - 1) / maxCells
	g.rows = (in + g.rowBlock - 1) / g.rowBlock
	g.cols = (out + g.colBlock - 1) / g.colBlock
	n := g.rows * g.cols
	g.before, g.kept, g.regrown, g.pruned = make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
	bd, ad := before.Data(), after.Data()
	for r, i := range g.inOrder {
		row := (r / g.rowBlock) * g.cols
		gi := before.InGroup[i]
		for c, j := range g.outOrder {
			k := i*out + j
			b, a := bd[k] != 0, ad[k] != 0
			if !a && !b {
				continue
			}
			cell := row + c/g.colBlock
			intra := gi == before.OutGroup[j]
			if b {
				g.nBefore++
				g.before[cell]++
				if intra {
					g.intraBefore++
				}
			}
			if a {
				g.nAfter++
				if intra {
					g.intraAfter++
				}
			}
			switch {
			case a && b:
				g.kept[cell]++
			case a:
				g.regrown[cell]++
				g.nRegrown++
			default:
				g.pruned[cell]++
				g.nPruned++
			}
		}
	}
	for r := 0; r < g.rows; r++ {
		h := min(in, (r+1)*g.rowBlock) - r*g.rowBlock
		for c := 0; c < g.cols; c++ {
			w := min(out, (c+1)*g.colBlock) - c*g.colBlock
			area, k := float64(h*w), r*g.cols+c
			g.before[k] /= area
			g.kept[k] /= area
			g.regrown[k] /= area
			g.pruned[k] /= area
		}
	}
	return g, nil
}

// mix blends colours with the given weights, which sum to 1.
func mix(ws []float64, cs []color.RGBA) color.RGBA {
	var r, g, b float64
	for i, w := range ws {
		r += w * float64(cs[i].R)
		g += w * float64(cs[i].G)
		b += w * float64(cs[i].B)
	}
	c8 := func(v float64) uint8 { return uint8(math.Max(0, math.Min(255, math.Round(v)))) }
	return color.RGBA{c8(r), c8(g), c8(b), 0xff}
}

// images renders the before and after panels, one pixel per cell.
func (g *maskGrid) images() (before, after *image.RGBA) {
	before = image.NewRGBA(image.Rect(0, 0, g.cols, g.rows))
	after = image.NewRGBA(image.Rect(0, 0, g.cols, g.rows))
	for r := 0; r < g.rows; r++ {
		for c := 0; c < g.cols; c++ {
			k := r*g.cols + c
			b := g.before[k]
			before.SetRGBA(c, r, mix([]float64{b, 1 - b}, []color.RGBA{colActive, colInactive}))
			kp, rg, pr := g.kept[k], g.regrown[k], g.pruned[k]
			after.SetRGBA(c, r, mix([]float64{kp, rg, pr, math.Max(0, 1-kp-rg-pr)},
				[]color.RGBA{colActive, colRegrown, colPruned, colInactive}))
		}
	}
	return before, after
}

// cellImage draws an image over data coordinates [0, w] × [0, h] without
// blurring: it is scaled to the device resolution by nearest neighbour
// first. A thin frame marks its border.
type cellImage struct {
	img  *image.RGBA
	w, h float64
}

// Plot implements plot.Plotter.
func (ci cellImage) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	rect := vg.Rectangle{Min: vg.Point{X: trX(0), Y: trY(0)}, Max: vg.Point{X: trX(ci.w), Y: trY(ci.h)}}
	res := float64(dpi)
	if d, ok := c.Canvas.(interface{ DPI() float64 }); ok {
		res = d.DPI()
	}
	size := rect.Size()
	wd, hd := int(math.Round(size.X.Dots(res))), int(math.Round(size.Y.Dots(res)))
	if wd > 0 && hd > 0 {
		c.DrawImage(rect, upscale(ci.img, wd, hd))
	}
	frame := draw.LineStyle{Color: color.RGBA{0x99, 0x99, 0x99, 0xff}, Width: vg.Points(0.75)}
	c.StrokeLines(frame, []vg.Point{rect.Min, {X: rect.Max.X, Y: rect.Min.Y}, rect.Max, {X: rect.Min.X, Y: rect.Max.Y}, rect.Min})
}

// DataRange implements plot.DataRanger.
func (ci cellImage) DataRange() (xmin, xmax, ymin, ymax float64) { return 0, ci.w, 0, ci.h }

// upscale resizes src to w × h pixels by nearest neighbour.
func upscale(src *image.RGBA, w, h int) *image.RGBA {
	sb := src.Bounds()
	if sb.Dx() == w && sb.Dy() == h {
		return src
	}
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		sy := sb.Min.Y + y*sb.Dy()/h
		for x := 0; x < w; x++ {
			sx := sb.Min.X + x*sb.Dx()/w
			i, j := src.PixOffset(sx, sy), dst.PixOffset(x, y)
			copy(dst.Pix[j:j+4], src.Pix[i:i+4])
		}
	}
	return dst
}

// boundaryTicks marks the ensemble boundaries of a side of length n (the
// sorted positions in bounds) with at most about eight labels. With one
// ensemble, or too many to mark, it falls back to plain ticks. When
// reversed, position b is drawn at data value n − b (inputs run top-down).
func boundaryTicks(bounds []int, n int, reversed bool) plot.Ticker {
	return plot.TickerFunc(func(lo, hi float64) []plot.Tick {
		var ticks []plot.Tick
		groups := len(bounds) - 1
		if groups <= 1 || groups > 128 {
			for _, t := range (plot.DefaultTicks{}).Ticks(0, float64(n)) {
				if t.Value < 0 || t.Value > float64(n) {
					continue
				}
				if reversed {
					t.Value = float64(n) - t.Value
				}
				ticks = append(ticks, t)
			}
			return ticks
		}
		every := (groups + 7) / 8
		for i, b := range bounds {
			t := plot.Tick{Value: float64(b)}
			if i%every == 0 {
				t.Label = fmt.Sprint(b)
			}
			if reversed {
				t.Value = float64(n - b)
			}
			ticks = append(ticks, t)
		}
		return ticks
	})
}

// panel returns one heatmap panel's plot.
func (g *maskGrid) panel(title string, img *image.RGBA) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font = fontOf(14)
	p.Title.Padding = vg.Points(6)
	p.X.Label.Text = "output unit (sorted by ensemble)"
	p.Y.Label.Text = "input unit (sorted by ensemble)"
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font = fontOf(12)
		a.Tick.Label.Font = fontOf(10)
		a.Padding = 0
	}
	p.X.Min, p.X.Max = 0, float64(g.out)
	p.Y.Min, p.Y.Max = 0, float64(g.in)
	p.X.Tick.Marker = boundaryTicks(g.outBounds, g.out, false)
	p.Y.Tick.Marker = boundaryTicks(g.inBounds, g.in, true)
	p.Add(cellImage{img: img, w: float64(g.out), h: float64(g.in)})
	return p
}

// PlotMaskHeatmap writes a PNG of a layer's mask before and after training,
// side by side. Rows are input units and columns output units, both sorted
// by ensemble (before's assignment, stable within an ensemble), so that
// intra-ensemble edges form the diagonal blocks; axis ticks mark the
// ensemble boundaries. Active edges are dark and inactive ones light; in the
// after panel, edges regrown during training (active after, not before) are
// red and pruned ones (active before, not after) light blue. Masks with a
// side longer than [MaxHeatmapCells] are downsampled by block averaging:
// a cell's shade is the fraction of its edges in each state. A caption
// gives the colour key with the regrown and pruned counts, the densities
// and intra-ensemble fractions, and the block size. It errors on a nil
// mask or on shapes that differ.
func PlotMaskHeatmap(path string, before, after *layers.Mask, title string) error {
	g, err := newMaskGrid(before, after, MaxHeatmapCells)
	if err != nil {
		return errors.Wrapf(err, "plot mask heatmap %s", path)
	}
	bi, ai := g.images()
	panels := [][]*plot.Plot{{g.panel("before training", bi), g.panel("after training", ai)}}

	const titleH, captionH, panelW, panelH = 46.0, 136.0, 600.0, 600.0
	w, h := px(2*panelW+40), px(titleH+panelH+captionH)
	c := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(dpi), vgimg.UseBackgroundColor(color.White))
	dc := draw.New(c)

	ts := text.Style{Color: color.Black, Font: fontOf(16), XAlign: text.XCenter, YAlign: text.YTop, Handler: plot.DefaultTextHandler}
	dc.FillText(ts, vg.Point{X: w / 2, Y: h - px(12)}, title)

	area := draw.Crop(dc, px(10), -px(20), px(captionH), -px(titleH))
	tiles := draw.Tiles{Rows: 1, Cols: 2, PadX: px(40)}
	for j, cv := range plot.Align(panels, tiles, area)[0] {
		panels[0][j].Draw(cv)
	}
	g.drawCaption(draw.Crop(dc, px(24), -px(24), px(8), -(h - px(captionH))))
	return errors.Wrap(savePNG(path, vgimg.PngCanvas{Canvas: c}), "plot mask heatmap")
}

// drawCaption draws the colour key and the statistics below the panels.
func (g *maskGrid) drawCaption(c draw.Canvas) {
	st := text.Style{Color: color.Black, Font: fontOf(12), YAlign: text.YTop, Handler: plot.DefaultTextHandler}
	lineH := st.Height("Ag") * 1.45
	y := c.Max.Y - vg.Points(4)

	// Colour key: a swatch and its text per state.
	box := st.Height("Ag") * 0.9
	x := c.Min.X
	keys := []struct {
		c    color.RGBA
		text string
	}{
		{colActive, "active edge"},
		{colInactive, "inactive edge"},
		{colRegrown, fmt.Sprintf("regrown (active after, not before): %s", thousands(g.nRegrown))},
		{colPruned, fmt.Sprintf("pruned (active before, not after): %s", thousands(g.nPruned))},
	}
	for _, k := range keys {
		sq := []vg.Point{{X: x, Y: y - box}, {X: x + box, Y: y - box}, {X: x + box, Y: y}, {X: x, Y: y}}
		c.FillPolygon(k.c, sq)
		c.StrokeLines(draw.LineStyle{Color: color.RGBA{0x80, 0x80, 0x80, 0xff}, Width: vg.Points(0.5)}, append(sq, sq[0]))
		c.FillText(st, vg.Point{X: x + box + vg.Points(5), Y: y + vg.Points(1)}, k.text)
		x += box + vg.Points(5) + st.Width(k.text) + vg.Points(22)
	}
	y -= lineH * 1.25

	total := float64(g.in * g.out)
	pct := func(n, of int) float64 {
		if of == 0 {
			return 0
		}
		return 100 * float64(n) / float64(of)
	}
	lines := []string{
		fmt.Sprintf("before: %s of %s edges active (density %.3f, %.1f %% intra-ensemble)    after: %s active (density %.3f, %.1f %% intra-ensemble)",
			thousands(g.nBefore), thousands(g.in*g.out), float64(g.nBefore)/total, pct(g.intraBefore, g.nBefore),
			thousands(g.nAfter), float64(g.nAfter)/total, pct(g.intraAfter, g.nAfter)),
		fmt.Sprintf("rows: %s input units, columns: %s output units, both sorted by ensemble (%d ensemble%s, ticks at ensemble boundaries; diagonal blocks are intra-ensemble edges)",
			thousands(g.in), thousands(g.out), g.groups, plural(g.groups)),
	}
	if g.rowBlock > 1 || g.colBlock > 1 {
		lines = append(lines, fmt.Sprintf("downsampled by block averaging: each cell is a block of %d × %d edges, shaded by the fraction of its edges in each state",
			g.rowBlock, g.colBlock))
	} else {
		lines = append(lines, "one cell per edge (no downsampling)")
	}
	for _, l := range lines {
		c.FillText(st, vg.Point{X: c.Min.X, Y: y}, l)
		y -= lineH
	}
}
