// Package kernels holds the compute kernels behind g2g's sparse layers: the
// product of a sparse matrix, given as a Pattern of its active entries, with
// a dense matrix stored feature-major (one row per unit, the batch along the
// row), the gradient of such a product sampled at the active entries, and the
// transposes between that layout and gorgonia's batch-major one.
//
// Work is proportional to the number of active entries. With the batch
// along each row, every active entry costs one broadcast and a run of
// vector fused multiply-adds over the batch, with the row's sums held in
// registers; on amd64 processors with AVX-512 these loops are assembly and
// reach about the speed per multiply-accumulate of a dense BLAS product. On
// other processors the same functions run in plain Go (Accelerated reports
// which).
//
// Results are deterministic: each output is summed in a fixed order that
// does not depend on the number of threads. The assembly and the Go loops
// round differently (fused multiply-add), so results may differ between
// processors in the last bits.
package kernels

//go:generate go run asm_gen.go

import (
	"runtime"
	"sync"

	"github.com/pkg/errors"
)

// Lane is the number of float32 values in one vector register of the
// assembly kernels. Row lengths that are multiples of Lane run entirely in
// assembly.
const Lane = 16

// Padded returns the row length the kernels run fastest at for n columns:
// n rounded up to a multiple of Lane, or, above 64 columns, of 8·Lane (the
// widest kernel's width) — computing a few padding columns costs less than
// running the narrow kernels on the remainder.
func Padded(n int) int {
	w := Lane
	if n > 4*Lane {
		w = 8 * Lane
	}
	return (n + w - 1) / w * w
}

// accelerated is set at start-up when the assembly kernels can run.
var accelerated bool

// Accelerated reports whether the assembly kernels are in use.
func Accelerated() bool { return accelerated }

// SetAccelerated turns the assembly kernels off (false) or back on, when
// the processor has them, and returns the previous setting. It is meant for
// tests and benchmarks comparing the two paths; it must not be called while
// kernels run.
func SetAccelerated(on bool) (previous bool) {
	previous = accelerated
	accelerated = on && hasAVX512()
	return previous
}

// Pattern lists the active entries of a sparse matrix row by row: row r
// holds the entries e in [Ptr[r], Ptr[r+1]), each with a column Col[e] and
// the index Off[e] of its value in a dense slice of values (for an in × out
// weight matrix stored row-major, Off = i·out + j). Build one with
// NewPattern.
type Pattern struct {
	Ptr, Col, Off []int32
	maxCol        int // largest column, -1 when empty
	maxOff        int // largest offset, -1 when empty
	splits        map[int][]int
}

// NewPattern checks and wraps the arrays: Ptr must start at 0, never
// decrease and end at len(Col) == len(Off); columns and offsets must be
// non-negative.
func NewPattern(ptr, col, off []int32) (*Pattern, error) {
	if len(ptr) == 0 || ptr[0] != 0 {
		return nil, errors.New("kernels: pattern pointers must start at 0")
	}
	if len(col) != len(off) || int(ptr[len(ptr)-1]) != len(col) {
		return nil, errors.Errorf("kernels: pattern has %d columns, %d offsets, and pointers ending at %d", len(col), len(off), ptr[len(ptr)-1])
	}
	for r := 1; r < len(ptr); r++ {
		if ptr[r] < ptr[r-1] {
			return nil, errors.Errorf("kernels: pattern pointers decrease at row %d", r)
		}
	}
	p := &Pattern{Ptr: ptr, Col: col, Off: off, maxCol: -1, maxOff: -1}
	for e := range col {
		if col[e] < 0 || off[e] < 0 {
			return nil, errors.Errorf("kernels: entry %d has a negative column or offset", e)
		}
		p.maxCol = max(p.maxCol, int(col[e]))
		p.maxOff = max(p.maxOff, int(off[e]))
	}
	return p, nil
}

// Rows returns the number of rows.
func (p *Pattern) Rows() int { return len(p.Ptr) - 1 }

// NNZ returns the number of active entries.
func (p *Pattern) NNZ() int { return len(p.Col) }

// check verifies that a kernel over p stays inside its slices: x holds rows
// up to the largest column (row stride ldx), vals reaches the largest
// offset and y holds p.Rows() rows of stride ldy.
func (p *Pattern) check(op string, x []float32, ldx int, vals []float32, y []float32, ldy, cols int) error {
	if cols < 0 || ldx < cols || ldy < cols {
		return errors.Errorf("kernels: %s: %d columns with strides %d and %d", op, cols, ldx, ldy)
	}
	rows := p.Rows()
	if rows > 0 && cols > 0 && len(y) < (rows-1)*ldy+cols {
		return errors.Errorf("kernels: %s: output holds %d values, want %d rows of stride %d", op, len(y), rows, ldy)
	}
	if p.maxCol >= 0 && cols > 0 && len(x) < p.maxCol*ldx+cols {
		return errors.Errorf("kernels: %s: input holds %d values, pattern reaches row %d of stride %d", op, len(x), p.maxCol, ldx)
	}
	if p.maxOff >= len(vals) {
		return errors.Errorf("kernels: %s: values hold %d entries, pattern reaches offset %d", op, len(vals), p.maxOff)
	}
	return nil
}

