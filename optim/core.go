package optim

import (
	"math"
	"runtime"
	"slices"
	"sort"

	"github.com/pkg/errors"

	"github.com/g2g-ml/g2g/internal/sparse/kernels"
)

// paramState is what an optimizer keeps for one parameter.
//
// Its slots have one of two layouts. Full: slots[k][i] is entry i, for
// every i < n; dense parameters, masked parameters stepped without
// Param.Active and states installed by SetState use it. Packed: only the
// active entries of a masked parameter are kept, slots[k][j] being entry
// active[j], so the state costs memory and time in proportion to the
// active entries; a masked parameter stepped with Param.Active uses it.
// The state of an entry outside active is zero, as the full layout keeps
// it (docs/design.md §8), so State can always give the full layout back.
type paramState struct {
	// n is the parameter's length, fixed on first sight; -1 when unknown
	// (installed by SetState for an optimizer without slots).
	n int
	// slots holds one []float32 per slot name, in the order of
	// core.slotNames, in the full layout (length n) unless packed (length
	// len(active)); nil for a parameter whose first step failed (all
	// zero).
	slots [][]float32
	// visit is the core.visits value of the last Step call that saw the
	// parameter; it detects a name given twice in one call.
	visit uint64
	// packed is set when slots follow active: the optimizer's own copy of
	// the Param.Active it was packed for, so that the indices the update
	// uses cannot change behind its back. given is the caller's slice,
	// compared by identity to notice a new active list (layers.Mask.Offsets
	// returns a new slice after every mask edit).
	packed bool
	active []int32
	given  []int32
	// mirrorAt is the last Param.MirrorAt found valid, with the length of
	// the Mirror it was checked against, so that an unchanged slice is not
	// checked again at every step.
	mirrorAt  []int32
	mirrorLen int
}

// span is the part of one parameter a step visits: every index in
// [lo, hi) (skipping and zeroing masked ones) when idx is nil, otherwise
// the packed positions [lo, hi), which hold the entries idx[lo:hi].
type span struct {
	lo, hi int
	idx    []int32
}

// spanUpdater updates the entries of one span of a parameter.
type spanUpdater interface{ run(s span) }

// spans calls u.run on pieces of parameter p that split its work between
// GOMAXPROCS goroutines (one piece when it is small), on the kernels'
// worker pool: its workers are still spinning from the backward pass when
// the step starts, where starting goroutines woke idle processors at
// every step. Entries are independent, so the split does not change any
// result.
func (c *core) spans(p *Param, st *paramState, u spanUpdater) {
	s := span{hi: len(p.Value)}
	if st.packed {
		s = span{hi: len(st.active), idx: st.active}
	}
	if n := s.hi; runtime.GOMAXPROCS(0) < 2 || n < 1<<15 {
		u.run(s)
		return
	}
	if c.parRun == nil {
		c.parRun = c.runRange // bound once: a closure per call would allocate
	}
	c.parU, c.parIdx = u, s.idx
	kernels.ParallelFor(s.hi, c.parRun)
	c.parU, c.parIdx = nil, nil
}

// runRange is one piece of the running spans call.
func (c *core) runRange(lo, hi int) { c.parU.run(span{lo: lo, hi: hi, idx: c.parIdx}) }

// checkActive verifies a new Param.Active: ascending, in range, and only
// entries whose mask is 1.
func checkActive(kind string, p *Param) error {
	prev := int32(-1)
	for _, k := range p.Active {
		if k <= prev || int(k) >= len(p.Value) || p.Mask[k] == 0 {
			return errors.Errorf("optim: %s: parameter %q: Active must list, ascending, indices below %d whose mask is 1; got %d after %d",
				kind, p.Name, len(p.Value), k, prev)
		}
		prev = k
	}
	return nil
}

// checkMirror verifies p's Mirror and MirrorAt (see Param.Mirror), unless
// the same MirrorAt slice passed the check against a Mirror as long before.
// The kernels store through MirrorAt without bounds checks.
func (c *core) checkMirror(p *Param) error {
	if p.Mirror == nil && p.MirrorAt == nil {
		return nil
	}
	if p.Active == nil || len(p.MirrorAt) != len(p.Active) {
		return errors.Errorf("optim: %s: parameter %q: MirrorAt needs Active and must have its length %d, got %d",
			c.kind, p.Name, len(p.Active), len(p.MirrorAt))
	}
	if st, ok := c.params[p.Name]; ok && sameSlice(st.mirrorAt, p.MirrorAt) && st.mirrorLen == len(p.Mirror) {
		return nil
	}
	for k, a := range p.MirrorAt {
		if int(a) >= len(p.Mirror) {
			return errors.Errorf("optim: %s: parameter %q: MirrorAt[%d] = %d, beyond Mirror's %d entries",
				c.kind, p.Name, k, a, len(p.Mirror))
		}
	}
	return nil
}

