package optim_test

import (
	"testing"

	"github.com/g2g-ml/g2g/optim"
)

func TestSGDPlainWithWeightDecay(t *testing.T) {
	opt := must(optim.NewSGD(optim.SGDConfig{LR: 0.1, WeightDecay: 0.1}))
	p := optim.Param{Name: "w", Value: []float32{1, -2, 3}}

	// Step 1, grad [0.5, 1, -1]:
	//   g = grad + 0.1*w = [0.5+0.1, 1-0.2, -1+0.3] = [0.6, 0.8, -0.7]
	//   w -= 0.1*g       = [1-0.06, -2-0.08, 3+0.07] = [0.94, -2.08, 3.07]
	p.Grad = []float32{0.5, 1, -1}
	step(t, opt, p)
	near(t, "w after step 1", p.Value, []float64{0.94, -2.08, 3.07})

	// Step 2, grad [1, 0, 2]:
	//   g = [1+0.094, 0-0.208, 2+0.307] = [1.094, -0.208, 2.307]
	//   w = [0.94-0.1094, -2.08+0.0208, 3.07-0.2307] = [0.8306, -2.0592, 2.8393]
	p.Grad = []float32{1, 0, 2}
	step(t, opt, p)
	near(t, "w after step 2", p.Value, []float64{0.8306, -2.0592, 2.8393})

	// Without momentum there is nothing to keep.
	if s := opt.State().Slots["w"]; len(s) != 0 {
		t.Errorf("plain SGD keeps slots %v, want none", s)
	}
	if opt.Steps() != 2 {
		t.Errorf("Steps() = %d, want 2", opt.Steps())
	}
}

// Shared by the momentum tests: lr 0.1, momentum 0.9, w0 = [1, -2] and the
// gradients [1, 2], [1, -1], [0, 0.5].
var momentumGrads = [][]float32{{1, 2}, {1, -1}, {0, 0.5}}

func TestSGDMomentum(t *testing.T) {
	opt := must(optim.NewSGD(optim.SGDConfig{LR: 0.1, Momentum: 0.9}))
	p := optim.Param{Name: "w", Value: []float32{1, -2}}
	want := [][]float64{
		// 1: buf = g = [1, 2] (PyTorch's first step); w = [1-0.1, -2-0.2] = [0.9, -2.2]
		{0.9, -2.2},
		// 2: buf = 0.9*[1, 2] + [1, -1] = [1.9, 0.8]; w = [0.9-0.19, -2.2-0.08] = [0.71, -2.28]
		{0.71, -2.28},
		// 3: buf = 0.9*[1.9, 0.8] + [0, 0.5] = [1.71, 1.22]; w = [0.71-0.171, -2.28-0.122] = [0.539, -2.402]
		{0.539, -2.402},
	}
	for i, g := range momentumGrads {
		p.Grad = g
		step(t, opt, p)
		near(t, "w", p.Value, want[i])
	}
	near(t, "momentum buffer", opt.State().Slots["w"][optim.SlotMomentum], []float64{1.71, 1.22})
}

func TestSGDNesterov(t *testing.T) {
	opt := must(optim.NewSGD(optim.SGDConfig{LR: 0.1, Momentum: 0.9, Nesterov: true}))
	p := optim.Param{Name: "w", Value: []float32{1, -2}}
	// The buffers are those of TestSGDMomentum; the update is g + 0.9*buf.
	want := [][]float64{
		// 1: buf = [1, 2]; u = [1+0.9, 2+1.8] = [1.9, 3.8]; w = [1-0.19, -2-0.38] = [0.81, -2.38]
		{0.81, -2.38},
		// 2: buf = [1.9, 0.8]; u = [1+1.71, -1+0.72] = [2.71, -0.28]; w = [0.81-0.271, -2.38+0.028] = [0.539, -2.352]
		{0.539, -2.352},
		// 3: buf = [1.71, 1.22]; u = [0+1.539, 0.5+1.098] = [1.539, 1.598]; w = [0.539-0.1539, -2.352-0.1598] = [0.3851, -2.5118]
		{0.3851, -2.5118},
	}
	for i, g := range momentumGrads {
		p.Grad = g
		step(t, opt, p)
		near(t, "w", p.Value, want[i])
	}
	near(t, "momentum buffer", opt.State().Slots["w"][optim.SlotMomentum], []float64{1.71, 1.22})
}

func TestNoDecay(t *testing.T) {
	// Zero gradients, so only weight decay can move a weight.
	mk := func() []optim.Param {
		return []optim.Param{
			{Name: "w", Value: []float32{2, -4}, Grad: []float32{0, 0}},
			{Name: "b", Value: []float32{2, -4}, Grad: []float32{0, 0}, NoDecay: true},
		}
	}
	cases := []struct {
		name  string
		opt   optim.Optimizer
		wantW []float64
	}{
		// w -= 0.1 * 0.5*w  ->  0.95*w
		{"SGD", must(optim.NewSGD(optim.SGDConfig{LR: 0.1, WeightDecay: 0.5})), []float64{1.9, -3.8}},
		// w *= 1 - 0.1*0.5, and Adam's own update is 0 for g = 0
		{"AdamW", must(optim.NewAdamW(optim.AdamConfig{LR: 0.1, WeightDecay: 0.5})), []float64{1.9, -3.8}},
		// g = 0.5*w; first Adam step moves each weight by lr against sign(g)
		{"Adam", must(optim.NewAdam(optim.AdamConfig{LR: 0.1, WeightDecay: 0.5})), []float64{1.9, -3.9}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ps := mk()
			step(t, c.opt, ps...)
			near(t, "decayed w", ps[0].Value, c.wantW)
			same(t, "NoDecay b", ps[1].Value, []float32{2, -4})
		})
	}
}
