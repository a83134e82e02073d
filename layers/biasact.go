package layers

import (
	"fmt"
	"hash"
	"math"

	"github.com/chewxy/hm"
	"github.com/pkg/errors"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/g2g-ml/g2g/internal/gop"
	"github.com/g2g-ml/g2g/internal/sparse/kernels"
)

// biasActOp computes y = act(z + b) for z (batch, n) and b (n) — or
// act(z) without a bias — in one pass over its own, reused output buffer.
// Its backward ops are dz = dy ⊙ act′ (actGrad, computed from y) and
// db = Σ_batch dz (colSum). Composing gorgonia's BroadcastAdd and Rectify
// instead cost a broadcast copy of b, a comparison tensor, a product and
// their gradients: about a third of a sparse model's training step.
type biasActOp struct {
	gop.Pure
	act   Activation
	bias  bool
	label string
	out   []float32
	wrap  gop.Out
	// fm: z is feature-major (units × padded batch): a bias per row,
	// applied to the first batch columns; the padding columns of the
	// result are zero.
	fm    bool
	batch int
}

// biasAct adds act(y + b) (b may be nil) to the graph. When y is
// feature-major (units × padded batch, see Builder.SetOutputFeatureMajor
// and MarkFeatureMajor) the result is feature-major too, with zero
// padding columns, and marked so; otherwise both are batch-major
// (batch, units).
func biasAct(l Layer, b *Builder, y *G.Node, bias *Param, act Activation) (*G.Node, error) {
	if _, err := ParseActivation(string(act)); err != nil {
		return nil, wrap(l, err, "activation")
	}
	fm := b.FeatureMajor(y)
	if bias == nil && (act == "" || act == Linear) {
		return y, nil
	}
	if !fm && y.Dims() != 2 {
		return nil, errorf(l, "bias and activation need a (batch, units) input, got shape %v", y.Shape())
	}
	op := &biasActOp{act: act, bias: bias != nil, label: l.Name(), fm: fm}
	if fm {
		op.batch = b.Batch
	}
	in := []*G.Node{y}
	if bias != nil {
		in = append(in, b.Param(bias))
	}
	out, err := G.ApplyOp(op, in...)
	if err != nil {
		return nil, wrap(l, err, "bias and activation")
	}
	if fm {
		b.MarkFeatureMajor(out)
	}
	return out, nil
}

func (op *biasActOp) Arity() int {
	if op.bias {
		return 2
	}
	return 1
}

func (op *biasActOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	m := G.TensorType{Dims: 2, Of: a}
	if op.bias {
		return hm.NewFnType(m, G.TensorType{Dims: 1, Of: a}, m)
	}
	return hm.NewFnType(m, m)
}

func (op *biasActOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	if len(in) != op.Arity() {
		return nil, errors.Errorf("%v: want %d inputs, got %d", op, op.Arity(), len(in))
	}
	s, ok := in[0].(tensor.Shape)
	if !ok || len(s) != 2 {
		return nil, errors.Errorf("%v: want a matrix, got %v", op, in[0])
	}
	return s.Clone(), nil
}

func (op *biasActOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "biasAct(%p)", op) }
func (op *biasActOp) Hashcode() uint32      { return gop.Hash(op) }
func (op *biasActOp) String() string        { return fmt.Sprintf("%s(·+b)[%s]", op.act, op.label) }

func (op *biasActOp) DiffWRT(n int) []bool {
	d := make([]bool, n)
	for i := range d {
		d[i] = true
	}
	return d
}

func (op *biasActOp) Do(vals ...G.Value) (G.Value, error) {
	if len(vals) != op.Arity() {
		return nil, errors.Errorf("%v: want %d inputs, got %d", op, op.Arity(), len(vals))
	}
	z, shape, err := gop.Floats(vals[0])
	if err != nil {
		return nil, errors.Wrap(err, op.String())
	}
	if op.fm {
		return op.doFeatureMajor(z, shape, vals)
	}
	n := shape[1]
	var b []float32
	if op.bias {
		if b, _, err = gop.Floats(vals[1]); err != nil {
			return nil, errors.Wrap(err, op.String())
		}
		if len(b) != n {
			return nil, errors.Errorf("%v: bias of %d for %d units", op, len(b), n)
		}
	}
	op.out = grow(op.out, len(z))
	y := op.out
	rowsParallel(len(z)/n, n, func(r0, r1 int) {
		for r := r0; r < r1; r++ {
			op.act.ApplyWithBias(y[r*n:(r+1)*n], z[r*n:(r+1)*n], b, 0)
		}
	})
	return op.wrap.Matrix(y, shape[0], n), nil
}