// Gather computes the sparse-dense product
//
//	y[r·ldy + c] = Σ_{e in row r} w[Off[e]] · x[Col[e]·ldx + c]   for c < cols
//
// for every row r, overwriting those entries of y. With x feature-major
// (one row per input unit, the batch along the row) and the pattern listing
// each output's inputs, y is the layer's output, feature-major.
func Gather(p *Pattern, w, x []float32, ldx int, y []float32, ldy, cols int) error {
	return gather(p, w, x, ldx, y, ldy, cols, false)
}

// GatherAdd is Gather adding the product to y instead of overwriting it.
func GatherAdd(p *Pattern, w, x []float32, ldx int, y []float32, ldy, cols int) error {
	return gather(p, w, x, ldx, y, ldy, cols, true)
}

func gather(p *Pattern, w, x []float32, ldx int, y []float32, ldy, cols int, add bool) error {
	if err := p.check("Gather", x, ldx, w, y, ldy, cols); err != nil {
		return err
	}
	if cols == 0 {
		return nil
	}
	p.parallel(func(r0, r1 int) {
		for r := r0; r < r1; r++ {
			e0, e1 := p.Ptr[r], p.Ptr[r+1]
			gatherRow(y[r*ldy:r*ldy+cols], x, ldx, p.Col[e0:e1], p.Off[e0:e1], w, add)
		}
	})
	return nil
}

func gatherRow(y, x []float32, ldx int, col, off []int32, w []float32, add bool) {
	if len(col) == 0 {
		if !add {
			clear(y)
		}
		return
	}
	c := 0
	if accelerated {
		acc := 0
		if add {
			acc = 1
		}
		c = gatherRowAsm(y, x, ldx, len(y), col, off, w, acc)
	}
	if c == len(y) {
		return
	}
	y = y[c:]
	if !add {
		clear(y)
	}
	for e, j := range col {
		v := w[off[e]]
		xr := x[int(j)*ldx+c:]
		xr = xr[:len(y)]
		for k, xv := range xr {
			y[k] += v * xv
		}
	}
}

// GatherDot is GatherAdd (add) or Gather, and SampledDot, on the same
// pattern and the same x, in one pass over x's rows:
//
//	y[r·ldy + c] (+)= Σ_e w[Off[e]] · x[Col[e]·ldx + c]
//	out[Off[e]]     = Σ_{c < cols} a[r·lda + c] · x[Col[e]·ldx + c]   for e in row r
//
// With the by-input pattern of a layer, its weights w, its feature-major
// output gradient x and input a, that is the input gradient y and the
// weight gradient out at the edges, which read the same rows of x. The
// results are bit-identical to the separate calls; with the AVX-512
// kernels and cols a multiple of 128, each row of x is loaded once for
// both, which halves the loads the two products take from the cache.
func GatherDot(p *Pattern, w, x []float32, ldx int, y []float32, ldy int, a []float32, lda int, out []float32, cols int, add bool) error {
	if err := p.check("GatherDot", x, ldx, w, y, ldy, cols); err != nil {
		return err
	}
	if err := p.check("GatherDot", x, ldx, out, a, lda, cols); err != nil {
		return err
	}
	if cols == 0 {
		return nil
	}
	fused := accelerated && cols%(8*Lane) == 0
	acc := 0
	if add {
		acc = 1
	}
	p.parallel(func(r0, r1 int) {
		var part *[]float32
		if fused && cols > 8*Lane {
			part = partPool.Get().(*[]float32)
			defer partPool.Put(part)
		}
		for r := r0; r < r1; r++ {
			e0, e1 := p.Ptr[r], p.Ptr[r+1]
			yr, ar := y[r*ldy:r*ldy+cols], a[r*lda:r*lda+cols]
			if !fused || e0 == e1 {
				gatherRow(yr, x, ldx, p.Col[e0:e1], p.Off[e0:e1], w, add)
				if e0 < e1 {
					dotRow(ar, x, ldx, p.Col[e0:e1], p.Off[e0:e1], out)
				}
				continue
			}
			buf := partDummy[:]
			if part != nil {
				if need := 4 * Lane * int(e1-e0); len(*part) < need {
					*part = make([]float32, need)
				}
				buf = *part
			}
			gatherDotRowAsm(yr, x, ldx, cols, p.Col[e0:e1], p.Off[e0:e1], w, acc, ar, buf, out)
		}
	})
	return nil
}

// partPool holds GatherDot's per-goroutine buffers of dot accumulators
// (64 values per edge of a row).
var partPool = sync.Pool{New: func() any { return new([]float32) }}

