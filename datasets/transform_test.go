package datasets

import (
	"fmt"
	"math"
	"testing"
)

func TestNormalize(t *testing.T) {
	// Two samples of shape (3, 1, 2).
	d := &Dataset{Name: "n", Shape: []int{3, 1, 2}, Classes: 1, Y: []int{0, 0},
		X: []float32{0, 1, 0.5, 0.5, 1, 0, 0.2, 0.4, 0.6, 0.8, 1, 0}}
	s := Stats{Mean: []float32{0.5, 0.25, 0}, Std: []float32{0.5, 0.25, 2}}
	if err := d.Normalize(s); err != nil {
		t.Fatal(err)
	}
	want := []float32{-1, 1, 1, 1, 0.5, 0, -0.6, -0.2, 1.4, 2.2, 0.5, 0}
	for i := range want {
		if math.Abs(float64(d.X[i]-want[i])) > 1e-6 {
			t.Fatalf("X = %v, want %v", d.X, want)
		}
	}
	// One statistic for every value (MNIST-like (28, 28) samples).
	m := &Dataset{Name: "m", Shape: []int{2, 2}, Classes: 1, Y: []int{0}, X: []float32{0, 0.1307, 1, 0.5}}
	if err := m.Normalize(MNISTStats); err != nil {
		t.Fatal(err)
	}
	if math.Abs(float64(m.X[1])) > 1e-6 || math.Abs(float64(m.X[0])+0.1307/0.3081) > 1e-6 {
		t.Fatalf("MNIST normalised %v", m.X)
	}
	// Zero maps to the normalised value of 0.
	z := CIFAR10Stats.Zero()
	x := []float32{0, 0, 0}
	if err := CIFAR10Stats.Apply(x, []int{3, 1, 1}); err != nil {
		t.Fatal(err)
	}
	for c := range z {
		if math.Abs(float64(z[c]-x[c])) > 1e-6 {
			t.Fatalf("Zero %v, normalised zeros %v", z, x)
		}
	}
}

func TestStatsPresets(t *testing.T) {
	for name, c := range map[string]struct {
		s    Stats
		want string
	}{
		"cifar10":  {CIFAR10Stats, "[0.4914 0.4822 0.4465] [0.247 0.2435 0.2616]"},
		"cifar100": {CIFAR100Stats, "[0.5071 0.4865 0.4409] [0.2673 0.2564 0.2762]"},
		"mnist":    {MNISTStats, "[0.1307] [0.3081]"},
		"fashion":  {FashionMNISTStats, "[0.286] [0.353]"},
	} {
		if got := fmt.Sprint(c.s.Mean, " ", c.s.Std); got != c.want {
			t.Errorf("%s: %s, want %s", name, got, c.want)
		}
	}
}

func TestNormalizeErrors(t *testing.T) {
	d := &Dataset{Name: "e", Shape: []int{2, 2}, Classes: 1, Y: []int{0}, X: make([]float32, 4)}
	err := d.Normalize(CIFAR10Stats)
	wantErr(t, err, "normalize e", "3 channels of statistics for samples of shape [2 2]")
	err = d.Normalize(Stats{Mean: []float32{0}, Std: []float32{0}})
	wantErr(t, err, "Std[0] = 0, must be positive")
	err = d.Normalize(Stats{Mean: []float32{0, 1}, Std: []float32{1}})
	wantErr(t, err, "need as many Std as Mean values")
	err = MNISTStats.Apply(make([]float32, 5), []int{2, 2})
	wantErr(t, err, "5 values is not a whole number of samples")
}

// crops returns, for a sample x of shape (c, h, w) with distinct values,
// every (dy, dx, flip) that maps it to y.
func matchCrop(x, y []float32, c, h, w, pad int, fill []float32) []string {
	var found []string
	for dy := -pad; dy <= pad; dy++ {
		for dx := -pad; dx <= pad; dx++ {
			for _, flip := range []bool{false, true} {
				ok := true
				for ch := 0; ch < c && ok; ch++ {
					for yy := 0; yy < h && ok; yy++ {
						for xx := 0; xx < w && ok; xx++ {
							sx, sy := xx+dx, yy+dy
							want := fill[ch]
							if sx >= 0 && sx < w && sy >= 0 && sy < h {
								want = x[(ch*h+sy)*w+sx]
							}
							ox := xx
							if flip {
								ox = w - 1 - xx
							}
							ok = y[(ch*h+yy)*w+ox] == want
						}
					}
				}
				if ok {
					found = append(found, fmt.Sprintf("%d,%d,%v", dy, dx, flip))
				}
			}
		}
	}
	return found
}

