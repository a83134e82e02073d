package sparse

import (
	"sort"

	"github.com/pkg/errors"

	"github.com/g2g-ml/g2g/internal/sparse/kernels"
)

// Rows is a masked In × Out weight matrix given by its active entries
// only, in compressed rows by input unit: row i holds the output units
// Col[Ptr[i]:Ptr[i+1]], in increasing order, with the weights
// Val[Ptr[i]:Ptr[i+1]]. It costs memory in proportion to its active
// entries, where Mask and a weight matrix cost In·Out each: exported
// models store their sparse layers this way.
type Rows struct {
	In, Out int
	Ptr     []int
	Col     []int32
	Val     []float32
	// Groups, InGroup and OutGroup are the ensembles, as in Mask.
	Groups            int
	InGroup, OutGroup []int
}

// Check reports whether r is well formed: Ptr of In+1 non-decreasing
// entries from 0 to len(Col) == len(Val), columns in [0, Out) increasing
// within each row, In·Out within int32 (the kernels' offsets), and
// ensembles of the layer's size.
func (r Rows) Check() error {
	if r.In < 1 || r.Out < 1 || r.In > (1<<31-1)/r.Out {
		return errors.Errorf("rows: %d × %d matrix", r.In, r.Out)
	}
	if len(r.Ptr) != r.In+1 || r.Ptr[0] != 0 || r.Ptr[r.In] != len(r.Col) || len(r.Col) != len(r.Val) {
		return errors.Errorf("rows: %d row pointers for %d rows, %d columns and %d values", len(r.Ptr), r.In, len(r.Col), len(r.Val))
	}
	if len(r.InGroup) != r.In || len(r.OutGroup) != r.Out || r.Groups < 1 {
		return errors.Errorf("rows: %d groups over %d inputs and %d outputs, for a %d × %d matrix",
			r.Groups, len(r.InGroup), len(r.OutGroup), r.In, r.Out)
	}
	for i := 0; i < r.In; i++ {
		if r.Ptr[i+1] < r.Ptr[i] {
			return errors.Errorf("rows: row pointers decrease at row %d", i)
		}
		for e := r.Ptr[i]; e < r.Ptr[i+1]; e++ {
			j := r.Col[e]
			if j < 0 || int(j) >= r.Out || e > r.Ptr[i] && j <= r.Col[e-1] {
				return errors.Errorf("rows: row %d: column %d out of order or out of [0, %d)", i, j, r.Out)
			}
		}
	}
	return nil
}

// NewPlanRows returns the plan NewPlan returns for the mask whose active
// entries r lists (r.Val is not read), built without an In × Out matrix.
// r must be well formed (Check).
func NewPlanRows(r Rows, want Kernel, t Tuning) *Plan {
	count := func(i0, i1, j0, j1 int) int {
		n := 0
		for i := i0; i < i1; i++ {
			row := r.Col[r.Ptr[i]:r.Ptr[i+1]]
			lo := sort.Search(len(row), func(k int) bool { return int(row[k]) >= j0 })
			hi := sort.Search(len(row), func(k int) bool { return int(row[k]) >= j1 })
			n += hi - lo
		}
		return n
	}
	patterns := func(skip [][4]int) (*kernels.Pattern, *kernels.Pattern) {
		byOut, byIn, _ := rowPatterns(r, skip)
		return byOut, byIn
	}
	return newPlan(0, r.In, r.Out, r.Groups, r.InGroup, r.OutGroup, len(r.Col), want, t, count, patterns)
}

// LayoutValues returns the number of weights the plan's snapshot stores
// densely: In·Out for Dense, the area of its BLAS blocks otherwise (the
// Sparse kernel also stores each edge outside them once).
func (p *Plan) LayoutValues() int {
	if p.kernel == Dense {
		return p.in * p.out
	}
	n := 0
	for _, b := range p.blocks {
		n += (b[1] - b[0]) * (b[3] - b[2])
	}
	return n
}

// FreezeRows returns the snapshot of the weights r lists for plan p, which
// must be NewPlanRows(r, ...): the snapshot Freeze(w, m) returns for their
// dense form w (r.Val at the active entries, zero elsewhere) and mask m.
func (p *Plan) FreezeRows(r Rows) *Frozen {
	f := &Frozen{in: p.in, out: p.out, kernel: p.kernel, run: p.run, blocks: p.blocks}
	switch p.kernel {
	case Dense:
		f.wm = make([]float32, r.In*r.Out)
		for i := 0; i < r.In; i++ {
			for e := r.Ptr[i]; e < r.Ptr[i+1]; e++ {
				f.wm[i*r.Out+int(r.Col[e])] = r.Val[e]
			}
		}
		return f
	case Sparse:
		_, _, vals := rowPatterns(r, p.blocks)
		f.vals = vals
		f.packed = p.packedOut // read-only, shared with the plan
	}
	for _, b := range p.blocks {
		i0, i1, j0, j1 := b[0], b[1], b[2], b[3]
		blk := make([]float32, (i1-i0)*(j1-j0))
		for i := i0; i < i1; i++ {
			row := r.Col[r.Ptr[i]:r.Ptr[i+1]]
			lo := sort.Search(len(row), func(k int) bool { return int(row[k]) >= j0 })
			for k := lo; k < len(row) && int(row[k]) < j1; k++ {
				blk[(i-i0)*(j1-j0)+int(row[k])-j0] = r.Val[r.Ptr[i]+k]
			}
		}
		f.blockW = append(f.blockW, blk)
	}
	return f
}

// rowPatterns is edgePatterns for the mask r lists, with the weights of
// the edges of byOut in its order.
func rowPatterns(r Rows, skip [][4]int) (byOut, byIn *kernels.Pattern, valOut []float32) {
	byOut, byIn, src := patterns(r.In, r.Out, len(r.Col), skip, func(i int, add func(j, src int)) {
		for e := r.Ptr[i]; e < r.Ptr[i+1]; e++ {
			add(int(r.Col[e]), int(e))
		}
	})
	_, inToOut := packOrder(byOut, byIn)
	valOut = make([]float32, len(src))
	for e, s := range src {
		valOut[inToOut[e]] = r.Val[s]
	}
	return byOut, byIn, valOut
}