// partDummy stands for the accumulator buffer of rows of one 128-column
// call, which keep their accumulators in registers.
var partDummy [1]float32

// SampledDot computes the product a·bᵀ only at the pattern's entries:
//
//	out[Off[e]] = Σ_{c < cols} a[r·lda + c] · b[Col[e]·ldb + c]   for e in row r
//
// leaving every other entry of out untouched. With a and b the
// feature-major inputs and output gradients of a layer, it is the weight
// gradient at the active edges.
func SampledDot(p *Pattern, a []float32, lda int, b []float32, ldb, cols int, out []float32) error {
	if err := p.check("SampledDot", b, ldb, out, a, lda, cols); err != nil {
		return err
	}
	p.parallel(func(r0, r1 int) {
		for r := r0; r < r1; r++ {
			e0, e1 := p.Ptr[r], p.Ptr[r+1]
			if e0 == e1 {
				continue
			}
			dotRow(a[r*lda:r*lda+cols], b, ldb, p.Col[e0:e1], p.Off[e0:e1], out)
		}
	})
	return nil
}

func dotRow(a, b []float32, ldb int, col, off []int32, out []float32) {
	cols := len(a)
	if accelerated && cols > 0 && cols%Lane == 0 {
		dotRowAsm(a, b, ldb, cols, col, off, out)
		return
	}
	for e, j := range col {
		br := b[int(j)*ldb:]
		br = br[:cols]
		var s0, s1, s2, s3 float32
		k := 0
		for ; k+4 <= cols; k += 4 {
			s0 += a[k] * br[k]
			s1 += a[k+1] * br[k+1]
			s2 += a[k+2] * br[k+2]
			s3 += a[k+3] * br[k+3]
		}
		for ; k < cols; k++ {
			s0 += a[k] * br[k]
		}
		out[off[e]] = (s0 + s1) + (s2 + s3)
	}
}

// parallel runs f over row ranges that split the active entries evenly
// between GOMAXPROCS goroutines. Rows are independent, so the split does not
// change any result.
func (p *Pattern) parallel(f func(r0, r1 int)) {
	workers := runtime.GOMAXPROCS(0)
	if nnz := p.NNZ(); workers > 1 && nnz < 4096 {
		workers = 1
	}
	if workers <= 1 || p.Rows() < 2 {
		f(0, p.Rows())
		return
	}
	ParallelRanges(p.split(workers), f)
}

var splitMu sync.Mutex

// split returns row boundaries b[0] = 0 < ... < b[k] = Rows() giving each
// of k ≤ workers ranges about the same number of entries (plus one per row,
// for the per-row cost). It is cached per worker count.
func (p *Pattern) split(workers int) []int {
	splitMu.Lock()
	defer splitMu.Unlock()
	if b, ok := p.splits[workers]; ok {
		return b
	}
	rows := p.Rows()
	total := p.NNZ() + rows
	b := []int{0}
	for w := 1; w < workers; w++ {
		target := total * w / workers
		r := b[len(b)-1]
		for r < rows && int(p.Ptr[r])+r < target {
			r++
		}
		if r > b[len(b)-1] && r < rows {
			b = append(b, r)
		}
	}
	b = append(b, rows)
	if p.splits == nil {
		p.splits = map[int][]int{}
	}
	p.splits[workers] = b
	return b
}

// Transpose writes dst[c·ldd + r] = src[r·lds + c] for r < rows and
// c < cols, in cache-sized tiles, split between GOMAXPROCS goroutines.
func Transpose(dst []float32, ldd int, src []float32, lds, rows, cols int) error {
	if rows == 0 || cols == 0 {
		return nil
	}
	if lds < cols || ldd < rows || len(src) < (rows-1)*lds+cols || len(dst) < (cols-1)*ldd+rows {
		return errors.Errorf("kernels: Transpose of %d×%d: source %d values (stride %d), destination %d (stride %d)", rows, cols, len(src), lds, len(dst), ldd)
	}
	const tile = 16
	run := func(c0, c1 int) {
		for r0 := 0; r0 < rows; r0 += tile {
			r1 := min(r0+tile, rows)
			for cb := c0; cb < c1; cb += tile {
				ce := min(cb+tile, c1)
				if accelerated && r1-r0 == tile && ce-cb == tile {
					transposeTileAsm(dst[cb*ldd+r0:], ldd, src[r0*lds+cb:], lds)
					continue
				}
				for r := r0; r < r1; r++ {
					s := src[r*lds+cb : r*lds+ce]
					for k, v := range s {
						dst[(cb+k)*ldd+r] = v
					}
				}
			}
		}
	}
	if rows*cols < 1<<14 {
		run(0, cols)
		return nil
	}
	tiles := (cols + tile - 1) / tile // split by whole column tiles
	ParallelFor(tiles, func(lo, hi int) { run(lo*tile, min(hi*tile, cols)) })
	return nil
}
