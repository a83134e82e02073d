package main

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/g2g-ml/g2g/datasets"
	"github.com/g2g-ml/g2g/examples/internal/fixtures"
)

// The pairs have the two images side by side, one or two positive tags and
// the left image's class.
func TestPairs(t *testing.T) {
	d := &datasets.Dataset{Name: "d", X: make([]float32, 3*784), Shape: []int{28, 28}, Y: []int{4, 7, 4}, Classes: 10}
	for i := range d.X {
		d.X[i] = float32(i / 784) // image i is all i
	}
	p := pairs(d, 1)
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		x := p.X[i*28*56 : (i+1)*28*56]
		right := int(x[28])
		for r := 0; r < 28; r++ {
			for c := 0; c < 56; c++ {
				want := float32(i)
				if c >= 28 {
					want = float32(right)
				}
				if x[r*56+c] != want {
					t.Fatalf("pair %d pixel (%d, %d) = %v, want %v", i, r, c, x[r*56+c], want)
				}
			}
		}
		var tags []int
		for c, v := range p.Targets[i*10 : (i+1)*10] {
			if v == 1 {
				tags = append(tags, c)
			}
		}
		wantTags := map[int]bool{d.Y[i]: true, d.Y[right]: true}
		if len(tags) != len(wantTags) || !wantTags[tags[0]] || !wantTags[tags[len(tags)-1]] || p.Fields[0].Labels[i] != d.Y[i] {
			t.Fatalf("pair %d (%d, %d): tags %v left %d", i, i, right, tags, p.Fields[0].Labels[i])
		}
	}
}

func TestRunOnTinyData(t *testing.T) {
	dir := fixtures.FashionMNIST(t, 200, 50)
	fig := filepath.Join(t.TempDir(), "f1.png")
	var out, errOut bytes.Buffer
	if err := run([]string{"-data", dir, "-epochs", "3", "-batch", "20", "-lr", "0.003", "-png", fig}, &out, &errOut); err != nil {
		t.Fatalf("run: %v\nstderr:\n%s", err, errOut.String())
	}
	for _, model := range []string{"g2g", "dense"} {
		m := regexp.MustCompile(`(?m)^` + model + ` +([0-9.]+) +(\d+) +(\d+) +([0-9.]+) +([0-9.]+) +([0-9.]+)`).FindStringSubmatch(out.String())
		if m == nil {
			t.Fatalf("no %s row in:\n%s", model, out.String())
		}
		// The fixture's classes light up distinct rows: trivially learnable.
		bin, _ := strconv.ParseFloat(m[4], 64)
		left, _ := strconv.ParseFloat(m[6], 64)
		if bin < 0.9 || left < 0.5 {
			t.Fatalf("%s: binary accuracy %v, left accuracy %v:\n%s", model, bin, left, out.String())
		}
	}
	f, err := os.Open(fig)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := png.Decode(f); err != nil {
		t.Fatal(err)
	}
	if err := run([]string{"-aux", "0"}, &out, &errOut); err == nil || err.Error() != "-aux 0: want a positive weight" {
		t.Fatalf("err = %v", err)
	}
}
