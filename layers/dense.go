package layers

import (
	"github.com/pkg/errors"
	G "gorgonia.org/gorgonia"

	"github.com/g2g-ml/g2g/internal/rngs"
)

// DenseConfig configures a fully connected layer y = act(x·W + b).
type DenseConfig struct {
	// Name is the layer's name (required, unique within a model).
	Name string
	// In and Out are the input and output widths.
	In, Out int
	// Activation applied to the output (default Linear).
	Activation Activation
	// Init is the weight initializer (default HeUniform).
	Init Initializer
	// NoBias drops the bias term.
	NoBias bool
	// Seed drives the initialization.
	Seed int64
}

// Dense is a fully connected layer: y = act(x·W + b), W shaped (In, Out).
type Dense struct {
	cfg DenseConfig
	w   *Param
	b   *Param
}

// NewDense returns a Dense layer with freshly initialized weights and a zero
// bias.
func NewDense(cfg DenseConfig) (*Dense, error) {
	if err := checkName("dense", cfg.Name); err != nil {
		return nil, err
	}
	if cfg.In < 1 || cfg.Out < 1 {
		return nil, errors.Errorf("layer %q: In and Out must be at least 1, got %d and %d", cfg.Name, cfg.In, cfg.Out)
	}
	if _, err := ParseActivation(string(cfg.Activation)); err != nil {
		return nil, errors.Wrapf(err, "layer %q", cfg.Name)
	}
	bound, err := cfg.Init.Bound(cfg.In, cfg.Out)
	if err != nil {
		return nil, errors.Wrapf(err, "layer %q", cfg.Name)
	}
	l := &Dense{cfg: cfg, w: newParam(cfg.Name+"/W", false, cfg.In, cfg.Out)}
	rng := rngs.New(cfg.Seed, "init/"+cfg.Name)
	d := l.w.Data()
	for k := range d {
		d[k] = uniform(rng, bound)
	}
	if !cfg.NoBias {
		l.b = newParam(cfg.Name+"/b", true, 1, cfg.Out)
	}
	return l, nil
}

// Name returns the layer's name.
func (l *Dense) Name() string { return l.cfg.Name }

// Config returns the layer's configuration.
func (l *Dense) Config() DenseConfig { return l.cfg }

// Params returns W and, unless NoBias, b.
func (l *Dense) Params() []*Param {
	if l.b == nil {
		return []*Param{l.w}
	}
	return []*Param{l.w, l.b}
}

// Weight returns W.
func (l *Dense) Weight() *Param { return l.w }

// Bias returns b, or nil.
func (l *Dense) Bias() *Param { return l.b }

// MACs returns In·Out multiply-accumulates per sample.
func (l *Dense) MACs() int { return l.cfg.In * l.cfg.Out }

// Forward computes act(x·W + b).
func (l *Dense) Forward(b *Builder, inputs ...*G.Node) (*G.Node, error) {
	x, err := oneInput(l, inputs)
	if err != nil {
		return nil, err
	}
	return affine(l, b, x, b.Param(l.w), l.b, l.cfg.In, l.cfg.Activation)
}

// affine adds act(x·w + bias) to the graph, checking x's width.
func affine(l Layer, b *Builder, x, w *G.Node, bias *Param, in int, act Activation) (*G.Node, error) {
	if x.Dims() != 2 || x.Shape()[1] != in {
		return nil, errorf(l, "input shape %v, want (batch, %d)", x.Shape(), in)
	}
	y, err := matMul(l, x, w)
	if err != nil {
		return nil, wrap(l, err, "x·W")
	}
	return biasAct(l, b, y, bias, act)
}
