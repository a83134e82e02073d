package layers

import (
	"github.com/pkg/errors"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/g2g-ml/g2g/internal/rngs"
)

// Conv2DConfig configures a 2-D convolution y = act(conv(x, W) + b) on
// inputs laid out (batch, InChannels, Height, Width), channel-major like
// PyTorch's NCHW.
//
// docs/design.md §5's CIFAR patch encoder is
//
//	Conv2DConfig{Name: "patch", InChannels: 3, OutChannels: 32, Height: 32, Width: 32,
//		Kernel: 8, Stride: 8, Activation: ReLU, Flatten: true}
//
// which maps a 3×32×32 image to 32×4×4 = 512 features.
type Conv2DConfig struct {
	// Name is the layer's name (required, unique within a model).
	Name string
	// InChannels and OutChannels are the channel counts of input and output.
	InChannels, OutChannels int
	// Height and Width are the spatial size of the input.
	Height, Width int
	// Kernel is the side of the square kernel.
	Kernel int
	// Stride is the step between kernel positions on both axes; 0 means 1.
	Stride int
	// Padding is the number of zero rows and columns added on every side.
	Padding int
	// Activation applied to the output (default Linear).
	Activation Activation
	// Init is the weight initializer (default HeUniform), with fan-in
	// InChannels·Kernel² and fan-out OutChannels·Kernel².
	Init Initializer
	// NoBias drops the per-channel bias.
	NoBias bool
	// Flatten makes the output (batch, OutChannels·OutH·OutW), flattened in
	// channel-major (C, H, W) order like PyTorch's x.flatten(1); otherwise
	// the output is (batch, OutChannels, OutH, OutW).
	Flatten bool
	// Seed drives the initialization.
	Seed int64
}

// Conv2D is a 2-D convolution layer (cross-correlation, as in every deep
// learning framework) with a per-channel bias and an activation.
//
// W is shaped (OutChannels, InChannels, Kernel, Kernel) and b (1,
// OutChannels, 1, 1). The layer is built on gorgonia's G.Conv2d, which
// unfolds the input with im2col and multiplies by the flattened filter; when
// Kernel == Stride and Padding == 0 (a patch embedding) im2col is exactly the
// cutting of the image into non-overlapping patches, so the layer is then a
// dense layer applied to every patch. G.Conv2d is used as is: on docs/design.md
// §5's CIFAR model its im2col and transposes take about 1% of a training
// step, so no hand-written patch path is needed. Forward values are checked
// against a direct convolution, and the gradients of W and b against finite
// differences, in conv_test.go.
type Conv2D struct {
	cfg        Conv2DConfig
	outH, outW int
	w          *Param
	b          *Param
}

// NewConv2D returns a Conv2D layer with freshly initialized weights and a
// zero bias. The output size is floor((Height + 2·Padding − Kernel)/Stride) + 1
// (likewise for Width), as in PyTorch: trailing rows and columns that do not
// fill a whole kernel window are ignored. Padding may be at most Kernel/2.
func NewConv2D(cfg Conv2DConfig) (*Conv2D, error) {
	if err := checkName("conv2d", cfg.Name); err != nil {
		return nil, err
	}
	fail := func(format string, args ...interface{}) (*Conv2D, error) {
		return nil, errors.Errorf("layer %q: "+format, append([]interface{}{cfg.Name}, args...)...)
	}
	if cfg.Stride == 0 {
		cfg.Stride = 1
	}
	switch {
	case cfg.InChannels < 1 || cfg.OutChannels < 1:
		return fail("InChannels and OutChannels must be at least 1, got %d and %d", cfg.InChannels, cfg.OutChannels)
	case cfg.Height < 1 || cfg.Width < 1:
		return fail("Height and Width must be at least 1, got %d and %d", cfg.Height, cfg.Width)
	case cfg.Kernel < 1:
		return fail("Kernel must be at least 1, got %d", cfg.Kernel)
	case cfg.Stride < 1:
		return fail("Stride must be at least 1, got %d", cfg.Stride)
	case cfg.Padding < 0:
		return fail("Padding must be at least 0, got %d", cfg.Padding)
	case 2*cfg.Padding > cfg.Kernel:
		return fail("Padding (%d) must be at most half of Kernel (%d)", cfg.Padding, cfg.Kernel)
	}
	ph, pw := cfg.Height+2*cfg.Padding, cfg.Width+2*cfg.Padding
	if ph < cfg.Kernel || pw < cfg.Kernel {
		return fail("Kernel %d larger than the padded input %dx%d", cfg.Kernel, ph, pw)
	}
	if _, err := ParseActivation(string(cfg.Activation)); err != nil {
		return nil, errors.Wrapf(err, "layer %q", cfg.Name)
	}
	k2 := cfg.Kernel * cfg.Kernel
	bound, err := cfg.Init.Bound(cfg.InChannels*k2, cfg.OutChannels*k2)
	if err != nil {
		return nil, errors.Wrapf(err, "layer %q", cfg.Name)
	}
	l := &Conv2D{
		cfg:  cfg,
		outH: (ph-cfg.Kernel)/cfg.Stride + 1,
		outW: (pw-cfg.Kernel)/cfg.Stride + 1,
		w:    newParam(cfg.Name+"/W", false, cfg.OutChannels, cfg.InChannels, cfg.Kernel, cfg.Kernel),
	}
	rng := rngs.New(cfg.Seed, "init/"+cfg.Name)
	d := l.w.Data()
	for k := range d {
		d[k] = uniform(rng, bound)
	}
	if !cfg.NoBias {
		l.b = newParam(cfg.Name+"/b", true, 1, cfg.OutChannels, 1, 1)
	}
	return l, nil
}

