package main

import (
	"context"
	"encoding/csv"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/g2g-ml/g2g/datasets"
	"github.com/g2g-ml/g2g/examples/internal/experiment"
	"github.com/g2g-ml/g2g/examples/internal/fixtures"
)

// requireSlurmEnv, set to 1 (as .ci/run does), turns a missing Slurm into
// a failure of TestSlurmGrid instead of a skip.
const requireSlurmEnv = "G2G_REQUIRE_SLURM"

// needSlurm skips the test unless a Slurm cluster is at hand — SLURM_CONF
// set, as scripts/slurm.sh sets it, and Slurm's commands on PATH — or
// fails it when requireSlurmEnv says Slurm must be there.
func needSlurm(t *testing.T) {
	t.Helper()
	var missing []string
	if os.Getenv("SLURM_CONF") == "" {
		missing = append(missing, "SLURM_CONF is not set")
	}
	for _, tool := range []string{"sbatch", "squeue", "scancel"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool+" is not on PATH")
		}
	}
	if len(missing) == 0 {
		if out, err := exec.Command("sinfo", "-h", "-o", "%T").CombinedOutput(); err != nil {
			missing = append(missing, fmt.Sprintf("sinfo fails (%v: %s)", err, strings.TrimSpace(string(out))))
		}
	}
	if len(missing) == 0 {
		return
	}
	why := strings.Join(missing, ", ")
	if os.Getenv(requireSlurmEnv) == "1" {
		t.Fatalf("%s=1 but there is no Slurm: %s (start one with bash scripts/slurm.sh start)", requireSlurmEnv, why)
	}
	t.Skipf("no Slurm: %s; run make test-slurm (or bash scripts/slurm.sh run-with go test -run Slurm ./examples/g2g)", why)
}

// arrayTasks returns the state of each task of job array id (squeue).
func arrayTasks(t *testing.T, id string) map[int]string {
	t.Helper()
	out, err := exec.Command("squeue", "-r", "-h", "-t", "all", "-j", id, "-o", "%K %T").CombinedOutput()
	if err != nil {
		t.Fatalf("squeue -j %s: %v\n%s", id, err, out)
	}
	states := map[int]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		k, err := strconv.Atoi(f[0])
		if err != nil {
			t.Fatalf("squeue: %q", line)
		}
		states[k] = f[1]
	}
	return states
}

// finalState reports whether a task in state s runs no more.
func finalState(s string) bool {
	switch s {
	case "PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "SUSPENDED", "REQUEUED", "RESIZING", "SIGNALING", "STAGE_OUT":
		return false
	}
	return true
}

// tableWithoutTimes reads a results.csv, leaving out the columns of
// wall-clock times (their names hold "sec").
func tableWithoutTimes(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil || len(rows) < 2 {
		t.Fatalf("%s: %v, %d rows", path, err, len(rows))
	}
	var keep []int
	for k, name := range rows[0] {
		if !strings.Contains(name, "sec") {
			keep = append(keep, k)
		}
	}
	out := make([][]string, len(rows))
	for i, row := range rows {
		for _, k := range keep {
			out[i] = append(out[i], row[k])
		}
	}
	return out
}