func TestRandomCropFlip(t *testing.T) {
	const c, h, w, pad, n = 2, 5, 6, 2, 64
	sample := c * h * w
	src := make([]float32, n*sample)
	for i := range src {
		src[i] = float32(i + 1) // distinct, non-zero
	}
	fill := []float32{-1, -2}
	r := &RandomCropFlip{Shape: []int{c, h, w}, Pad: pad, Flip: true, Fill: fill, Seed: 3}
	run := func(r *RandomCropFlip, epoch, batch int) []float32 {
		x := append([]float32(nil), src...)
		if err := r.Apply(x, n, epoch, batch); err != nil {
			t.Fatal(err)
		}
		return x
	}
	a := run(r, 1, 2)
	if !equalFloats(a, run(r, 1, 2)) {
		t.Fatal("same (seed, epoch, batch) gave another augmentation")
	}
	r2 := *r
	if !equalFloats(a, run(&r2, 1, 2)) {
		t.Fatal("a copy with the same seed differs")
	}
	for _, other := range [][2]int{{0, 2}, {1, 3}, {2, 1}} {
		if equalFloats(a, run(r, other[0], other[1])) {
			t.Fatalf("epoch/batch %v gave the same augmentation as 1/2", other)
		}
	}
	r2.Seed = 4
	if equalFloats(a, run(&r2, 1, 2)) {
		t.Fatal("another seed gave the same augmentation")
	}
	// Every sample is a padded crop (possibly flipped) of its original,
	// and over many batches every offset and both flips occur.
	seen := map[string]bool{}
	for b := 0; b < 20; b++ {
		x := run(r, 0, b)
		for i := 0; i < n; i++ {
			m := matchCrop(src[i*sample:(i+1)*sample], x[i*sample:(i+1)*sample], c, h, w, pad, fill)
			if len(m) != 1 {
				t.Fatalf("batch %d sample %d matches crops %v", b, i, m)
			}
			seen[m[0]] = true
		}
	}
	if len(seen) != (2*pad+1)*(2*pad+1)*2 {
		t.Fatalf("only %d of %d crops drawn", len(seen), (2*pad+1)*(2*pad+1)*2)
	}
	// No padding, no flip: the identity. Flip only: a mirror or nothing.
	id := &RandomCropFlip{Shape: []int{c, h, w}}
	if !equalFloats(run(id, 0, 0), src) {
		t.Fatal("Pad 0 without Flip changed the data")
	}
	fo := &RandomCropFlip{Shape: []int{h, w}, Flip: true, Seed: 1}
	x := append([]float32(nil), src...)
	if err := fo.Apply(x, n*c, 0, 0); err != nil {
		t.Fatal(err)
	}
	flips := 0
	for i := 0; i < n*c; i++ {
		m := matchCrop(src[i*h*w:(i+1)*h*w], x[i*h*w:(i+1)*h*w], 1, h, w, 0, []float32{0})
		if len(m) != 1 {
			t.Fatalf("sample %d: %v", i, m)
		}
		if m[0] == "0,0,true" {
			flips++
		}
	}
	if flips < n/2 || flips > 3*n/2 {
		t.Fatalf("%d of %d samples flipped", flips, n*c)
	}
}

func TestRandomCropFlipErrors(t *testing.T) {
	x := make([]float32, 12)
	cases := []struct {
		r    RandomCropFlip
		n    int
		want string
	}{
		{RandomCropFlip{Shape: []int{12}}, 1, "must be (C, H, W) or (H, W)"},
		{RandomCropFlip{Shape: []int{3, 0, 4}}, 1, "dimension below 1"},
		{RandomCropFlip{Shape: []int{3, 2, 2}, Pad: -1}, 1, "Pad -1"},
		{RandomCropFlip{Shape: []int{3, 2, 2}, Fill: []float32{0}}, 1, "1 Fill values for 3 channels"},
		{RandomCropFlip{Shape: []int{3, 2, 2}, Pad: 1}, 2, "12 values for 2 samples"},
	}
	for _, c := range cases {
		err := c.r.Apply(x, c.n, 0, 0)
		wantErr(t, err, "random crop", c.want)
	}
	var tr Transform = (&RandomCropFlip{Shape: []int{3, 2, 2}, Pad: 1, Flip: true}).Apply
	if err := tr(x, 1, 0, 0); err != nil {
		t.Fatal(err)
	}
}

func BenchmarkRandomCropFlip(b *testing.B) {
	const n = 256
	x := make([]float32, n*3072)
	r := &RandomCropFlip{Shape: []int{3, 32, 32}, Pad: 4, Flip: true, Fill: CIFAR10Stats.Zero(), Seed: 1}
	b.SetBytes(int64(len(x) * 4))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := r.Apply(x, n, 0, i); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
