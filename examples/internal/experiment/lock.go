package experiment

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	"github.com/pkg/errors"

	"github.com/g2g-ml/g2g/internal/sparse"
)

// Cells are exclusive: whoever trains a cell holds an exclusive flock(2) on
// its lock file, OUT/runs/.../seed<seed>.lock, for the whole run. The kernel
// releases the lock when the holder's last descriptor closes, so a killed
// runner (SIGKILL, a node crash on a file system with working locks) never
// leaves a cell locked. A second runner that finds the cell locked skips it
// and says who holds it (the file names the holder).
//
// A parent that trains a cell in a child process locks the cell first and
// hands the locked descriptor to the child (lockFDEnv); the child adopts it
// instead of locking again. The lock then lives as long as either process.

// lockFDEnv names the environment variable through which a parent hands a
// cell's locked file to the child that trains the cell: the child's
// descriptor number.
const lockFDEnv = "G2G_CELL_LOCK_FD"

// RunInfo says where, when and how a cell ran, so that a table can be
// traced to its runs. Cell results (CellResult.Run), failure records and
// lock files carry it.
type RunInfo struct {
	// Host is the machine's host name and PID the training process.
	Host string `json:"host"`
	PID  int    `json:"pid"`
	// Command is the training process's command line (os.Args) and Dir
	// its working directory.
	Command []string `json:"command"`
	Dir     string   `json:"dir,omitempty"`
	// Job names the scheduler's job when there is one: "slurm 12_3"
	// (array job 12, task 3), "slurm 12" or "index 3" (a Kubernetes
	// Indexed Job's JOB_COMPLETION_INDEX).
	Job string `json:"job,omitempty"`
	// GOMAXPROCS and BLAS are the process's goroutine parallelism and
	// BLAS implementation.
	GOMAXPROCS int    `json:"gomaxprocs"`
	BLAS       string `json:"blas"`
	// Started is when the cell started and Ended when it ended (zero in a
	// lock file: still running).
	Started time.Time `json:"started"`
	Ended   time.Time `json:"ended,omitzero"`
}

// thisRun returns the RunInfo of the current process, started now.
func thisRun() RunInfo {
	host, _ := os.Hostname()
	dir, _ := os.Getwd()
	return RunInfo{
		Host: host, PID: os.Getpid(), Command: append([]string(nil), os.Args...), Dir: dir,
		Job: schedulerJob(os.Getenv), GOMAXPROCS: runtime.GOMAXPROCS(0), BLAS: sparse.BLASName(),
		Started: time.Now().UTC().Truncate(time.Millisecond),
	}
}

// schedulerJob names the scheduler job the process runs in, from its
// environment (see RunInfo.Job).
func schedulerJob(getenv func(string) string) string {
	if a, t := getenv("SLURM_ARRAY_JOB_ID"), getenv("SLURM_ARRAY_TASK_ID"); a != "" && t != "" {
		return "slurm " + a + "_" + t
	}
	if j := getenv("SLURM_JOB_ID"); j != "" {
		return "slurm " + j
	}
	if i := getenv("JOB_COMPLETION_INDEX"); i != "" {
		return "index " + i
	}
	return ""
}

// String describes the run in a few words: "pid 123 on host (slurm 12_3)
// since 15:04:05".
func (r RunInfo) String() string {
	s := fmt.Sprintf("pid %d on %s", r.PID, r.Host)
	if r.Job != "" {
		s += " (" + r.Job + ")"
	}
	if !r.Started.IsZero() {
		s += " since " + r.Started.Local().Format("2006-01-02 15:04:05")
	}
	return s
}

// cellLock is a held cell lock.
type cellLock struct {
	f    *os.File
	path string
	// unlocked is set when the file system takes no locks: the cell runs,
	// but nothing keeps a second runner off it.
	unlocked bool
}

// errNoLocks is tryLock's error when the file system takes no locks.
var errNoLocks = errors.New("the file system takes no locks")

// warning returns what to tell the user about the lock ("" when it is held).
func (l *cellLock) warning() string {
	if l == nil || !l.unlocked {
		return ""
	}
	return "warning: " + l.path + ": " + errNoLocks.Error() + "; nothing keeps a second runner off this cell"
}

// errLocked is the cause of lockCell's error when another process holds
// the cell; the error's message names the holder.
var errLocked = errors.New("cell is locked")

// lockedError is lockCell's error when another process holds the cell: its
// message names the holder, its cause is errLocked.
type lockedError struct{ holder string }

