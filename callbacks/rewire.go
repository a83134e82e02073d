package callbacks

import (
	"math"
	"math/rand"
	"slices"

	"github.com/pkg/errors"

	"github.com/g2g-ml/g2g/graph"
	"github.com/g2g-ml/g2g/layers"
	"github.com/g2g-ml/g2g/optim"
)

// Update describes one rewiring of one sparse layer. The Rewirer hands it to
// its score and value functions.
type Update struct {
	// Layer is the layer being rewired.
	Layer layers.Sparse
	// Optimizer, when non-nil, gets its state reset (Optimizer.ResetAt) at
	// every pruned and regrown position of the layer's weight.
	Optimizer optim.Optimizer
	// Rand is the random stream of this update of this layer (required).
	// The built-in callbacks derive it from their seed, the layer's name and
	// the epoch or step of the update, so that a run resumed at an epoch
	// boundary redraws the same numbers.
	Rand *rand.Rand
	// Context is the training context, nil outside Fit.
	Context *graph.Context
	// At is the epoch (epoch schedules) or optimizer step (step schedules)
	// at which the update happens.
	At int
}

// ScoreFunc scores every edge of u.Layer's weight for one update. It returns
// one finite score per flat index k = i·Out + j (length In·Out); the
// Rewirer prunes the active edges with the lowest scores and regrows the
// inactive edges with the highest scores, reading only the entries of its
// candidates. Ties are broken by the lower flat index, so equal scores give
// a deterministic choice. A ScoreFunc may draw from u.Rand; it must not edit
// the layer.
//
// The built-in ones are MagnitudeScore, RandomScore, the dense-gradient
// score of DST and Hebbian.ScoreFunc; write your own with this signature to
// plug a new criterion into Rewirer (or DSTConfig.PruneFunc and GrowFunc).
type ScoreFunc func(u *Update) ([]float64, error)

// ValueFunc returns the initial weights of the edges about to be regrown,
// one per index of grown, in that order. It is called after the pruned
// edges have been removed. A nil ValueFunc regrows edges at zero.
type ValueFunc func(u *Update, grown []int) ([]float32, error)

// MagnitudeScore scores every edge by |w|: as a prune score it removes the
// weakest weights (SET, RigL).
func MagnitudeScore(u *Update) ([]float64, error) {
	w := u.Layer.Weight().Data()
	s := make([]float64, len(w))
	for k, v := range w {
		s[k] = math.Abs(float64(v))
	}
	return s, nil
}

// RandomScore scores every edge with an independent uniform draw from
// u.Rand: as a prune or grow score it picks edges uniformly at random (SET's
// regrowth).
func RandomScore(u *Update) ([]float64, error) {
	if u.Rand == nil {
		return nil, errors.New("random score: Update.Rand is nil")
	}
	s := make([]float64, u.Layer.Mask().Len())
	for k := range s {
		s[k] = u.Rand.Float64()
	}
	return s, nil
}

// InitValues is a ValueFunc that draws every regrown weight afresh from the
// layer's initializer (layers.Sparse.InitValue) with u.Rand.
func InitValues(u *Update, grown []int) ([]float32, error) {
	if u.Rand == nil {
		return nil, errors.New("init values: Update.Rand is nil")
	}
	m := u.Layer.Mask()
	v := make([]float32, len(grown))
	for n, k := range grown {
		i, j := m.Edge(k)
		v[n] = u.Layer.InitValue(u.Rand, i, j)
	}
	return v, nil
}

// Scope restricts where a Rewirer regrows edges.
type Scope string

const (
	// ScopeAnywhere regrows among all inactive edges of the layer (default).
	ScopeAnywhere Scope = "anywhere"
	// ScopeClass keeps the G2G structure: as many intra-ensemble edges are
	// regrown as were pruned, and inter-ensemble edges likewise. As an edge
	// is never regrown in the update that pruned it, a class can only lose
	// as many edges as it has inactive ones before the update; the pruning
	// skips edges of a class that is full (with p = 1 every intra edge is
	// active, so only inter edges are rewired).
	ScopeClass Scope = "class"
)

