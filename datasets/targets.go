package datasets

import (
	"math"

	"github.com/pkg/errors"
)

// Field is one named per-sample array of a Dataset besides X and its
// targets: a further input of a model with several inputs, or the targets
// of one output of a model with several outputs. It holds either float
// values (Values, Shape per sample) or integer class labels (Labels, one
// per sample, in [0, Classes)).
type Field struct {
	// Name matches the model input or output the field feeds.
	Name string
	// Shape is the per-sample shape of Values (nil for labels).
	Shape []int
	// Values holds N·product(Shape) float values, sample after sample.
	Values []float32
	// Labels holds N class labels (instead of Values).
	Labels []int
	// Classes is the number of label values when Labels is set.
	Classes int
}

// Size returns the number of values per sample of a field of values (the
// product of Shape), or Classes for a field of labels (the width of their
// one-hot encoding).
func (f *Field) Size() int {
	if f.Labels != nil {
		return f.Classes
	}
	return shapeSize(f.Shape)
}

// shapeSize returns the product of shape (1 for an empty shape).
func shapeSize(shape []int) int {
	n := 1
	for _, s := range shape {
		n *= s
	}
	return n
}

// TargetSize returns the number of target values per sample: the product
// of TargetShape for float targets, SampleSize for InputTargets, Classes
// for labels (the width of their one-hot encoding), 0 for a set without
// targets.
func (d *Dataset) TargetSize() int {
	switch {
	case d.InputTargets:
		return d.SampleSize()
	case d.Targets != nil:
		return shapeSize(d.TargetShape)
	case d.Y != nil:
		return d.Classes
	}
	return 0
}

// HasTargets reports whether the set has targets of its own: labels, float
// targets or InputTargets.
func (d *Dataset) HasTargets() bool { return d.InputTargets || d.Targets != nil || d.Y != nil }

// Field returns the field named name, or nil.
func (d *Dataset) Field(name string) *Field {
	for k := range d.Fields {
		if d.Fields[k].Name == name {
			return &d.Fields[k]
		}
	}
	return nil
}

// FieldNames returns the names of the fields, in order.
func (d *Dataset) FieldNames() []string {
	out := make([]string, len(d.Fields))
	for k := range d.Fields {
		out[k] = d.Fields[k].Name
	}
	return out
}

// checkShape checks that every dimension of shape is at least 1 and that n
// samples of it fit in an int; it returns the per-sample size.
func checkShape(what string, shape []int, n int) (int, error) {
	size := 1
	for i, s := range shape {
		if s < 1 {
			return 0, errors.Errorf("%s: Shape[%d] must be >= 1, found %d (shape %v)", what, i, s, shape)
		}
		if size > math.MaxInt/s {
			return 0, errors.Errorf("%s: shape %v overflows int", what, shape)
		}
		size *= s
	}
	if n != 0 && size > math.MaxInt/n {
		return 0, errors.Errorf("%s: %d samples of shape %v overflow int", what, n, shape)
	}
	return size, nil
}

// validateTargets checks Targets, InputTargets and Fields for n samples.
func (d *Dataset) validateTargets(name string, n int) error {
	if d.InputTargets && d.Targets != nil {
		return errors.Errorf("dataset %s: InputTargets and Targets are both set; the targets are either the inputs or Targets", name)
	}
	if d.Targets != nil {
		size, err := checkShape("dataset "+name+": targets", d.TargetShape, n)
		if err != nil {
			return err
		}
		if len(d.TargetShape) == 0 {
			return errors.Errorf("dataset %s: Targets is set but TargetShape is empty", name)
		}
		if len(d.Targets) != n*size {
			return errors.Errorf("dataset %s: len(Targets) = %d, expected %d samples * target size %d (shape %v) = %d",
				name, len(d.Targets), n, size, d.TargetShape, n*size)
		}
	} else if d.TargetShape != nil {
		return errors.Errorf("dataset %s: TargetShape %v is set but Targets is nil", name, d.TargetShape)
	}
	seen := map[string]bool{}
	for k := range d.Fields {
		f := &d.Fields[k]
		if f.Name == "" {
			return errors.Errorf("dataset %s: field %d has no name", name, k)
		}
		if seen[f.Name] {
			return errors.Errorf("dataset %s: two fields are named %q", name, f.Name)
		}
		seen[f.Name] = true
		what := "dataset " + name + ": field " + f.Name
		switch {
		case (f.Values == nil) == (f.Labels == nil):
			return errors.Errorf("%s: set exactly one of Values and Labels", what)
		case f.Labels != nil:
			if f.Classes < 1 {
				return errors.Errorf("%s: Classes must be >= 1, found %d", what, f.Classes)
			}
			if len(f.Labels) != n {
				return errors.Errorf("%s: %d labels for %d samples", what, len(f.Labels), n)
			}
			for i, y := range f.Labels {
				if y < 0 || y >= f.Classes {
					return errors.Errorf("%s: label %d of sample %d out of range: expected 0 <= label < %d classes", what, y, i, f.Classes)
				}
			}
		default:
			if len(f.Shape) == 0 {
				return errors.Errorf("%s: Values is set but Shape is empty", what)
			}
			size, err := checkShape(what, f.Shape, n)
			if err != nil {
				return err
			}
			if len(f.Values) != n*size {
				return errors.Errorf("%s: len(Values) = %d, expected %d samples * size %d (shape %v) = %d",
					what, len(f.Values), n, size, f.Shape, n*size)
			}
		}
	}
	return nil
}

// subsetTargets copies the targets and fields of the samples at idx into
// out.
func (d *Dataset) subsetTargets(out *Dataset, idx []int) {
	if d.Targets != nil {
		ts := shapeSize(d.TargetShape)
		out.TargetShape = append([]int(nil), d.TargetShape...)
		out.Targets = gatherFloats(d.Targets, ts, idx)
	}
	for _, f := range d.Fields {
		g := Field{Name: f.Name, Classes: f.Classes}
		if f.Labels != nil {
			g.Labels = make([]int, len(idx))
			for j, i := range idx {
				g.Labels[j] = f.Labels[i]
			}
		} else {
			g.Shape = append([]int(nil), f.Shape...)
			g.Values = gatherFloats(f.Values, shapeSize(f.Shape), idx)
		}
		out.Fields = append(out.Fields, g)
	}
}

// gatherFloats returns the rows at idx of v (rows of size values).
func gatherFloats(v []float32, size int, idx []int) []float32 {
	out := make([]float32, len(idx)*size)
	for j, i := range idx {
		copy(out[j*size:(j+1)*size], v[i*size:(i+1)*size])
	}
	return out
}

// FromArrays returns the set named name of the samples in x (per-sample
// shape shape) with float targets (per-sample shape targetShape), both
// held without copying, after checking they are consistent: the way to
// train on plain Go arrays (regression, multi-hot labels). Use Dataset's
// fields directly for class labels (Y) or inputs as targets
// (InputTargets).
func FromArrays(name string, x []float32, shape []int, targets []float32, targetShape []int) (*Dataset, error) {
	d := &Dataset{Name: name, X: x, Shape: append([]int(nil), shape...),
		Targets: targets, TargetShape: append([]int(nil), targetShape...)}
	if targets == nil {
		return nil, errors.Errorf("dataset %s: no targets (use a Dataset with InputTargets for an autoencoder)", name)
	}
	if err := d.Validate(); err != nil {
		return nil, err
	}
	return d, nil
}
