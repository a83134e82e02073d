package datasets

import (
	"math"
	"math/rand"
	"sort"

	"github.com/pkg/errors"

	"github.com/g2g-ml/g2g/internal/rngs"
)

// Dataset holds N samples decoded once into one contiguous float32 buffer,
// with their targets: integer class labels (Y), float targets of any shape
// (Targets), or the inputs themselves (InputTargets). Models with several
// inputs or outputs read further named arrays from Fields (see the package
// documentation for how arrays map to a model's inputs and outputs).
type Dataset struct {
	// Name identifies the set in logs and errors, e.g. "fashion-mnist/train".
	Name string
	// X holds N*SampleSize values; sample i is X[i*SampleSize:(i+1)*SampleSize].
	X []float32
	// Y holds the N labels, each in [0, Classes). It may be nil when the
	// set has float targets (Targets or InputTargets) or no targets.
	Y []int
	// Shape is the per-sample shape, e.g. {28, 28} or {3, 32, 32}; its
	// product is SampleSize.
	Shape []int
	// Classes is the number of label values (at least 1 when Y is set).
	Classes int
	// ClassNames names each label value; it may be nil.
	ClassNames []string

	// Targets, when not nil, holds float targets: N·TargetSize values,
	// TargetShape per sample (regression values, multi-hot labels,
	// images). They take precedence over Y as the set's targets; Y may
	// still hold labels for display.
	Targets []float32
	// TargetShape is the per-sample shape of Targets.
	TargetShape []int
	// InputTargets makes the targets the inputs themselves, as the model
	// sees them (after graph.FitConfig.Augment): an autoencoder's data.
	// Nothing is copied into the set. It excludes Targets.
	InputTargets bool
	// Fields holds further named per-sample arrays: the inputs and targets
	// of models with several inputs or outputs, matched by name.
	Fields []Field
}

// Len returns the number of samples, N: the number of labels when Y is
// set, the number of whole samples in X otherwise.
func (d *Dataset) Len() int {
	if d.Y != nil {
		return len(d.Y)
	}
	if size := d.SampleSize(); size > 0 {
		return len(d.X) / size
	}
	return 0
}

// SampleSize returns the number of float32 values per sample: the product of
// Shape (1 for an empty Shape, i.e. scalar samples).
func (d *Dataset) SampleSize() int {
	n := 1
	for _, s := range d.Shape {
		n *= s
	}
	return n
}

// Validate checks that the fields are consistent: positive shape,
// len(X) == Len()*SampleSize(), a positive class count and every label in
// [0, Classes) when there are labels, ClassNames either nil or one per
// class, and the targets and fields (see validateTargets).
func (d *Dataset) Validate() error {
	if d == nil {
		return errors.New("dataset is nil")
	}
	name := d.Name
	if name == "" {
		name = "(unnamed)"
	}
	if d.Y != nil && d.Classes < 1 {
		return errors.Errorf("dataset %s: Classes must be >= 1, found %d", name, d.Classes)
	}
	size := 1
	for i, s := range d.Shape {
		if s < 1 {
			return errors.Errorf("dataset %s: Shape[%d] must be >= 1, found %d (shape %v)", name, i, s, d.Shape)
		}
		if size > math.MaxInt/s {
			return errors.Errorf("dataset %s: shape %v overflows int", name, d.Shape)
		}
		size *= s
	}
	n := d.Len()
	if n != 0 && size > math.MaxInt/n {
		return errors.Errorf("dataset %s: %d samples of shape %v overflow int", name, n, d.Shape)
	}
	if d.Y == nil && len(d.X)%size != 0 {
		return errors.Errorf("dataset %s: len(X) = %d is not a whole number of samples of shape %v (size %d)",
			name, len(d.X), d.Shape, size)
	}
	if len(d.X) != n*size {
		return errors.Errorf("dataset %s: len(X) = %d, expected %d labels * sample size %d = %d",
			name, len(d.X), n, size, n*size)
	}
	for i, y := range d.Y {
		if y < 0 || y >= d.Classes {
			return errors.Errorf("dataset %s: label %d of sample %d out of range: expected 0 <= label < %d classes",
				name, y, i, d.Classes)
		}
	}
	if d.ClassNames != nil && len(d.ClassNames) != d.Classes {
		return errors.Errorf("dataset %s: %d ClassNames for %d classes", name, len(d.ClassNames), d.Classes)
	}
	return d.validateTargets(name, n)
}

// Subset returns a new Dataset holding copies of the samples at idx, in that
// order (an index may repeat): inputs, labels, float targets and fields.
// Name, Shape, Classes, ClassNames, TargetShape and InputTargets are
// copied. It panics if an index is out of range, like slice indexing.
func (d *Dataset) Subset(idx []int) *Dataset {
	ss := d.SampleSize()
	out := &Dataset{
		Name:         d.Name,
		X:            make([]float32, len(idx)*ss),
		Shape:        append([]int(nil), d.Shape...),
		Classes:      d.Classes,
		InputTargets: d.InputTargets,
	}
	if d.Y != nil {
		out.Y = make([]int, len(idx))
	}
	if d.ClassNames != nil {
		out.ClassNames = append([]string(nil), d.ClassNames...)
	}
	for j, i := range idx {
		if d.Y != nil {
			out.Y[j] = d.Y[i]
		}
		copy(out.X[j*ss:(j+1)*ss], d.X[i*ss:(i+1)*ss])
	}
	d.subsetTargets(out, idx)
	return out
}

// Split partitions d at random into a training and a validation set. The
// validation set gets round(valFraction*Len()) samples; valFraction must be
// in (0, 1) and both parts must end up non-empty. The partition depends only
// on seed and Len(); within each part the samples keep their original order.
// The parts are copies, named Name+"/train" and Name+"/val".
func (d *Dataset) Split(valFraction float64, seed int64) (train, val *Dataset, err error) {
	if err := d.Validate(); err != nil {
		return nil, nil, errors.Wrap(err, "split")
	}
	if !(valFraction > 0 && valFraction < 1) {
		return nil, nil, errors.Errorf("split %s: valFraction must be in (0, 1), found %v", d.Name, valFraction)
	}
	n := d.Len()
	nVal := int(math.Round(valFraction * float64(n)))
	if nVal < 1 || nVal > n-1 {
		return nil, nil, errors.Errorf("split %s: valFraction %v of %d samples gives %d validation and %d training samples; both must be >= 1",
			d.Name, valFraction, n, nVal, n-nVal)
	}
	perm := rand.New(rand.NewSource(rngs.Index(seed, splitStream))).Perm(n)
	valIdx, trainIdx := perm[:nVal], perm[nVal:]
	sort.Ints(valIdx)
	sort.Ints(trainIdx)
	train, val = d.Subset(trainIdx), d.Subset(valIdx)
	train.Name, val.Name = d.Name+"/train", d.Name+"/val"
	return train, val, nil
}

// splitStream separates the Split random stream from the per-epoch Batches
// streams derived from the same seed.
const splitStream = -0x5eed_5b17