func checkScope(s Scope) (Scope, error) {
	switch s {
	case "":
		return ScopeAnywhere, nil
	case ScopeAnywhere, ScopeClass:
		return s, nil
	}
	return s, errors.Errorf("unknown Scope %q (want %q or %q)", string(s), ScopeAnywhere, ScopeClass)
}

// ScoreShare is one part of a mixed prune criterion: Share of the k pruned
// edges are chosen by Score.
type ScoreShare struct {
	// Score ranks the active edges; the lowest are pruned.
	Score ScoreFunc
	// Share is this part's proportion of the pruned edges (> 0; the shares
	// of a mix are normalised to sum to 1).
	Share float64
}

// Rewirer is the prune-and-regrow mechanism shared by DST, Hebbian and
// user-written rules. One call of Rewire on a layer with k:
//
//  1. scores the edges with Prune (or each part of PruneMix) and with Grow,
//     before anything changes;
//  2. picks the k active edges with the lowest prune score (with PruneMix,
//     round(share·k) edges per part, in order, each part skipping edges
//     already picked);
//  3. picks as many inactive edges, among those inactive before the update
//     (so never one just pruned), with the highest grow score, within
//     Scope;
//  4. calls layer.Prune, then Init for the new weights, then layer.Grow,
//     and Optimizer.ResetAt(weight name, …) for both sets.
//
// The active count is unchanged. k is lowered when the layer cannot honour
// it: to the number of inactive edges (ScopeAnywhere) or to what the class
// capacities allow (ScopeClass). Ties are broken by the lower flat index.
type Rewirer struct {
	// Prune ranks active edges for removal (lowest first). Exactly one of
	// Prune and PruneMix must be set.
	Prune ScoreFunc
	// PruneMix splits the pruned edges between several criteria.
	PruneMix []ScoreShare
	// Grow ranks inactive edges for regrowth (highest first); required.
	Grow ScoreFunc
	// Scope is where edges are regrown (default ScopeAnywhere).
	Scope Scope
	// Init gives the regrown weights; nil means zeros.
	Init ValueFunc
}

// RewireReport is what one update did to one layer. It is defined in
// package graph, so that rewiring callbacks can hand their reports to later
// callbacks through graph.Context.Rewires.
type RewireReport = graph.RewireReport

func (r *Rewirer) check() error {
	switch {
	case r.Prune == nil && len(r.PruneMix) == 0:
		return errors.New("rewirer: no prune score (set Prune or PruneMix)")
	case r.Prune != nil && len(r.PruneMix) > 0:
		return errors.New("rewirer: set only one of Prune and PruneMix")
	case r.Grow == nil:
		return errors.New("rewirer: no grow score (set Grow)")
	}
	for n, p := range r.PruneMix {
		if p.Score == nil {
			return errors.Errorf("rewirer: PruneMix[%d] has no Score", n)
		}
		if !(p.Share > 0) || math.IsInf(p.Share, 0) {
			return errors.Errorf("rewirer: PruneMix[%d].Share must be > 0 and finite, got %v", n, p.Share)
		}
	}
	if _, err := checkScope(r.Scope); err != nil {
		return errors.Wrap(err, "rewirer")
	}
	return nil
}

