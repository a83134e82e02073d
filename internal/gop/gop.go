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
	d, ok := t.Data().([]float32)
	if !ok {
		return nil, nil, errors.Errorf("input is %v, want float32", t.Dtype())
	}
	return d, t.Shape(), nil
}
