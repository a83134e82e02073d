package datasets

import (
	"testing"
)

// realFashionMNIST returns the installed Fashion-MNIST directory, or skips.
func realFashionMNIST(tb testing.TB) string {
	tb.Helper()
	dir, err := FindFashionMNIST("")
	if err != nil {
		tb.Skipf("Fashion-MNIST not installed: %v", err)
	}
	return dir
}

func TestRealFashionMNIST(t *testing.T) {
	if testing.Short() {
		t.Skip("loads 30 MB of gzipped data")
	}
	train, test, err := LoadFashionMNIST(realFashionMNIST(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		d *Dataset
		n int
	}{{train, 60000}, {test, 10000}} {
		d := c.d
		if err := d.Validate(); err != nil {
			t.Fatal(err)
		}
		if d.Len() != c.n || d.SampleSize() != 784 || len(d.Shape) != 2 || d.Shape[0] != 28 || d.Shape[1] != 28 {
			t.Fatalf("%s: %d samples of shape %v, want %d of [28 28]", d.Name, d.Len(), d.Shape, c.n)
		}
		lo, hi := d.X[0], d.X[0]
		for _, v := range d.X {
			lo, hi = min(lo, v), max(hi, v)
		}
		if lo != 0 || hi != 1 {
			t.Fatalf("%s: pixel range [%v, %v], want [0, 1]", d.Name, lo, hi)
		}
		counts := make([]int, 10)
		for _, y := range d.Y {
			counts[y]++
		}
		for k, n := range counts {
			if n != c.n/10 {
				t.Fatalf("%s: class %d (%s) has %d samples, want %d", d.Name, k, d.ClassNames[k], n, c.n/10)
			}
		}
	}
}

func BenchmarkLoadFashionMNIST(b *testing.B) {
	dir := realFashionMNIST(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := LoadFashionMNIST(dir); err != nil {
			b.Fatal(err)
		}
	}
}