// doFeatureMajor is Do for feature-major z: row j is unit j's values over
// the batch, its bias added to the first batch columns (the same additions
// as the batch-major Do), the padding columns zero.
func (op *biasActOp) doFeatureMajor(z []float32, shape tensor.Shape, vals []G.Value) (G.Value, error) {
	units, bp := shape[0], shape[1]
	var b []float32
	if op.bias {
		var err error
		if b, _, err = gop.Floats(vals[1]); err != nil {
			return nil, errors.Wrap(err, op.String())
		}
		if len(b) != units {
			return nil, errors.Errorf("%v: bias of %d for %d units", op, len(b), units)
		}
	}
	if op.batch > bp {
		return nil, errors.Errorf("%v: a batch of %d in rows of %d", op, op.batch, bp)
	}
	op.out = grow(op.out, len(z))
	y := op.out
	rowsParallel(units, bp, func(r0, r1 int) {
		for j := r0; j < r1; j++ {
			var bj float32
			if b != nil {
				bj = b[j]
			}
			row := y[j*bp : (j+1)*bp]
			op.act.ApplyWithBias(row[:op.batch], z[j*bp:j*bp+op.batch], nil, bj)
			clear(row[op.batch:])
		}
	})
	return op.wrap.Matrix(y, units, bp), nil
}

func (op *biasActOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	dz := grad
	if op.act != "" && op.act != Linear {
		var err error
		if dz, err = G.ApplyOp(&actGradOp{act: op.act, label: op.label}, output, grad); err != nil {
			return nil, err
		}
	}
	if !op.bias {
		return G.Nodes{dz}, nil
	}
	db, err := G.ApplyOp(&colSumOp{label: op.label, fm: op.fm, batch: op.batch}, dz)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dz, db}, nil
}

// ApplyWithBias sets y = act(z + b), with b a vector as long as y, or the
// scalar when b is nil. y and z may be the same slice.
func (a Activation) ApplyWithBias(y, z, b []float32, scalar float32) {
	kernels.BiasReLU(y, z, b, scalar, a == ReLU)
	if a != ReLU {
		a.ApplyInPlace(y)
	}
}

// ApplyInPlace replaces every value of y by the activation of it.
func (a Activation) ApplyInPlace(y []float32) {
	switch a {
	case ReLU:
		kernels.BiasReLU(y, y, nil, 0, true)
	case Tanh:
		for i, v := range y {
			y[i] = float32(math.Tanh(float64(v)))
		}
	case Sigmoid:
		for i, v := range y {
			y[i] = float32(1 / (1 + math.Exp(-float64(v))))
		}
	}
}

// actGradOp computes dz = dy ⊙ act′(z) from (y, dy), y = act(z).
type actGradOp struct {
	gop.Pure
	act   Activation
	label string
	out   []float32
	wrap  gop.Out
}

func (op *actGradOp) Arity() int { return 2 }
func (op *actGradOp) Type() hm.Type {
	m := G.TensorType{Dims: 2, Of: hm.TypeVariable('a')}
	return hm.NewFnType(m, m, m)
}
func (op *actGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, ok := in[0].(tensor.Shape)
	if !ok {
		return nil, errors.Errorf("%v: want a shape, got %v", op, in[0])
	}
	return s.Clone(), nil
}
func (op *actGradOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "actGrad(%p)", op) }
func (op *actGradOp) Hashcode() uint32      { return gop.Hash(op) }
func (op *actGradOp) String() string        { return fmt.Sprintf("d%s[%s]", op.act, op.label) }