// Rewire prunes k active edges of u.Layer and regrows as many inactive ones,
// as described on Rewirer, and reports what it did. On error the layer is
// left as it was, unless the optimizer's ResetAt fails after the edit.
func (r *Rewirer) Rewire(u *Update, k int) (RewireReport, error) {
	rep := RewireReport{K: k, At: u.At}
	if u.Layer == nil {
		return rep, errors.New("rewire: Update.Layer is nil")
	}
	name := u.Layer.Name()
	rep.Layer = name
	if u.Context != nil {
		rep.Epoch, rep.Step = u.Context.Epoch, u.Context.Step
	}
	fail := func(err error) (RewireReport, error) {
		return rep, errors.Wrapf(err, "rewire layer %q", name)
	}
	if err := r.check(); err != nil {
		return fail(err)
	}
	if k < 0 {
		return fail(errors.Errorf("k must be >= 0, got %d", k))
	}
	m := u.Layer.Mask()
	scope, _ := checkScope(r.Scope)

	active, inactive := m.ActiveIndices(), m.InactiveIndices()
	rep.Active = len(active)
	// Capacities: how many edges of each class may be pruned so that they
	// can be regrown in the same class (ScopeClass), or in total.
	capIntra, capInter, capTotal := -1, -1, len(inactive)
	var inIntra, inInter []int
	if scope == ScopeClass {
		for _, k := range inactive {
			if m.IsIntra(k) {
				inIntra = append(inIntra, k)
			} else {
				inInter = append(inInter, k)
			}
		}
		capIntra, capInter = len(inIntra), len(inInter)
	}
	k = min(k, len(active), capTotal)

	// Score before anything changes, in a fixed order (prune parts, then
	// grow) so that draws from u.Rand are reproducible.
	parts := r.PruneMix
	if r.Prune != nil {
		parts = []ScoreShare{{Score: r.Prune, Share: 1}}
	}
	partScores := make([][]float64, len(parts))
	for n, p := range parts {
		s, err := callScore(p.Score, u, m.Len(), "prune")
		if err != nil {
			return fail(err)
		}
		partScores[n] = s
	}
	growScores, err := callScore(r.Grow, u, m.Len(), "grow")
	if err != nil {
		return fail(err)
	}

	// Pick the pruned edges.
	var total float64
	for _, p := range parts {
		total += p.Share
	}
	picked := make(map[int]bool, k)
	var pruned []int
	nIntra, nInter := 0, 0
	var cum float64
	prev, short := 0, 0
	for n, p := range parts {
		cum += p.Share
		end := int(math.Round(cum / total * float64(k)))
		if n == len(parts)-1 {
			end = k
		}
		quota := end - prev + short
		prev = end
		if quota <= 0 {
			continue
		}
		// Walk the active edges from the lowest score, skipping those
		// already picked and those of a full class. Only a prefix of the
		// order is computed, lengthened until the quota is met.
		var take []int
		ti, te := 0, 0
		for want := quota; ; want = min(2*want, len(active)) {
			order := bestN(active, partScores[n], want, false)
			take, ti, te = take[:0], nIntra, nInter
			for _, e := range order {
				if len(take) == quota {
					break
				}
				if picked[e] {
					continue
				}
				intra := m.IsIntra(e)
				if scope == ScopeClass && (intra && ti >= capIntra || !intra && te >= capInter) {
					continue
				}
				take = append(take, e)
				if intra {
					ti++
				} else {
					te++
				}
			}
			if len(take) == quota || want >= len(active) {
				break
			}
		}
		for _, e := range take {
			picked[e] = true
		}
		pruned = append(pruned, take...)
		nIntra, nInter = ti, te
		short = quota - len(take)
	}

	// Pick the regrown edges among those inactive before the update.
	var grown []int
	if scope == ScopeClass {
		grown = append(bestN(inIntra, growScores, nIntra, true), bestN(inInter, growScores, nInter, true)...)
	} else {
		grown = bestN(inactive, growScores, len(pruned), true)
	}
	slices.Sort(pruned)
	slices.Sort(grown)

	// Edit: prune, draw the new values, grow (rolling back on failure).
	w := u.Layer.Weight().Data()
	old := make([]float32, len(pruned))
	for n, e := range pruned {
		old[n] = w[e]
	}
	if err := u.Layer.Prune(pruned); err != nil {
		return fail(err)
	}
	var values []float32
	if r.Init != nil {
		values, err = r.Init(u, grown)
		if err == nil && len(values) != len(grown) {
			err = errors.Errorf("init: %d values for %d regrown edges", len(values), len(grown))
		}
	}
	if err == nil {
		err = u.Layer.Grow(grown, values)
	}
	if err != nil {
		if rerr := u.Layer.Grow(pruned, old); rerr != nil {
			return fail(errors.Wrapf(err, "(and the rollback failed: %v)", rerr))
		}
		return fail(err)
	}
	if u.Optimizer != nil {
		if err := resetMoments(u.Optimizer, u.Layer.Weight().Name, pruned, grown); err != nil {
			return fail(err)
		}
	}

	rep.Pruned, rep.Regrown = len(pruned), len(grown)
	rep.PrunedIntra = nIntra
	for _, e := range grown {
		if m.IsIntra(e) {
			rep.RegrownIntra++
		}
	}
	rep.Density, rep.IntraFraction = m.Density(), m.IntraFraction()
	if rep.Active > 0 {
		rep.Churn = float64(rep.Pruned) / float64(rep.Active)
	}
	return rep, nil
}

