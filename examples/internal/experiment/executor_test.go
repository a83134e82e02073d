package experiment

import (
	"bytes"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pkg/errors"

	"github.com/g2g-ml/g2g/examples/internal/fixtures"
)

func TestParseGridRefusesBadRunFlags(t *testing.T) {
	for _, tc := range []struct {
		args, want string
	}{
		{"-executor k8s", `-executor "k8s": want local or slurm`},
		{"-partition debug", "-partition: only with -executor slurm"},
		{"-executor local -mem 4G", "-mem: only with -executor slurm"},
		{"-dry-run", "-dry-run: only with -executor slurm"},
		{"-executor slurm -time-budget 1m", "-time-budget: only with -executor local"},
		{"-jobs -1", "-jobs -1: want 1 or more"},
		{"-executor slurm -mem 4GB", `-mem "4GB": want megabytes`},
		{"-executor slurm -time-limit soon", `-time-limit "soon": want a duration`},
		{"-executor slurm -time-limit -5m", "-time-limit -5m: want a positive duration"},
		{"-executor slurm -cpus-per-task 0", "-cpus-per-task 0: want 1 or more"},
		{"-executor slurm -partition a'b", "-partition \"a'b\": no spaces"},
		{"-executor slurm -sbatch-args --array=0-3", "-sbatch-args: --array is set by g2g experiment itself"},
		{"-executor slurm -sbatch-args -o/tmp/x", "-sbatch-args: -o is set by g2g experiment itself"},
		{"-executor slurm -sbatch-args qos", `-sbatch-args: "qos" is not an option`},
		{"-executor slurm -dry-run -wait", "-dry-run and -wait"},
		{"-cell-index 99", "-cell-index 99: the grid has 57 cells (0 to 56)"},
		{"-cell-index -2", "-cell-index -2: want a cell's index"},
		{"-cell dense/1/1 -cell-index 0", "-cell and -cell-index: give one of them"},
		{"-status -cell-index 0", "-status: lists the cells and runs nothing"},
	} {
		_, _, err := ParseGrid(strings.Fields("-hidden 16 -groups 8 "+tc.args), &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got error %v, want one containing %q", tc.args, err, tc.want)
		}
	}
}

