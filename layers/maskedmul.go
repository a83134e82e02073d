package layers

import (
	"fmt"
	"hash"
	"hash/fnv"

	"github.com/chewxy/hm"
	"github.com/pkg/errors"
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// maskedMul is a gorgonia op computing y = x·(W⊙M) for x (batch, in), W and
// M (in, out), with its own backward ops:
//
//	dx = dy·(W⊙M)ᵀ   (maskedMulT)
//	dW = (xᵀ·dy)⊙M   (maskedGrad)
//	dM: none — the mask is not learnable, so no work is spent on it.
//
// Compared with composing HadamardProd and Mul, it skips the mask's gradient,
// the intermediate W⊙M node and its gradient, and, for a layer reading the
// model input, the unused input gradient. It reuses its output buffers across
// steps. Matrix products go through gonum's blas32, which binaries built with
// -tags openblas route to OpenBLAS.
type maskedMul struct {
	opBase
	diffX bool // whether x needs a gradient (false when x is a graph input)
	out   []float32
}

// opBase is what the three masked-product ops share: the layer, a label,
// and which input dimensions give the output shape (rows of input a along
// axis ra, columns of input b along axis rb).
type opBase struct {
	layer        *G2G
	label        string
	a, ra, b, rb int
}

func (op *opBase) Arity() int { return 3 }

func (op *opBase) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(a, a, a, a)
}

func (op *opBase) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return matShape(in, op.a, op.ra, op.b, op.rb)
}

func (op *opBase) ReturnsPtr() bool     { return false }
func (op *opBase) CallsExtern() bool    { return false }
func (op *opBase) OverwritesInput() int { return -1 }

// WriteHash makes every op instance distinct: each owns output buffers.
func (op *opBase) WriteHash(h hash.Hash) { fmt.Fprintf(h, "%s(%p)", op.label, op) }

func (op *opBase) Hashcode() uint32 {
	h := fnv.New32a()
	op.WriteHash(h)
	return h.Sum32()
}

func (op *opBase) String() string { return op.label + "[" + op.layer.Name() + "]" }

func (op *maskedMul) DiffWRT(int) []bool { return []bool{op.diffX, true, false} }

func (op *maskedMul) Do(vals ...G.Value) (G.Value, error) {
	x, w, m, err := three(vals)
	if err != nil {
		return nil, errors.Wrap(err, op.String())
	}
	batch, in, out := len(x)/op.layer.cfg.In, op.layer.cfg.In, op.layer.cfg.Out
	op.out = grow(op.out, batch*out)
	l := op.layer
	p := l.blockPlan()
	wm := l.maskedWeights(p, w, m)
	if p.use {
		clear(op.out)
		for _, b := range p.blocks {
			i0, i1, j0, j1 := b[0], b[1], b[2], b[3]
			gemmAcc(blas.NoTrans, blas.NoTrans, batch, j1-j0, i1-i0, x[i0:], in, wm[i0*out+j0:], out, op.out[j0:], out)
		}
	} else {
		gemm(blas.NoTrans, blas.NoTrans, batch, out, in, x, in, wm, out, op.out, out)
	}
	return tensor.New(tensor.WithShape(batch, out), tensor.WithBacking(op.out)), nil
}

func (op *maskedMul) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	x, w, m := inputs[0], inputs[1], inputs[2]
	var dx *G.Node
	var err error
	if op.diffX {
		if dx, err = G.ApplyOp(&maskedMulT{opBase: opBase{layer: op.layer, label: "dy·(W⊙M)ᵀ", a: 0, ra: 0, b: 1, rb: 0}}, grad, w, m); err != nil {
			return nil, err
		}
	}
	dw, err := G.ApplyOp(&maskedGrad{opBase: opBase{layer: op.layer, label: "(xᵀ·dy)⊙M", a: 0, ra: 1, b: 1, rb: 1}}, x, grad, m)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx, dw, nil}, nil
}

// maskedMulT computes dx = dy·(W⊙M)ᵀ from (dy, W, M).
type maskedMulT struct {
	opBase
	out []float32
}