// noteMirror records p's MirrorAt as checked (called once nothing can fail).
func (st *paramState) noteMirror(p *Param) {
	st.mirrorAt, st.mirrorLen = p.MirrorAt, len(p.Mirror)
}

func sameSlice(a, b []int32) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// core holds what every optimizer shares: learning rate and schedule, step
// counter, clipping settings and the per-parameter state slots.
// It is not safe for concurrent use.
type core struct {
	kind      string // optimizer name for error messages
	baseLR    float64
	sched     Schedule
	steps     int
	clipNorm  float64
	clipValue float64
	slotNames []string
	params    map[string]*paramState
	visits    uint64
	// parU and parIdx are the update and the packed indices of the
	// running spans call, parRun its pieces' function (runRange, bound
	// once).
	parU   spanUpdater
	parIdx []int32
	parRun func(lo, hi int)
	// cur holds the states of the parameters of the running Step call,
	// parallel to its params; reused across calls so steady-state steps do
	// not allocate.
	cur []*paramState
}

func newCore(kind string, lr, clipNorm, clipValue float64, sched Schedule, slotNames ...string) (core, error) {
	if !(lr > 0) || math.IsInf(lr, 0) {
		return core{}, errors.Errorf("optim: %s: LR must be > 0 and finite, got %v", kind, lr)
	}
	if err := checkNonNeg(kind, "ClipNorm", clipNorm); err != nil {
		return core{}, err
	}
	if err := checkNonNeg(kind, "ClipValue", clipValue); err != nil {
		return core{}, err
	}
	if sched == nil {
		sched = Constant()
	}
	return core{
		kind:      kind,
		baseLR:    lr,
		sched:     sched,
		clipNorm:  clipNorm,
		clipValue: clipValue,
		slotNames: slotNames,
		params:    map[string]*paramState{},
	}, nil
}

// checkNonNeg reports an error unless v is finite and >= 0.
func checkNonNeg(kind, name string, v float64) error {
	if !(v >= 0) || math.IsInf(v, 0) {
		return errors.Errorf("optim: %s: %s must be >= 0 and finite, got %v", kind, name, v)
	}
	return nil
}

// checkUnit reports an error unless v is in [0, 1).
func checkUnit(kind, name string, v float64) error {
	if !(v >= 0 && v < 1) {
		return errors.Errorf("optim: %s: %s must be in [0, 1), got %v", kind, name, v)
	}
	return nil
}

func (c *core) lr() float64 { return c.baseLR * c.sched.Factor(c.steps) }

// begin validates params and prepares a step: it returns the learning rate
// of this step and the factor by which gradients are scaled for ClipNorm,
// and leaves in c.cur the state of each parameter, in the layout the step
// needs (see layout), allocating slots for names seen for the first time.
// When it returns an error no Value has been touched and no state has
// changed layout.
func (c *core) begin(params []Param) (lr float64, scale float32, err error) {
	if !(c.baseLR > 0) || math.IsInf(c.baseLR, 0) {
		return 0, 0, errors.Errorf("optim: %s: base LR must be > 0 and finite, got %v", c.kind, c.baseLR)
	}
	lr = c.lr()
	if !(lr >= 0) || math.IsInf(lr, 0) {
		return 0, 0, errors.Errorf("optim: %s: LR at step %d must be >= 0 and finite, got %v (base %v)",
			c.kind, c.steps, lr, c.baseLR)
	}
	for i := range params {
		p := &params[i]
		if len(p.Grad) != len(p.Value) {
			return 0, 0, errors.Errorf("optim: %s: parameter %q: len(Grad) = %d, want len(Value) = %d",
				c.kind, p.Name, len(p.Grad), len(p.Value))
		}
		if p.Mask != nil && len(p.Mask) != len(p.Value) {
			return 0, 0, errors.Errorf("optim: %s: parameter %q: len(Mask) = %d, want len(Value) = %d",
				c.kind, p.Name, len(p.Mask), len(p.Value))
		}
		if p.Active != nil && p.Mask == nil {
			return 0, 0, errors.Errorf("optim: %s: parameter %q: Active without Mask", c.kind, p.Name)
		}
		if p.Active != nil {
			if st, ok := c.params[p.Name]; !ok || !st.packed || !sameSlice(st.given, p.Active) {
				if err := checkActive(c.kind, p); err != nil {
					return 0, 0, err
				}
			}
		}
		if err := c.checkMirror(p); err != nil {
			return 0, 0, err
		}
		if st, ok := c.params[p.Name]; ok && st.n >= 0 && st.n != len(p.Value) {
			return 0, 0, errors.Errorf("optim: %s: parameter %q: len(Value) = %d, but its optimizer state has length %d",
				c.kind, p.Name, len(p.Value), st.n)
		}
	}
	c.visits++
	c.cur = c.cur[:0]
	for i := range params {
		p := &params[i]
		st, ok := c.params[p.Name]
		if !ok {
			st = &paramState{n: len(p.Value)} // slots allocated below
			c.params[p.Name] = st
		} else if st.visit == c.visits {
			c.cur = c.cur[:0]
			return 0, 0, errors.Errorf("optim: %s: parameter %q given more than once", c.kind, p.Name)
		} else if st.n < 0 {
			st.n = len(p.Value) // installed by SetState without slots
		}
		st.visit = c.visits
		c.cur = append(c.cur, st)
	}
	// Nothing can fail from here on.
	for i := range params {
		c.layout(&params[i], c.cur[i])
		c.cur[i].noteMirror(&params[i])
	}
	scale = 1
	if c.clipNorm > 0 {
		scale = float32(c.normScale(params))
	}
	return lr, scale, nil
}

