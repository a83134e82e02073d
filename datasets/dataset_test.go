package datasets

import (
	"testing"
)

// tinyDataset returns n samples of shape {2, 3} whose values encode the
// sample index (sample i holds i*10 + k) and labels i % classes.
func tinyDataset(n, classes int) *Dataset {
	d := &Dataset{Name: "tiny", Shape: []int{2, 3}, Classes: classes, X: make([]float32, n*6), Y: make([]int, n)}
	for i := 0; i < n; i++ {
		for k := 0; k < 6; k++ {
			d.X[i*6+k] = float32(i*10 + k)
		}
		d.Y[i] = i % classes
	}
	return d
}

// sampleID recovers the sample index from one sample's values.
func sampleID(t *testing.T, x []float32) int {
	t.Helper()
	id := int(x[0]) / 10
	for k, v := range x {
		if v != float32(id*10+k) {
			t.Fatalf("sample values %v are not those of one sample", x)
		}
	}
	return id
}

func TestValidate(t *testing.T) {
	if err := tinyDataset(5, 3).Validate(); err != nil {
		t.Fatal(err)
	}
	var nilDS *Dataset
	wantErr(t, nilDS.Validate(), "nil")
	cases := []struct {
		name   string
		mutate func(d *Dataset)
		phrase string
	}{
		{"short X", func(d *Dataset) { d.X = d.X[:len(d.X)-1] }, "len(X) = 29, expected 5 labels * sample size 6 = 30"},
		{"label high", func(d *Dataset) { d.Y[4] = 3 }, "label 3 of sample 4 out of range"},
		{"label negative", func(d *Dataset) { d.Y[0] = -1 }, "label -1 of sample 0 out of range"},
		{"no classes", func(d *Dataset) { d.Classes = 0 }, "Classes must be >= 1"},
		{"bad shape", func(d *Dataset) { d.Shape = []int{2, 0} }, "Shape[1] must be >= 1"},
		{"class names", func(d *Dataset) { d.ClassNames = []string{"a"} }, "1 ClassNames for 3 classes"},
	}
	for _, c := range cases {
		d := tinyDataset(5, 3)
		c.mutate(d)
		wantErr(t, d.Validate(), "tiny", c.phrase)
	}
}

func TestSubset(t *testing.T) {
	d := tinyDataset(6, 4)
	d.ClassNames = []string{"a", "b", "c", "d"}
	s := d.Subset([]int{4, 1, 4})
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	if s.Len() != 3 || s.SampleSize() != 6 || s.Classes != 4 || s.Name != "tiny" || len(s.ClassNames) != 4 {
		t.Fatalf("subset %+v", s)
	}
	for j, want := range []int{4, 1, 4} {
		if got := sampleID(t, s.X[j*6:(j+1)*6]); got != want || s.Y[j] != d.Y[want] {
			t.Fatalf("subset sample %d is %d label %d, want %d label %d", j, got, s.Y[j], want, d.Y[want])
		}
	}
	// A copy: changing it leaves d alone.
	s.X[0], s.Y[0], s.Shape[0], s.ClassNames[0] = -1, 3, 9, "z"
	if d.X[4*6] != 40 || d.Y[4] != 0 || d.Shape[0] != 2 || d.ClassNames[0] != "a" {
		t.Fatal("Subset shares memory with the original")
	}
	if e := d.Subset(nil); e.Len() != 0 || e.Validate() != nil {
		t.Fatalf("empty subset: %+v %v", e, e.Validate())
	}
}

func TestSplit(t *testing.T) {
	d := tinyDataset(100, 10)
	train, val, err := d.Split(0.2, 7)
	if err != nil {
		t.Fatal(err)
	}
	if train.Len() != 80 || val.Len() != 20 {
		t.Fatalf("sizes %d/%d, want 80/20", train.Len(), val.Len())
	}
	if train.Name != "tiny/train" || val.Name != "tiny/val" {
		t.Fatalf("names %q %q", train.Name, val.Name)
	}
	seen := make([]int, 100)
	for _, part := range []*Dataset{train, val} {
		if err := part.Validate(); err != nil {
			t.Fatal(err)
		}
		prev := -1
		for i := 0; i < part.Len(); i++ {
			id := sampleID(t, part.X[i*6:(i+1)*6])
			if part.Y[i] != d.Y[id] {
				t.Fatalf("sample %d: label %d, want %d", id, part.Y[i], d.Y[id])
			}
			if id <= prev {
				t.Fatalf("%s not in original order: %d after %d", part.Name, id, prev)
			}
			prev = id
			seen[id]++
		}
	}
	for id, c := range seen {
		if c != 1 {
			t.Fatalf("sample %d appears %d times across the split", id, c)
		}
	}
	// Same seed, same split; another seed, another split.
	_, val2, _ := d.Split(0.2, 7)
	_, val3, _ := d.Split(0.2, 8)
	if !equalInts(val.Y, val2.Y) || !equalFloats(val.X, val2.X) {
		t.Fatal("same seed gave a different split")
	}
	if equalFloats(val.X, val3.X) {
		t.Fatal("different seeds gave the same split")
	}
	// A validation sample is not the first 20 samples (it is random).
	if equalFloats(val.X, d.X[:20*6]) {
		t.Fatal("split is not shuffled")
	}
}

func TestSplitErrors(t *testing.T) {
	d := tinyDataset(10, 2)
	for _, f := range []float64{0, 1, -0.1, 1.5} {
		_, _, err := d.Split(f, 1)
		wantErr(t, err, "tiny", "valFraction must be in (0, 1)")
	}
	_, _, err := d.Split(0.01, 1)
	wantErr(t, err, "gives 0 validation and 10 training samples")
	_, _, err = d.Split(0.99, 1)
	wantErr(t, err, "gives 10 validation and 0 training samples")
	bad := tinyDataset(10, 2)
	bad.Y[0] = 5
	_, _, err = bad.Split(0.5, 1)
	wantErr(t, err, "split", "out of range")
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func equalFloats(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
