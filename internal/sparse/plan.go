package sparse

import (
	"github.com/g2g-ml/g2g/internal/sparse/kernels"
)

// Mask is the engine's view of a connectivity mask of an In × Out weight
// matrix W: entry (i, j), at flat index i·Out + j, is nonzero when the edge
// from input i to output j is active.
type Mask struct {
	// Data holds the In·Out entries, row-major.
	Data []float32
	// In and Out are W's dimensions.
	In, Out int
	// Groups is the number of ensembles per side the layer was built with.
	Groups int
	// InGroup and OutGroup give the ensemble of every input and output
	// unit. Ensemble blocks exist when each side's ensembles 0, 1, ...,
	// Groups−1 are contiguous runs in order (see EnsembleBounds).
	InGroup, OutGroup []int
	// Active is the number of nonzero entries of Data.
	Active int
	// Version identifies the mask's state: a plan built from it is current
	// as long as the version is unchanged.
	Version uint64
}

// Plan is how the products of a masked weight matrix are computed for one
// state of its mask: the kernel and, for it, the ensemble blocks (as unit
// ranges [i0, i1) × [j0, j1)) multiplied with BLAS and the active edges
// left to the edge kernels. Build one with NewPlan when the mask, the
// requested kernel or the tuning changes; its Forward, InputGrad and
// WeightGrad methods compute a training step's products, Freeze takes an
// inference snapshot.
type Plan struct {
	version uint64
	want    Kernel
	tuning  Tuning
	in, out int
	kernel  Kernel
	run     strategy
	// blocks are the ensemble blocks multiplied with BLAS: the non-empty
	// ones for Blocks, the ones filled at least DenseBlockFill for Sparse.
	blocks [][4]int
	// full[k] reports whether blocks[k] has every edge active (W⊙M = W
	// there: its weights are read from W and its weight gradient needs no
	// masking).
	full []bool
	// byOut and byIn list, for Sparse, the active edges outside the
	// blocks: by output (rows = outputs j, columns = inputs i) and by
	// input, with offsets into W.
	byOut, byIn *kernels.Pattern
	// packedOut is byOut reading its weights from a copy packed in its
	// own order (offsets 0, 1, ...), which frozen snapshots fill through
	// inToOut: byIn's edge e is packedOut's edge inToOut[e]. byOut's
	// offsets into W jump a whole row of W from one edge to the next (a
	// cache line and often a page each); a packed copy is not.
	packedOut *kernels.Pattern
	inToOut   []int32
	// fwdIn is byOut reading its weights from wp, a copy packed in byIn's
	// order (W's): offsets 0, 1, ... in byIn's order, so that the copy is
	// filled, or written by the optimizer as a mirror, in one sequential
	// pass. The forward products of training and evaluation read it;
	// frozen snapshots use packedOut, whose copy is read in order.
	// wpCurrent reports that wp equals W's entries: set by whoever wrote
	// both (an optimizer writing the copy as a mirror, see Mirror), it
	// lets the forward pass skip re-reading W. mirrorAt caches Mirror's
	// places for the active list mirrorFor.
	fwdIn     *kernels.Pattern
	wp        []float32
	wpCurrent bool
	mirrorAt  []int32
	mirrorFor []int32
}

// strategy is one kernel's way of computing the products: the plan picks
// one when it is built and its methods dispatch to it.
type strategy interface {
	// forward computes y = x·(W⊙M) (x batch × in, y batch × out).
	forward(p *Plan, pr *Product, w, m, x, y []float32, batch int) error
	// inputGrad computes dx = dy·(W⊙M)ᵀ after forward ran on the same
	// weights.
	inputGrad(p *Plan, pr *Product, dy, w, m, dx []float32, batch int) error
	// weightGrad returns dW = (xᵀ·dy)⊙M in pr's buffer.
	weightGrad(p *Plan, pr *Product, x, dy, m []float32, batch int) ([]float32, error)
	// freeze fills f's weights, laid out for frozenForward.
	freeze(p *Plan, f *Frozen, w, m []float32)
	// frozenForward computes yt = (W⊙M)ᵀ·xt feature-major from f's
	// weights (xt in × n, yt out × n).
	frozenForward(f *Frozen, xt, yt []float32, n int) error
}