func (op *maskedMulT) Do(vals ...G.Value) (G.Value, error) {
	dy, w, m, err := three(vals)
	if err != nil {
		return nil, errors.Wrap(err, op.String())
	}
	in, out := op.layer.cfg.In, op.layer.cfg.Out
	batch := len(dy) / out
	op.out = grow(op.out, batch*in)
	// The forward op of the same run left W⊙M in the layer (the optimizer
	// only runs after the whole backward pass): reuse it.
	l := op.layer
	p := l.blockPlan()
	wm := l.wm
	if len(wm) != len(w) {
		wm = l.maskedWeights(p, w, m)
	}
	if p.use {
		clear(op.out)
		for _, b := range p.blocks {
			i0, i1, j0, j1 := b[0], b[1], b[2], b[3]
			gemmAcc(blas.NoTrans, blas.Trans, batch, i1-i0, j1-j0, dy[j0:], out, wm[i0*out+j0:], out, op.out[i0:], in)
		}
	} else {
		gemm(blas.NoTrans, blas.Trans, batch, in, out, dy, out, wm, out, op.out, in)
	}
	return tensor.New(tensor.WithShape(batch, in), tensor.WithBacking(op.out)), nil
}

// maskedGrad computes dW = (xᵀ·dy)⊙M from (x, dy, M), keeping the unmasked
// product xᵀ·dy — the dense gradient RigL ranks inactive edges by — in the
// layer when asked to.
type maskedGrad struct {
	opBase
	out []float32
}

func (op *maskedGrad) Do(vals ...G.Value) (G.Value, error) {
	x, dy, m, err := three(vals)
	if err != nil {
		return nil, errors.Wrap(err, op.String())
	}
	in, out := op.layer.cfg.In, op.layer.cfg.Out
	batch := len(x) / in
	op.out = grow(op.out, in*out)
	l := op.layer
	p := l.blockPlan()
	keep := l.keepDense
	if p.use && !keep {
		clear(op.out)
		for _, b := range p.blocks {
			i0, i1, j0, j1 := b[0], b[1], b[2], b[3]
			gemmAcc(blas.Trans, blas.NoTrans, i1-i0, j1-j0, batch, x[i0:], in, dy[j0:], out, op.out[i0*out+j0:], out)
		}
	} else {
		gemm(blas.Trans, blas.NoTrans, in, out, batch, x, in, dy, out, op.out, out)
	}
	if keep {
		l.denseGrad = grow(l.denseGrad, in*out)
		copy(l.denseGrad, op.out)
	} else {
		l.denseGrad = nil
	}
	for k, v := range m {
		if v == 0 {
			op.out[k] = 0
		}
	}
	return tensor.New(tensor.WithShape(in, out), tensor.WithBacking(op.out)), nil
}

// matShape returns (rows of input a along axis ra, cols of input b along axis rb).
func matShape(in []G.DimSizer, a, ra, b, rb int) (tensor.Shape, error) {
	if len(in) != 3 {
		return nil, errors.Errorf("want 3 inputs, got %d", len(in))
	}
	sa, ok1 := in[a].(tensor.Shape)
	sb, ok2 := in[b].(tensor.Shape)
	if !ok1 || !ok2 || len(sa) != 2 || len(sb) != 2 {
		return nil, errors.Errorf("want two matrices, got %v and %v", in[a], in[b])
	}
	return tensor.Shape{sa[ra], sb[rb]}, nil
}

func three(vals []G.Value) (a, b, c []float32, err error) {
	if len(vals) != 3 {
		return nil, nil, nil, errors.Errorf("want 3 inputs, got %d", len(vals))
	}
	var out [3][]float32
	for i, v := range vals {
		t, ok := v.(*tensor.Dense)
		if !ok {
			return nil, nil, nil, errors.Errorf("input %d is %T, want a dense tensor", i, v)
		}
		if out[i], ok = t.Data().([]float32); !ok {
			return nil, nil, nil, errors.Errorf("input %d is %v, want float32", i, t.Dtype())
		}
	}
	return out[0], out[1], out[2], nil
}

func grow(buf []float32, n int) []float32 {
	if cap(buf) < n {
		return make([]float32, n)
	}
	return buf[:n]
}

