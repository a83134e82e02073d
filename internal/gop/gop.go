// Package gop holds what g2g's custom gorgonia ops share: the answers of
// ops that write only buffers of their own, their hash, and reading float32
// inputs.
package gop

import (
	"hash"
	"hash/fnv"

	"github.com/pkg/errors"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Pure is embedded by ops that return values in buffers of their own: they
// return no pointer into their inputs, call nothing external and overwrite
// no input.
type Pure struct{}

// ReturnsPtr reports false: the op's result is its own buffer.
func (Pure) ReturnsPtr() bool { return false }

// CallsExtern reports false: the op runs in Go.
func (Pure) CallsExtern() bool { return false }

// OverwritesInput reports -1: the op overwrites none of its inputs.
func (Pure) OverwritesInput() int { return -1 }

// Hash returns the FNV-1a hash of what op writes with WriteHash, for the
// op's Hashcode.
func Hash(op interface{ WriteHash(hash.Hash) }) uint32 {
	h := fnv.New32a()
	op.WriteHash(h)
	return h.Sum32()
}

// Floats returns a value's float32 data and shape, or an error naming what
// it is instead.
func Floats(v G.Value) ([]float32, tensor.Shape, error) {
	t, ok := v.(*tensor.Dense)
	if !ok {
		return nil, nil, errors.Errorf("input is %T, want a dense tensor", v)
	}
	if t.Dtype() != tensor.Float32 {
		return nil, nil, errors.Errorf("input is %v, want float32", t.Dtype())
	}
	// Float32s, unlike Data, builds no interface value: it allocates
	// nothing, which matters on a path run for every op of every step.
	return t.Float32s(), t.Shape(), nil
}

// Out wraps an op's output buffer in a tensor, reusing the tensor from the
// op's previous run while the buffer and the shape are the same: a new
// tensor.Dense costs several allocations, and an op runs on every step. The
// zero value is ready to use.
type Out struct {
	t *tensor.Dense
}

// Matrix returns data as a rows × cols tensor.
func (o *Out) Matrix(data []float32, rows, cols int) *tensor.Dense {
	if o.t != nil && len(data) > 0 && o.t.Dims() == 2 {
		s, d := o.t.Shape(), o.t.Float32s()
		if s[0] == rows && s[1] == cols && len(d) == len(data) && &d[0] == &data[0] {
			return o.t
		}
	}
	o.t = tensor.New(tensor.WithShape(rows, cols), tensor.WithBacking(data))
	return o.t
}

// Vector returns data as a tensor of shape (len(data)).
func (o *Out) Vector(data []float32) *tensor.Dense {
	if o.t != nil && len(data) > 0 && o.t.Dims() == 1 {
		d := o.t.Float32s()
		if len(d) == len(data) && &d[0] == &data[0] {
			return o.t
		}
	}
	o.t = tensor.New(tensor.WithShape(len(data)), tensor.WithBacking(data))
	return o.t
}
