package graph

import (
	"fmt"
	"hash"
	"math"
	"strings"

	"github.com/chewxy/hm"
	"github.com/pkg/errors"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/g2g-ml/g2g/internal/gop"
)

// Loss is a training objective: it compares a model output with its
// targets and returns a scalar node that training minimises. The built-in
// losses (SoftmaxCrossEntropy, SigmoidCrossEntropy, MeanSquaredError,
// MeanAbsoluteError, Huber) are fused ops with their own backward and are
// also computed in plain Go by Evaluate; a loss of your own — NewLoss, or
// any type implementing this interface — is trained through gorgonia's
// autodiff, and evaluated by running its graph.
type Loss interface {
	// Name identifies the loss in logs and errors, e.g. "mse".
	Name() string
	// Build adds the loss of output against target to output's graph and
	// returns it: a float32 scalar node. Both nodes have the output's
	// shape, batch first; the loss is averaged over the batch (the
	// training loss is not scaled by the batch size elsewhere).
	Build(output, target *G.Node) (*G.Node, error)
}

// LossFunc is the function a loss of your own computes: a scalar float32
// node from the output node and the target node (the output's shape).
type LossFunc func(output, target *G.Node) (*G.Node, error)

// customLoss is a Loss made of a LossFunc.
type customLoss struct {
	name string
	f    LossFunc
}

// NewLoss returns the loss named name computed by f, for example the mean
// squared error plus an L1 term written with gorgonia's operations. It is
// trained through autodiff; Fit checks that f returns a scalar and reports
// an error naming the loss otherwise. Reuse the returned value across Fit
// calls: a model recompiles its training graphs for a different loss value.
func NewLoss(name string, f LossFunc) Loss { return &customLoss{name: name, f: f} }

func (l *customLoss) Name() string { return l.name }

func (l *customLoss) Build(output, target *G.Node) (*G.Node, error) {
	if l.f == nil {
		return nil, errors.New("nil loss function")
	}
	return l.f(output, target)
}

// SoftmaxCrossEntropy is the categorical cross-entropy of the softmax of
// the outputs (logits) against one-hot or soft targets, averaged over the
// batch: −Σ_c q_c·log softmax(z)_c per sample, q the targets. It is the
// default loss. Integer labels are one-hot encoded.
//
// LabelSmoothing ε replaces the targets by (1−ε)·y + ε/K (K the number of
// classes). Weights, one per class, weigh the terms: a sample's loss is
// −Σ_c w_c·q_c·log softmax(z)_c and the batch loss is the sum of the
// samples' losses divided by Σ_i Σ_c w_c·y_ic — for one-hot targets the
// sum of the weights of the samples' classes, as PyTorch's CrossEntropyLoss
// with weight does. With neither, the loss is the fused op Fit has always
// used.
type SoftmaxCrossEntropy struct {
	// LabelSmoothing is ε, in [0, 1).
	LabelSmoothing float64
	// Weights holds one positive weight per class, or is nil.
	Weights []float64
}

// Name returns "crossentropy".
func (SoftmaxCrossEntropy) Name() string { return "crossentropy" }

// plain reports whether l is the unweighted, unsmoothed loss.
func (l SoftmaxCrossEntropy) plain() bool { return l.LabelSmoothing == 0 && l.Weights == nil }

// kernel checks the settings for outputs of width values per sample.
func (l SoftmaxCrossEntropy) kernel(width int) (lossKernel, error) {
	if !(l.LabelSmoothing >= 0 && l.LabelSmoothing < 1) {
		return nil, errors.Errorf("LabelSmoothing must be in [0, 1), got %v", l.LabelSmoothing)
	}
	if width < 2 {
		return nil, errors.Errorf("softmax cross-entropy needs at least 2 output values per sample, got %d (for one logit use SigmoidCrossEntropy)", width)
	}
	if l.Weights != nil {
		if len(l.Weights) != width {
			return nil, errors.Errorf("%d Weights for %d classes", len(l.Weights), width)
		}
		for c, w := range l.Weights {
			if !(w > 0) || math.IsInf(w, 0) {
				return nil, errors.Errorf("Weights[%d] = %v, want positive and finite", c, w)
			}
		}
	}
	return &ceKernel{smooth: l.LabelSmoothing, weights: l.Weights}, nil
}

// Build adds the loss: the fused cross-entropy op of loss.go when neither
// LabelSmoothing nor Weights is set, a fused op with both otherwise.
func (l SoftmaxCrossEntropy) Build(output, target *G.Node) (*G.Node, error) {
	if l.plain() {
		return crossEntropy(output, target)
	}
	return buildKernelLoss(l, output, target)
}

