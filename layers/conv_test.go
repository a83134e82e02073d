package layers

import (
	"math"
	"math/rand"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// naiveConv computes act(conv(x, W) + b) in float64 with plain loops, as the
// reference: x is (n, C, H, W), the result (n, O, OH, OW).
func naiveConv(cfg Conv2DConfig, n int, x, w, bias []float64, act func(float64) float64) []float64 {
	c, h, wd, o, k, s, p := cfg.InChannels, cfg.Height, cfg.Width, cfg.OutChannels, cfg.Kernel, cfg.Stride, cfg.Padding
	oh, ow := (h+2*p-k)/s+1, (wd+2*p-k)/s+1
	out := make([]float64, n*o*oh*ow)
	for i := 0; i < n; i++ {
		for oc := 0; oc < o; oc++ {
			for y := 0; y < oh; y++ {
				for xx := 0; xx < ow; xx++ {
					sum := 0.0
					if bias != nil {
						sum = bias[oc]
					}
					for ic := 0; ic < c; ic++ {
						for ky := 0; ky < k; ky++ {
							iy := y*s + ky - p
							if iy < 0 || iy >= h {
								continue
							}
							for kx := 0; kx < k; kx++ {
								ix := xx*s + kx - p
								if ix < 0 || ix >= wd {
									continue
								}
								sum += x[((i*c+ic)*h+iy)*wd+ix] * w[((oc*c+ic)*k+ky)*k+kx]
							}
						}
					}
					out[((i*o+oc)*oh+y)*ow+xx] = act(sum)
				}
			}
		}
	}
	return out
}

// convRun builds l into a training graph for n samples, computes
// loss = Σ y ⊙ r, and returns y (flattened) and the gradients of W and b.
func convRun(t *testing.T, l *Conv2D, n int, x, r []float32) (y, gw, gb []float32) {
	t.Helper()
	b := NewBuilder(true, n)
	cfg := l.Config()
	xn := G.NodeFromAny(b.Graph, tensor.New(tensor.WithShape(n, cfg.InChannels, cfg.Height, cfg.Width), tensor.WithBacking(x)), G.WithName("x"))
	out, err := l.Forward(b, xn)
	if err != nil {
		t.Fatal(err)
	}
	rn := G.NodeFromAny(b.Graph, tensor.New(tensor.WithShape(out.Shape()...), tensor.WithBacking(r)), G.WithName("r"))
	prod, err := G.HadamardProd(out, rn)
	if err != nil {
		t.Fatal(err)
	}
	loss, err := G.Sum(prod)
	if err != nil {
		t.Fatal(err)
	}
	var yv G.Value
	G.Read(out, &yv)
	nodes := []*G.Node{b.ParamNode(l.Weight())}
	if l.Bias() != nil {
		nodes = append(nodes, b.ParamNode(l.Bias()))
	}
	if _, err := G.Grad(loss, nodes...); err != nil {
		t.Fatal(err)
	}
	vm := G.NewTapeMachine(b.Graph, G.BindDualValues(nodes...))
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	y = append([]float32(nil), yv.Data().([]float32)...)
	grad := func(nd *G.Node) []float32 {
		g, err := nd.Grad()
		if err != nil {
			t.Fatal(err)
		}
		return append([]float32(nil), g.Data().([]float32)...)
	}
	gw = grad(nodes[0])
	if len(nodes) > 1 {
		gb = grad(nodes[1])
	}
	return y, gw, gb
}

func to64(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

func randSlice(rng *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return v
}

var convCases = []Conv2DConfig{
	// docs/design.md §5's patch encoder (fewer channels to keep the test fast).
	{InChannels: 3, OutChannels: 4, Height: 32, Width: 32, Kernel: 8, Stride: 8},
	{InChannels: 2, OutChannels: 3, Height: 5, Width: 6, Kernel: 3, Stride: 1, Padding: 1},
	{InChannels: 1, OutChannels: 2, Height: 7, Width: 7, Kernel: 3, Stride: 2, Padding: 1},
	{InChannels: 2, OutChannels: 2, Height: 6, Width: 5, Kernel: 2, Stride: 3, NoBias: true}, // leftover rows and columns
}

func TestConv2DForwardMatchesNaive(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for ci, cfg := range convCases {
		for _, act := range []Activation{Linear, ReLU} {
			cfg.Name, cfg.Activation, cfg.Seed = "conv", act, int64(ci)
			l, err := NewConv2D(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if l.Bias() != nil {
				copy(l.Bias().Data(), randSlice(rng, cfg.OutChannels))
			}
			const n = 3
			x := randSlice(rng, n*cfg.InChannels*cfg.Height*cfg.Width)
			os := l.OutputShape()
			r := make([]float32, n*os[0]*os[1]*os[2])
			y, _, _ := convRun(t, l, n, x, r)
			var bias []float64
			if l.Bias() != nil {
				bias = to64(l.Bias().Data())
			}
			f := func(v float64) float64 { return v }
			if act == ReLU {
				f = func(v float64) float64 { return math.Max(v, 0) }
			}
			want := naiveConv(l.Config(), n, to64(x), to64(l.Weight().Data()), bias, f)
			if len(y) != len(want) {
				t.Fatalf("case %d: %d outputs, want %d", ci, len(y), len(want))
			}
			for i := range y {
				if math.Abs(float64(y[i])-want[i]) > 1e-4*(1+math.Abs(want[i])) {
					t.Fatalf("case %d %s: y[%d] = %v, naive %v", ci, act, i, y[i], want[i])
				}
			}
		}
	}
}

// TestConv2DGradientsMatchFiniteDifferences checks the autodiff gradients
// of W and b against central differences of the float64 reference loss
// Σ tanh(conv(x, W) + b) ⊙ r.
func TestConv2DGradientsMatchFiniteDifferences(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	for ci, cfg := range convCases {
		cfg.Name, cfg.Activation, cfg.Seed = "conv", Tanh, int64(ci)
		l, err := NewConv2D(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if l.Bias() != nil {
			copy(l.Bias().Data(), randSlice(rng, cfg.OutChannels))
		}
		const n = 2
		x := randSlice(rng, n*cfg.InChannels*cfg.Height*cfg.Width)
		os := l.OutputShape()
		r := randSlice(rng, n*os[0]*os[1]*os[2])
		_, gw, gb := convRun(t, l, n, x, r)
		x64, r64 := to64(x), to64(r)
		w64 := to64(l.Weight().Data())
		var b64 []float64
		if l.Bias() != nil {
			b64 = to64(l.Bias().Data())
		}
		loss := func() float64 {
			y := naiveConv(l.Config(), n, x64, w64, b64, math.Tanh)
			s := 0.0
			for i := range y {
				s += y[i] * r64[i]
			}
			return s
		}
		const eps = 1e-4
		check := func(name string, p []float64, got []float32) {
			if len(got) != len(p) {
				t.Fatalf("case %d: %s gradient has %d entries, want %d", ci, name, len(got), len(p))
			}
			for k := range p {
				orig := p[k]
				p[k] = orig + eps
				lp := loss()
				p[k] = orig - eps
				lm := loss()
				p[k] = orig
				fd := (lp - lm) / (2 * eps)
				if math.Abs(fd-float64(got[k])) > 1e-3+1e-3*math.Abs(fd) {
					t.Errorf("case %d: d loss/d %s[%d]: autodiff %v, finite difference %v", ci, name, k, got[k], fd)
				}
			}
		}
		check("W", w64, gw)
		if b64 != nil {
			check("b", b64, gb)
		} else if gb != nil {
			t.Fatalf("case %d: bias gradient without a bias", ci)
		}
	}
}

func TestConv2DPatchEncoder(t *testing.T) {
	l, err := NewConv2D(Conv2DConfig{Name: "patch", InChannels: 3, OutChannels: 32, Height: 32, Width: 32,
		Kernel: 8, Stride: 8, Activation: ReLU, Flatten: true, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if got := l.OutputShape(); len(got) != 1 || got[0] != 512 {
		t.Fatalf("OutputShape = %v, want [512]", got)
	}
	if l.MACs() != 16*32*3*64 {
		t.Fatalf("MACs = %d", l.MACs())
	}
	if n := l.Weight().Size() + l.Bias().Size(); n != 32*3*64+32 {
		t.Fatalf("%d parameters", n)
	}
	// He-uniform bound sqrt(6/192).
	bound := math.Sqrt(6.0 / 192)
	for _, v := range l.Weight().Data() {
		if math.Abs(float64(v)) > bound {
			t.Fatalf("weight %v outside ±%v", v, bound)
		}
	}
	// Flattened output is the (C, H, W) order of the unflattened one, and a
	// flat (batch, 3072) input is read as (batch, 3, 32, 32).
	rng := rand.New(rand.NewSource(3))
	x := randSlice(rng, 2*3072)
	y, _, _ := convRun(t, l, 2, x, make([]float32, 2*512))
	cfg := l.Config()
	cfg.Flatten = false
	l4, _ := NewConv2D(cfg)
	y4, _, _ := convRun(t, l4, 2, x, make([]float32, 2*512))
	for i := range y {
		if y[i] != y4[i] {
			t.Fatalf("flattened output differs at %d", i)
		}
	}
	b := NewBuilder(false, 2)
	flat := G.NodeFromAny(b.Graph, tensor.New(tensor.WithShape(2, 3072), tensor.WithBacking(x)))
	out, err := l.Forward(b, flat)
	if err != nil {
		t.Fatal(err)
	}
	if s := out.Shape(); len(s) != 2 || s[0] != 2 || s[1] != 512 {
		t.Fatalf("flat input gives shape %v", s)
	}
}

func TestConv2DErrors(t *testing.T) {
	ok := Conv2DConfig{Name: "c", InChannels: 3, OutChannels: 4, Height: 8, Width: 8, Kernel: 4, Stride: 4}
	cases := []struct {
		edit func(*Conv2DConfig)
		want string
	}{
		{func(c *Conv2DConfig) { c.Name = "" }, "Name must not be empty"},
		{func(c *Conv2DConfig) { c.InChannels = 0 }, "InChannels and OutChannels"},
		{func(c *Conv2DConfig) { c.Width = -1 }, "Height and Width"},
		{func(c *Conv2DConfig) { c.Kernel = 0 }, "Kernel must be at least 1"},
		{func(c *Conv2DConfig) { c.Stride = -2 }, "Stride must be at least 1"},
		{func(c *Conv2DConfig) { c.Padding = 3 }, "at most half of Kernel"},
		{func(c *Conv2DConfig) { c.Kernel = 9; c.Stride = 1 }, "larger than the padded input"},
		{func(c *Conv2DConfig) { c.Activation = "gelu" }, "unknown activation"},
		{func(c *Conv2DConfig) { c.Init = "zeros" }, "unknown initializer"},
	}
	for _, c := range cases {
		cfg := ok
		c.edit(&cfg)
		_, err := NewConv2D(cfg)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("err = %v, want %q", err, c.want)
		}
	}
	l, err := NewConv2D(ok)
	if err != nil {
		t.Fatal(err)
	}
	if l.Config().Stride != 4 {
		t.Fatal("stride")
	}
	b := NewBuilder(false, 2)
	bad := G.NodeFromAny(b.Graph, tensor.New(tensor.WithShape(2, 4, 8, 8), tensor.WithBacking(make([]float32, 512))))
	if _, err := l.Forward(b, bad); err == nil || !strings.Contains(err.Error(), "want (batch, 3, 8, 8)") {
		t.Fatalf("wrong input shape: %v", err)
	}
	if _, err := l.Forward(b); err == nil {
		t.Fatal("no input accepted")
	}
}