// gemmAcc computes c += op(a)·op(b) on row-major views (a, b and c start at
// the view's first element; lda, ldb and ldc are the full matrices' row
// strides).
func gemmAcc(ta, tb blas.Transpose, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	ar, ac := m, k
	if ta == blas.Trans {
		ar, ac = k, m
	}
	br, bc := k, n
	if tb == blas.Trans {
		br, bc = n, k
	}
	blas32.Gemm(ta, tb, 1,
		blas32.General{Rows: ar, Cols: ac, Stride: lda, Data: a[:(ar-1)*lda+ac]},
		blas32.General{Rows: br, Cols: bc, Stride: ldb, Data: b[:(br-1)*ldb+bc]},
		1, blas32.General{Rows: m, Cols: n, Stride: ldc, Data: c[:(m-1)*ldc+n]})
}

// BlockCrossover is the largest fraction of non-empty ensemble blocks at
// which G2G layers use the block-sparse kernels instead of one dense
// product. Block products run at nearly the dense product's speed per
// multiply-accumulate, so they pay off whenever blocks can be skipped; the
// margin covers the per-block call overhead (measured with examples/bench).
var BlockCrossover = 0.75

// blockPlan is the block structure of a layer's mask, recomputed when the
// mask changes: the (input ensemble, output ensemble) blocks holding at
// least one edge, as unit ranges [i0, i1) × [j0, j1).
type blockPlan struct {
	version uint64
	valid   bool
	use     bool
	blocks  [][4]int
}

// blockPlan returns the current plan. Block kernels need ensembles that are
// contiguous ranges (index grouping, or mixer's even layers).
func (l *G2G) blockPlan() *blockPlan {
	p := &l.plan
	m := l.mask
	if p.valid && p.version == m.Version() {
		return p
	}
	g := l.cfg.Groups
	*p = blockPlan{version: m.Version(), valid: true}
	ib, ob := EnsembleBounds(m.InGroup), EnsembleBounds(m.OutGroup)
	if len(ib) != g+1 || len(ob) != g+1 {
		return p
	}
	for gi := 0; gi < g; gi++ {
		for gj := 0; gj < g; gj++ {
			if blockHasEdge(m, ib[gi], ib[gi+1], ob[gj], ob[gj+1]) {
				p.blocks = append(p.blocks, [4]int{ib[gi], ib[gi+1], ob[gj], ob[gj+1]})
			}
		}
	}
	p.use = float64(len(p.blocks)) <= BlockCrossover*float64(g*g)
	return p
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

func blockHasEdge(m *Mask, i0, i1, j0, j1 int) bool {
	d := m.Data()
	for i := i0; i < i1; i++ {
		for _, v := range d[i*m.Out+j0 : i*m.Out+j1] {
			if v != 0 {
				return true
			}
		}
	}
	return false
}

// maskedWeights writes W⊙M into the layer's buffer and returns it: only
// the non-empty blocks when block kernels run (the others are never read),
// everything otherwise.
func (l *G2G) maskedWeights(p *blockPlan, w, m []float32) []float32 {
	l.wm = grow(l.wm, len(w))
	if !p.use {
		for k, v := range w {
			l.wm[k] = v * m[k]
		}
		return l.wm
	}
	out := l.cfg.Out
	for _, b := range p.blocks {
		for i := b[0]; i < b[1]; i++ {
			for k := i*out + b[2]; k < i*out+b[3]; k++ {
				l.wm[k] = w[k] * m[k]
			}
		}
	}
	return l.wm
}

// gemm computes c = op(a)·op(b) for row-major float32 matrices, c being
// m × n and the inner dimension k.
func gemm(ta, tb blas.Transpose, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	ar, ac := m, k
	if ta == blas.Trans {
		ar, ac = k, m
	}
	br, bc := k, n
	if tb == blas.Trans {
		br, bc = n, k
	}
	blas32.Gemm(ta, tb, 1,
		blas32.General{Rows: ar, Cols: ac, Stride: lda, Data: a},
		blas32.General{Rows: br, Cols: bc, Stride: ldb, Data: b},
		0, blas32.General{Rows: m, Cols: n, Stride: ldc, Data: c})
}