// TestSlurmGrid runs a 4-cell grid (1 epoch on 2,000 training images) on a
// real Slurm as one job array, cancels one task while it trains, submits
// again — only that cell goes — and checks that the final table and every
// cell's numbers are exactly those of the same grid trained locally one
// cell after the other. .ci/run starts the cluster (scripts/slurm.sh) and
// sets G2G_REQUIRE_SLURM=1; elsewhere the test is skipped without Slurm.
func TestSlurmGrid(t *testing.T) {
	needSlurm(t)
	start := time.Now()
	data, err := datasets.FindFashionMNIST("")
	if err != nil {
		t.Logf("no Fashion-MNIST (%v): a generated set instead", err)
		data = fixtures.FashionMNIST(t, 2000, 1000)
	}
	// The Slurm tasks run this test binary as g2g (sbatch passes them the
	// environment, G2G_TEST_AS_MAIN included).
	t.Setenv("G2G_TEST_AS_MAIN", "1")
	self = os.Executable
	defer func() { self = nil }()
	dir := t.TempDir()
	name := fmt.Sprintf("g2g-test-%d", os.Getpid())
	t.Cleanup(func() { exec.Command("scancel", "-n", name).Run() })
	grid := []string{"experiment", "-data", data, "-subset", "2000", "-epochs", "1", "-batch", "64", "-hidden", "32,32", "-groups", "4",
		"-methods", "dense,g2g-index,g2g-index+dst,g2g-mixer", "-densities", "0.5", "-seeds", "1"}
	slurmOut := filepath.Join(dir, "slurm")
	submit := append(append([]string(nil), grid...), "-out", slurmOut, "-executor", "slurm", "-job-name", name)
	code, out, errs := g2g(submit...)
	m := regexp.MustCompile(`4 cells submitted as job array (\d+),`).FindStringSubmatch(out)
	if code != 0 || m == nil {
		t.Fatalf("submission: status %d\n%s\n%s", code, out, errs)
	}
	id := m[1]
	t.Logf("%s: submitted as job array %s", time.Since(start).Round(time.Millisecond), id)
	g, cfg, err := experiment.ParseGrid(append(grid[1:], "-out", slurmOut), os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	done := func(k int) bool {
		_, err := os.Stat(g.Cells()[k].Path(slurmOut, g.Dataset) + ".json")
		return err == nil
	}
	taskOutputs := func() string {
		var b strings.Builder
		paths, _ := filepath.Glob(filepath.Join(slurmOut, "slurm", "*.out"))
		for _, p := range paths {
			raw, _ := os.ReadFile(p)
			fmt.Fprintf(&b, "== %s\n%s", p, raw)
		}
		return b.String()
	}

	// Cancel the first task seen training, while it trains.
	cancelled := -1
	deadline := time.Now().Add(4 * time.Minute)
	var states map[int]string
	for cancelled < 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no task ran within 4 minutes: %v\n%s", states, taskOutputs())
		}
		states = arrayTasks(t, id)
		running, final := -1, 0
		for k, s := range states {
			if s == "RUNNING" && running < 0 && !done(k) {
				running = k
			}
			if finalState(s) {
				final++
			}
		}
		if running >= 0 {
			if out, err := exec.Command("scancel", fmt.Sprintf("%s_%d", id, running)).CombinedOutput(); err != nil {
				t.Fatalf("scancel: %v\n%s", err, out)
			}
			cancelled = running
			break
		}
		if final == 4 {
			t.Fatalf("every task ended before one could be cancelled while it ran: %v", states)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for {
		states = arrayTasks(t, id)
		final := 0
		for _, s := range states {
			if finalState(s) {
				final++
			}
		}
		if len(states) == 4 && final == 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the array did not end within 4 minutes: %v\n%s", states, taskOutputs())
		}
		time.Sleep(250 * time.Millisecond)
	}
	if states[cancelled] == "CANCELLED" && done(cancelled) {
		// The task wrote its result before the cancel reached it (seen
		// in about one CI run in four since cells got faster; the cause is
		// not yet understood). Slurm still reports it CANCELLED, so drop
		// the result: the resubmission below must rerun it either way.
		t.Logf("task %d wrote its result before the cancel took effect; removed it", cancelled)
		if err := os.Remove(g.Cells()[cancelled].Path(slurmOut, g.Dataset) + ".json"); err != nil {
			t.Fatal(err)
		}
	}
	for k, s := range states {
		want := "COMPLETED"
		if k == cancelled {
			want = "CANCELLED"
		}
		if s != want || done(k) != (k != cancelled) {
			t.Fatalf("task %d is %s (result: %v), want %s; states %v\n%s", k, s, done(k), want, states, taskOutputs())
		}
	}
	t.Logf("%s: array %s ended, task %d cancelled", time.Since(start).Round(time.Millisecond), id, cancelled)
	code, out, errs = g2g("experiment", "-status", "-out", slurmOut)
	if code != 0 || !strings.Contains(out, "4 cells: 3 done, 0 running, 0 pending, 1 failed, 0 not started") ||
		!strings.Contains(out, fmt.Sprintf("slurm %s_%d CANCELLED", id, cancelled)) {
		t.Fatalf("status after the cancel: %d\n%s\n%s", code, out, errs)
	}

	// The same command again, waiting: only the cancelled cell is
	// submitted. A process of its own, so that a hang meets a deadline.
	ctx, cancel := context.WithDeadline(context.Background(), deadline.Add(2*time.Minute))
	defer cancel()
	raw, err := exec.CommandContext(ctx, os.Args[0], append(submit, "-wait")...).CombinedOutput()
	m = regexp.MustCompile(`submitted 1 cells as Slurm job array (\d+) \(tasks (\d+)\)`).FindStringSubmatch(string(raw))
	if err != nil || m == nil || m[2] != strconv.Itoa(cancelled) || !strings.Contains(string(raw), "1 cells submitted as job array "+m[1]+", 3 already done") {
		t.Fatalf("resubmission (%v):\n%s\n%s", err, raw, taskOutputs())
	}
	resubmitted := m[1]
	t.Logf("%s: array %s ended", time.Since(start).Round(time.Millisecond), resubmitted)

	// The same grid on this machine, one cell after the other.
	localOut := filepath.Join(dir, "local")
	if code, out, errs := g2g(append(append([]string(nil), grid...), "-out", localOut)...); code != 0 || !strings.Contains(out, "4 cells run") {
		t.Fatalf("local run: %d\n%s\n%s", code, out, errs)
	}
	t.Logf("%s: local grid done", time.Since(start).Round(time.Millisecond))
	if a, b := tableWithoutTimes(t, filepath.Join(slurmOut, "results.csv")), tableWithoutTimes(t, filepath.Join(localOut, "results.csv")); !reflect.DeepEqual(a, b) {
		t.Fatalf("the tables differ:\nslurm %q\nlocal %q", a, b)
	}
	sr, err := experiment.LoadResults(slurmOut)
	if err != nil {
		t.Fatal(err)
	}
	lr, err := experiment.LoadResults(localOut)
	if err != nil {
		t.Fatal(err)
	}
	if len(sr) != 4 || len(lr) != 4 {
		t.Fatalf("%d cells from Slurm, %d local", len(sr), len(lr))
	}
	byKey := map[string]int{}
	for k, c := range g.Cells() {
		byKey[c.Key()] = k
	}
	if sts, _, err := experiment.Status(g, cfg); err != nil || len(sts) != 4 {
		t.Fatalf("status: %v %v", sts, err)
	} else {
		for _, st := range sts {
			if st.State != experiment.StateDone {
				t.Errorf("cell %d is %s: %s", st.Index, st.State, st.Detail)
			}
		}
	}
	for k := range sr {
		s, l := sr[k], lr[k]
		key := s.Method + "/" + strconv.FormatFloat(s.Density, 'g', 6, 64) + "/1"
		job := fmt.Sprintf("slurm %s_%d", id, byKey[key])
		if byKey[key] == cancelled {
			job = fmt.Sprintf("slurm %s_%d", resubmitted, cancelled)
		}
		if s.Run == nil || s.Run.Job != job || s.Run.GOMAXPROCS != 1 {
			t.Errorf("%s: run info %+v, want job %q with GOMAXPROCS 1", key, s.Run, job)
		}
		a, b := s.Result, l.Result
		a.SecPerEpoch, b.SecPerEpoch = 0, 0
		if s.Method != l.Method || s.Density != l.Density || !reflect.DeepEqual(a, b) {
			t.Errorf("%s: Slurm %+v\nlocal %+v", key, a, b)
		}
		for e := range s.History {
			for name, v := range s.History[e] {
				if w := l.History[e][name]; name != "epoch_seconds" && math.Float64bits(v) != math.Float64bits(w) {
					t.Errorf("%s epoch %d: %s %v from Slurm, %v local", key, e, name, v, w)
				}
			}
		}
	}
	t.Logf("Slurm job arrays %s and %s and the local grid in %s", id, resubmitted, time.Since(start).Round(time.Second))
}

