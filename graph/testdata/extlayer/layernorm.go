package extlayer

import (
	"math"

	"github.com/pkg/errors"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/g2g-ml/g2g/layers"
)

// LayerNormKind is LayerNorm's kind in exported models.
const LayerNormKind = "example.com/extlayer.layer_norm"

func init() {
	if err := layers.RegisterKind(LayerNormKind, loadLayerNorm); err != nil {
		panic(err)
	}
}

// LayerNorm normalises each sample's features to zero mean and unit
// variance, then scales and shifts them by learnt per-feature Gamma and
// Beta: y = (x − mean)/sqrt(var + Eps)·γ + β (Ba et al., 2016). It is
// written only against g2g's public API: its training graph from
// gorgonia's operations (autodiff gives its backward), its inference op in
// plain Go, exported under LayerNormKind.
type LayerNorm struct {
	name        string
	size        int
	eps         float64
	gamma, beta *layers.Param
}

// NewLayerNorm returns the layer for size features, γ = 1 and β = 0.
func NewLayerNorm(name string, size int) *LayerNorm {
	gamma := make([]float32, size)
	for k := range gamma {
		gamma[k] = 1
	}
	return &LayerNorm{name: name, size: size, eps: 1e-5,
		gamma: &layers.Param{Name: name + "/gamma", Value: tensor.New(tensor.WithShape(size), tensor.WithBacking(gamma)), NoDecay: true},
		beta:  &layers.Param{Name: name + "/beta", Value: tensor.New(tensor.WithShape(size), tensor.WithBacking(make([]float32, size))), NoDecay: true},
	}
}

// Name returns the layer's name.
func (l *LayerNorm) Name() string { return l.name }

// Params returns γ and β.
func (l *LayerNorm) Params() []*layers.Param { return []*layers.Param{l.gamma, l.beta} }

// Forward adds the normalisation of a (batch, size) input to the graph.
func (l *LayerNorm) Forward(b *layers.Builder, inputs ...*G.Node) (*G.Node, error) {
	if len(inputs) != 1 {
		return nil, errors.Errorf("layer %q takes one input, got %d", l.name, len(inputs))
	}
	x := inputs[0]
	if s := x.Shape(); len(s) != 2 || s[1] != l.size {
		return nil, errors.Errorf("layer %q: input shape %v, want (batch, %d)", l.name, s, l.size)
	}
	fail := func(err error) (*G.Node, error) { return nil, errors.Wrapf(err, "layer %q", l.name) }
	mean, err := G.Mean(x, 1)
	if err != nil {
		return fail(err)
	}
	centred, err := G.BroadcastSub(x, mean, nil, []byte{1})
	if err != nil {
		return fail(err)
	}
	sq, err := G.Square(centred)
	if err != nil {
		return fail(err)
	}
	variance, err := G.Mean(sq, 1)
	if err != nil {
		return fail(err)
	}
	shifted, err := G.Add(variance, G.NewConstant(float32(l.eps)))
	if err != nil {
		return fail(err)
	}
	std, err := G.Sqrt(shifted)
	if err != nil {
		return fail(err)
	}
	norm, err := G.BroadcastHadamardDiv(centred, std, nil, []byte{1})
	if err != nil {
		return fail(err)
	}
	scaled, err := G.BroadcastHadamardProd(norm, b.Param(l.gamma), nil, []byte{0})
	if err != nil {
		return fail(err)
	}
	y, err := G.BroadcastAdd(scaled, b.Param(l.beta), nil, []byte{0})
	if err != nil {
		return fail(err)
	}
	return y, nil
}

// Inference returns the op over the live γ and β.
func (l *LayerNorm) Inference(sizes []int) (layers.InferenceOp, error) {
	if len(sizes) != 1 || sizes[0] != l.size {
		return nil, errors.Errorf("layer %q: input sizes %v, want [%d]", l.name, sizes, l.size)
	}
	return &layerNormOp{size: l.size, eps: l.eps, gamma: l.gamma.Value.Data().([]float32), beta: l.beta.Value.Data().([]float32)}, nil
}

type layerNormAttrs struct {
	Size int     `json:"size"`
	Eps  float64 `json:"eps"`
}

// Export stores γ and β.
func (l *LayerNorm) Export() (layers.ExportedLayer, error) {
	return layers.ExportedLayer{Kind: LayerNormKind, Attrs: layerNormAttrs{Size: l.size, Eps: l.eps},
		Arrays: []layers.ExportArray{
			{Name: "gamma", Float32: l.gamma.Value.Data().([]float32)},
			{Name: "beta", Float32: l.beta.Value.Data().([]float32)},
		}}, nil
}

func loadLayerNorm(n *layers.ExportedNode) (layers.InferenceOp, error) {
	var a layerNormAttrs
	if err := n.DecodeAttrs(&a); err != nil {
		return nil, err
	}
	in, err := n.OneInput()
	if err != nil {
		return nil, err
	}
	if a.Size != in || !(a.Eps > 0) {
		return nil, errors.Errorf("size %d eps %v for an input of %d", a.Size, a.Eps, in)
	}
	gamma, err := n.Float32("gamma", a.Size)
	if err != nil {
		return nil, err
	}
	beta, err := n.Float32("beta", a.Size)
	if err != nil {
		return nil, err
	}
	return &layerNormOp{size: a.Size, eps: a.Eps, gamma: gamma, beta: beta}, nil
}

// layerNormOp is the layer in plain Go.
type layerNormOp struct {
	size        int
	eps         float64
	gamma, beta []float32
}

func (o *layerNormOp) OutputSize() int { return o.size }

func (o *layerNormOp) Forward(y []float32, inputs [][]float32, n int) error {
	if len(inputs) != 1 || len(inputs[0]) != n*o.size || len(y) != n*o.size {
		return errors.New("layer norm: bad buffer sizes")
	}
	for s := 0; s < n; s++ {
		x, out := inputs[0][s*o.size:(s+1)*o.size], y[s*o.size:(s+1)*o.size]
		var mean, v float64
		for _, a := range x {
			mean += float64(a)
		}
		mean /= float64(o.size)
		for _, a := range x {
			v += (float64(a) - mean) * (float64(a) - mean)
		}
		std := math.Sqrt(v/float64(o.size) + o.eps)
		for k, a := range x {
			out[k] = float32((float64(a)-mean)/std)*o.gamma[k] + o.beta[k]
		}
	}
	return nil
}