func (op *actGradOp) Do(vals ...G.Value) (G.Value, error) {
	if len(vals) != 2 {
		return nil, errors.Errorf("%v: want 2 inputs, got %d", op, len(vals))
	}
	y, shape, err := gop.Floats(vals[0])
	if err != nil {
		return nil, errors.Wrap(err, op.String())
	}
	dy, _, err := gop.Floats(vals[1])
	if err != nil {
		return nil, errors.Wrap(err, op.String())
	}
	if len(dy) != len(y) {
		return nil, errors.Errorf("%v: gradient of %d values for %d outputs", op, len(dy), len(y))
	}
	op.out = grow(op.out, len(y))
	dz := op.out
	n := shape[len(shape)-1]
	rowsParallel(len(y)/n, n, func(r0, r1 int) {
		lo, hi := r0*n, r1*n
		yr, dyr, dzr := y[lo:hi], dy[lo:hi], dz[lo:hi]
		switch op.act {
		case ReLU:
			kernels.ReLUGrad(dzr, yr, dyr)
		case Tanh:
			for i, v := range yr {
				dzr[i] = dyr[i] * (1 - v*v)
			}
		case Sigmoid:
			for i, v := range yr {
				dzr[i] = dyr[i] * v * (1 - v)
			}
		default:
			copy(dzr, dyr)
		}
	})
	if len(shape) == 2 {
		return op.wrap.Matrix(dz, shape[0], shape[1]), nil
	}
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(dz)), nil
}

// colSumOp sums a (batch, n) matrix over its rows: the bias gradient.
type colSumOp struct {
	gop.Pure
	label string
	out   []float32
	wrap  gop.Out
	// fm: the matrix is feature-major (units × padded batch): the sums
	// are over the first batch entries of each row, in the same order as
	// the batch-major sums.
	fm    bool
	batch int
}

func (op *colSumOp) Arity() int { return 1 }
func (op *colSumOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(G.TensorType{Dims: 2, Of: a}, G.TensorType{Dims: 1, Of: a})
}
func (op *colSumOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, ok := in[0].(tensor.Shape)
	if !ok || len(s) != 2 {
		return nil, errors.Errorf("%v: want a matrix, got %v", op, in[0])
	}
	if op.fm {
		return tensor.Shape{s[0]}, nil
	}
	return tensor.Shape{s[1]}, nil
}
func (op *colSumOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "colSum(%p)", op) }
func (op *colSumOp) Hashcode() uint32      { return gop.Hash(op) }
func (op *colSumOp) String() string        { return "Σrows[" + op.label + "]" }
func (op *colSumOp) DiffWRT(int) []bool    { return []bool{false} }
func (op *colSumOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, errors.New("colSum: no second derivative")
}

func (op *colSumOp) Do(vals ...G.Value) (G.Value, error) {
	if len(vals) != 1 {
		return nil, errors.Errorf("%v: want 1 input, got %d", op, len(vals))
	}
	d, shape, err := gop.Floats(vals[0])
	if err != nil {
		return nil, errors.Wrap(err, op.String())
	}
	if op.fm {
		units, bp := shape[0], shape[1]
		op.out = grow(op.out, units)
		out, batch := op.out, op.batch
		// One unit's sum is a chain of dependent additions (in the order
		// that fixes its bits), so the units are split between cores.
		rowsParallel(units, batch, func(r0, r1 int) {
			for j := r0; j < r1; j++ {
				var sum float32
				for _, v := range d[j*bp : j*bp+batch] {
					sum += v
				}
				out[j] = sum
			}
		})
		return op.wrap.Vector(op.out), nil
	}
	n := shape[1]
	op.out = grow(op.out, n)
	clear(op.out)
	for r := 0; r < shape[0]; r++ {
		for j, v := range d[r*n : (r+1)*n] {
			op.out[j] += v
		}
	}
	return op.wrap.Vector(op.out), nil
}

// rowsParallel runs f on row ranges of a rows × n matrix, split between
// goroutines when it is large. Rows are independent, so the split changes
// no result.
func rowsParallel(rows, n int, f func(r0, r1 int)) {
	if rows*n < 1<<16 {
		f(0, rows)
		return
	}
	kernels.ParallelFor(rows, f)
}
