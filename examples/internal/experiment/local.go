package experiment

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pkg/errors"
)

// localRun is the local executor at work: cells taken in grid order by
// RunConfig.Jobs workers.
type localRun struct {
	p  *plan
	mu sync.Mutex // guards everything below, p.sum and writes to p.log
	// next is the position in p.todo of the next cell to take.
	next int
	// err is the first cell's error; no cell starts after it.
	err error
	// signal is the first SIGINT or SIGTERM received (nil: none), signals
	// how many arrived.
	signal  os.Signal
	signals int
	// running are the child processes training cells, by cell index.
	running map[int]*exec.Cmd
}

// runLocal trains p's unfinished cells on this machine, RunConfig.Jobs at
// once. Each concurrent cell's child process gets its share of the cores
// (GOMAXPROCS and OPENBLAS_NUM_THREADS, see threadEnv); the numbers do not
// depend on it (docs/design.md §7.6). Children die with this process
// (childAttr), and SIGINT or SIGTERM sent to it is forwarded to them
// (SIGKILL from the second signal on): the grid stops, the cells that
// were running are recorded as failed, and the error says so. Every cell
// is locked while it trains; a cell locked by another runner is skipped.
func runLocal(p *plan) error {
	if len(p.todo) == 0 {
		return nil
	}
	jobs := min(max(1, p.cfg.Jobs), len(p.todo))
	shares := coreShares(localCores(), jobs)
	l := &localRun{p: p, running: map[int]*exec.Cmd{}}
	if jobs > 1 {
		fmt.Fprintf(p.log, "%d cells at once on %d cores: cores per cell %v\n", jobs, localCores(), shares)
	}
	if p.cfg.Subprocess != nil {
		defer l.forwardSignals()()
	}
	var wg sync.WaitGroup
	for _, share := range shares {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i, ok := l.take()
				if !ok {
					return
				}
				l.runOne(i, share, jobs > 1)
			}
		}()
	}
	wg.Wait()
	if ns := p.sum.NotStarted; len(ns) > 0 {
		fmt.Fprintf(p.log, "time budget %v spent: %d of %d cells not started:", p.cfg.TimeBudget, len(ns), len(p.cells))
		for _, c := range ns {
			fmt.Fprintf(p.log, " %s;", c)
		}
		fmt.Fprintln(p.log)
	}
	if l.signal != nil {
		return errors.Errorf("interrupted (%v): the running cells were stopped and no new cell started; run the same command again to resume", l.signal)
	}
	return l.err
}

// take returns the index of the next cell to train, if any: none after a
// failure or a signal, and cells past the time budget go to NotStarted.
func (l *localRun) take() (int, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	p := l.p
	for l.next < len(p.todo) && l.err == nil && l.signal == nil {
		i := p.todo[l.next]
		l.next++
		if p.cfg.TimeBudget > 0 && time.Since(p.start) > p.cfg.TimeBudget {
			p.sum.NotStarted = append(p.sum.NotStarted, p.cells[i])
			continue
		}
		return i, true
	}
	return 0, false
}

// logf writes a line to the run's log.
func (l *localRun) logf(format string, args ...interface{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.p.log, format, args...)
}

// runOne trains cell i with cores cores (parallel: alongside others).
func (l *localRun) runOne(i, cores int, parallel bool) {
	p := l.p
	c, path := p.cells[i], p.path(i)
	info := thisRun()
	lk, err := lockCell(path, info)
	if errors.Cause(err) == errLocked {
		l.logf("%s: %v: another runner trains it, skipped\n", p.tag(i), err)
		l.mu.Lock()
		p.sum.Locked = append(p.sum.Locked, c)
		l.mu.Unlock()
		return
	} else if err != nil {
		l.fail(errors.Wrap(err, c.String()))
		return
	}
	defer lk.release()
	if w := lk.warning(); w != "" {
		l.logf("%s: %s\n", p.tag(i), w)
	}
	// The lock is ours: another runner may have finished the cell since
	// Run looked.
	if r, err := readCell(path + ".json"); err == nil {
		l.logf("%s: done meanwhile by another runner (%.2f %%), skipped\n", p.tag(i), 100*r.Result.TestAcc)
		l.mu.Lock()
		p.sum.Done = append(p.sum.Done, c)
		l.mu.Unlock()
		return
	}
	if parallel {
		l.logf("%s: started (%d of %d cores)\n", p.tag(i), cores, localCores())
	}
	var r *CellResult
	if p.cfg.Subprocess != nil {
		r, err = l.runChild(i, cores, parallel, lk)
	} else {
		if r, err = runCell(p.data, p.g, c, path, info); err != nil {
			writeFailure(path, info, err.Error())
		}
	}
	if err != nil {
		l.fail(errors.Wrapf(err, "%s (log: %s.log)", c, path))
		return
	}
	l.mu.Lock()
	p.sum.Ran = append(p.sum.Ran, c)
	fmt.Fprintf(p.log, "%s: %.2f %% test accuracy, %.1f s/epoch, %.0f s\n", p.tag(i), 100*r.Result.TestAcc, r.Result.SecPerEpoch, r.WallSeconds)
	l.mu.Unlock()
}

