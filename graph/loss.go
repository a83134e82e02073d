package graph

import (
	"fmt"
	"hash"
	"math"

	"github.com/chewxy/hm"
	"github.com/pkg/errors"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/g2g-ml/g2g/internal/gop"
)

// crossEntropyOp is the mean over the batch of −Σ_c y_c·log softmax(z)_c
// for logits z and targets y (batch × classes), in one op with its own
// backward, (softmax(z) − y)·g/batch. Composing gorgonia's LogSoftMax, a
// product, a sum and a mean cost about a thousand allocations per step
// (half of a training step's) and several passes; this computes each row
// once, in float64, with the usual max shift for stability. A NaN or
// infinite logit gives a NaN loss, which Fit reports.
type crossEntropyOp struct {
	gop.Pure
	loss G.F32 // the result, reused across runs
}

// crossEntropy adds the mean cross-entropy of logits against one-hot
// targets to the graph.
func crossEntropy(logits, onehot *G.Node) (*G.Node, error) {
	return G.ApplyOp(&crossEntropyOp{}, logits, onehot)
}

func (op *crossEntropyOp) Arity() int { return 2 }
func (op *crossEntropyOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	m := G.TensorType{Dims: 2, Of: a}
	return hm.NewFnType(m, m, a)
}
func (op *crossEntropyOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.ScalarShape(), nil
}
func (op *crossEntropyOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "crossEntropy(%p)", op) }
func (op *crossEntropyOp) Hashcode() uint32      { return gop.Hash(op) }
func (op *crossEntropyOp) String() string        { return "crossEntropy" }
func (op *crossEntropyOp) DiffWRT(int) []bool    { return []bool{true, false} }

func (op *crossEntropyOp) Do(vals ...G.Value) (G.Value, error) {
	z, y, rows, classes, err := logitsAndTargets(vals)
	if err != nil {
		return nil, errors.Wrap(err, "cross-entropy")
	}
	var sum float64
	for r := 0; r < rows; r++ {
		zr, yr := z[r*classes:(r+1)*classes], y[r*classes:(r+1)*classes]
		mx, lse := logSumExp(zr)
		for c, t := range yr {
			if t != 0 {
				sum -= float64(t) * (float64(zr[c]) - mx - lse)
			}
		}
	}
	op.loss = G.F32(float32(sum / float64(rows)))
	return &op.loss, nil
}

func (op *crossEntropyOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	dz, err := G.ApplyOp(&crossEntropyGradOp{}, inputs[0], inputs[1], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dz, nil}, nil
}

// crossEntropyGradOp computes dz = (softmax(z) − y)·g/batch from (z, y, g),
// into a buffer reused across steps.
type crossEntropyGradOp struct {
	gop.Pure
	out  []float32
	wrap gop.Out
}

func (op *crossEntropyGradOp) Arity() int { return 3 }
func (op *crossEntropyGradOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	m := G.TensorType{Dims: 2, Of: a}
	return hm.NewFnType(m, m, a, m)
}
func (op *crossEntropyGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, ok := in[0].(tensor.Shape)
	if !ok || len(s) != 2 {
		return nil, errors.Errorf("cross-entropy gradient: want a matrix of logits, got %v", in[0])
	}
	return s.Clone(), nil
}
func (op *crossEntropyGradOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "crossEntropyGrad(%p)", op) }
func (op *crossEntropyGradOp) Hashcode() uint32      { return gop.Hash(op) }
func (op *crossEntropyGradOp) String() string        { return "dcrossEntropy" }
func (op *crossEntropyGradOp) DiffWRT(int) []bool    { return []bool{false, false, false} }
func (op *crossEntropyGradOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, errors.New("cross-entropy: no second derivative")
}

func (op *crossEntropyGradOp) Do(vals ...G.Value) (G.Value, error) {
	if len(vals) != 3 {
		return nil, errors.Errorf("cross-entropy gradient: want 3 inputs, got %d", len(vals))
	}
	z, y, rows, classes, err := logitsAndTargets(vals[:2])
	if err != nil {
		return nil, errors.Wrap(err, "cross-entropy gradient")
	}
	g, err := scalarOf(vals[2])
	if err != nil {
		return nil, errors.Wrap(err, "cross-entropy gradient")
	}
	if cap(op.out) < len(z) {
		op.out = make([]float32, len(z))
	}
	dz := op.out[:len(z)]
	scale := g / float64(rows)
	for r := 0; r < rows; r++ {
		zr, yr, dr := z[r*classes:(r+1)*classes], y[r*classes:(r+1)*classes], dz[r*classes:(r+1)*classes]
		mx, lse := logSumExp(zr)
		for c, v := range zr {
			dr[c] = float32((math.Exp(float64(v)-mx-lse) - float64(yr[c])) * scale)
		}
	}
	return op.wrap.Matrix(dz, rows, classes), nil
}

// logSumExp returns the row's maximum m and log Σ exp(z − m).
func logSumExp(z []float32) (m, lse float64) {
	m = math.Inf(-1)
	for _, v := range z {
		m = math.Max(m, float64(v))
	}
	var s float64
	for _, v := range z {
		s += math.Exp(float64(v) - m)
	}
	return m, math.Log(s)
}

func logitsAndTargets(vals []G.Value) (z, y []float32, rows, classes int, err error) {
	if len(vals) != 2 {
		return nil, nil, 0, 0, errors.Errorf("want logits and targets, got %d inputs", len(vals))
	}
	z, zs, err := gop.Floats(vals[0])
	if err != nil {
		return nil, nil, 0, 0, errors.Wrap(err, "logits")
	}
	y, ys, err := gop.Floats(vals[1])
	if err != nil {
		return nil, nil, 0, 0, errors.Wrap(err, "targets")
	}
	if len(zs) != 2 || !zs.Eq(ys) {
		return nil, nil, 0, 0, errors.Errorf("logits %v and targets %v: want matrices of one shape", zs, ys)
	}
	return z, y, zs[0], zs[1], nil
}

func scalarOf(v G.Value) (float64, error) {
	switch v := v.(type) {
	case *G.F32:
		return float64(*v), nil
	case *tensor.Dense:
		if d, ok := v.Data().([]float32); ok && len(d) == 1 {
			return float64(d[0]), nil
		}
		if d, ok := v.Data().(float32); ok {
			return float64(d), nil
		}
	}
	return 0, errors.Errorf("gradient is %T, want a float32 scalar", v)
}
