package datasets

import (
	"encoding/binary"
	"math"
	"sort"

	"github.com/pkg/errors"

	"github.com/g2g-ml/g2g/internal/npz"
)

// LoadNPZ reads a data set from a NumPy .npz archive, as written by
// numpy.savez(path, x=..., y=..., ...). Every array's first dimension is
// the sample count N, the same for all:
//
//   - "x" (required) holds the inputs: X, Shape its remaining dimensions
//     ({1} for a one-dimensional x);
//   - "y", if present, holds the targets: a one-dimensional integer array
//     gives class labels (Y, Classes one more than the largest label),
//     anything else float targets (Targets, TargetShape its remaining
//     dimensions, {1} for one dimension);
//   - every other array becomes a Field of that name, by the same rule:
//     a one-dimensional integer array gives labels, anything else values.
//
// Supported dtypes are float32, float64 (rounded to float32), uint8, int32
// and int64; values are converted as numbers, without scaling (divide
// uint8 pixels by 255 yourself). Fields are in sorted name order. The set is
// named after path.
func LoadNPZ(path string) (*Dataset, error) {
	arrays, err := npz.Read(path)
	if err != nil {
		return nil, errors.Wrap(err, "load npz")
	}
	fail := func(format string, args ...interface{}) (*Dataset, error) {
		return nil, errors.Errorf("load npz %s: "+format, append([]interface{}{path}, args...)...)
	}
	xa, ok := arrays["x"]
	if !ok {
		names := make([]string, 0, len(arrays))
		for k := range arrays {
			names = append(names, k)
		}
		sort.Strings(names)
		return fail("no array named \"x\" (the inputs); the archive holds %v", names)
	}
	if len(xa.Shape) == 0 {
		return fail("array \"x\" is a scalar; want one row per sample")
	}
	n := xa.Shape[0]
	d := &Dataset{Name: path, Shape: sampleShape(xa.Shape)}
	if d.X, err = npzFloats(xa); err != nil {
		return fail("%v", err)
	}
	names := make([]string, 0, len(arrays))
	for name := range arrays {
		if name != "x" {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		a := arrays[name]
		if len(a.Shape) == 0 || a.Shape[0] != n {
			return fail("array %q has shape %v; want %d rows, one per sample of \"x\"", name, a.Shape, n)
		}
		if len(a.Shape) == 1 && npzInteger(a.Dtype) {
			labels, classes, err := npzLabels(a)
			if err != nil {
				return fail("%v", err)
			}
			if name == "y" {
				d.Y, d.Classes = labels, classes
			} else {
				d.Fields = append(d.Fields, Field{Name: name, Labels: labels, Classes: classes})
			}
			continue
		}
		v, err := npzFloats(a)
		if err != nil {
			return fail("%v", err)
		}
		if name == "y" {
			d.Targets, d.TargetShape = v, sampleShape(a.Shape)
		} else {
			d.Fields = append(d.Fields, Field{Name: name, Shape: sampleShape(a.Shape), Values: v})
		}
	}
	if err := d.Validate(); err != nil {
		return nil, errors.Wrap(err, "load npz")
	}
	return d, nil
}

// sampleShape returns the per-sample shape of an array of samples: its
// dimensions after the first, {1} when it has only one.
func sampleShape(shape []int) []int {
	if len(shape) == 1 {
		return []int{1}
	}
	return append([]int(nil), shape[1:]...)
}

func npzInteger(dtype string) bool {
	switch dtype {
	case "|u1", "<u1", "<i4", "<i8":
		return true
	}
	return false
}

// npzFloats decodes a numeric array to float32.
func npzFloats(a npz.Array) ([]float32, error) {
	n := a.Len()
	out := make([]float32, n)
	switch a.Dtype {
	case "<f4":
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(a.Data[4*i:]))
		}
	case "<f8":
		for i := range out {
			out[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(a.Data[8*i:])))
		}
	case "|u1", "<u1":
		for i := range out {
			out[i] = float32(a.Data[i])
		}
	case "<i4":
		for i := range out {
			out[i] = float32(int32(binary.LittleEndian.Uint32(a.Data[4*i:])))
		}
	case "<i8":
		for i := range out {
			out[i] = float32(int64(binary.LittleEndian.Uint64(a.Data[8*i:])))
		}
	default:
		return nil, errors.Errorf("array %q has dtype %s; want float32, float64, uint8, int32 or int64", a.Name, a.Dtype)
	}
	return out, nil
}

// npzLabels decodes a one-dimensional integer array of class labels and
// returns them with the class count (the largest label plus one).
func npzLabels(a npz.Array) ([]int, int, error) {
	n := a.Len()
	out := make([]int, n)
	for i := range out {
		var v int64
		switch a.Dtype {
		case "|u1", "<u1":
			v = int64(a.Data[i])
		case "<i4":
			v = int64(int32(binary.LittleEndian.Uint32(a.Data[4*i:])))
		case "<i8":
			v = int64(binary.LittleEndian.Uint64(a.Data[8*i:]))
		}
		if v < 0 || v > math.MaxInt32 {
			return nil, 0, errors.Errorf("array %q: label %d of sample %d is negative or too large", a.Name, v, i)
		}
		out[i] = int(v)
	}
	classes := 0
	for _, y := range out {
		classes = max(classes, y+1)
	}
	return out, max(classes, 1), nil
}