// fail records a cell's error (the first one is returned).
func (l *localRun) fail(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err == nil {
		l.err = err
	}
}

// runChild trains cell i in a child process, Subprocess -cell KEY, that
// inherits the cell's lock lk, and reads the result it wrote. With
// parallel, the child gets cores cores.
func (l *localRun) runChild(i, cores int, parallel bool, lk *cellLock) (*CellResult, error) {
	p := l.p
	c, path := p.cells[i], p.path(i)
	command := p.cfg.Subprocess
	cmd := exec.Command(command[0], append(append([]string(nil), command[1:]...), "-cell", c.Key())...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = childAttr()
	cmd.ExtraFiles = []*os.File{lk.f} // descriptor 3 in the child
	cmd.Env = append(os.Environ(), lockFDEnv+"=3")
	if parallel {
		cmd.Env = append(cmd.Env, threadEnv(cores)...)
	}
	// Pdeathsig fires when the thread that started the child ends, not the
	// process: keep this goroutine on its thread until the child is gone.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	started := time.Now()
	l.mu.Lock()
	if l.signal != nil {
		l.mu.Unlock()
		return nil, errors.Errorf("not started: interrupted (%v)", l.signal)
	}
	err := cmd.Start()
	if err == nil {
		l.running[i] = cmd
	}
	l.mu.Unlock()
	if err != nil {
		return nil, errors.Wrap(err, "child process")
	}
	err = cmd.Wait()
	l.mu.Lock()
	delete(l.running, i)
	sig := l.signal
	l.mu.Unlock()
	if err == nil {
		return readCell(path + ".json")
	}
	msg := strings.TrimSpace(out.String())
	if k := strings.LastIndexByte(msg, '\n'); k >= 0 {
		msg = msg[k+1:]
	}
	if sig != nil {
		err = errors.Errorf("child process stopped (%v): %v", sig, err)
	} else {
		err = errors.Errorf("child process: %v: %s", err, msg)
	}
	// The child records its own errors; one that was killed cannot.
	if f := readFailure(path); f == nil || f.Run.Started.Before(started.Add(-time.Second)) {
		info := thisRun()
		info.PID, info.Command, info.Started = cmd.Process.Pid, cmd.Args, started.UTC().Truncate(time.Millisecond)
		writeFailure(path, info, err.Error())
	}
	return nil, err
}

// forwardSignals forwards SIGINT and SIGTERM to the running children
// until the returned function is called: the first signal as it is, the
// later ones as SIGKILL. No cell starts after a signal.
func (l *localRun) forwardSignals() (stop func()) {
	ch := make(chan os.Signal, 4)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case s := <-ch:
				l.mu.Lock()
				l.signals++
				if l.signal == nil {
					l.signal = s
				}
				fmt.Fprintf(l.p.log, "%v: stopping %d running cells, starting no new one\n", s, len(l.running))
				for _, cmd := range l.running {
					if l.signals > 1 {
						cmd.Process.Kill()
					} else if cmd.Process.Signal(s) != nil {
						cmd.Process.Kill()
					}
				}
				l.mu.Unlock()
			case <-done:
				return
			}
		}
	}()
	return func() {
		signal.Stop(ch)
		close(done)
		wg.Wait()
	}
}
