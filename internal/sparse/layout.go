package sparse

import (
	"github.com/pkg/errors"

	"github.com/g2g-ml/g2g/internal/sparse/kernels"
)

// Layout says how a product's operands are stored. Batch-major (false, the
// default) is gorgonia's: one row per sample. Feature-major (true) is the
// edge kernels' own: one row per unit, the batch padded to
// kernels.Padded(batch) along the row, the padding columns zero. Two
// sparse layers in a row can hand their activations (and, backwards,
// their gradients) over feature-major, saving the transposes in between.
type Layout struct {
	// InFM: the input x (and the input gradient dx) are feature-major.
	InFM bool
	// OutFM: the output y (and the output gradient dy) are feature-major.
	OutFM bool
}

// FeatureMajorSize returns the number of values of n units' feature-major
// rows for a batch: n·kernels.Padded(batch).
func FeatureMajorSize(n, batch int) int { return n * kernels.Padded(batch) }

// native reports whether the plan computes lay without converting: the
// sparse kernel in a training product works feature-major.
func (p *Plan) native(pr *Product) bool { return p.kernel == Sparse && pr.train }

// ForwardIn is Forward with x and the returned y in the layouts lay gives
// (y is in × batch-major or out × Padded(batch) feature-major, in pr's
// buffer). Feature-major operands cost no transpose on the sparse
// kernel of a training product; other kernels convert.
func (p *Plan) ForwardIn(pr *Product, w, m, x []float32, batch int, lay Layout) ([]float32, error) {
	if lay == (Layout{}) {
		return p.Forward(pr, w, m, x, batch)
	}
	bp := kernels.Padded(batch)
	if want := pick(lay.InFM, p.in*bp, p.in*batch); len(x) != want {
		return nil, errors.Errorf("forward: %d input values for a batch of %d, want %d", len(x), batch, want)
	}
	if !p.native(pr) {
		xb, err := pr.batchMajor(&pr.xb, x, lay.InFM, p.in, batch)
		if err != nil {
			return nil, err
		}
		y, err := p.Forward(pr, w, m, xb, batch)
		if err != nil || !lay.OutFM {
			return y, err
		}
		return pr.featureMajor(&pr.yb, y, p.out, batch)
	}
	wm := p.prepareForward(pr, w, m)
	pr.fit(batch, p.in, p.out)
	pr.xcur = pr.xt
	if lay.InFM {
		pr.xcur = x
	} else if err := pr.toFeatureMajor(pr.xt, x, p.in); err != nil {
		return nil, err
	}
	if err := sparseProduct(p.blocks, p.fwdIn, p.wp, p.liveBlocks(w, wm), pr.xcur, pr.yt, bp, false, nil); err != nil {
		return nil, err
	}
	if lay.OutFM {
		return pr.yt[:p.out*bp], nil
	}
	pr.y = grow(pr.y, batch*p.out)
	return pr.y, kernels.Transpose(pr.y, p.out, pr.yt, bp, p.out, batch)
}

// InputGradIn is InputGrad with dy in lay's output layout and the returned
// dx in its input layout.
func (p *Plan) InputGradIn(pr *Product, dy, w, m []float32, batch int, lay Layout) ([]float32, error) {
	if lay == (Layout{}) {
		return p.InputGrad(pr, dy, w, m, batch)
	}
	if !p.native(pr) {
		dyb, err := pr.batchMajor(&pr.dyb, dy, lay.OutFM, p.out, batch)
		if err != nil {
			return nil, err
		}
		dx, err := p.InputGrad(pr, dyb, w, m, batch)
		if err != nil || !lay.InFM {
			return dx, err
		}
		return pr.featureMajor(&pr.dxb, dx, p.in, batch)
	}
	dyt, err := pr.gradIn(dy, batch, lay.OutFM, p.in, p.out)
	if err != nil {
		return nil, err
	}
	if err := p.inputGradProduct(pr, w, dyt); err != nil {
		return nil, err
	}
	if lay.InFM {
		return pr.dxt[:p.in*pr.bp], nil
	}
	pr.dx = grow(pr.dx, batch*p.in)
	return pr.dx, kernels.Transpose(pr.dx, p.in, pr.dxt, pr.bp, p.in, batch)
}

// WeightGradIn is WeightGrad with x and dy in the layouts lay gives. The
// dense gradient (dense non-nil) is computed batch-major as WeightGrad
// does, so it does not depend on the layout.
func (p *Plan) WeightGradIn(pr *Product, x, dy, m []float32, batch int, lay Layout, dense *[]float32) ([]float32, error) {
	if lay == (Layout{}) {
		return p.WeightGrad(pr, x, dy, m, batch, dense)
	}
	if !p.native(pr) || dense != nil {
		xb, err := pr.batchMajor(&pr.xb, x, lay.InFM, p.in, batch)
		if err != nil {
			return nil, err
		}
		dyb, err := pr.batchMajor(&pr.dyb, dy, lay.OutFM, p.out, batch)
		if err != nil {
			return nil, err
		}
		return p.WeightGrad(pr, xb, dyb, m, batch, dense)
	}
	dyt, err := pr.gradIn(dy, batch, lay.OutFM, p.in, p.out)
	if err != nil {
		return nil, err
	}
	return p.sparseWeightGrad(pr, dyt, m)
}

// gradIn prepares a backward product of a feature-major step: like
// backward, with dy already feature-major when fm is set.
func (pr *Product) gradIn(dy []float32, batch int, fm bool, in, out int) ([]float32, error) {
	if !fm {
		return pr.backward(dy, batch, in, out)
	}
	if pr.batch != batch || !pr.train {
		return nil, errors.Errorf("gradient of a batch of %d after a forward pass of %d", batch, pr.batch)
	}
	if len(dy) != out*pr.bp {
		return nil, errors.Errorf("output gradient of %d values, want %d feature-major", len(dy), out*pr.bp)
	}
	pr.dxt = grow(pr.dxt, in*pr.bp)
	pr.dyFwd, pr.dyFirst, pr.dycur = pr.fwd, &dy[0], dy
	return dy, nil
}

// batchMajor returns v (n units of a batch, feature-major when fm)
// batch-major: v itself, or its transpose in *buf.
func (pr *Product) batchMajor(buf *[]float32, v []float32, fm bool, n, batch int) ([]float32, error) {
	if !fm {
		return v, nil
	}
	bp := kernels.Padded(batch)
	if len(v) != n*bp {
		return nil, errors.Errorf("%d feature-major values for %d units and a batch of %d, want %d", len(v), n, batch, n*bp)
	}
	*buf = grow(*buf, batch*n)
	return *buf, kernels.Transpose(*buf, n, v, bp, n, batch)
}

// featureMajor returns v (batch × n) feature-major, in *buf, with zero
// padding columns.
func (pr *Product) featureMajor(buf *[]float32, v []float32, n, batch int) ([]float32, error) {
	bp := kernels.Padded(batch)
	*buf = grow(*buf, n*bp)
	t := *buf
	if err := kernels.Transpose(t, bp, v, n, batch, n); err != nil {
		return nil, err
	}
	for r := 0; batch < bp && r < n; r++ {
		clear(t[r*bp+batch : (r+1)*bp])
	}
	return t, nil
}

func pick(c bool, a, b int) int {
	if c {
		return a
	}
	return b
}