// SigmoidCrossEntropy is the binary cross-entropy of the sigmoid of the
// outputs (logits) against targets in [0, 1], for multi-label
// classification (PyTorch's BCEWithLogitsLoss, Keras's
// BinaryCrossentropy(from_logits=True)): the mean over every sample and
// output of p·y·softplus(−z) + (1−y)·softplus(z), computed stably, where p
// is the output's PosWeight (1 when nil).
type SigmoidCrossEntropy struct {
	// PosWeight holds, per output value, the weight of the positive term
	// (more than 1 favours recall), or is nil.
	PosWeight []float64
}

// Name returns "binary_crossentropy".
func (SigmoidCrossEntropy) Name() string { return "binary_crossentropy" }

func (l SigmoidCrossEntropy) kernel(width int) (lossKernel, error) {
	if l.PosWeight != nil {
		if len(l.PosWeight) != width {
			return nil, errors.Errorf("%d PosWeight values for %d outputs", len(l.PosWeight), width)
		}
		for c, w := range l.PosWeight {
			if !(w > 0) || math.IsInf(w, 0) {
				return nil, errors.Errorf("PosWeight[%d] = %v, want positive and finite", c, w)
			}
		}
	}
	return &bceKernel{pos: l.PosWeight}, nil
}

// Build adds the loss as a fused op.
func (l SigmoidCrossEntropy) Build(output, target *G.Node) (*G.Node, error) {
	return buildKernelLoss(l, output, target)
}

// MeanSquaredError is the mean over every sample and output of (z − y)².
type MeanSquaredError struct{}

// Name returns "mse".
func (MeanSquaredError) Name() string { return "mse" }

func (MeanSquaredError) kernel(int) (lossKernel, error) { return pointKernel{kind: pointMSE}, nil }

// Build adds the loss as a fused op.
func (l MeanSquaredError) Build(output, target *G.Node) (*G.Node, error) {
	return buildKernelLoss(l, output, target)
}

// MeanAbsoluteError is the mean over every sample and output of |z − y|
// (its gradient at z = y is taken as 0).
type MeanAbsoluteError struct{}

// Name returns "mae".
func (MeanAbsoluteError) Name() string { return "mae" }

func (MeanAbsoluteError) kernel(int) (lossKernel, error) { return pointKernel{kind: pointMAE}, nil }

// Build adds the loss as a fused op.
func (l MeanAbsoluteError) Build(output, target *G.Node) (*G.Node, error) {
	return buildKernelLoss(l, output, target)
}

// Huber is the mean over every sample and output of ½d² where |d| ≤ Delta
// and Delta·(|d| − ½Delta) elsewhere, d = z − y: quadratic near the target,
// linear far from it (Keras's Huber, PyTorch's HuberLoss).
type Huber struct {
	// Delta is the threshold between the two regimes (default 1).
	Delta float64
}

// Name returns "huber".
func (Huber) Name() string { return "huber" }

func (l Huber) kernel(int) (lossKernel, error) {
	d := l.Delta
	if d == 0 {
		d = 1
	}
	if !(d > 0) || math.IsInf(d, 0) {
		return nil, errors.Errorf("Delta must be positive and finite, got %v", l.Delta)
	}
	return pointKernel{kind: pointHuber, delta: d}, nil
}

// Build adds the loss as a fused op.
func (l Huber) Build(output, target *G.Node) (*G.Node, error) {
	return buildKernelLoss(l, output, target)
}

// LossByName returns the built-in loss of that name, with default
// settings: "crossentropy" (also "ce", "categorical_crossentropy"),
// "binary_crossentropy" (also "bce"), "mse", "mae" or "huber". An unknown
// name is an error listing the known ones.
func LossByName(name string) (Loss, error) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "crossentropy", "ce", "categorical_crossentropy", "softmax_crossentropy":
		return SoftmaxCrossEntropy{}, nil
	case "binary_crossentropy", "bce", "sigmoid_crossentropy":
		return SigmoidCrossEntropy{}, nil
	case "mse", "mean_squared_error":
		return MeanSquaredError{}, nil
	case "mae", "mean_absolute_error":
		return MeanAbsoluteError{}, nil
	case "huber":
		return Huber{}, nil
	}
	return nil, errors.Errorf("unknown loss %q (known: crossentropy, binary_crossentropy, mse, mae, huber)", name)
}