// layout gives st the layout this step of p needs. A parameter with
// Param.Active gets packed state; when its active list is new (first sight,
// or the mask was rewired) the state is repacked: entries that stay active
// keep their state, new ones start from zero, dropped ones are forgotten
// (zero, as masked state always is), and every weight whose mask is 0 is
// set to 0 (the layer's Prune does so already; this also catches a weight
// edited directly). A parameter without Param.Active gets the full layout;
// its masked entries are zeroed by the update itself.
func (c *core) layout(p *Param, st *paramState) {
	switch {
	case p.Active != nil:
		if st.packed && sameSlice(st.given, p.Active) {
			return
		}
		c.pack(st, p.Active)
		for i, mk := range p.Mask {
			if mk == 0 {
				p.Value[i] = 0
			}
		}
	case st.packed:
		c.unpack(st)
	case st.slots == nil && len(c.slotNames) > 0:
		st.slots = make([][]float32, len(c.slotNames))
		for k := range st.slots {
			st.slots[k] = make([]float32, st.n)
		}
	}
}

// pack rebuilds st's slots in the packed layout for the active list given
// (validated by begin), from whatever layout they had.
func (c *core) pack(st *paramState, given []int32) {
	active := append([]int32(nil), given...)
	slots := make([][]float32, len(c.slotNames))
	for k := range slots {
		s := make([]float32, len(active))
		switch {
		case st.slots == nil:
		case st.packed:
			repack(s, active, st.slots[k], st.active)
		default:
			for j, i := range active {
				s[j] = st.slots[k][i]
			}
		}
		slots[k] = s
	}
	st.slots, st.packed, st.active, st.given = slots, true, active, given
}

// repack sets dst[j] to the value that src (packed for the ascending list
// from) holds for entry to[j], or to 0 when from does not list it. dst must
// be zero.
func repack(dst []float32, to []int32, src []float32, from []int32) {
	q := 0
	for j, i := range to {
		for q < len(from) && from[q] < i {
			q++
		}
		if q == len(from) {
			return
		}
		if from[q] == i {
			dst[j] = src[q]
		}
	}
}

// unpack rebuilds st's slots in the full layout.
func (c *core) unpack(st *paramState) {
	for k, s := range st.slots {
		st.slots[k] = unpacked(s, st.active, st.n)
	}
	st.packed, st.active, st.given = false, nil, nil
}

// unpacked returns the full-layout copy, of length n, of a slot packed for
// active.
func unpacked(s []float32, active []int32, n int) []float32 {
	full := make([]float32, n)
	for j, i := range active {
		full[i] = s[j]
	}
	return full
}

// end finishes a successful step.
func (c *core) end() {
	for i := range c.cur {
		c.cur[i] = nil
	}
	c.cur = c.cur[:0]
	c.steps++
}

// clip applies ClipValue to one gradient entry.
func clip(g, cv float32) float32 {
	if g > cv {
		return cv
	}
	if g < -cv {
		return -cv
	}
	return g
}

// normScale returns the factor that brings the global L2 norm of the
// (value-clipped) gradients of the unmasked entries down to ClipNorm, as
// torch.nn.utils.clip_grad_norm_ does: min(1, ClipNorm/(norm+1e-6)).
func (c *core) normScale(params []Param) float64 {
	cv := float32(c.clipValue)
	var sum float64
	for i := range params {
		p := &params[i]
		if st := c.cur[i]; st.packed {
			// The active entries, in the order of the scan below.
			for _, j := range st.active {
				g := p.Grad[j]
				if cv > 0 {
					g = clip(g, cv)
				}
				sum += float64(g) * float64(g)
			}
			continue
		}
		for j, g := range p.Grad {
			if p.Mask != nil && p.Mask[j] == 0 {
				continue
			}
			if cv > 0 {
				g = clip(g, cv)
			}
			sum += float64(g) * float64(g)
		}
	}
	s := c.clipNorm / (math.Sqrt(sum) + 1e-6)
	if s > 1 || math.IsNaN(s) {
		// A NaN norm is left to propagate through the gradients themselves.
		return 1
	}
	return s
}