// Name returns the layer's name.
func (l *Conv2D) Name() string { return l.cfg.Name }

// Config returns the layer's configuration (Stride defaulted).
func (l *Conv2D) Config() Conv2DConfig { return l.cfg }

// Params returns W and, unless NoBias, b.
func (l *Conv2D) Params() []*Param {
	if l.b == nil {
		return []*Param{l.w}
	}
	return []*Param{l.w, l.b}
}

// Weight returns W, shaped (OutChannels, InChannels, Kernel, Kernel).
func (l *Conv2D) Weight() *Param { return l.w }

// Bias returns b, shaped (1, OutChannels, 1, 1), or nil.
func (l *Conv2D) Bias() *Param { return l.b }

// OutputShape returns the per-sample output shape: {OutChannels, OutH,
// OutW}, or {OutChannels·OutH·OutW} with Flatten.
func (l *Conv2D) OutputShape() []int {
	if l.cfg.Flatten {
		return []int{l.cfg.OutChannels * l.outH * l.outW}
	}
	return []int{l.cfg.OutChannels, l.outH, l.outW}
}

// MACs returns the multiply-accumulates per sample:
// OutH·OutW·OutChannels·InChannels·Kernel².
func (l *Conv2D) MACs() int {
	return l.outH * l.outW * l.cfg.OutChannels * l.cfg.InChannels * l.cfg.Kernel * l.cfg.Kernel
}

// Forward adds act(conv(x, W) + b) to the graph. x must be (batch,
// InChannels, Height, Width), or (batch, InChannels·Height·Width), which is
// read as that layout.
func (l *Conv2D) Forward(b *Builder, inputs ...*G.Node) (*G.Node, error) {
	x, err := oneInput(l, inputs)
	if err != nil {
		return nil, err
	}
	c, h, w := l.cfg.InChannels, l.cfg.Height, l.cfg.Width
	s := x.Shape()
	switch {
	case len(s) == 4 && s[1] == c && s[2] == h && s[3] == w:
	case len(s) == 2 && s[1] == c*h*w:
		if x, err = G.Reshape(x, tensor.Shape{s[0], c, h, w}); err != nil {
			return nil, wrap(l, err, "reshape input")
		}
	default:
		return nil, errorf(l, "input shape %v, want (batch, %d, %d, %d)", s, c, h, w)
	}
	batch := x.Shape()[0]
	k, st, p := l.cfg.Kernel, l.cfg.Stride, l.cfg.Padding
	y, err := G.Conv2d(x, b.Param(l.w), tensor.Shape{k, k}, []int{p, p}, []int{st, st}, []int{1, 1})
	if err != nil {
		return nil, wrap(l, err, "conv2d")
	}
	if l.b != nil {
		if y, err = G.BroadcastAdd(y, b.Param(l.b), nil, []byte{0, 2, 3}); err != nil {
			return nil, wrap(l, err, "+b")
		}
	}
	if y, err = l.cfg.Activation.Apply(y); err != nil {
		return nil, wrap(l, err, "activation")
	}
	if l.cfg.Flatten {
		if y, err = G.Reshape(y, tensor.Shape{batch, l.cfg.OutChannels * l.outH * l.outW}); err != nil {
			return nil, wrap(l, err, "flatten")
		}
	}
	return y, nil
}
