package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/g2g-ml/g2g/examples/internal/fixtures"
)

func TestJSONContractOnTinyData(t *testing.T) {
	dir := fixtures.FashionMNIST(t, 100, 30)
	var out, errOut bytes.Buffer
	err := run([]string{"-data", dir, "-epochs", "2", "-batch", "32", "-json", "-lr", "0.01", "-log", filepath.Join(t.TempDir(), "m.csv")}, &out, &errOut)
	if err != nil {
		t.Fatalf("run: %v\nstderr:\n%s", err, errOut.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var res map[string]interface{}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil {
		t.Fatalf("last line %q is not JSON: %v", lines[len(lines)-1], err)
	}
	for _, k := range []string{"test_acc", "params", "active_params", "density", "sec_per_epoch", "epochs"} {
		if _, ok := res[k]; !ok {
			t.Errorf("JSON lacks %q: %v", k, res)
		}
	}
	if res["epochs"].(float64) != 2 || res["density"].(float64) != 0.25 {
		t.Fatalf("epochs %v density %v", res["epochs"], res["density"])
	}
	// 784·1024 + 1024·1024·2 weights + 3·1024 biases + dense 1024·10 + 10.
	if got, want := res["params"].(float64), float64(784*1024+2*1024*1024+3*1024+10250); got != want {
		t.Fatalf("params %v, want %v", got, want)
	}
	if res["test_acc"].(float64) < 0.5 {
		t.Fatalf("test accuracy %v on a trivially learnable set", res["test_acc"])
	}
	if !strings.Contains(out.String(), "test acc") {
		t.Fatalf("no results table in stdout:\n%s", out.String())
	}
}

func TestRewiringFlags(t *testing.T) {
	dir := fixtures.FashionMNIST(t, 100, 30)
	for _, c := range []struct {
		flags   []string
		summary string // prefix of every rewiring line on stderr
	}{
		{[]string{"-dst", "-zeta", "0.2", "-prune", "magnitude", "-regrow", "random"}, "dst epoch "},
		{[]string{"-dst", "-regrow", "hebbian", "-hebbian-n", "1", "-scope", "class"}, "dst epoch "},
		{[]string{"-dst", "-regrow", "gradient", "-anneal", "cosine", "-grow-init", "init"}, "dst epoch "},
		{[]string{"-hebbian", "-zeta", "0.05", "-hebbian-n", "2", "-measure", "cosine"}, "hebbian epoch "},
	} {
		var out, errOut bytes.Buffer
		logPath := filepath.Join(t.TempDir(), "m.csv")
		args := append([]string{"-data", dir, "-epochs", "2", "-batch", "50", "-json", "-log", logPath}, c.flags...)
		if err := run(args, &out, &errOut); err != nil {
			t.Fatalf("%v: %v\nstderr:\n%s", c.flags, err, errOut.String())
		}
		var summaries []string
		for _, line := range strings.Split(errOut.String(), "\n") {
			if strings.HasPrefix(line, c.summary) {
				summaries = append(summaries, line)
			}
		}
		// One update, after epoch 1 of 2: none after the last.
		if len(summaries) != 1 || !strings.Contains(summaries[0], " hidden1 -") || !strings.Contains(summaries[0], "| hidden3 -") {
			t.Errorf("%v: rewiring lines %q\nstderr:\n%s", c.flags, summaries, errOut.String())
		}
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		var res map[string]interface{}
		if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil {
			t.Fatal(err)
		}
		if res["density"].(float64) != 0.25 || !strings.HasPrefix(res["rewiring"].(string), strings.TrimPrefix(c.flags[0], "-")) {
			t.Errorf("%v: density %v rewiring %v", c.flags, res["density"], res["rewiring"])
		}
		csv, err := os.ReadFile(logPath)
		if err != nil {
			t.Fatal(err)
		}
		rows := strings.Split(strings.TrimSpace(string(csv)), "\n")
		header := strings.Split(rows[0], ",")
		for _, k := range []string{"hidden1/pruned", "hidden2/regrown", "hidden3/churn", "hidden1/density", "hidden3/intra_fraction"} {
			if !slices.Contains(header, k) {
				t.Errorf("%v: CSV header lacks %q", c.flags, k)
			}
		}
		col := slices.Index(header, "hidden1/pruned")
		if len(rows) != 3 || col < 0 || strings.Split(rows[1], ",")[col] == "0" || strings.Split(rows[2], ",")[col] != "0" {
			t.Errorf("%v: CSV:\n%s", c.flags, csv)
		}
	}
}

func TestBadFlags(t *testing.T) {
	dir := fixtures.FashionMNIST(t, 20, 10)
	cases := []fixtures.FlagCase{
		{Args: []string{"-density", "0"}, Want: "-density 0: want a value in (0, 1]"},
		{Args: []string{"-density", "1.5"}, Want: "-density 1.5"},
		{Args: []string{"-groups", "2000"}, Want: "Groups (2000) larger than the layer width"},
		{Args: []string{"-groups", "0"}, Want: "-groups 0"},
		{Args: []string{"-model", "cnn"}, Want: `invalid value "cnn" for flag -model: unknown model "cnn" (want dense, g2g, dense-matched, er or erk)`},
		{Args: []string{"-grouping", "blocks"}, Want: "unknown grouping"},
		{Args: []string{"-data", filepath.Join(dir, "missing")}, Want: "missing"},
		{Args: []string{"-epochs", "-1"}, Want: "-epochs -1"},
		{Args: []string{"-density", "0.05"}, Want: "below the intra-ensemble share"},
		{Args: []string{"-dst", "-zeta", "0"}, Want: "-zeta 0: want a value in (0, 1)"},
		{Args: []string{"-hebbian", "-zeta", "1"}, Want: "-zeta 1: want a value in (0, 1)"},
		{Args: []string{"-dst", "-hebbian"}, Want: "-dst and -hebbian both rewire"},
		{Args: []string{"-dst", "-model", "dense"}, Want: `-dst and -hebbian need a sparse -model (g2g, er or erk), got "dense"`},
		{Args: []string{"-dst", "-prune", "gradient"}, Want: "gradient is a regrowth criterion only"},
		{Args: []string{"-dst", "-regrow", "best"}, Want: `invalid value "best" for flag -regrow: unknown criterion "best" (want magnitude, random, gradient or hebbian)`},
		{Args: []string{"-prune", "best"}, Want: `invalid value "best" for flag -prune: unknown criterion "best"`},
		{Args: []string{"-sampling", "poisson"}, Want: `invalid value "poisson" for flag -sampling: unknown sampling "poisson" (want bernoulli, exact or blocks)`},
		{Args: []string{"-grouping", ""}, Want: `invalid value "" for flag -grouping: unknown grouping ""`},
		{Args: []string{"-dst", "-anneal", "exp"}, Want: `unknown Anneal "exp"`},
		{Args: []string{"-dst", "-scope", "all"}, Want: `unknown Scope "all"`},
		{Args: []string{"-dst", "-grow-init", "sign"}, Want: `unknown GrowInit "sign"`},
		{Args: []string{"-hebbian", "-measure", "mi"}, Want: `unknown Measure "mi"`},
		{Args: []string{"-hebbian-n", "0"}, Want: "-hebbian-n 0: want at least 1"},
		{Args: []string{"-kernel", "gpu"}, Want: `invalid value "gpu" for flag -kernel: unknown kernel "gpu" (want auto, dense, blocks or sparse)`},
		{Args: []string{"-lr", "+Inf"}, Want: "-lr +Inf: optim: Adam: LR must be > 0 and finite, got +Inf"},
	}
	fixtures.CheckFlagErrors(t, run, []string{"-data", dir, "-epochs", "1"}, cases)
}
