package layers

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	"github.com/pkg/errors"
	"gonum.org/v1/gonum/blas"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/g2g-ml/g2g/internal/gop"
	"github.com/g2g-ml/g2g/internal/sparse"
)

// matMulOp computes y = x·W for x (batch, in) and W (in, out), the product
// of a Dense layer, with its own backward ops:
//
//	dx = dy·Wᵀ   (matMulOp with transB)
//	dW = xᵀ·dy   (matMulOp with transA)
//
// Each is one call of the engine's BLAS helper (sparse.Gemm, which splits
// large products between goroutines) into a buffer the op reuses across
// steps. It replaces gorgonia's Mul, which allocates its result and
// several tensor headers on every run and makes the same BLAS calls.
type matMulOp struct {
	gop.Pure
	transA, transB bool // the stored operands are aᵀ, bᵀ
	diffA          bool // whether the first operand needs a gradient
	label          string
	out            []float32
	wrap           gop.Out
}

// matMul adds a·b (with the operands' transpositions given by the op) to
// the graph.
func matMul(l Layer, a, b *G.Node) (*G.Node, error) {
	op := &matMulOp{diffA: a.Op() != nil, label: l.Name()}
	return G.ApplyOp(op, a, b)
}

// dims returns the product's m, n, k for operand shapes sa and sb.
func (op *matMulOp) dims(sa, sb tensor.Shape) (m, n, k, kb int) {
	m, k = sa[0], sa[1]
	if op.transA {
		m, k = k, m
	}
	kb, n = sb[0], sb[1]
	if op.transB {
		kb, n = n, kb
	}
	return m, n, k, kb
}

func (op *matMulOp) Arity() int { return 2 }

func (op *matMulOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	m := G.TensorType{Dims: 2, Of: a}
	return hm.NewFnType(m, m, m)
}

func (op *matMulOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	if len(in) != 2 {
		return nil, errors.Errorf("%v: want 2 inputs, got %d", op, len(in))
	}
	sa, ok1 := in[0].(tensor.Shape)
	sb, ok2 := in[1].(tensor.Shape)
	if !ok1 || !ok2 || len(sa) != 2 || len(sb) != 2 {
		return nil, errors.Errorf("%v: want two matrices, got %v and %v", op, in[0], in[1])
	}
	m, n, k, kb := op.dims(sa, sb)
	if k != kb {
		return nil, errors.Errorf("%v: inner dimensions %d and %d differ (shapes %v and %v)", op, k, kb, sa, sb)
	}
	return tensor.Shape{m, n}, nil
}

func (op *matMulOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "matMul(%p)", op) }
func (op *matMulOp) Hashcode() uint32      { return gop.Hash(op) }

func (op *matMulOp) String() string {
	a, b := "x", "W"
	if op.transA {
		a = "xᵀ"
	}
	if op.transB {
		b = "Wᵀ"
	}
	return a + "·" + b + "[" + op.label + "]"
}

func (op *matMulOp) DiffWRT(int) []bool {
	if op.transA || op.transB {
		return []bool{false, false} // backward ops are not differentiated again
	}
	return []bool{op.diffA, true}
}

func (op *matMulOp) Do(vals ...G.Value) (G.Value, error) {
	if len(vals) != 2 {
		return nil, errors.Errorf("%v: want 2 inputs, got %d", op, len(vals))
	}
	a, sa, err := gop.Floats(vals[0])
	if err != nil {
		return nil, errors.Wrap(err, op.String())
	}
	b, sb, err := gop.Floats(vals[1])
	if err != nil {
		return nil, errors.Wrap(err, op.String())
	}
	if len(sa) != 2 || len(sb) != 2 {
		return nil, errors.Errorf("%v: want two matrices, got shapes %v and %v", op, sa, sb)
	}
	m, n, k, kb := op.dims(sa, sb)
	if k != kb {
		return nil, errors.Errorf("%v: inner dimensions %d and %d differ (shapes %v and %v)", op, k, kb, sa, sb)
	}
	op.out = grow(op.out, m*n)
	ta, tb := blas.NoTrans, blas.NoTrans
	if op.transA {
		ta = blas.Trans
	}
	if op.transB {
		tb = blas.Trans
	}
	sparse.Gemm(ta, tb, m, n, k, a, sa[1], b, sb[1], op.out, n)
	return op.wrap.Matrix(op.out, m, n), nil
}

func (op *matMulOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	if op.transA || op.transB {
		return nil, errors.Errorf("%v: no second derivative", op)
	}
	x, w := inputs[0], inputs[1]
	var dx *G.Node
	var err error
	if op.diffA {
		if dx, err = G.ApplyOp(&matMulOp{transB: true, label: op.label}, grad, w); err != nil {
			return nil, err
		}
	}
	dw, err := G.ApplyOp(&matMulOp{transA: true, label: op.label}, x, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx, dw}, nil
}
