package graph

import (
	"math"
	"math/rand"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// kernelOf returns the kernel of a built-in loss for outputs of width
// values.
func kernelOf(t *testing.T, l Loss, width int) lossKernel {
	t.Helper()
	kl, ok := l.(kernelLoss)
	if !ok {
		t.Fatalf("%T is not a built-in loss", l)
	}
	k, err := kl.kernel(width)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// lossValue returns a built-in loss on rows × width values.
func kernelValue(t *testing.T, l Loss, z, y []float32, rows, width int) float64 {
	t.Helper()
	num, den := kernelOf(t, l, width).sums(z, y, rows, width)
	return num / den
}

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol*(1+math.Abs(b)) }

// Each built-in loss on a batch worked out by hand.
func TestLossesByHand(t *testing.T) {
	ln := math.Log
	cases := []struct {
		name        string
		loss        Loss
		z, y        []float32
		rows, width int
		want        float64
	}{
		// Rows (0, ln 3) → p = (1/4, 3/4) and (2, 0) → p(1) = 1/(1+e²), both of class 1.
		{"crossentropy", SoftmaxCrossEntropy{}, []float32{0, float32(ln(3)), 2, 0}, []float32{0, 1, 0, 1}, 2, 2,
			(ln(4.0/3) + ln(1+math.Exp(2))) / 2},
		// ε = 0.2 over 2 classes: q = (0.1, 0.9) for class 1.
		{"crossentropy smoothed", SoftmaxCrossEntropy{LabelSmoothing: 0.2}, []float32{0, float32(ln(3))}, []float32{0, 1}, 1, 2,
			0.1*ln(4) + 0.9*ln(4.0/3)},
		// Weights (1, 3): a class-1 row costs 3·ln(4/3), a class-0 row 1·ln 4; divided by 3 + 1.
		{"crossentropy weighted", SoftmaxCrossEntropy{Weights: []float64{1, 3}}, []float32{0, float32(ln(3)), 0, float32(ln(3))}, []float32{0, 1, 1, 0}, 2, 2,
			(3*ln(4.0/3) + ln(4)) / 4},
		// z = 0, y = 1: ln 2; z = ln 3, y = 0: softplus(ln 3) = ln 4; z = −ln 3, y = 1, pos weight 2: 2·ln 4.
		{"binary crossentropy", SigmoidCrossEntropy{PosWeight: []float64{1, 1, 2}}, []float32{0, float32(ln(3)), -float32(ln(3))}, []float32{1, 0, 1}, 1, 3,
			(ln(2) + ln(4) + 2*ln(4)) / 3},
		// d = (1, 0, −2, 0).
		{"mse", MeanSquaredError{}, []float32{1, 2, 3, 4}, []float32{0, 2, 5, 4}, 2, 2, (1 + 0 + 4 + 0) / 4.0},
		{"mae", MeanAbsoluteError{}, []float32{1, 2, 3, 4}, []float32{0, 2, 5, 4}, 2, 2, (1 + 0 + 2 + 0) / 4.0},
		// d = (1, 0, −2, 0.5), δ = 1: ½, 0, 1·(2 − ½), ⅛.
		{"huber", Huber{}, []float32{1, 2, 3, 4.5}, []float32{0, 2, 5, 4}, 1, 4, (0.5 + 0 + 1.5 + 0.125) / 4},
		// δ = 3: every d is quadratic.
		{"huber wide", Huber{Delta: 3}, []float32{1, 2, 3, 4.5}, []float32{0, 2, 5, 4}, 4, 1, (0.5 + 0 + 2 + 0.125) / 4},
	}
	for _, c := range cases {
		if got := kernelValue(t, c.loss, c.z, c.y, c.rows, c.width); !near(got, c.want, 1e-6) {
			t.Errorf("%s: kernel gives %v, want %v", c.name, got, c.want)
		}
		// The op in a graph gives the same (as float32).
		if got := graphLoss(t, c.loss, c.z, c.y, c.rows, c.width); !near(got, c.want, 1e-6) {
			t.Errorf("%s: graph gives %v, want %v", c.name, got, c.want)
		}
	}
}

// graphLoss runs the loss's Build in a graph.
func graphLoss(t *testing.T, l Loss, z, y []float32, rows, width int) float64 {
	t.Helper()
	g := G.NewGraph()
	zn := G.NodeFromAny(g, tensor.New(tensor.WithShape(rows, width), tensor.WithBacking(append([]float32(nil), z...))), G.WithName("z"))
	yn := G.NodeFromAny(g, tensor.New(tensor.WithShape(rows, width), tensor.WithBacking(append([]float32(nil), y...))), G.WithName("y"))
	loss, err := l.Build(zn, yn)
	if err != nil {
		t.Fatal(err)
	}
	var v G.Value
	G.Read(loss, &v)
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	f, err := scalarValue(v, "loss")
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// randomBatch returns rows × width outputs and targets for a loss: one-hot
// or soft rows for the cross-entropies, values in [0, 1] for the binary
// one, anything for the regression losses, away from the kinks of MAE
// and Huber (|z − y| near 0 or δ).
func randomBatch(rng *rand.Rand, kind string, rows, width int) (z, y []float32) {
	z, y = make([]float32, rows*width), make([]float32, rows*width)
	for i := range z {
		z[i] = float32(rng.NormFloat64() * 2)
	}
	switch kind {
	case "onehot":
		for r := 0; r < rows; r++ {
			y[r*width+rng.Intn(width)] = 1
		}
	case "soft":
		for r := 0; r < rows; r++ {
			var s float64
			row := y[r*width : (r+1)*width]
			for c := range row {
				row[c] = float32(rng.Float64())
				s += float64(row[c])
			}
			for c := range row {
				row[c] = float32(float64(row[c]) / s)
			}
		}
	case "unit":
		for i := range y {
			y[i] = float32(rng.Float64())
		}
	default:
		for i := range y {
			d := 0.3 + rng.Float64()*2 // |d| in [0.3, 2.3], away from 0
			if math.Abs(d-1) < 0.1 {
				d += 0.3 // away from Huber's δ = 1
			}
			if rng.Intn(2) == 0 {
				d = -d
			}
			y[i] = z[i] - float32(d)
		}
	}
	return z, y
}

// Each built-in loss's gradient, as its gradient op computes it through
// gorgonia's autodiff (scaled by an upstream factor), matches central
// finite differences of its value.
func TestLossGradientsFiniteDifferences(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	const rows, width = 5, 4
	cases := []struct {
		name, targets string
		loss          Loss
	}{
		{"crossentropy", "onehot", SoftmaxCrossEntropy{}},
		{"crossentropy soft", "soft", SoftmaxCrossEntropy{}},
		{"crossentropy smoothed weighted", "onehot", SoftmaxCrossEntropy{LabelSmoothing: 0.1, Weights: []float64{1, 2, 0.5, 3}}},
		{"crossentropy soft weighted", "soft", SoftmaxCrossEntropy{Weights: []float64{1, 2, 0.5, 3}}},
		{"binary crossentropy", "unit", SigmoidCrossEntropy{}},
		{"binary crossentropy pos weight", "unit", SigmoidCrossEntropy{PosWeight: []float64{1, 4, 0.5, 2}}},
		{"mse", "free", MeanSquaredError{}},
		{"mae", "free", MeanAbsoluteError{}},
		{"huber", "free", Huber{}},
		{"huber 0.5", "free", Huber{Delta: 0.5}},
	}
	for _, c := range cases {
		z, y := randomBatch(rng, c.targets, rows, width)
		// Analytic gradient through the graph: d(3·loss)/dz.
		g := G.NewGraph()
		zn := G.NodeFromAny(g, tensor.New(tensor.WithShape(rows, width), tensor.WithBacking(append([]float32(nil), z...))), G.WithName("z"))
		yn := G.NodeFromAny(g, tensor.New(tensor.WithShape(rows, width), tensor.WithBacking(append([]float32(nil), y...))), G.WithName("y"))
		loss, err := c.loss.Build(zn, yn)
		if err != nil {
			t.Fatal(err)
		}
		scaled, err := G.Mul(loss, G.NewConstant(float32(3)))
		if err != nil {
			t.Fatal(err)
		}
		grads, err := G.Grad(scaled, zn)
		if err != nil {
			t.Fatal(err)
		}
		var gv G.Value
		G.Read(grads[0], &gv)
		vm := G.NewTapeMachine(g)
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		got := gv.(*tensor.Dense).Data().([]float32)
		vm.Close()
		// Central differences of 3·loss in float64.
		k := kernelOf(t, c.loss, width)
		f := func(zz []float32) float64 { num, den := k.sums(zz, y, rows, width); return 3 * num / den }
		const h = 1e-2
		for i := range z {
			zp, zm := append([]float32(nil), z...), append([]float32(nil), z...)
			zp[i] += h
			zm[i] -= h
			fd := (f(zp) - f(zm)) / float64(zp[i]-zm[i])
			if math.Abs(float64(got[i])-fd) > 2e-4+1e-3*math.Abs(fd) {
				t.Errorf("%s: d/dz[%d] = %v, finite differences %v", c.name, i, got[i], fd)
			}
		}
	}
}

// The default loss builds the fused op Fit always used, bit for bit the
// same as the generic kernel with neither smoothing nor weights.
func TestPlainCrossEntropyIsTheFusedOp(t *testing.T) {
	g := G.NewGraph()
	zn := G.NewMatrix(g, tensor.Float32, G.WithShape(2, 3), G.WithName("z"))
	yn := G.NewMatrix(g, tensor.Float32, G.WithShape(2, 3), G.WithName("y"))
	loss, err := SoftmaxCrossEntropy{}.Build(zn, yn)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := loss.Op().(*crossEntropyOp); !ok {
		t.Fatalf("default loss op is %T, want *crossEntropyOp", loss.Op())
	}
	rng := rand.New(rand.NewSource(3))
	z, y := randomBatch(rng, "soft", 200, 7)
	op := &crossEntropyOp{}
	v, err := op.Do(tensor.New(tensor.WithShape(200, 7), tensor.WithBacking(z)), tensor.New(tensor.WithShape(200, 7), tensor.WithBacking(y)))
	if err != nil {
		t.Fatal(err)
	}
	want := float32(*v.(*G.F32))
	if got := float32(kernelValue(t, SoftmaxCrossEntropy{}, z, y, 200, 7)); math.Float32bits(got) != math.Float32bits(want) {
		t.Fatalf("kernel %v, fused op %v", got, want)
	}
}

// Invalid settings of the built-in losses are errors naming the setting.
func TestLossSettingsErrors(t *testing.T) {
	for _, c := range []struct {
		loss  Loss
		width int
		want  string
	}{
		{SoftmaxCrossEntropy{LabelSmoothing: 1}, 3, "LabelSmoothing"},
		{SoftmaxCrossEntropy{Weights: []float64{1, 2}}, 3, "2 Weights for 3 classes"},
		{SoftmaxCrossEntropy{Weights: []float64{1, 0, 1}}, 3, "Weights[1]"},
		{SoftmaxCrossEntropy{LabelSmoothing: 0.1}, 1, "at least 2 output values"},
		{SigmoidCrossEntropy{PosWeight: []float64{1}}, 3, "1 PosWeight values for 3"},
		{Huber{Delta: -1}, 3, "Delta"},
	} {
		_, err := c.loss.(kernelLoss).kernel(c.width)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%T%+v: %v, want an error containing %q", c.loss, c.loss, err, c.want)
		}
	}
	if _, err := LossByName("hinge"); err == nil || !strings.Contains(err.Error(), `"hinge"`) || !strings.Contains(err.Error(), "mse") {
		t.Errorf("LossByName(hinge): %v", err)
	}
	for _, name := range []string{"crossentropy", "bce", "mse", "mae", "huber"} {
		if _, err := LossByName(name); err != nil {
			t.Errorf("LossByName(%s): %v", name, err)
		}
	}
}