func TestParseGridRunFlags(t *testing.T) {
	g, cfg, err := ParseGrid(append(strings.Fields("-hidden 16 -groups 8 -methods dense,g2g-index -densities 0.25,0.5 -seeds 1,2 "+
		"-out x -executor slurm -jobs 4 -partition gpu -time-limit 2h -cpus-per-task 2 -mem 4G -job-name grid"),
		"-sbatch-args", "--qos=low  --account=lab"), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	want := SlurmOptions{Partition: "gpu", TimeLimit: "2h", CPUs: 2, Mem: "4G", JobName: "grid", Args: []string{"--qos=low", "--account=lab"}}
	if cfg.Executor != ExecutorSlurm || cfg.Jobs != 4 || !reflect.DeepEqual(cfg.Slurm, want) {
		t.Fatalf("parsed %+v", cfg)
	}
	// The grid's flags in -name=value form, without those of how it runs:
	// what a child process or an array task gets.
	wantArgs := []string{"-densities=0.25,0.5", "-groups=8", "-hidden=16", "-methods=dense,g2g-index", "-out=x", "-seeds=1,2"}
	if !reflect.DeepEqual(cfg.GridArgs, wantArgs) {
		t.Fatalf("grid args %q, want %q", cfg.GridArgs, wantArgs)
	}
	g2, cfg2, err := ParseGrid(append(wantArgs, "-cell-index", "4"), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg2.Cell != "g2g-index/0.25/2" || !reflect.DeepEqual(g2.Cells(), g.Cells()) || g.Cells()[4].Key() != cfg2.Cell {
		t.Fatalf("-cell-index 4 is %q; the grid's cells are %v", cfg2.Cell, g.Cells())
	}
}

func TestSlurmTimeArraySpecCoreShares(t *testing.T) {
	for in, want := range map[string]string{
		"2h": "0-02:00:00", "90m": "0-01:30:00", "36h30m": "1-12:30:00", "1.5s": "0-00:00:02",
		"60": "60", "1-12:00:00": "1-12:00:00", "10:00": "10:00", "2-6": "2-6", "UNLIMITED": "UNLIMITED",
	} {
		if got, err := slurmTime(in); err != nil || got != want {
			t.Errorf("slurmTime(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, tc := range []struct {
		idx      []int
		throttle int
		want     string
	}{
		{[]int{0, 1, 2, 3}, 0, "0-3"},
		{[]int{2}, 0, "2"},
		{[]int{0, 1, 3, 5, 6, 7, 10}, 2, "0-1,3,5-7,10%2"},
	} {
		if got := arraySpec(tc.idx, tc.throttle); got != tc.want {
			t.Errorf("arraySpec(%v, %d) = %q, want %q", tc.idx, tc.throttle, got, tc.want)
		}
	}
	for _, tc := range []struct {
		cores, jobs int
		want        []int
	}{
		{2, 1, []int{2}}, {2, 2, []int{1, 1}}, {8, 3, []int{3, 3, 2}}, {2, 3, []int{1, 1, 1}},
	} {
		if got := coreShares(tc.cores, tc.jobs); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("coreShares(%d, %d) = %v, want %v", tc.cores, tc.jobs, got, tc.want)
		}
	}
	if got := shellJoin([]string{"/bin/g2g", "-data=/a b/c", "-x=it's", "-m=dense,g2g-index+dst"}); got != `/bin/g2g '-data=/a b/c' '-x=it'\''s' -m=dense,g2g-index+dst` {
		t.Errorf("shellJoin: %s", got)
	}
}

// sameNumbers fails unless a and b hold the same cells with the same
// numbers: accuracy, loss, counts and the per-epoch history, timings aside.
func sameNumbers(t *testing.T, a, b []*CellResult) {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("%d vs %d cells", len(a), len(b))
	}
	for k := range a {
		x, y := a[k], b[k]
		if x.Method != y.Method || x.Density != y.Density || x.Seed != y.Seed {
			t.Fatalf("cell %d: %s/%v/%d vs %s/%v/%d", k, x.Method, x.Density, x.Seed, y.Method, y.Density, y.Seed)
		}
		rx, ry := x.Result, y.Result
		rx.SecPerEpoch, ry.SecPerEpoch, rx.Source, ry.Source = 0, 0, "", ""
		if !reflect.DeepEqual(rx, ry) {
			t.Errorf("%s d=%v seed %d: results differ:\n%+v\n%+v", x.Method, x.Density, x.Seed, rx, ry)
		}
		if len(x.History) != len(y.History) {
			t.Fatalf("%s: %d vs %d epochs", x.Method, len(x.History), len(y.History))
		}
		for e := range x.History {
			for key, v := range x.History[e] {
				if key == "epoch_seconds" {
					continue
				}
				if w, ok := y.History[e][key]; !ok || math.Float64bits(v) != math.Float64bits(w) {
					t.Errorf("%s d=%v seed %d epoch %d: %s %v vs %v", x.Method, x.Density, x.Seed, e, key, v, w)
				}
			}
		}
	}
}

// TestJobsRunCellsAtOnceWithTheSameNumbers trains a 4-cell grid one cell
// after the other and two at a time, each cell in a child process: the
// numbers are the same, the concurrent cells had their share of the cores,
// and every result records where and how it ran.
func TestJobsRunCellsAtOnceWithTheSameNumbers(t *testing.T) {
	data := fixtures.FashionMNIST(t, 120, 40)
	var results [][]*CellResult
	for _, jobs := range []int{1, 2} {
		out := filepath.Join(t.TempDir(), "out")
		args := append(tinyArgs(data), "-methods", "dense,g2g-index,g2g-index+dst,g2g-mixer", "-densities", "0.5", "-seeds", "1",
			"-out", out, "-jobs", strconv.Itoa(jobs))
		g, cfg, err := ParseGrid(args, &bytes.Buffer{})
		if err != nil {
			t.Fatal(err)
		}
		cfg.Subprocess = asChildren(t, cfg)
		var log bytes.Buffer
		cfg.Log = &log
		sum, err := Run(g, cfg)
		if err != nil {
			t.Fatalf("-jobs %d: %v\n%s", jobs, err, log.String())
		}
		if len(sum.Ran) != 4 {
			t.Fatalf("-jobs %d: %d cells ran\n%s", jobs, len(sum.Ran), log.String())
		}
		if jobs == 2 && (!strings.Contains(log.String(), "2 cells at once") || strings.Count(log.String(), ": started (") != 4) {
			t.Errorf("-jobs 2 log:\n%s", log.String())
		}
		rs, err := LoadResults(out)
		if err != nil {
			t.Fatal(err)
		}
		host, _ := os.Hostname()
		for _, r := range rs {
			ri := r.Run
			if ri == nil || ri.Host != host || ri.PID == os.Getpid() || ri.Ended.Before(ri.Started) || ri.BLAS == "" {
				t.Fatalf("-jobs %d: run info %+v", jobs, ri)
			}
			key := r.Method + "/" + formatDensity(r.Density) + "/1"
			if n := len(ri.Command); n < 2 || ri.Command[0] != os.Args[0] || ri.Command[n-2] != "-cell" || ri.Command[n-1] != key {
				t.Errorf("-jobs %d: command %q does not train cell %s", jobs, ri.Command, key)
			}
			wantProcs := runtime.NumCPU()
			if jobs == 2 {
				wantProcs = coreShares(runtime.NumCPU(), 2)[0]
			}
			if os.Getenv("GOMAXPROCS") == "" && ri.GOMAXPROCS != wantProcs && !(jobs == 2 && ri.GOMAXPROCS == coreShares(runtime.NumCPU(), 2)[1]) {
				t.Errorf("-jobs %d: a cell ran with GOMAXPROCS %d, want %d", jobs, ri.GOMAXPROCS, wantProcs)
			}
		}
		results = append(results, rs)
	}
	sameNumbers(t, results[0], results[1])
}

// TestLockedCellIsSkipped holds one cell's lock as another runner would:
// Run and a lone task skip that cell and say who holds it, the status view
// shows it running, and once the lock is free the cell trains.
func TestLockedCellIsSkipped(t *testing.T) {
	data := fixtures.FashionMNIST(t, 120, 40)
	out := filepath.Join(t.TempDir(), "out")
	args := append(tinyArgs(data), "-methods", "dense,g2g-index", "-densities", "0.5", "-seeds", "1", "-out", out)
	g, cfg, err := ParseGrid(args, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	cells := g.Cells()
	path := cells[1].Path(out, g.Dataset)
	other := RunInfo{Host: "node7", PID: 4242, Job: "slurm 3_1", Started: time.Now()}
	lk, err := lockCell(path, other)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lockCell(path, RunInfo{}); errors.Cause(err) != errLocked || !strings.HasPrefix(err.Error(), "locked by pid 4242 on node7 (slurm 3_1) since ") {
		t.Fatalf("second lock: %v", err)
	}
	if held, info := lockHeld(path); !held || info == nil || info.PID != 4242 {
		t.Fatalf("lockHeld: %v %+v", held, info)
	}
	var log bytes.Buffer
	cfg.Log = &log
	sum, err := Run(g, cfg)
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	if len(sum.Ran) != 1 || len(sum.Locked) != 1 || sum.Locked[0].Key() != cells[1].Key() ||
		!strings.Contains(log.String(), "[2/2] g2g-index d=0.5 seed 1: locked by pid 4242 on node7 (slurm 3_1)") ||
		!strings.Contains(log.String(), "another runner trains it, skipped") {
		t.Fatalf("ran %v, locked %v\n%s", sum.Ran, sum.Locked, log.String())
	}
	var st bytes.Buffer
	if err := WriteStatus(&st, g, cfg); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(st.String(), "1 done, 1 running") || !strings.Contains(st.String(), "running      g2g-index d=0.5 seed 1  pid 4242 on node7 (slurm 3_1)") {
		t.Fatalf("status:\n%s", st.String())
	}
	// A lone task (-cell) skips the cell as well, and says so.
	cellCfg := cfg
	cellCfg.Cell = cells[1].Key()
	log.Reset()
	sum, err = Run(g, cellCfg)
	if err != nil || len(sum.Locked) != 1 || !strings.Contains(log.String(), "locked by pid 4242") {
		t.Fatalf("lone task: %v %+v\n%s", err, sum, log.String())
	}
	lk.release()
	if held, _ := lockHeld(path); held {
		t.Fatal("the lock is still held after release")
	}
	log.Reset()
	sum, err = Run(g, cfg)
	if err != nil || len(sum.Ran) != 1 || sum.Ran[0].Key() != cells[1].Key() || len(sum.Done) != 1 {
		t.Fatalf("after release: %v %+v\n%s", err, sum, log.String())
	}
	if r, err := readCell(path + ".json"); err != nil || r.Run == nil || r.Run.PID != os.Getpid() {
		t.Fatalf("result of the freed cell: %v %+v", err, r)
	}
}

// TestDataFailureLeavesTheDirectoryFree: a grid that fails on its data
// (a subset larger than the training set) does not claim the output
// directory for its settings, so the corrected grid runs there.
func TestDataFailureLeavesTheDirectoryFree(t *testing.T) {
	data := fixtures.FashionMNIST(t, 80, 20)
	for _, children := range []bool{false, true} {
		out := filepath.Join(t.TempDir(), "out")
		grid := func(subset string) (Grid, RunConfig) {
			args := strings.Fields("-data " + data + " -hidden 16 -groups 4 -epochs 1 -batch 32 -methods dense -seeds 1 -out " + out + " -subset " + subset)
			g, cfg, err := ParseGrid(args, &bytes.Buffer{})
			if err != nil {
				t.Fatal(err)
			}
			if children {
				cfg.Subprocess = asChildren(t, cfg)
			}
			return g, cfg
		}
		g, cfg := grid("500")
		if _, err := Run(g, cfg); err == nil || !strings.Contains(err.Error(), "subset 500: the training set has only 80 samples") {
			t.Fatalf("children %v: subset larger than the set: %v", children, err)
		}
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Fatalf("children %v: the failed grid left %s (%v)", children, out, err)
		}
		g, cfg = grid("60")
		if sum, err := Run(g, cfg); err != nil || len(sum.Ran) != 1 {
			t.Fatalf("children %v: the corrected grid: %v", children, err)
		}
	}
}

// alive reports whether a thread of process pid exists and is not a
// zombie. (A killed process's leader can be a zombie while its other
// threads still exit, holding its files.)
func alive(pid int) bool {
	tasks, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/task")
	if err != nil {
		return false
	}
	for _, task := range tasks {
		raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/task/" + task.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(raw)
		if k := strings.LastIndexByte(s, ')'); k >= 0 && k+2 < len(s) && s[k+2] != 'Z' && s[k+2] != 'X' {
			return true
		}
	}
	return false
}

// TestKilledExperimentTakesItsChildAlong kills a running g2g experiment
// (this test binary standing in for it) with SIGKILL, then another with
// SIGTERM: the child training the cell must not outlive it, and the cell's
// lock must be free for the next runner.
func TestKilledExperimentTakesItsChildAlong(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("parent-death signals are Linux's")
	}
	data := fixtures.FashionMNIST(t, 2000, 20)
	t.Setenv(asMainEnv, "1")
	for _, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGTERM} {
		out := filepath.Join(t.TempDir(), "out")
		args := strings.Fields("-data " + data + " -hidden 64,64 -groups 4 -epochs 1000 -batch 16 -methods dense -seeds 1 -out " + out)
		parent := exec.Command(os.Args[0], args...)
		var stderr bytes.Buffer
		parent.Stderr = &stderr
		if err := parent.Start(); err != nil {
			t.Fatal(err)
		}
		// The child records itself in the cell's lock file once it trains.
		path := filepath.Join(out, "runs/fashion-mnist/dense/d1/seed1")
		child := 0
		for deadline := time.Now().Add(2 * time.Minute); child == 0 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if info := readLockInfo(lockPath(path)); info != nil && info.PID != parent.Process.Pid {
				child = info.PID
			}
		}
		if child == 0 {
			parent.Process.Kill()
			parent.Wait()
			t.Fatalf("%v: no child started\n%s", sig, stderr.String())
		}
		t.Cleanup(func() {
			if alive(child) {
				syscall.Kill(child, syscall.SIGKILL)
			}
		})
		if err := parent.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
		if err := parent.Wait(); err == nil {
			t.Fatalf("%v: the experiment exited 0", sig)
		}
		deadline := time.Now().Add(10 * time.Second)
		for alive(child) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if alive(child) {
			t.Fatalf("%v: child %d outlived its parent", sig, child)
		}
		// The kernel releases the lock as the last of the child's threads
		// exits.
		held, info := lockHeld(path)
		for ; held && time.Now().Before(deadline); held, info = lockHeld(path) {
			time.Sleep(20 * time.Millisecond)
		}
		if held {
			t.Fatalf("%v: the cell is still locked by %v", sig, info)
		}
		if sig == syscall.SIGTERM {
			if !strings.Contains(stderr.String(), "interrupted (terminated)") {
				t.Errorf("SIGTERM: stderr lacks the interruption:\n%s", stderr.String())
			}
			if f := readFailure(path); f == nil || !strings.Contains(f.Error, "child process stopped (terminated)") || f.Run.PID != child {
				t.Errorf("SIGTERM: failure record %+v", f)
			}
		}
		g, cfg, err := ParseGrid(args, &bytes.Buffer{})
		if err != nil {
			t.Fatal(err)
		}
		sts, _, err := Status(g, cfg)
		if err != nil || len(sts) != 1 || sts[0].State != StateFailed {
			t.Errorf("%v: status %+v, %v", sig, sts, err)
		}
	}
}