// resetMoments zeroes the optimizer state at both sets of positions. An
// optimizer that has not taken a step yet may not know the parameter: there
// is nothing to reset then.
func resetMoments(opt optim.Optimizer, name string, sets ...[]int) error {
	var all []int
	for _, s := range sets {
		all = append(all, s...)
	}
	if len(all) == 0 {
		return nil
	}
	if err := opt.ResetAt(name, all); err != nil {
		if opt.Steps() == 0 {
			return nil
		}
		return errors.Wrap(err, "reset optimizer state")
	}
	return nil
}

// callScore runs a score function and checks its result.
func callScore(f ScoreFunc, u *Update, n int, what string) ([]float64, error) {
	s, err := f(u)
	if err != nil {
		return nil, errors.Wrapf(err, "%s score", what)
	}
	if len(s) != n {
		return nil, errors.Errorf("%s score: %d scores for %d edges", what, len(s), n)
	}
	for k, v := range s {
		if math.IsNaN(v) {
			return nil, errors.Errorf("%s score: NaN at edge %d", what, k)
		}
	}
	return s, nil
}

// rankCmp orders flat indices by score (ascending, or descending when
// desc), ties by ascending index: a total order, so the n first indices
// are the same whatever algorithm finds them.
func rankCmp(score []float64, desc bool) func(a, b int) int {
	return func(a, b int) int {
		sa, sb := score[a], score[b]
		if desc {
			sa, sb = sb, sa
		}
		switch {
		case sa < sb:
			return -1
		case sa > sb:
			return 1
		}
		return a - b
	}
}

// bestN returns the first n indices of cand in the order of rankCmp,
// sorted. It selects them in linear expected time before sorting only
// them, which matters for the ~10⁶ edges of a 1024×1024 layer.
func bestN(cand []int, score []float64, n int, desc bool) []int {
	n = min(n, len(cand))
	if n <= 0 {
		return nil
	}
	cmp := rankCmp(score, desc)
	a := slices.Clone(cand)
	if n < len(a) {
		selectFirst(a, n, cmp)
	}
	a = a[:n]
	slices.SortFunc(a, cmp)
	return a
}

// selectFirst reorders a so that a[:n] holds its n first elements under
// cmp (a total order without ties), in no particular order: quickselect
// with a median-of-three pivot, falling back to a full sort if the
// partitions degenerate.
func selectFirst(a []int, n int, cmp func(x, y int) int) {
	lo, hi := 0, len(a) // a[:lo] precede a[lo:hi], which precede a[hi:]
	budget := 64
	for hi-lo > 1 {
		if budget--; budget == 0 {
			slices.SortFunc(a[lo:hi], cmp)
			return
		}
		mid := lo + (hi-lo)/2
		if cmp(a[mid], a[lo]) < 0 {
			a[mid], a[lo] = a[lo], a[mid]
		}
		if cmp(a[hi-1], a[lo]) < 0 {
			a[hi-1], a[lo] = a[lo], a[hi-1]
		}
		if cmp(a[hi-1], a[mid]) < 0 {
			a[hi-1], a[mid] = a[mid], a[hi-1]
		}
		a[mid], a[hi-1] = a[hi-1], a[mid]
		pivot, store := a[hi-1], lo
		for i := lo; i < hi-1; i++ {
			if cmp(a[i], pivot) < 0 {
				a[i], a[store] = a[store], a[i]
				store++
			}
		}
		a[store], a[hi-1] = a[hi-1], a[store]
		switch {
		case store == n:
			return
		case store < n:
			lo = store + 1
		default:
			hi = store
		}
	}
}
