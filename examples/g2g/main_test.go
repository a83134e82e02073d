package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/g2g-ml/g2g/examples/internal/fixtures"
)

// TestMain lets the test binary stand in for g2g in child processes.
func TestMain(m *testing.M) {
	if os.Getenv("G2G_TEST_AS_MAIN") == "1" {
		self = os.Executable // as main does
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// g2g runs the command and returns its exit status, stdout and stderr.
func g2g(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"help"}, {"--help"}} {
		code, out, _ := g2g(args...)
		if code != 0 || !strings.Contains(out, "Commands:") {
			t.Fatalf("%v: status %d\n%s", args, code, out)
		}
		for _, c := range []string{"train", "eval", "experiment", "plot"} {
			if !regexp.MustCompile(`(?m)^  ` + c + ` `).MatchString(out) {
				t.Errorf("%v does not list %s:\n%s", args, c, out)
			}
		}
	}
	for sub, flags := range map[string][]string{
		"train":      {"-dataset", "-dst", "-hidden", "-save"},
		"eval":       {"-exported", "-checkpoint", "-dataset", "-data", "-hidden"},
		"experiment": {"-methods", "-densities", "-seeds", "-epochs", "-subset", "-out", "-time-budget", "-batch", "-lr", "-hidden", "-groups"},
		"plot":       {"-out"},
	} {
		for _, args := range [][]string{{sub, "-h"}, {"help", sub}} {
			code, _, errs := g2g(args...)
			if code != 0 || !strings.Contains(errs, "Usage: g2g "+sub) {
				t.Fatalf("%v: status %d\n%s", args, code, errs)
			}
			for _, f := range flags {
				if !regexp.MustCompile(`(?m)^  ` + f + `( |$)`).MatchString(errs) {
					t.Errorf("%v does not show %s:\n%s", args, f, errs)
				}
			}
		}
	}
	// The CIFAR flags appear with their data set.
	if _, _, errs := g2g("train", "-dataset", "cifar100", "-h"); !strings.Contains(errs, "-augment") || !strings.Contains(errs, "-labels") {
		t.Errorf("train -dataset cifar100 -h lacks -augment or -labels:\n%s", errs)
	}
}

func TestErrorsAreOneLine(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "g2g: no command given"},
		{[]string{"fit"}, `g2g: unknown command "fit"`},
		{[]string{"train", "-dataset", "svhn"}, `g2g train: -dataset "svhn": want one of cifar10, cifar100, fashion-mnist, mnist`},
		{[]string{"train", "-density", "2"}, "g2g train: -density 2: want a value in (0, 1]"},
		{[]string{"experiment", "-methods", "dense,g2g-bogus"}, `g2g experiment: methods: unknown method "g2g-bogus"`},
		{[]string{"experiment", "-hidden", "16", "-densities", "0.25,1.5"}, "g2g experiment: densities: 1.5 is out of range"},
		{[]string{"experiment", "-methods="}, "g2g experiment: methods: the list is empty"},
		{[]string{"eval"}, "g2g eval: give exactly one of -exported FILE and -checkpoint FILE"},
		{[]string{"eval", "-exported", "/nonexistent.npz"}, "g2g eval:"},
		{[]string{"plot"}, "g2g plot: -out: give the experiment's output directory"},
		{[]string{"plot", "-out", "/nonexistent"}, "g2g plot: -out /nonexistent: not a directory"},
	} {
		code, _, errs := g2g(tc.args...)
		if code != 1 || !strings.HasPrefix(errs, tc.want) || strings.Count(errs, "\n") != 1 {
			t.Errorf("%v: status %d, stderr %q, want one line starting %q", tc.args, code, errs, tc.want)
		}
	}
	// Nothing ran: a refused grid leaves no output directory.
	dir := filepath.Join(t.TempDir(), "out")
	if code, _, _ := g2g("experiment", "-hidden", "16", "-densities", "0.01", "-out", dir); code != 1 {
		t.Fatal("an impossible density was accepted")
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("a refused grid created %s", dir)
	}
}

// TestTrainEvalExperimentPlot goes through every command on tiny data.
func TestTrainEvalExperimentPlot(t *testing.T) {
	data := fixtures.FashionMNIST(t, 80, 30)
	dir := t.TempDir()
	ck, ex := filepath.Join(dir, "ck.npz"), filepath.Join(dir, "m.npz")
	code, out, errs := g2g("train", "-dataset", "fashion-mnist", "-data", data, "-hidden", "16", "-groups", "4", "-epochs", "1",
		"-batch", "16", "-quiet", "-save", ck, "-export", ex)
	if code != 0 || !strings.Contains(out, "test acc") {
		t.Fatalf("train: status %d\n%s\n%s", code, out, errs)
	}
	acc := regexp.MustCompile(`(\d+\.\d\d) %`).FindStringSubmatch(out)
	if acc == nil {
		t.Fatalf("no accuracy in %q", out)
	}
	// The checkpoint carries its settings (-hidden 16 -groups 4): no model
	// flags needed. Both files give the training run's accuracy.
	for _, args := range [][]string{{"-checkpoint", ck}, {"-exported", ex}} {
		code, out, errs := g2g(append([]string{"eval", "-data", data}, args...)...)
		if code != 0 || !strings.Contains(out, "test accuracy "+acc[1]+" %") || !strings.Contains(out, "on 30 fashion-mnist test samples") {
			t.Fatalf("eval %v: status %d, want accuracy %s %%\n%s\n%s", args, code, acc[1], out, errs)
		}
	}
	if code, _, errs := g2g("eval", "-data", data, "-checkpoint", ck, "-hidden", "32"); code != 1 || !strings.Contains(errs, "does not match the model") {
		t.Fatalf("eval with another -hidden: status %d, %s", code, errs)
	}

	// The cells run in child processes, as with the real binary.
	t.Setenv("G2G_TEST_AS_MAIN", "1")
	self = func() (string, error) { return os.Args[0], nil }
	defer func() { self = nil }()
	outDir := filepath.Join(dir, "grid")
	code, out, errs = g2g("experiment", "-data", data, "-hidden", "16", "-groups", "4", "-epochs", "1", "-batch", "16",
		"-methods", "dense,g2g-mixer", "-densities", "0.5", "-seeds", "1,2", "-out", outDir)
	if code != 0 || !strings.Contains(out, "4 cells run, 0 already done") || !strings.Contains(out, "| fashion-mnist | g2g-mixer | 0.5 | 2 |") {
		t.Fatalf("experiment: status %d\n%s\n%s", code, out, errs)
	}
	if err := os.Remove(filepath.Join(outDir, "acc_vs_density.png")); err != nil {
		t.Fatal(err)
	}
	code, out, errs = g2g("plot", "-out", outDir)
	if code != 0 || !strings.Contains(out, "wrote "+filepath.Join(outDir, "acc_vs_density.png")) {
		t.Fatalf("plot: status %d\n%s\n%s", code, out, errs)
	}
	if _, err := os.Stat(filepath.Join(outDir, "acc_vs_density.png")); err != nil {
		t.Fatal(err)
	}
}