// state returns the state in the full layout, whatever the layout kept.
func (c *core) state() State {
	s := State{Step: c.steps, BaseLR: c.baseLR, Slots: make(map[string]map[string][]float32, len(c.params))}
	for name, st := range c.params {
		m := make(map[string][]float32, len(c.slotNames))
		for k, sn := range c.slotNames {
			switch {
			case st.slots == nil:
				m[sn] = make([]float32, st.n)
			case st.packed:
				m[sn] = unpacked(st.slots[k], st.active, st.n)
			default:
				m[sn] = append([]float32(nil), st.slots[k]...)
			}
		}
		s.Slots[name] = m
	}
	return s
}

func (c *core) setState(s State) error {
	if s.Step < 0 {
		return errors.Errorf("optim: %s: SetState: Step must be >= 0, got %d", c.kind, s.Step)
	}
	if !(s.BaseLR > 0) || math.IsInf(s.BaseLR, 0) {
		return errors.Errorf("optim: %s: SetState: BaseLR must be > 0 and finite, got %v", c.kind, s.BaseLR)
	}
	// Validate everything before changing anything. Names are visited in
	// sorted order so that the error reported is deterministic.
	names := make([]string, 0, len(s.Slots))
	for name := range s.Slots {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		slots := s.Slots[name]
		for sn := range slots {
			if c.slotIndex(sn) < 0 {
				return errors.Errorf("optim: %s: SetState: parameter %q: unknown slot %q (want %v)",
					c.kind, name, sn, c.slotNames)
			}
		}
		n := -1
		if st, ok := c.params[name]; ok {
			n = st.n
		}
		for _, sn := range c.slotNames {
			v, ok := slots[sn]
			if !ok {
				return errors.Errorf("optim: %s: SetState: parameter %q: missing slot %q", c.kind, name, sn)
			}
			if n < 0 {
				n = len(v)
			}
			if len(v) != n {
				return errors.Errorf("optim: %s: SetState: parameter %q: slot %q has length %d, want %d",
					c.kind, name, sn, len(v), n)
			}
		}
	}
	params := make(map[string]*paramState, len(names))
	for _, name := range names {
		if len(c.slotNames) == 0 {
			// Nothing to restore; the length is learnt on next sight.
			params[name] = &paramState{n: -1}
			continue
		}
		slots := s.Slots[name]
		st := &paramState{n: len(slots[c.slotNames[0]]), slots: make([][]float32, len(c.slotNames))}
		for k, sn := range c.slotNames {
			st.slots[k] = append(make([]float32, 0, st.n), slots[sn]...)
		}
		params[name] = st
	}
	c.params = params
	c.steps = s.Step
	c.baseLR = s.BaseLR
	return nil
}

func (c *core) slotIndex(name string) int {
	for k, sn := range c.slotNames {
		if sn == name {
			return k
		}
	}
	return -1
}

func (c *core) resetAt(name string, indices []int) error {
	st, ok := c.params[name]
	if !ok {
		return errors.Errorf("optim: %s: ResetAt: unknown parameter %q", c.kind, name)
	}
	for _, i := range indices {
		if i < 0 {
			return errors.Errorf("optim: %s: ResetAt: parameter %q: negative index %d", c.kind, name, i)
		}
		if st.n >= 0 && i >= st.n {
			return errors.Errorf("optim: %s: ResetAt: parameter %q: index %d out of range [0, %d)",
				c.kind, name, i, st.n)
		}
	}
	for _, i := range indices {
		j := i
		if st.packed {
			var found bool
			if j, found = slices.BinarySearch(st.active, int32(i)); !found {
				continue // not active: its state is zero already
			}
		}
		for _, s := range st.slots {
			s[j] = 0
		}
	}
	return nil
}

// mirrorOf returns p's Mirror and MirrorAt when this step of p writes them:
// with packed state, whose order MirrorAt follows (Param.Active).
func mirrorOf(p *Param, st *paramState) ([]float32, []int32) {
	if st.packed && p.MirrorAt != nil {
		return p.Mirror, p.MirrorAt
	}
	return nil, nil
}

// mirrorActive stores w[idx[j]] at mirror[at[j]] for every j with at[j] >=
// 0 (Param.Mirror); at is nil when there is no mirror.
func mirrorActive(mirror []float32, at []int32, w []float32, idx []int32) {
	for j, a := range at {
		if a >= 0 {
			mirror[a] = w[idx[j]]
		}
	}
}