// NewPlan returns the plan of mask m for the requested kernel (a value
// ParseKernel accepts; anything else plans Dense) under tuning t. Blocks
// falls back to Dense when the ensembles are not contiguous; Auto chooses
// by the mask's density and its non-empty blocks (see Tuning).
func NewPlan(m Mask, want Kernel, t Tuning) *Plan {
	count := func(i0, i1, j0, j1 int) int { return blockEdges(m, i0, i1, j0, j1) }
	patterns := func(skip [][4]int) (*kernels.Pattern, *kernels.Pattern) { return edgePatterns(m, skip) }
	return newPlan(m.Version, m.In, m.Out, m.Groups, m.InGroup, m.OutGroup, m.Active, want, t, count, patterns)
}

// newPlan is NewPlan on a mask of in × out with active edges, seen through
// count (the active edges of a block) and patterns (edgePatterns).
func newPlan(version uint64, in, out, g int, inGroup, outGroup []int, active int, want Kernel, t Tuning,
	count func(i0, i1, j0, j1 int) int, patterns func(skip [][4]int) (*kernels.Pattern, *kernels.Pattern)) *Plan {
	p := &Plan{version: version, want: want, tuning: t, in: in, out: out, kernel: Dense}
	var counts []int // active edges per block, parallel to p.blocks
	if ib, ob := EnsembleBounds(inGroup), EnsembleBounds(outGroup); len(ib) == g+1 && len(ob) == g+1 {
		for gi := 0; gi < g; gi++ {
			for gj := 0; gj < g; gj++ {
				if n := count(ib[gi], ib[gi+1], ob[gj], ob[gj+1]); n > 0 {
					p.blocks = append(p.blocks, [4]int{ib[gi], ib[gi+1], ob[gj], ob[gj+1]})
					counts = append(counts, n)
				}
			}
		}
	}
	blocksOK := p.blocks != nil
	switch want {
	case Blocks:
		if blocksOK {
			p.kernel = Blocks
		}
	case Sparse:
		p.kernel = Sparse
	case Auto:
		p.kernel = t.choose(float64(active)/float64(in*out), blocksOK, len(p.blocks), g)
	}
	switch p.kernel {
	case Dense:
		p.blocks = nil
		p.run = denseKernel{}
	case Blocks:
		p.run = blockKernel{}
	case Sparse:
		// Keep the blocks dense enough for BLAS; the edge kernels take
		// the rest.
		var dense [][4]int
		var n []int
		for k, b := range p.blocks {
			if float64(counts[k]) >= t.DenseBlockFill*float64((b[1]-b[0])*(b[3]-b[2])) {
				dense = append(dense, b)
				n = append(n, counts[k])
			}
		}
		p.blocks, counts = dense, n
		p.byOut, p.byIn = patterns(p.blocks)
		p.packedOut, p.inToOut = packOrder(p.byOut, p.byIn)
		outToIn := make([]int32, len(p.inToOut))
		for e, o := range p.inToOut {
			outToIn[o] = int32(e)
		}
		// Same rows and columns as byOut, offsets a permutation of 0, 1,
		// ...: well formed.
		p.fwdIn, _ = kernels.NewPattern(p.byOut.Ptr, p.byOut.Col, outToIn)
		p.run = sparseKernel{}
	}
	p.full = make([]bool, len(p.blocks))
	for k, b := range p.blocks {
		p.full[k] = counts[k] == (b[1]-b[0])*(b[3]-b[2])
	}
	return p
}

// Current reports whether the plan was built for this mask version,
// requested kernel and tuning.
func (p *Plan) Current(version uint64, want Kernel, t Tuning) bool {
	return p != nil && p.version == version && p.want == want && p.tuning == t
}

// Kernel returns the kernel the plan runs on, never Auto.
func (p *Plan) Kernel() Kernel { return p.kernel }

// Blocks returns the ensemble blocks the plan multiplies with BLAS, as unit
// ranges [i0, i1) × [j0, j1). The slice must not be modified.
func (p *Plan) Blocks() [][4]int { return p.blocks }

// Full reports whether block k has every edge active.
func (p *Plan) Full(k int) bool { return p.full[k] }

// EdgeKernelEdges returns the number of active edges the edge kernels
// visit (those outside Blocks) in the forward and in the input-gradient
// products: both are 0 unless the kernel is Sparse.
func (p *Plan) EdgeKernelEdges() (byOut, byIn int) {
	if p.byOut == nil {
		return 0, 0
	}
	return p.byOut.NNZ(), p.byIn.NNZ()
}