// kernelLoss is a built-in loss computed by a lossKernel, both in its
// fused op and in plain Go.
type kernelLoss interface {
	Loss
	kernel(width int) (lossKernel, error)
}

// lossKernel computes a loss over a batch of rows × width outputs z and
// targets y as num/den, and its gradient. den depends on y only.
type lossKernel interface {
	// sums returns the numerator and the denominator of the loss.
	sums(z, y []float32, rows, width int) (num, den float64)
	// grad writes dz = g·∂(num/den)/∂z.
	grad(dz, z, y []float32, rows, width int, g float64)
	String() string
}

// buildKernelLoss adds the fused op of a built-in loss, on (batch, width)
// views of output and target.
func buildKernelLoss(l kernelLoss, output, target *G.Node) (*G.Node, error) {
	s := output.Shape()
	if len(s) != 2 {
		return nil, errors.Errorf("loss %s: output of shape %v, want (batch, values)", l.Name(), s)
	}
	k, err := l.kernel(s[1])
	if err != nil {
		return nil, errors.Wrapf(err, "loss %s", l.Name())
	}
	return G.ApplyOp(&lossOp{k: k}, output, target)
}

// lossOp is a built-in loss as one op: num/den of its kernel, in float64.
type lossOp struct {
	gop.Pure
	k lossKernel
}

func (op *lossOp) Arity() int { return 2 }
func (op *lossOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	m := G.TensorType{Dims: 2, Of: a}
	return hm.NewFnType(m, m, a)
}
func (op *lossOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.ScalarShape(), nil
}
func (op *lossOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "loss:%s(%p)", op.k, op) }
func (op *lossOp) Hashcode() uint32      { return gop.Hash(op) }
func (op *lossOp) String() string        { return op.k.String() }
func (op *lossOp) DiffWRT(int) []bool    { return []bool{true, false} }

func (op *lossOp) Do(vals ...G.Value) (G.Value, error) {
	z, y, rows, width, err := logitsAndTargets(vals)
	if err != nil {
		return nil, errors.Wrap(err, op.k.String())
	}
	num, den := op.k.sums(z, y, rows, width)
	return G.NewF32(float32(num / den)), nil
}

func (op *lossOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	dz, err := G.ApplyOp(&lossGradOp{k: op.k}, inputs[0], inputs[1], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dz, nil}, nil
}

// lossGradOp computes the gradient of a lossOp from (z, y, g), into a
// buffer reused across steps.
type lossGradOp struct {
	gop.Pure
	k   lossKernel
	out []float32
}

func (op *lossGradOp) Arity() int { return 3 }
func (op *lossGradOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	m := G.TensorType{Dims: 2, Of: a}
	return hm.NewFnType(m, m, a, m)
}
func (op *lossGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, ok := in[0].(tensor.Shape)
	if !ok || len(s) != 2 {
		return nil, errors.Errorf("%s gradient: want a matrix of outputs, got %v", op.k, in[0])
	}
	return s.Clone(), nil
}
func (op *lossGradOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "lossGrad:%s(%p)", op.k, op) }
func (op *lossGradOp) Hashcode() uint32      { return gop.Hash(op) }
func (op *lossGradOp) String() string        { return "d" + op.k.String() }
func (op *lossGradOp) DiffWRT(int) []bool    { return []bool{false, false, false} }
func (op *lossGradOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, errors.Errorf("%s: no second derivative", op.k)
}

func (op *lossGradOp) Do(vals ...G.Value) (G.Value, error) {
	if len(vals) != 3 {
		return nil, errors.Errorf("%s gradient: want 3 inputs, got %d", op.k, len(vals))
	}
	z, y, rows, width, err := logitsAndTargets(vals[:2])
	if err != nil {
		return nil, errors.Wrapf(err, "%s gradient", op.k)
	}
	g, err := scalarOf(vals[2])
	if err != nil {
		return nil, errors.Wrapf(err, "%s gradient", op.k)
	}
	if cap(op.out) < len(z) {
		op.out = make([]float32, len(z))
	}
	dz := op.out[:len(z)]
	op.k.grad(dz, z, y, rows, width, g)
	return tensor.New(tensor.WithShape(rows, width), tensor.WithBacking(dz)), nil
}

// ceKernel is the softmax cross-entropy with label smoothing and class
// weights (SoftmaxCrossEntropy).
type ceKernel struct {
	smooth  float64
	weights []float64
}

func (k *ceKernel) String() string { return "crossEntropy" }

// weight returns w_c (1 without weights).
func (k *ceKernel) weight(c int) float64 {
	if k.weights == nil {
		return 1
	}
	return k.weights[c]
}

