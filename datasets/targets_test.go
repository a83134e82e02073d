package datasets

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/g2g-ml/g2g/internal/npz"
)

// richDataset is tinyDataset with float targets (sample i: i+0.5, −i),
// a field of values (sample i: 100+i) and a field of labels (i mod 2).
func richDataset(n int) *Dataset {
	d := tinyDataset(n, 3)
	d.Targets, d.TargetShape = make([]float32, 2*n), []int{2}
	f := Field{Name: "extra", Shape: []int{1}, Values: make([]float32, n)}
	l := Field{Name: "parity", Labels: make([]int, n), Classes: 2}
	for i := 0; i < n; i++ {
		d.Targets[2*i], d.Targets[2*i+1] = float32(i)+0.5, -float32(i)
		f.Values[i] = 100 + float32(i)
		l.Labels[i] = i % 2
	}
	d.Fields = []Field{f, l}
	return d
}

// checkRich checks that every array of a batch (or subset) holds the
// samples ids, in order.
func checkRich(t *testing.T, ids []int, x []float32, y []int, targets []float32, fields []FieldBatch) {
	t.Helper()
	for j, id := range ids {
		if got := sampleID(t, x[j*6:(j+1)*6]); got != id {
			t.Fatalf("sample %d is %d, want %d", j, got, id)
		}
		if y[j] != id%3 || targets[2*j] != float32(id)+0.5 || targets[2*j+1] != -float32(id) ||
			fields[0].Values[j] != 100+float32(id) || fields[1].Labels[j] != id%2 {
			t.Fatalf("sample %d (id %d): label %d targets %v extra %v parity %d", j, id, y[j], targets[2*j:2*j+2],
				fields[0].Values[j], fields[1].Labels[j])
		}
	}
}

// Float targets and fields validate, and travel with their samples through
// Subset, Split and shuffled Batches.
func TestTargetsAndFieldsFollowSamples(t *testing.T) {
	d := richDataset(23)
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	if d.TargetSize() != 2 || !d.HasTargets() || d.Field("parity").Size() != 2 || d.Field("none") != nil {
		t.Fatalf("TargetSize %d, HasTargets %v", d.TargetSize(), d.HasTargets())
	}
	idx := []int{4, 1, 4, 22}
	s := d.Subset(idx)
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	checkRich(t, idx, s.X, s.Y, s.Targets, []FieldBatch{{Values: s.Fields[0].Values}, {Labels: s.Fields[1].Labels}})
	train, val, err := d.Split(0.3, 5)
	if err != nil {
		t.Fatal(err)
	}
	if train.Len()+val.Len() != 23 || len(train.Targets) != 2*train.Len() || len(val.Fields[1].Labels) != val.Len() {
		t.Fatalf("split sizes %d %d", train.Len(), val.Len())
	}
	for _, shuffle := range []bool{false, true} {
		b, err := NewBatches(d, 5, shuffle, 9)
		if err != nil {
			t.Fatal(err)
		}
		for epoch := 0; epoch < 2; epoch++ {
			b.Reset(epoch)
			if b.Current().N != 0 {
				t.Fatal("Current before Next is not empty")
			}
			var all []int
			for x, y, ok := b.Next(); ok; x, y, ok = b.Next() {
				cur := b.Current()
				if cur.N != len(y) || len(cur.X) != len(x) || &cur.X[0] != &x[0] {
					t.Fatalf("Current N %d X %d for a batch of %d", cur.N, len(cur.X), len(y))
				}
				var ids []int
				for j := 0; j < cur.N; j++ {
					ids = append(ids, sampleID(t, x[j*6:(j+1)*6]))
				}
				checkRich(t, ids, cur.X, cur.Y, cur.Targets, cur.Fields)
				all = append(all, ids...)
			}
			slices.Sort(all)
			if len(all) != 23 || all[0] != 0 || all[22] != 22 {
				t.Fatalf("epoch visits %v", all)
			}
		}
	}
}

// A set without labels: Len counts whole samples of X, InputTargets makes
// the inputs the targets, and Batches return nil labels.
func TestUnlabeledAndInputTargets(t *testing.T) {
	d := tinyDataset(7, 2)
	d.Y, d.Classes, d.InputTargets = nil, 0, true
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	if d.Len() != 7 || d.TargetSize() != 6 || !d.HasTargets() {
		t.Fatalf("Len %d TargetSize %d", d.Len(), d.TargetSize())
	}
	b, err := NewBatches(d, 3, true, 1)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for x, y, ok := b.Next(); ok; x, y, ok = b.Next() {
		if y != nil || b.Current().Y != nil || len(x)%6 != 0 {
			t.Fatalf("batch of %d values with labels %v", len(x), y)
		}
		n += len(x) / 6
	}
	if n != 7 {
		t.Fatalf("%d samples per epoch", n)
	}
	if s := d.Subset([]int{3}); s.Y != nil || !s.InputTargets || s.Len() != 1 {
		t.Fatalf("subset %+v", s)
	}
	d.X = d.X[:len(d.X)-1]
	wantErr(t, d.Validate(), "not a whole number of samples")
}