// maskedWeights writes W⊙M into pr's buffer and returns it: everything for
// the dense kernel; for the others only the blocks that are not full
// (blockWeights reads full blocks from W itself, where W⊙M = W), the rest
// is never read.
func (p *Plan) maskedWeights(pr *Product, w, m []float32) []float32 {
	pr.wm = grow(pr.wm, len(w))
	if p.kernel == Dense {
		kernels.Mask(pr.wm, w, m)
		return pr.wm
	}
	out := p.out
	for k, b := range p.blocks {
		if p.full[k] {
			continue
		}
		for i := b[0]; i < b[1]; i++ {
			lo, hi := i*out+b[2], i*out+b[3]
			kernels.Mask(pr.wm[lo:hi], w[lo:hi], m[lo:hi])
		}
	}
	return pr.wm
}

// blockWeights returns the slice holding block k of W⊙M: W itself when the
// block is full, the masked copy otherwise.
func (p *Plan) blockWeights(k int, w, wm []float32) []float32 {
	if p.full[k] {
		return w
	}
	return wm
}

// liveBlocks returns the block function of sparseProduct for the live W
// and its masked copy wm.
func (p *Plan) liveBlocks(w, wm []float32) func(k int) ([]float32, int) {
	return func(k int) ([]float32, int) {
		b := p.blocks[k]
		return p.blockWeights(k, w, wm)[b[0]*p.out+b[2]:], p.out
	}
}

// edgePatterns lists the mask's active edges outside the given blocks by
// output unit (for the forward product) and by input unit (for the input
// gradient and the weight gradient), with offsets into W.
func edgePatterns(m Mask, skip [][4]int) (byOut, byIn *kernels.Pattern) {
	d, out := m.Data, m.Out
	byOut, byIn, _ = patterns(m.In, out, m.Active, skip, func(i int, add func(j, src int)) {
		for j, v := range d[i*out : (i+1)*out] {
			if v != 0 {
				add(j, i*out+j)
			}
		}
	})
	return byOut, byIn
}

// patterns builds the by-output and by-input patterns of the edges that
// row(i, add) lists for each input i (add(j, src) once per active edge
// (i, j), outputs increasing; src is the caller's index of the edge) and
// that lie outside the blocks skip, with offsets into an in × out W. src
// gives, for every edge of byIn, the index the caller passed for it. n is
// a capacity hint.
func patterns(in, out, n int, skip [][4]int, row func(i int, add func(j, src int))) (byOut, byIn *kernels.Pattern, src []int32) {
	inBlock := func(i, j int) bool {
		for _, b := range skip {
			if i >= b[0] && i < b[1] && j >= b[2] && j < b[3] {
				return true
			}
		}
		return false
	}
	ptrIn := make([]int32, in+1)
	colIn := make([]int32, 0, n)
	offIn := make([]int32, 0, n)
	src = make([]int32, 0, n)
	fan := make([]int32, out+1)
	for i := 0; i < in; i++ {
		row(i, func(j, s int) {
			if skip == nil || !inBlock(i, j) {
				colIn = append(colIn, int32(j))
				offIn = append(offIn, int32(i*out+j))
				src = append(src, int32(s))
				fan[j+1]++
			}
		})
		ptrIn[i+1] = int32(len(colIn))
	}
	for j := 0; j < out; j++ {
		fan[j+1] += fan[j]
	}
	ptrOut := append([]int32(nil), fan...)
	colOut := make([]int32, len(colIn))
	offOut := make([]int32, len(colIn))
	next := fan[:out]
	for i := 0; i < in; i++ {
		for e := ptrIn[i]; e < ptrIn[i+1]; e++ {
			j := colIn[e]
			colOut[next[j]] = int32(i)
			offOut[next[j]] = offIn[e]
			next[j]++
		}
	}
	// The arrays are well formed by construction; NewPattern only records
	// their bounds.
	byIn, _ = kernels.NewPattern(ptrIn, colIn, offIn)
	byOut, _ = kernels.NewPattern(ptrOut, colOut, offOut)
	return byOut, byIn, src
}

// packOrder returns byOut reading its weights from a packed copy (offsets
// 0, 1, ...), and for every edge of byIn its place in byOut: both list the
// same edges, byOut with each output's inputs in increasing order.
func packOrder(byOut, byIn *kernels.Pattern) (packedOut *kernels.Pattern, inToOut []int32) {
	n := byIn.NNZ()
	inToOut = make([]int32, n)
	next := append([]int32(nil), byOut.Ptr[:byOut.Rows()]...)
	for i := 0; i < byIn.Rows(); i++ {
		for e := byIn.Ptr[i]; e < byIn.Ptr[i+1]; e++ {
			j := byIn.Col[e]
			inToOut[e] = next[j]
			next[j]++
		}
	}
	seq := make([]int32, n)
	for e := range seq {
		seq[e] = int32(e)
	}
	// Same rows and columns as byOut, offsets 0, 1, ...: well formed.
	packedOut, _ = kernels.NewPattern(byOut.Ptr, byOut.Col, seq)
	return packedOut, inToOut
}