// q returns the smoothed target of class c in a row of width classes.
func (k *ceKernel) q(t float32, width int) float64 {
	return (1-k.smooth)*float64(t) + k.smooth/float64(width)
}

func (k *ceKernel) sums(z, y []float32, rows, width int) (num, den float64) {
	for r := 0; r < rows; r++ {
		zr, yr := z[r*width:(r+1)*width], y[r*width:(r+1)*width]
		mx, lse := logSumExp(zr)
		for c, t := range yr {
			if q := k.q(t, width); q != 0 {
				num -= k.weight(c) * q * (float64(zr[c]) - mx - lse)
			}
			if k.weights != nil {
				den += k.weights[c] * float64(t)
			}
		}
	}
	if k.weights == nil {
		den = float64(rows)
	}
	return num, den
}

func (k *ceKernel) grad(dz, z, y []float32, rows, width int, g float64) {
	den := float64(rows)
	if k.weights != nil {
		den = 0
		for r := 0; r < rows; r++ {
			for c, t := range y[r*width : (r+1)*width] {
				den += k.weights[c] * float64(t)
			}
		}
	}
	scale := g / den
	for r := 0; r < rows; r++ {
		zr, yr, dr := z[r*width:(r+1)*width], y[r*width:(r+1)*width], dz[r*width:(r+1)*width]
		mx, lse := logSumExp(zr)
		var wq float64 // Σ_c w_c·q_c
		for c, t := range yr {
			wq += k.weight(c) * k.q(t, width)
		}
		for c, v := range zr {
			p := math.Exp(float64(v) - mx - lse)
			dr[c] = float32((wq*p - k.weight(c)*k.q(yr[c], width)) * scale)
		}
	}
}

// bceKernel is the sigmoid binary cross-entropy with positive weights
// (SigmoidCrossEntropy).
type bceKernel struct{ pos []float64 }

func (k *bceKernel) String() string { return "binaryCrossEntropy" }

// softplus returns log(1 + e^x), stably.
func softplus(x float64) float64 { return math.Max(x, 0) + math.Log1p(math.Exp(-math.Abs(x))) }

// sigmoid returns 1/(1 + e^−x), stably.
func sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

func (k *bceKernel) sums(z, y []float32, rows, width int) (num, den float64) {
	for i, v := range z {
		zi, yi := float64(v), float64(y[i])
		p := 1.0
		if k.pos != nil {
			p = k.pos[i%width]
		}
		num += p*yi*softplus(-zi) + (1-yi)*softplus(zi)
	}
	return num, float64(rows * width)
}

func (k *bceKernel) grad(dz, z, y []float32, rows, width int, g float64) {
	scale := g / float64(rows*width)
	for i, v := range z {
		zi, yi := float64(v), float64(y[i])
		p := 1.0
		if k.pos != nil {
			p = k.pos[i%width]
		}
		s := sigmoid(zi)
		dz[i] = float32((-p*yi*(1-s) + (1-yi)*s) * scale)
	}
}

// pointKernel is a loss that is the mean of a function of z − y over every
// value: squared, absolute or Huber.
type pointKernel struct {
	kind  int
	delta float64
}

const (
	pointMSE = iota
	pointMAE
	pointHuber
)

func (k pointKernel) String() string {
	return [...]string{"meanSquaredError", "meanAbsoluteError", "huber"}[k.kind]
}

func (k pointKernel) sums(z, y []float32, rows, width int) (num, den float64) {
	for i, v := range z {
		d := float64(v) - float64(y[i])
		switch k.kind {
		case pointMSE:
			num += d * d
		case pointMAE:
			num += math.Abs(d)
		default:
			if a := math.Abs(d); a <= k.delta {
				num += 0.5 * d * d
			} else {
				num += k.delta * (a - 0.5*k.delta)
			}
		}
	}
	return num, float64(rows * width)
}

func (k pointKernel) grad(dz, z, y []float32, rows, width int, g float64) {
	scale := g / float64(rows*width)
	for i, v := range z {
		d := float64(v) - float64(y[i])
		var gd float64
		switch k.kind {
		case pointMSE:
			gd = 2 * d
		case pointMAE:
			gd = sign(d)
		default:
			gd = d
			if math.Abs(d) > k.delta {
				gd = k.delta * sign(d)
			}
		}
		dz[i] = float32(gd * scale)
	}
}

func sign(x float64) float64 {
	switch {
	case x > 0:
		return 1
	case x < 0:
		return -1
	}
	return 0
}