// Inconsistent targets and fields are errors naming the set and the field.
func TestTargetsValidate(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(d *Dataset)
		phrase string
	}{
		{"short targets", func(d *Dataset) { d.Targets = d.Targets[1:] }, "len(Targets) = 9, expected 5 samples * target size 2"},
		{"no target shape", func(d *Dataset) { d.TargetShape = nil }, "TargetShape is empty"},
		{"shape without targets", func(d *Dataset) { d.Targets = nil }, "TargetShape [2] is set but Targets is nil"},
		{"both", func(d *Dataset) { d.InputTargets = true }, "InputTargets and Targets are both set"},
		{"unnamed field", func(d *Dataset) { d.Fields[0].Name = "" }, "field 0 has no name"},
		{"duplicate field", func(d *Dataset) { d.Fields[1].Name = "extra" }, `two fields are named "extra"`},
		{"field both", func(d *Dataset) { d.Fields[0].Labels = []int{0} }, "field extra: set exactly one of Values and Labels"},
		{"field short", func(d *Dataset) { d.Fields[0].Values = d.Fields[0].Values[1:] }, "field extra: len(Values) = 4, expected 5 samples"},
		{"field label", func(d *Dataset) { d.Fields[1].Labels[3] = 2 }, "field parity: label 2 of sample 3 out of range"},
		{"field classes", func(d *Dataset) { d.Fields[1].Classes = 0 }, "field parity: Classes must be >= 1"},
		{"field labels count", func(d *Dataset) { d.Fields[1].Labels = d.Fields[1].Labels[1:] }, "field parity: 4 labels for 5 samples"},
	}
	for _, c := range cases {
		d := richDataset(5)
		c.mutate(d)
		wantErr(t, d.Validate(), "tiny", c.phrase)
	}
	if _, err := FromArrays("a", make([]float32, 6), []int{3}, make([]float32, 3), []int{2}); err == nil {
		t.Fatal("FromArrays accepted 3 targets for 2 samples of 2")
	}
	d, err := FromArrays("a", make([]float32, 6), []int{3}, make([]float32, 4), []int{2})
	if err != nil || d.Len() != 2 || d.TargetSize() != 2 {
		t.Fatalf("FromArrays: %v, %+v", err, d)
	}
}

// LoadNPZ maps x, y and the other arrays of a NumPy archive: integer
// vectors become labels, anything else values.
func TestLoadNPZ(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "data.npz")
	i64 := func(name string, v ...int64) npz.Array {
		b := make([]byte, 0, 8*len(v))
		for _, x := range v {
			for k := 0; k < 8; k++ {
				b = append(b, byte(uint64(x)>>(8*k)))
			}
		}
		return npz.Array{Name: name, Dtype: "<i8", Shape: []int{len(v)}, Data: b}
	}
	if err := npz.Write(path, []npz.Array{
		npz.Float32("x", []float32{1, 2, 3, 4, 5, 6}, 3, 2),
		i64("y", 2, 0, 1),
		npz.Float32("aux", []float32{0.5, 1.5, 2.5}, 3),
		npz.Uint8("tags", []uint8{1, 0, 0, 1, 1, 1}, 3, 2),
		i64("coarse", 0, 1, 1),
	}); err != nil {
		t.Fatal(err)
	}
	d, err := LoadNPZ(path)
	if err != nil {
		t.Fatal(err)
	}
	if d.Len() != 3 || !slices.Equal(d.Shape, []int{2}) || !slices.Equal(d.Y, []int{2, 0, 1}) || d.Classes != 3 {
		t.Fatalf("x/y: %+v", d)
	}
	if got := d.FieldNames(); !slices.Equal(got, []string{"aux", "coarse", "tags"}) {
		t.Fatalf("fields %v", got)
	}
	if f := d.Field("aux"); !slices.Equal(f.Shape, []int{1}) || !slices.Equal(f.Values, []float32{0.5, 1.5, 2.5}) {
		t.Fatalf("aux %+v", f)
	}
	if f := d.Field("tags"); !slices.Equal(f.Shape, []int{2}) || !slices.Equal(f.Values, []float32{1, 0, 0, 1, 1, 1}) || f.Labels != nil {
		t.Fatalf("tags %+v", f)
	}
	if f := d.Field("coarse"); !slices.Equal(f.Labels, []int{0, 1, 1}) || f.Classes != 2 {
		t.Fatalf("coarse %+v", f)
	}
	// Float y: regression targets.
	if err := npz.Write(path, []npz.Array{npz.Float32("x", []float32{1, 2}, 2), npz.Float32("y", []float32{3, 4, 5, 6}, 2, 2)}); err != nil {
		t.Fatal(err)
	}
	if d, err = LoadNPZ(path); err != nil || d.Y != nil || !slices.Equal(d.TargetShape, []int{2}) || !slices.Equal(d.Shape, []int{1}) {
		t.Fatalf("float y: %v %+v", err, d)
	}
	for _, bad := range [][]npz.Array{
		{npz.Float32("inputs", []float32{1}, 1)},
		{npz.Float32("x", []float32{1, 2}, 2), npz.Float32("y", []float32{1, 2, 3}, 3)},
	} {
		if err := npz.Write(path, bad); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadNPZ(path); err == nil {
			t.Fatalf("LoadNPZ accepted %v", bad)
		} else {
			wantErr(t, err, path)
		}
	}
}
