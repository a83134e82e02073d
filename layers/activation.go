package layers

import (
	"github.com/pkg/errors"
	G "gorgonia.org/gorgonia"
)

// Activation names an element-wise nonlinearity.
type Activation string

// The supported activations. Linear (or the empty string) is the identity.
const (
	Linear  Activation = "linear"
	ReLU    Activation = "relu"
	Tanh    Activation = "tanh"
	Sigmoid Activation = "sigmoid"
)

// ParseActivation converts a name to an Activation.
func ParseActivation(s string) (Activation, error) {
	switch a := Activation(s); a {
	case "", Linear, ReLU, Tanh, Sigmoid:
		return a, nil
	}
	return "", errors.Errorf("unknown activation %q (want linear, relu, tanh or sigmoid)", s)
}

// Apply adds the activation to x's graph.
func (a Activation) Apply(x *G.Node) (*G.Node, error) {
	switch a {
	case "", Linear:
		return x, nil
	case ReLU:
		return G.Rectify(x)
	case Tanh:
		return G.Tanh(x)
	case Sigmoid:
		return G.Sigmoid(x)
	}
	return nil, errors.Errorf("unknown activation %q", string(a))
}

// ActivationLayer applies an activation as a layer of its own.
type ActivationLayer struct {
	name string
	act  Activation
}

// NewActivation returns a layer that applies act.
func NewActivation(name string, act Activation) (*ActivationLayer, error) {
	if err := checkName("activation", name); err != nil {
		return nil, err
	}
	if _, err := ParseActivation(string(act)); err != nil {
		return nil, errors.Wrapf(err, "layer %q", name)
	}
	return &ActivationLayer{name: name, act: act}, nil
}

// Name returns the layer's name.
func (l *ActivationLayer) Name() string { return l.name }

// Params returns nil: activations have no parameters.
func (l *ActivationLayer) Params() []*Param { return nil }

// Activation returns the activation the layer applies.
func (l *ActivationLayer) Activation() Activation { return l.act }

// Forward applies the activation.
func (l *ActivationLayer) Forward(b *Builder, inputs ...*G.Node) (*G.Node, error) {
	x, err := oneInput(l, inputs)
	if err != nil {
		return nil, err
	}
	y, err := l.act.Apply(x)
	if err != nil {
		return nil, wrap(l, err, "activation")
	}
	return y, nil
}
