package g2gnet

import (
	"math"
	"sort"

	"github.com/pkg/errors"

	"github.com/g2g-ml/g2g/layers"
)

// MatchTolerance is the largest relative difference DenseMatched allows
// between its active parameter count and the G2G model's.
const MatchTolerance = 0.01

// g2gTarget builds the G2G hidden layers of cfg on in features (the layers
// of cfg with Model G2G, same seed, so the same masks) and returns the
// active edges of each and the active parameters of the whole G2G model:
// fixed, the hidden layers' active weights and biases, and the dense output
// layer.
func g2gTarget(cfg MLPConfig, in, fixed int) (edges []int, active int, err error) {
	plan := uniformPlan(cfg, in)
	active = fixed
	for _, h := range plan {
		l, err := buildG2G(cfg, h)
		if err != nil {
			return nil, 0, errors.Wrap(err, "the G2G model it is matched to")
		}
		for _, p := range l.Params() {
			active += p.Active()
		}
		edges = append(edges, l.(*layers.G2G).Mask().Active())
	}
	last := plan[len(plan)-1].out
	return edges, active + last*cfg.Classes + cfg.Classes, nil
}

// denseCount returns the parameters of a dense model with the given hidden
// widths on in features: fixed, every hidden layer's weights and biases,
// and the output layer.
func denseCount(in, fixed, classes int, widths []int) int {
	n := fixed
	for _, w := range widths {
		n += in*w + w
		in = w
	}
	return n + in*classes + classes
}

// scaled returns every width of hidden scaled by t/T, T the largest of
// them, rounded to the nearest integer and at least 1.
func scaled(hidden []int, t int) []int {
	top := 0
	for _, h := range hidden {
		top = max(top, h)
	}
	out := make([]int, len(hidden))
	for l, h := range hidden {
		out[l] = max(1, int(math.Round(float64(h)*float64(t)/float64(top))))
	}
	return out
}

