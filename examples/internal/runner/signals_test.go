package runner

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/g2g-ml/g2g/examples/internal/fixtures"
	"github.com/g2g-ml/g2g/graph"
)

// signalAt sends its own process a signal at the end of the given step (a
// user pressing Ctrl-C, a supervisor's SIGTERM), once or twice.
type signalAt struct {
	graph.BaseCallback
	step  int
	sig   syscall.Signal
	twice bool
}

func (s signalAt) OnBatchEnd(c *graph.Context) error {
	if c.Step != s.step {
		return nil
	}
	syscall.Kill(os.Getpid(), s.sig)
	time.Sleep(300 * time.Millisecond) // let the handler see it
	if s.twice {
		syscall.Kill(os.Getpid(), s.sig)
		time.Sleep(10 * time.Second) // killed before this ends
	}
	return nil
}

// TestSignalChild is the child process of TestSignals: the command of
// Main, with a signal sent at a given step.
func TestSignalChild(t *testing.T) {
	args := os.Getenv("G2G_SIGNAL_CHILD_ARGS")
	if args == "" {
		t.Skip("child process of TestSignals")
	}
	step, _ := strconv.Atoi(os.Getenv("G2G_SIGNAL_AT_STEP"))
	sig, _ := strconv.Atoi(os.Getenv("G2G_SIGNAL"))
	var extra []graph.Callback
	if step > 0 {
		extra = append(extra, signalAt{step: step, sig: syscall.Signal(sig), twice: os.Getenv("G2G_SIGNAL_TWICE") != ""})
	}
	os.Exit(mainStatus(FashionMNIST(), strings.Fields(args), os.Stdout, os.Stderr, extra...))
}

// signalChild runs TestSignalChild and returns its wait status, stderr and
// how long it ran.
func signalChild(t *testing.T, args string, step int, sig syscall.Signal, twice bool) (syscall.WaitStatus, string, time.Duration) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestSignalChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), "G2G_SIGNAL_CHILD_ARGS="+args, "G2G_SIGNAL_AT_STEP="+strconv.Itoa(step), "G2G_SIGNAL="+strconv.Itoa(int(sig)))
	if twice {
		cmd.Env = append(cmd.Env, "G2G_SIGNAL_TWICE=1")
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatal(err)
	}
	return cmd.ProcessState.Sys().(syscall.WaitStatus), stderr.String(), time.Since(start)
}

// Issue 16, item 12: SIGINT or SIGTERM stops training after the current
// batch, writes the state reached into the checkpoint directory and exits
// 130 or 143; a second signal kills at once.
func TestSignals(t *testing.T) {
	if testing.Short() {
		t.Skip("runs training processes")
	}
	data := fixtures.FashionMNIST(t, 200, 50)
	// 200 samples in batches of 32: 7 steps per epoch, 28 in all; step 10
	// is in the second epoch.
	common := "-data " + data + " -hidden 16,16 -epochs 4 -batch 32 -quiet -checkpoint-every 1"
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		ck := filepath.Join(t.TempDir(), "ck")
		ws, stderr, _ := signalChild(t, common+" -checkpoint-dir "+ck, 10, sig, false)
		if ws.Signaled() || ws.ExitStatus() != 128+int(sig) || !strings.Contains(stderr, "stopping after the current batch") ||
			!strings.Contains(stderr, "interrupted") || !strings.Contains(stderr, "interrupted.npz") {
			t.Fatalf("%v: wait status %v (exit %d):\n%s", sig, ws, ws.ExitStatus(), stderr)
		}
		t.Logf("%v:\n%s", sig, stderr)
		info, err := graph.ReadCheckpointInfo(filepath.Join(ck, "interrupted.npz"))
		if err != nil {
			t.Fatal(err)
		}
		if info.Epoch != 1 || info.Step < 10 || info.Step >= 14 || info.Optimizer == nil || info.Optimizer.Step != info.Step {
			t.Fatalf("%v: the interrupted state has %d epochs and %d steps (optimizer %+v), want 1 epoch and 10 steps or a few more",
				sig, info.Epoch, info.Step, info.Optimizer)
		}
		if _, err := os.Stat(filepath.Join(ck, "epoch-0001.npz")); err != nil {
			t.Fatal(err)
		}
		// The state resumes.
		if ws, stderr, _ := signalChild(t, common+" -checkpoint-dir "+ck+" -resume "+filepath.Join(ck, "interrupted.npz"), 0, 0, false); ws.ExitStatus() != 0 {
			t.Fatalf("resume from the interrupted state: exit %d:\n%s", ws.ExitStatus(), stderr)
		}
	}
	// Twice: killed at once, nothing written.
	ck := filepath.Join(t.TempDir(), "ck")
	ws, stderr, took := signalChild(t, common+" -checkpoint-dir "+ck, 10, syscall.SIGINT, true)
	if !ws.Signaled() || ws.Signal() != syscall.SIGINT || took > 8*time.Second {
		t.Fatalf("second SIGINT: wait status %v after %v:\n%s", ws, took, stderr)
	}
	if _, err := os.Stat(filepath.Join(ck, "interrupted.npz")); err == nil {
		t.Fatal("a process killed by the second signal wrote its state")
	}
}
