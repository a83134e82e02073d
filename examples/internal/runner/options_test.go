package runner

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/g2g-ml/g2g/callbacks"
	"github.com/g2g-ml/g2g/examples/internal/fixtures"
	"github.com/g2g-ml/g2g/graph"
	"github.com/g2g-ml/g2g/graph/g2gnet"
	"github.com/g2g-ml/g2g/layers"
)

// TestTypedFlags checks that every flag naming a library value parses into
// its typed field, and that a bad name fails at parse time with an error
// naming the flag, the value and the library's list of names.
func TestTypedFlags(t *testing.T) {
	o, err := Parse(FashionMNIST(), strings.Fields("-model dense -grouping mixer -sampling blocks -kernel sparse "+
		"-prune random -regrow gradient -anneal linear -scope class -grow-init sign -measure cosine"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := Defaults(FashionMNIST())
	want.Model, want.Grouping, want.Sampling, want.Kernel = g2gnet.Dense, layers.GroupMixer, layers.SampleBlocks, layers.KernelSparse
	want.Prune, want.Regrow, want.Anneal, want.Scope = callbacks.CriterionRandom, callbacks.CriterionGradient, callbacks.AnnealLinear, callbacks.ScopeClass
	want.GrowInit, want.Measure = callbacks.GrowSign, callbacks.MeasureCosine
	if o != want {
		t.Fatalf("parsed %+v\nwant   %+v", o, want)
	}
	// No flags: the defaults, with the kernel left to the layers' choice.
	if o, err := Parse(FashionMNIST(), nil, io.Discard); err != nil || o != Defaults(FashionMNIST()) || o.Kernel != layers.KernelAuto {
		t.Fatalf("no flags: %+v, %v", o, err)
	}
	for flag, list := range map[string]string{
		"model": "(want dense, g2g, dense-matched, er or erk)", "grouping": "(want index, random or mixer)",
		"sampling": "(want bernoulli, exact or blocks)", "kernel": "(want auto, dense, blocks or sparse)",
		"prune": "(want magnitude, random, gradient or hebbian)", "regrow": "(want magnitude, random, gradient or hebbian)",
		"anneal": `(want "constant", "cosine" or "linear")`, "scope": `(want "anywhere" or "class")`,
		"grow-init": "(want zero, init or sign)", "measure": `(want "pearson" or "cosine")`,
	} {
		_, err := Parse(FashionMNIST(), []string{"-" + flag, "bogus"}, io.Discard)
		if err == nil || !strings.HasPrefix(err.Error(), `invalid value "bogus" for flag -`+flag+": ") || !strings.HasSuffix(err.Error(), `"bogus" `+list) {
			t.Errorf("-%s bogus: err = %v", flag, err)
		}
	}
}

// goldenArgs are the settings of testdata/ck-078595c.npz, a checkpoint
// written by the runner at commit 078595c, when these options were
// strings: after two epochs of
//
//	-data <fixtures.FashionMNIST(t, 64, 20)> -save ck-078595c.npz + goldenArgs
const goldenArgs = "-hidden 4,4 -groups 2 -density 0.5 -grouping mixer -sampling bernoulli -kernel sparse -epochs 2 -batch 16 -quiet " +
	"-dst -prune random -regrow hebbian -anneal cosine -scope class -grow-init init -measure cosine -hebbian-n 1"

// TestConfigJSONUnchanged checks that the configuration a checkpoint
// stores is, byte for byte, the one the string-typed options wrote, and
// that the reference defaults are stored as the same strings.
func TestConfigJSONUnchanged(t *testing.T) {
	old, err := graph.ReadCheckpointInfo(filepath.Join("testdata", "ck-078595c.npz"))
	if err != nil {
		t.Fatal(err)
	}
	data := fixtures.FashionMNIST(t, 64, 20)
	ck := filepath.Join(t.TempDir(), "ck.npz")
	var out bytes.Buffer
	if err := Command(FashionMNIST(), strings.Fields("-data "+data+" -save "+ck+" "+goldenArgs), &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	now, err := graph.ReadCheckpointInfo(ck)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(old.Config, now.Config) {
		t.Fatalf("stored config changed:\n078595c: %s\nnow:     %s", old.Config, now.Config)
	}
	if old.Epoch != 2 || now.Epoch != 2 || old.Step != now.Step {
		t.Fatalf("epochs %d/%d, steps %d/%d", old.Epoch, now.Epoch, old.Step, now.Step)
	}

	// The defaults, as 078595c's string constants spelled them.
	js, err := json.Marshal(Defaults(FashionMNIST()))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]interface{}
	if err := json.Unmarshal(js, &m); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		"model": "g2g", "grouping": "index", "sampling": "exact", "kernel": "auto", "prune": "magnitude", "regrow": "random",
		"anneal": "constant", "scope": "anywhere", "grow_init": "zero", "measure": "pearson",
	} {
		if m[k] != v {
			t.Errorf("%s: stored as %#v, want the string %q", k, m[k], v)
		}
	}
	// A configuration without a kernel omits it, as before.
	o := Defaults(FashionMNIST())
	o.Kernel = ""
	if js, _ := json.Marshal(o); strings.Contains(string(js), "kernel") {
		t.Errorf("empty kernel stored: %s", js)
	}
}

// TestResumeFromOldCheckpoint resumes from the checkpoint written at
// 078595c: its stored settings match today's flags, its rewiring state
// restores, and training continues to the requested epoch. Other settings
// are still refused, named as before.
func TestResumeFromOldCheckpoint(t *testing.T) {
	data := fixtures.FashionMNIST(t, 64, 20)
	dir := t.TempDir()
	ck := filepath.Join(dir, "old.npz")
	raw, err := os.ReadFile(filepath.Join("testdata", "ck-078595c.npz"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ck, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	args := "-data " + data + " " + strings.Replace(goldenArgs, "-epochs 2", "-epochs 3", 1)
	saved := filepath.Join(dir, "resumed.npz")
	var out bytes.Buffer
	if err := Command(FashionMNIST(), strings.Fields(args+" -resume "+ck+" -save "+saved), &out, io.Discard); err != nil {
		t.Fatalf("resume from the 078595c checkpoint: %v", err)
	}
	info, err := graph.ReadCheckpointInfo(saved)
	if err != nil {
		t.Fatal(err)
	}
	// 64 samples in batches of 16: 4 steps per epoch.
	if info.Epoch != 3 || info.Step != 12 || len(info.Callbacks) != 1 || info.Callbacks[0] != "dst" {
		t.Fatalf("after resuming: epoch %d step %d callbacks %v", info.Epoch, info.Step, info.Callbacks)
	}
	err = Command(FashionMNIST(), strings.Fields(args+" -anneal linear -resume "+ck), &out, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "anneal cosine (checkpoint) vs linear (now)") {
		t.Fatalf("resume with another -anneal: %v", err)
	}
}