// packedWeights returns the packed weights of the scattered edges for a
// forward product on W: the plan's copy, refreshed from W unless it is
// current (SetMirrorCurrent).
func (p *Plan) packedWeights(w []float32) []float32 {
	p.allocPacked()
	if !p.wpCurrent {
		p.packIn(p.wp, w)
	}
	return p.wp
}

// allocPacked gives the plan its packed copy (not current) on first use.
func (p *Plan) allocPacked() {
	if n := p.byOut.NNZ(); len(p.wp) != n {
		p.wp, p.wpCurrent = make([]float32, n), false
	}
}

// packIn writes the weights of byIn's edges into wp in byIn's order.
func (p *Plan) packIn(wp, w []float32) {
	off := p.byIn.Off
	if len(off) < 1<<15 {
		for e, o := range off {
			wp[e] = w[o]
		}
		return
	}
	kernels.ParallelFor(len(off), func(lo, hi int) {
		for e, o := range off[lo:hi] {
			wp[lo+e] = w[o]
		}
	})
}

// Mirror returns the copy of the scattered edges' weights that the sparse
// forward product reads (packed in W's order), and for each entry of
// active, the mask's active offsets in ascending order, its place in the
// copy, or -1 for an edge of a BLAS block. An optimizer that stores every
// updated active weight at its place (optim.Param.Mirror) keeps the copy
// equal to W; SetMirrorCurrent(true) then lets forward products skip
// re-reading W. Mirror returns nil, nil when the plan keeps no copy (not
// the sparse kernel) or active does not list every edge of the copy (it
// is not the active list of the plan's mask).
// The places are computed once per active slice; the slices returned must
// not be modified.
func (p *Plan) Mirror(active []int32) (values []float32, at []int32) {
	if p.kernel != Sparse || p.byIn == nil {
		return nil, nil
	}
	p.allocPacked()
	if p.mirrorAt != nil && len(active) > 0 && len(p.mirrorFor) == len(active) && &p.mirrorFor[0] == &active[0] {
		return p.wp, p.mirrorAt
	}
	at = make([]int32, len(active))
	off, e := p.byIn.Off, 0
	for k, o := range active {
		if e < len(off) && off[e] == o {
			at[k] = int32(e)
			e++
		} else {
			at[k] = -1
		}
	}
	if e != len(off) {
		return nil, nil // not this plan's mask: some edge was not listed
	}
	p.mirrorAt, p.mirrorFor = at, active
	return p.wp, at
}

// SetMirrorCurrent records whether the copy Mirror returns equals W's
// entries now. Set it only right after writing both, and clear it before
// anything else may change W: while it is set, forward products read the
// copy as it is.
func (p *Plan) SetMirrorCurrent(current bool) { p.wpCurrent = current }

// packForward writes the weights of the edges outside the blocks into wp
// in packedOut's order, reading W in its own order (byIn's).
func (p *Plan) packForward(wp, w []float32) {
	off, to := p.byIn.Off, p.inToOut
	if len(off) < 1<<15 {
		for e, o := range off {
			wp[to[e]] = w[o]
		}
		return
	}
	kernels.ParallelFor(len(off), func(lo, hi int) {
		for e := lo; e < hi; e++ {
			wp[to[e]] = w[off[e]]
		}
	})
}

// EnsembleBounds returns b such that group g spans units [b[g], b[g+1]),
// when groups 0, 1, ... are contiguous, non-empty runs in increasing order
// (index grouping); otherwise nil.
func EnsembleBounds(group []int) []int {
	var b []int
	for i, v := range group {
		if i == 0 || v != group[i-1] {
			if v != len(b) {
				return nil
			}
			b = append(b, i)
		}
	}
	return append(b, len(group))
}

// blockEdges counts the active edges in [i0, i1) × [j0, j1).
func blockEdges(m Mask, i0, i1, j0, j1 int) int {
	d, n := m.Data, 0
	for i := i0; i < i1; i++ {
		for _, v := range d[i*m.Out+j0 : i*m.Out+j1] {
			if v != 0 {
				n++
			}
		}
	}
	return n
}

func grow(buf []float32, n int) []float32 {
	if cap(buf) < n {
		return make([]float32, n)
	}
	return buf[:n]
}