// TestExecutorErrorsAreOneLine: bad executor options, no sbatch on PATH and
// an output directory that cannot be one each give one error line before
// anything runs or is submitted.
func TestExecutorErrorsAreOneLine(t *testing.T) {
	data := fixtures.FashionMNIST(t, 40, 10)
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	grid := []string{"experiment", "-data", data, "-hidden", "16", "-groups", "4", "-epochs", "1", "-methods", "dense", "-seeds", "1"}
	t.Setenv("PATH", t.TempDir()) // no sbatch
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-executor", "k8s"}, `g2g experiment: -executor "k8s": want local or slurm`},
		{[]string{"-executor", "slurm", "-out", filepath.Join(dir, "out")}, "g2g experiment: -executor slurm: sbatch is not on PATH"},
		{[]string{"-executor", "slurm", "-mem", "lots"}, `g2g experiment: -mem "lots": want megabytes`},
		{[]string{"-jobs", "2", "-partition", "gpu"}, "g2g experiment: -partition: only with -executor slurm"},
		{[]string{"-out", file}, "g2g experiment: -out " + file + ": not a directory"},
		{[]string{"-out", filepath.Join(file, "out")}, "g2g experiment: -out " + filepath.Join(file, "out") + ": not a directory"},
	} {
		code, _, errs := g2g(append(append([]string(nil), grid...), tc.args...)...)
		if code != 1 || !strings.HasPrefix(errs, tc.want) || strings.Count(errs, "\n") != 1 {
			t.Errorf("%v: status %d, stderr %q, want one line starting %q", tc.args, code, errs, tc.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "out")); !os.IsNotExist(err) {
		t.Fatal("a refused grid created its output directory")
	}
}
