package layers

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	"github.com/pkg/errors"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/g2g-ml/g2g/internal/gop"
	"github.com/g2g-ml/g2g/internal/sparse"
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
// model input, the unused input gradient. The three ops only read their
// inputs and wrap their outputs: the products run on the layer's kernel plan
// (package internal/sparse), with one sparse.Product holding the buffers the
// three share and reuse across steps.
type maskedMul struct {
	opBase
	diffX bool // whether x needs a gradient (false when x is a graph input)
}

// opBase is what the three masked-product ops share: the layer, the
// product state, a label, and which input dimensions give the output shape
// (rows of input a along axis ra, columns of input b along axis rb).
type opBase struct {
	gop.Pure
	layer        *G2G
	pr           *sparse.Product
	label        string
	a, ra, b, rb int
	wrap         gop.Out // the output tensor, reused across runs
	// lay is the layout of x (and dx) and y (and dy); batch the graph's
	// batch. With a feature-major operand the output shape is fixed when
	// the op is built (shape).
	lay   sparse.Layout
	batch int
	shape tensor.Shape
}

func (op *opBase) Arity() int { return 3 }

func (op *opBase) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(a, a, a, a)
}

func (op *opBase) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	if op.shape != nil {
		return op.shape.Clone(), nil
	}
	return matShape(in, op.a, op.ra, op.b, op.rb)
}

// wrapRows returns v as the op's output: n rows of batch-major values, or
// the shape fixed when the op was built.
func (op *opBase) wrapRows(v []float32, rows, cols int) *tensor.Dense {
	if op.shape != nil {
		return op.wrap.Matrix(v, op.shape[0], op.shape[1])
	}
	return op.wrap.Matrix(v, rows, cols)
}

// fmShape returns the shape of n units' feature-major values for the
// op's batch.
func (op *opBase) fmShape(n int) tensor.Shape {
	return tensor.Shape{n, sparse.FeatureMajorSize(n, op.batch) / n}
}

// WriteHash makes every op instance distinct: each owns output buffers.
func (op *opBase) WriteHash(h hash.Hash) { fmt.Fprintf(h, "%s(%p)", op.label, op) }

func (op *opBase) Hashcode() uint32 { return gop.Hash(op) }

func (op *opBase) String() string { return op.label + "[" + op.layer.Name() + "]" }

func (op *maskedMul) DiffWRT(int) []bool { return []bool{op.diffX, true, false} }

func (op *maskedMul) Do(vals ...G.Value) (G.Value, error) {
	x, w, m, err := three(vals)
	if err != nil {
		return nil, errors.Wrap(err, op.String())
	}
	batch := op.batch
	if !op.lay.InFM {
		batch = len(x) / op.layer.cfg.In
	}
	y, err := op.layer.kernelPlan().ForwardIn(op.pr, w, m, x, batch, op.lay)
	if err != nil {
		return nil, errors.Wrap(err, op.String())
	}
	return op.wrapRows(y, batch, op.layer.cfg.Out), nil
}

func (op *maskedMul) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	x, w, m := inputs[0], inputs[1], inputs[2]
	op.pr.SetTraining()
	var dx *G.Node
	var err error
	if op.diffX {
		t := opBase{layer: op.layer, pr: op.pr, label: "dy·(W⊙M)ᵀ", a: 0, ra: 0, b: 1, rb: 0, lay: op.lay, batch: op.batch}
		switch {
		case op.lay.InFM:
			t.shape = op.fmShape(op.layer.cfg.In)
		case op.lay.OutFM:
			t.shape = tensor.Shape{op.batch, op.layer.cfg.In}
		}
		if dx, err = G.ApplyOp(&maskedMulT{t}, grad, w, m); err != nil {
			return nil, err
		}
	}
	g := opBase{layer: op.layer, pr: op.pr, label: "(xᵀ·dy)⊙M", a: 0, ra: 1, b: 1, rb: 1, lay: op.lay, batch: op.batch}
	if op.lay != (sparse.Layout{}) {
		g.shape = tensor.Shape{op.layer.cfg.In, op.layer.cfg.Out}
	}
	dw, err := G.ApplyOp(&maskedGrad{g}, x, grad, m)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx, dw, nil}, nil
}

// maskedMulT computes dx = dy·(W⊙M)ᵀ from (dy, W, M).
type maskedMulT struct{ opBase }

func (op *maskedMulT) Do(vals ...G.Value) (G.Value, error) {
	dy, w, m, err := three(vals)
	if err != nil {
		return nil, errors.Wrap(err, op.String())
	}
	batch := op.batch
	if !op.lay.OutFM {
		batch = len(dy) / op.layer.cfg.Out
	}
	dx, err := op.layer.kernelPlan().InputGradIn(op.pr, dy, w, m, batch, op.lay)
	if err != nil {
		return nil, errors.Wrap(err, op.String())
	}
	return op.wrapRows(dx, batch, op.layer.cfg.In), nil
}

// maskedGrad computes dW = (xᵀ·dy)⊙M from (x, dy, M), keeping the unmasked
// product xᵀ·dy — the dense gradient RigL ranks inactive edges by — in the
// layer when asked to (KeepDenseGrad).
type maskedGrad struct{ opBase }

func (op *maskedGrad) Do(vals ...G.Value) (G.Value, error) {
	x, dy, m, err := three(vals)
	if err != nil {
		return nil, errors.Wrap(err, op.String())
	}
	l := op.layer
	batch := op.batch
	if !op.lay.InFM {
		batch = len(x) / l.cfg.In
	}
	var dense *[]float32
	if l.keepDense {
		dense = &l.denseGrad
	}
	dw, err := l.kernelPlan().WeightGradIn(op.pr, x, dy, m, batch, op.lay, dense)
	if err != nil {
		return nil, errors.Wrap(err, op.String())
	}
	if !l.keepDense {
		l.denseGrad = nil
	}
	return op.wrap.Matrix(dw, l.cfg.In, l.cfg.Out), nil
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
		if out[i], _, err = gop.Floats(v); err != nil {
			return nil, nil, nil, errors.Wrapf(err, "input %d", i)
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