// MatchedWidths returns the hidden widths of the DenseMatched model of cfg
// on in features (fixed parameters in front, e.g. an encoder), the active
// parameter count of the G2G model it matches, and its own count: every
// hidden width h_l scaled to round(h_l·t/T), T the largest hidden width,
// with the integer t in [1, T] whose dense count is closest to the G2G
// model's (the lower t on a tie). The count does not decrease with t, so
// t is found by bisection. It is an error when the closest count is more
// than MatchTolerance (1 %) away.
func MatchedWidths(cfg MLPConfig, in, fixed int) (widths []int, target, count int, err error) {
	if len(cfg.Hidden) == 0 {
		return nil, 0, 0, errors.New("no hidden layers")
	}
	_, target, err = g2gTarget(cfg, in, fixed)
	if err != nil {
		return nil, 0, 0, err
	}
	top := 0
	for _, h := range cfg.Hidden {
		top = max(top, h)
	}
	countAt := func(t int) int { return denseCount(in, fixed, cfg.Classes, scaled(cfg.Hidden, t)) }
	// The largest t in [1, top] with count(t) <= target, or 1.
	lo, hi := 1, top
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if countAt(mid) <= target {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	best := lo
	if lo < top && abs(countAt(lo+1)-target) < abs(countAt(lo)-target) {
		best = lo + 1
	}
	widths, count = scaled(cfg.Hidden, best), countAt(best)
	if off := math.Abs(float64(count-target)) / float64(target); off > MatchTolerance {
		return nil, target, count, errors.Errorf("no uniform scaling of the hidden widths %v comes within %g %% of the G2G model's %d active parameters "+
			"(closest: widths %v with %d parameters, %.2f %% off): widen the hidden layers", cfg.Hidden, 100*MatchTolerance, target, widths, count, 100*off)
	}
	return widths, target, count, nil
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// planMatched plans DenseMatched's hidden layers: cfg.Hidden narrowed by
// MatchedWidths.
func planMatched(cfg MLPConfig, in, fixed int) ([]hiddenLayer, error) {
	widths, _, _, err := MatchedWidths(cfg, in, fixed)
	if err != nil {
		return nil, err
	}
	c := cfg
	c.Hidden = widths
	return uniformPlan(c, in), nil
}

// planER plans ER's hidden layers: cfg.Hidden, each with as many edges as
// the G2G layer it replaces.
func planER(cfg MLPConfig, in, fixed int) ([]hiddenLayer, error) {
	edges, _, err := g2gTarget(cfg, in, fixed)
	if err != nil {
		return nil, err
	}
	plan := uniformPlan(cfg, in)
	for l := range plan {
		plan[l].edges = edges[l]
	}
	return plan, nil
}

// planERK plans ERK's hidden layers: cfg.Hidden with the edge counts of
// ERKEdges for the G2G model's total.
func planERK(cfg MLPConfig, in, fixed int) ([]hiddenLayer, error) {
	edges, _, err := g2gTarget(cfg, in, fixed)
	if err != nil {
		return nil, err
	}
	total := 0
	for _, e := range edges {
		total += e
	}
	plan := uniformPlan(cfg, in)
	shapes := make([][2]int, len(plan))
	for l, h := range plan {
		shapes[l] = [2]int{h.in, h.out}
	}
	counts, err := ERKEdges(shapes, total)
	if err != nil {
		return nil, err
	}
	for l := range plan {
		plan[l].edges = counts[l]
	}
	return plan, nil
}

// ERKEdges distributes total edges over layers of the given (in, out)
// shapes as RigL's Erdős–Rényi-Kernel rule does (Evci et al. 2020, with
// the kernel dimensions of dense layers): layer l gets density
// ε·(in_l + out_l)/(in_l·out_l), that is ε·(in_l + out_l) edges, with ε
// such that the edges sum to total. A layer whose density would exceed 1
// (the one with the largest (in + out)/(in·out) first) is made dense and ε
// is solved again for the others, until no density exceeds 1. The real
// counts are then rounded by largest remainder (ties to the earlier
// layer), so that they sum to exactly total. It is an error when total is
// not in [1, Σ in_l·out_l] or a layer would get no edge.
func ERKEdges(shapes [][2]int, total int) ([]int, error) {
	capacity := 0
	for l, s := range shapes {
		if s[0] < 1 || s[1] < 1 {
			return nil, errors.Errorf("erk: layer %d has shape %d × %d", l+1, s[0], s[1])
		}
		capacity += s[0] * s[1]
	}
	if total < 1 || total > capacity {
		return nil, errors.Errorf("erk: %d edges for layers with %d pairs in all: want 1 to %d", total, capacity, capacity)
	}
	dense := make([]bool, len(shapes))
	var eps float64
	for {
		budget, denom := float64(total), 0.0
		for l, s := range shapes {
			if dense[l] {
				budget -= float64(s[0] * s[1])
			} else {
				denom += float64(s[0] + s[1])
			}
		}
		if denom == 0 {
			break // every layer dense: total is the capacity
		}
		eps = budget / denom
		worst, worstRaw := -1, 0.0
		for l, s := range shapes {
			raw := float64(s[0]+s[1]) / float64(s[0]*s[1])
			if !dense[l] && eps*raw > 1 && raw > worstRaw {
				worst, worstRaw = l, raw
			}
		}
		if worst < 0 {
			break
		}
		dense[worst] = true
	}
	counts := make([]int, len(shapes))
	type rem struct {
		l    int
		frac float64
	}
	var rems []rem
	sum := 0
	for l, s := range shapes {
		if dense[l] {
			counts[l] = s[0] * s[1]
		} else {
			x := eps * float64(s[0]+s[1])
			counts[l] = int(math.Floor(x))
			rems = append(rems, rem{l, x - math.Floor(x)})
		}
		sum += counts[l]
	}
	sort.SliceStable(rems, func(a, b int) bool { return rems[a].frac > rems[b].frac })
	for i := 0; sum < total && i < len(rems); i++ {
		counts[rems[i].l]++
		sum++
	}
	for l, c := range counts {
		if c < 1 || c > shapes[l][0]*shapes[l][1] {
			return nil, errors.Errorf("erk: layer %d (%d × %d) would get %d edges", l+1, shapes[l][0], shapes[l][1], c)
		}
	}
	if sum != total {
		return nil, errors.Errorf("erk: the counts sum to %d, not %d", sum, total)
	}
	return counts, nil
}