func (e lockedError) Error() string { return e.holder }

// Cause returns errLocked, for errors.Cause.
func (e lockedError) Cause() error { return errLocked }

// lockPath returns the lock file of the cell whose files start with path.
func lockPath(path string) string { return path + ".lock" }

// lockCell takes the lock of the cell whose files start with path (creating
// its directory and lock file), without waiting, and records info in the
// lock file. If another process holds it, the error's cause is errLocked
// and its message names the holder.
func lockCell(path string, info RunInfo) (*cellLock, error) {
	lp := lockPath(path)
	if err := os.MkdirAll(filepath.Dir(lp), 0o755); err != nil {
		return nil, errors.WithStack(err)
	}
	f, err := os.OpenFile(lp, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, errors.WithStack(err)
	}
	held, err := tryLock(f)
	if err == errNoLocks {
		l := &cellLock{f: f, path: lp, unlocked: true}
		l.record(info)
		return l, nil
	}
	if err != nil {
		f.Close()
		return nil, errors.Wrapf(err, "lock %s", lp)
	}
	if !held {
		f.Close()
		return nil, lockedError{lockHolder(lp)}
	}
	l := &cellLock{f: f, path: lp}
	if err := l.record(info); err != nil {
		l.release()
		return nil, err
	}
	return l, nil
}

// adoptLock takes over the lock a parent process handed down (see
// lockFDEnv) when it is the lock of the cell whose files start with path,
// recording info; it returns nil when no lock of that cell was handed down.
func adoptLock(path string, info RunInfo) *cellLock {
	v := os.Getenv(lockFDEnv)
	if v == "" {
		return nil
	}
	os.Unsetenv(lockFDEnv)
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 3 {
		return nil
	}
	f := os.NewFile(uintptr(fd), "inherited cell lock")
	if f == nil {
		return nil
	}
	fi, err1 := f.Stat()
	pi, err2 := os.Stat(lockPath(path))
	if err1 != nil || err2 != nil || !os.SameFile(fi, pi) {
		f.Close()
		return nil
	}
	// The descriptor shares the parent's open file, which holds the lock:
	// locking it again succeeds at once, and proves the lock is held.
	held, err := tryLock(f)
	if err != nil && err != errNoLocks || err == nil && !held {
		f.Close()
		return nil
	}
	l := &cellLock{f: f, path: lockPath(path), unlocked: err == errNoLocks}
	// Should the description fail to update, the lock is held all the same.
	_ = l.record(info)
	return l
}

// record writes info into the lock file, for lockHolder and the status view.
func (l *cellLock) record(info RunInfo) error {
	raw, err := json.Marshal(info)
	if err != nil {
		return errors.WithStack(err)
	}
	if err := l.f.Truncate(0); err != nil {
		return errors.Wrapf(err, "write %s", l.path)
	}
	if _, err := l.f.WriteAt(append(raw, '\n'), 0); err != nil {
		return errors.Wrapf(err, "write %s", l.path)
	}
	return nil
}

// release drops the lock. The lock file stays: removing it would let a
// runner that opened it before the removal and one that creates a new file
// both hold "the" lock.
func (l *cellLock) release() {
	if l != nil && l.f != nil {
		unlock(l.f)
		l.f.Close()
		l.f = nil
	}
}

// lockHeld reports whether some process holds the lock of the cell whose
// files start with path and, if so, what its lock file says about the
// holder. It creates nothing.
func lockHeld(path string) (bool, *RunInfo) {
	lp := lockPath(path)
	f, err := os.Open(lp)
	if err != nil {
		return false, nil
	}
	defer f.Close()
	free, err := tryLock(f)
	if err != nil {
		return false, nil
	}
	if free {
		unlock(f)
		return false, nil
	}
	return true, readLockInfo(lp)
}

// readLockInfo reads the holder recorded in a lock file (nil if unreadable).
func readLockInfo(lp string) *RunInfo {
	raw, err := os.ReadFile(lp)
	if err != nil {
		return nil
	}
	var info RunInfo
	if json.Unmarshal(raw, &info) != nil {
		return nil
	}
	return &info
}

// lockHolder describes the holder of lock file lp for an error message.
func lockHolder(lp string) string {
	if info := readLockInfo(lp); info != nil {
		return fmt.Sprintf("locked by %s (%s)", info, lp)
	}
	return "locked by another process (" + lp + ")"
}
