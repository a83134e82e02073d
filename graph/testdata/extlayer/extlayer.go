// Package extlayer defines layers outside module g2g, against its public
// API only: TanhProjection runs in g2g's inference runtime and can be
// exported (kind "example.com/extlayer.tanh_projection"); Mix implements
// neither, so models holding it predict through the gorgonia graph and
// cannot be exported.
package extlayer

import (
	"math"
	"math/rand"

	"github.com/pkg/errors"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/g2g-ml/g2g/layers"
)

// Kind is TanhProjection's kind in exported models.
const Kind = "example.com/extlayer.tanh_projection"

func init() {
	// Registering a kind twice is a programming error.
	if err := layers.RegisterKind(Kind, load); err != nil {
		panic(err)
	}
}

// newWeight returns an in × out parameter drawn uniformly from ±1/√in.
func newWeight(name string, in, out int, seed int64) *layers.Param {
	rng := rand.New(rand.NewSource(seed))
	w := make([]float32, in*out)
	bound := 1 / math.Sqrt(float64(in))
	for k := range w {
		w[k] = float32((2*rng.Float64() - 1) * bound)
	}
	return &layers.Param{Name: name, Value: tensor.New(tensor.WithShape(in, out), tensor.WithBacking(w))}
}

// TanhProjection computes y = tanh(x·W), W shaped (In, Out).
type TanhProjection struct {
	name    string
	in, out int
	w       *layers.Param
}

// NewTanhProjection returns the layer with weights drawn from seed.
func NewTanhProjection(name string, in, out int, seed int64) *TanhProjection {
	return &TanhProjection{name: name, in: in, out: out, w: newWeight(name+"/W", in, out, seed)}
}

// Name returns the layer's name.
func (l *TanhProjection) Name() string { return l.name }

// Params returns W.
func (l *TanhProjection) Params() []*layers.Param { return []*layers.Param{l.w} }

// Forward adds tanh(x·W) to the graph.
func (l *TanhProjection) Forward(b *layers.Builder, inputs ...*G.Node) (*G.Node, error) {
	if len(inputs) != 1 {
		return nil, errors.Errorf("layer %q takes one input", l.name)
	}
	y, err := G.Mul(inputs[0], b.Param(l.w))
	if err != nil {
		return nil, errors.Wrapf(err, "layer %q", l.name)
	}
	return G.Tanh(y)
}

// Inference returns the op over the live weights.
func (l *TanhProjection) Inference(sizes []int) (layers.InferenceOp, error) {
	if len(sizes) != 1 || sizes[0] != l.in {
		return nil, errors.Errorf("layer %q: input sizes %v, want [%d]", l.name, sizes, l.in)
	}
	return &op{in: l.in, out: l.out, w: l.w.Value.Data().([]float32)}, nil
}

type attrs struct {
	In  int `json:"in"`
	Out int `json:"out"`
}

// Export stores W.
func (l *TanhProjection) Export() (layers.ExportedLayer, error) {
	return layers.ExportedLayer{Kind: Kind, Attrs: attrs{In: l.in, Out: l.out},
		Arrays: []layers.ExportArray{{Name: "W", Shape: []int{l.in, l.out}, Float32: l.w.Value.Data().([]float32)}}}, nil
}

func load(n *layers.ExportedNode) (layers.InferenceOp, error) {
	var a attrs
	if err := n.DecodeAttrs(&a); err != nil {
		return nil, err
	}
	in, err := n.OneInput()
	if err != nil {
		return nil, err
	}
	if a.In != in || a.Out < 1 || a.Out > layers.MaxArrayValues/a.In {
		return nil, errors.Errorf("in %d out %d for an input of %d", a.In, a.Out, in)
	}
	w, err := n.Float32("W", a.In*a.Out)
	if err != nil {
		return nil, err
	}
	return &op{in: a.In, out: a.Out, w: w}, nil
}

// op computes tanh(x·W) in plain Go.
type op struct {
	in, out int
	w       []float32
}

func (o *op) OutputSize() int { return o.out }

func (o *op) Forward(y []float32, inputs [][]float32, n int) error {
	if len(inputs) != 1 || len(inputs[0]) != n*o.in || len(y) != n*o.out {
		return errors.New("tanh projection: bad buffer sizes")
	}
	x := inputs[0]
	for s := 0; s < n; s++ {
		for j := 0; j < o.out; j++ {
			var sum float32
			for i := 0; i < o.in; i++ {
				sum += x[s*o.in+i] * o.w[i*o.out+j]
			}
			y[s*o.out+j] = float32(math.Tanh(float64(sum)))
		}
	}
	return nil
}

// Mix computes y = x + x·W: a layer with neither an inference op nor an
// exported form.
type Mix struct {
	name string
	w    *layers.Param
}

// NewMix returns the layer for n features.
func NewMix(name string, n int, seed int64) *Mix {
	return &Mix{name: name, w: newWeight(name+"/W", n, n, seed)}
}

// Name returns the layer's name.
func (l *Mix) Name() string { return l.name }

// Params returns W.
func (l *Mix) Params() []*layers.Param { return []*layers.Param{l.w} }

// Forward adds x + x·W to the graph.
func (l *Mix) Forward(b *layers.Builder, inputs ...*G.Node) (*G.Node, error) {
	if len(inputs) != 1 {
		return nil, errors.Errorf("layer %q takes one input", l.name)
	}
	y, err := G.Mul(inputs[0], b.Param(l.w))
	if err != nil {
		return nil, errors.Wrapf(err, "layer %q", l.name)
	}
	return G.Add(inputs[0], y)
}
