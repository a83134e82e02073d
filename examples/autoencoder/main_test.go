package main

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/g2g-ml/g2g/examples/internal/fixtures"
)

func TestRunOnTinyData(t *testing.T) {
	dir := fixtures.FashionMNIST(t, 100, 30)
	fig := filepath.Join(t.TempDir(), "rec.png")
	var out, errOut bytes.Buffer
	if err := run([]string{"-data", dir, "-epochs", "3", "-batch", "20", "-lr", "0.01", "-png", fig}, &out, &errOut); err != nil {
		t.Fatalf("run: %v\nstderr:\n%s", err, errOut.String())
	}
	// One row per model; the fixture's images are black but for one white
	// row, so a sigmoid output that learnt anything beats 0.1 MSE.
	for _, model := range []string{"g2g", "dense"} {
		m := regexp.MustCompile(`(?m)^` + model + ` +([0-9.]+) +(\d+) +(\d+) +([0-9.]+) +([0-9.]+)`).FindStringSubmatch(out.String())
		if m == nil {
			t.Fatalf("no %s row in:\n%s", model, out.String())
		}
		mse, _ := strconv.ParseFloat(m[4], 64)
		if !(mse < 0.1) {
			t.Fatalf("%s test MSE %v:\n%s", model, mse, out.String())
		}
		if model == "g2g" && m[1] != "0.25" {
			t.Fatalf("g2g density %s", m[1])
		}
	}
	f, err := os.Open(fig)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	// 10 images of 84 px plus gaps and the label column; 3 rows.
	if b := img.Bounds(); b.Dx() != 120+10*88 || b.Dy() != 3*88+4 {
		t.Fatalf("figure is %v", b)
	}
	if err := run([]string{"-epochs", "0"}, &out, &errOut); err == nil || err.Error() != "-epochs 0: want at least 1" {
		t.Fatalf("err = %v", err)
	}
}
