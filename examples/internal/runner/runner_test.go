package runner

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/g2g-ml/g2g/examples/internal/fixtures"
	"github.com/g2g-ml/g2g/graph"
	"github.com/g2g-ml/g2g/internal/npz"
)

// killAt SIGKILLs its own process at the end of the given step: a crash in
// the middle of an epoch, with no chance to clean up.
type killAt struct {
	graph.BaseCallback
	step int
}

func (k killAt) OnBatchEnd(c *graph.Context) error {
	if c.Step == k.step {
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
	}
	return nil
}

// TestKilledChild is the child process of TestResumeAfterSIGKILL.
func TestKilledChild(t *testing.T) {
	args := os.Getenv("G2G_KILL_CHILD_ARGS")
	if args == "" {
		t.Skip("child process of TestResumeAfterSIGKILL")
	}
	step, _ := strconv.Atoi(os.Getenv("G2G_KILL_AT_STEP"))
	o, err := Parse(FashionMNIST(), strings.Fields(args), os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	var extra []graph.Callback
	if step > 0 {
		extra = append(extra, killAt{step: step})
	}
	if _, err := Run(FashionMNIST(), o, os.Stdout, os.Stderr, extra...); err != nil {
		t.Fatal(err)
	}
}

func child(t *testing.T, args string, killStep int) error {
	cmd := exec.Command(os.Args[0], "-test.run=^TestKilledChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), "G2G_KILL_CHILD_ARGS="+args, "G2G_KILL_AT_STEP="+strconv.Itoa(killStep))
	out, err := cmd.CombinedOutput()
	if err != nil && killStep == 0 {
		t.Fatalf("child %q: %v\n%s", args, err, out)
	}
	return err
}

// tensors returns every parameter and mask array of a checkpoint (not the
// metadata, which holds timings).
func tensors(t *testing.T, path string) map[string][]byte {
	t.Helper()
	arrays, err := npz.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for name, a := range arrays {
		if strings.HasPrefix(name, "param/") || strings.HasPrefix(name, "mask/") || strings.HasPrefix(name, "optim/") {
			out[name] = a.Data
		}
	}
	return out
}

// TestResumeAfterSIGKILL kills a run with DST and Hebbian regrowth in the
// middle of its third epoch, resumes it from its last checkpoint, and checks
// the final weights, masks and optimizer moments are bit-identical to an
// uninterrupted run's.
func TestResumeAfterSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("runs three training processes")
	}
	data := fixtures.FashionMNIST(t, 200, 50)
	dir := t.TempDir()
	common := "-data " + data + " -hidden 48,48 -groups 4 -epochs 4 -batch 32 -lr 0.01 -quiet -dst -prune magnitude -regrow hebbian -hebbian-n 2"
	whole := filepath.Join(dir, "whole.npz")
	child(t, common+" -save "+whole, 0)

	ckdir := filepath.Join(dir, "ck")
	// 200 samples in batches of 32: 7 steps per epoch; step 17 is in the
	// middle of the third epoch (steps 15..21), after epoch-0002.npz.
	logPath := filepath.Join(dir, "m.csv")
	if err := child(t, common+" -checkpoint-every 1 -checkpoint-dir "+ckdir+" -log "+logPath, 17); err == nil {
		t.Fatal("the child was not killed")
	}
	names, _ := filepath.Glob(filepath.Join(ckdir, "*"))
	if len(names) != 2 || filepath.Base(names[1]) != "epoch-0002.npz" {
		t.Fatalf("after the kill the checkpoint dir holds %v, want epoch-0001 and epoch-0002 only (no temporary files)", names)
	}
	resumed := filepath.Join(dir, "resumed.npz")
	child(t, common+" -checkpoint-every 1 -checkpoint-dir "+ckdir+" -resume "+ckdir+" -save "+resumed+" -log "+logPath, 0)
	// The resumed run continues the killed run's log: one record per epoch.
	lines := strings.Split(strings.TrimSpace(readString(t, logPath)), "\n")
	if len(lines) != 5 {
		t.Fatalf("metrics log after resume:\n%s", strings.Join(lines, "\n"))
	}
	for e, line := range lines[1:] {
		if !strings.HasPrefix(line, strconv.Itoa(e)+",") {
			t.Fatalf("metrics log after resume, record %d:\n%s", e, strings.Join(lines, "\n"))
		}
	}

	a, b := tensors(t, whole), tensors(t, resumed)
	if len(a) == 0 || len(a) != len(b) {
		t.Fatalf("%d vs %d arrays", len(a), len(b))
	}
	for name, v := range a {
		if !bytes.Equal(v, b[name]) {
			t.Fatalf("%s differs between the uninterrupted and the resumed run", name)
		}
	}
	// And the rewiring really happened: the masks differ from the initial ones.
	init := filepath.Join(dir, "init.npz")
	child(t, strings.Replace(common, "-epochs 4", "-epochs 1 -dst=false", 1)+" -save "+init, 0)
	c := tensors(t, init)
	if bytes.Equal(c["mask/hidden1/W"], a["mask/hidden1/W"]) {
		t.Fatal("the masks did not change: DST did not rewire")
	}
}

func TestResumeRefusesOtherSettings(t *testing.T) {
	data := fixtures.FashionMNIST(t, 64, 20)
	dir := t.TempDir()
	ck := filepath.Join(dir, "ck.npz")
	var out, errb bytes.Buffer
	if err := Command(FashionMNIST(), strings.Fields("-data "+data+" -hidden 16 -groups 4 -epochs 1 -batch 32 -quiet -save "+ck), &out, &errb); err != nil {
		t.Fatal(err)
	}
	err := Command(FashionMNIST(), strings.Fields("-data "+data+" -hidden 16 -groups 4 -epochs 2 -batch 32 -quiet -lr 0.01 -resume "+ck), &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "lr 0.001 (checkpoint) vs 0.01 (now)") {
		t.Fatalf("resume with another -lr: %v", err)
	}
	err = Command(FashionMNIST(), strings.Fields("-data "+data+" -hidden 16 -groups 4 -epochs 2 -batch 32 -quiet -resume "+filepath.Join(dir, "nope")), &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "-resume") {
		t.Fatalf("resume from a missing file: %v", err)
	}
}

func TestExportedModelPredictsLikeTheRun(t *testing.T) {
	data := fixtures.FashionMNIST(t, 64, 20)
	path := filepath.Join(t.TempDir(), "m.npz")
	o, err := Parse(FashionMNIST(), strings.Fields("-data "+data+" -hidden 32,32 -groups 4 -epochs 2 -batch 16 -quiet -json -export "+path), os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	res, err := Run(FashionMNIST(), o, &out, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var js map[string]interface{}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &js); err != nil || js["dataset"] != "fashion-mnist" {
		t.Fatalf("json line %q: %v", lines[len(lines)-1], err)
	}
	inf, err := graph.LoadInference(path)
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float32, 5*784)
	for i := range x {
		x[i] = float32(i%13) / 13
	}
	want, _ := res.Trained.Predict(x, 5)
	got, err := inf.Predict(x, 2)
	if err != nil {
		t.Fatal(err)
	}
	for k := range want {
		if d := want[k] - got[k]; d > 1e-4 || d < -1e-4 {
			t.Fatalf("logit %d: exported %v, model %v", k, got[k], want[k])
		}
	}
}

func readString(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
