package experiment

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/pkg/errors"
)

// The states of a cell in the status view.
const (
	// StateDone: the cell's result file exists.
	StateDone = "done"
	// StateRunning: a process holds the cell's lock, or its Slurm task
	// runs.
	StateRunning = "running"
	// StatePending: its Slurm task waits in the queue.
	StatePending = "pending"
	// StateFailed: it started and ended without a result — an error, a
	// cancelled or timed-out Slurm task, a killed process.
	StateFailed = "failed"
	// StateNotStarted: nothing says it ever started.
	StateNotStarted = "not started"
)

// CellStatus is where one cell of a grid stands.
type CellStatus struct {
	// Index is the cell's index in the grid (its -cell-index and Slurm
	// task index).
	Index int
	Cell  Cell
	// State is one of StateDone, StateRunning, StatePending, StateFailed
	// and StateNotStarted; Detail says more (accuracy and host, holder,
	// Slurm task and state, error).
	State, Detail string
	// Result is the finished cell's result (StateDone only).
	Result *CellResult

	locked bool     // a process holds the cell's lock
	job    *taskRef // the Slurm task that last had the cell, if Slurm knows it
}

// taskRef names an array task.
type taskRef struct {
	id, name string
	index    int
}

func (t *taskRef) String() string { return fmt.Sprintf("slurm %s_%d", t.id, t.index) }

// cellStates returns the status of the cells idx of the grid g (cells is
// g.Cells()) in out: from the result files, the locks, the failure
// records and logs, and, for cells submitted to Slurm, squeue (or sacct,
// when the cluster keeps accounting). note says what could not be asked
// (e.g. squeue missing); the states are then from the files alone.
func cellStates(g *Grid, out string, cells []Cell, idx []int) (sts []CellStatus, note string) {
	// The latest submission of each cell.
	latest := map[string]*taskRef{}
	for _, s := range loadSubmissions(out) {
		for k, key := range s.Cells {
			latest[key] = &taskRef{id: s.JobID, name: s.JobName, index: k}
		}
	}
	type jobStates struct {
		states map[int]taskState
		known  bool
	}
	asked := map[string]*jobStates{}
	ask := func(t *taskRef) (taskState, bool) {
		js, ok := asked[t.id]
		if !ok {
			states, known, err := arrayStates(t.id, t.name)
			if err != nil && note == "" {
				note = "Slurm not asked: " + err.Error()
			}
			js = &jobStates{states, known}
			asked[t.id] = js
		}
		st, ok := js.states[t.index]
		return st, js.known && ok
	}
	for _, i := range idx {
		c := cells[i]
		path := c.Path(out, g.Dataset)
		st := CellStatus{Index: i, Cell: c}
		if r, err := readCell(path + ".json"); err == nil {
			st.State, st.Result = StateDone, r
			st.Detail = fmt.Sprintf("%.2f %% test accuracy", 100*r.Result.TestAcc)
			if r.Run != nil {
				st.Detail += fmt.Sprintf(", on %s", r.Run.Host)
				if r.Run.Job != "" {
					st.Detail += " (" + r.Run.Job + ")"
				}
				st.Detail += ", ended " + r.Run.Ended.Local().Format("2006-01-02 15:04:05")
			}
			sts = append(sts, st)
			continue
		} else if !os.IsNotExist(errors.Cause(err)) {
			st.State, st.Detail = StateFailed, err.Error()
			sts = append(sts, st)
			continue
		}
		var slurm taskState
		var inSlurm bool
		if t := latest[c.Key()]; t != nil {
			if slurm, inSlurm = ask(t); inSlurm {
				st.job = t
			}
		}
		held, holder := lockHeld(path)
		st.locked = held
		switch {
		case held:
			st.State, st.Detail = StateRunning, "locked by another process"
			if holder != nil {
				st.Detail = holder.String()
			}
		case inSlurm && !final(slurm.State):
			st.State, st.Detail = StatePending, st.job.String()+" "+slurm.State
			if slurm.State != "PENDING" {
				st.State = StateRunning
			}
			if slurm.Reason != "" && slurm.Reason != "None" {
				st.Detail += " (" + slurm.Reason + ")"
			}
		default:
			st.State, st.Detail = failedOrNew(path, out, st.job, slurm, inSlurm)
		}
		sts = append(sts, st)
	}
	return sts, note
}

// failedOrNew tells a cell that started and failed from one that never
// started, when it is neither done nor running nor queued.
func failedOrNew(path, out string, job *taskRef, slurm taskState, inSlurm bool) (state, detail string) {
	var why []string
	if inSlurm {
		s := job.String() + " " + slurm.State
		if slurm.State == "COMPLETED" {
			s += " without a result"
		}
		why = append(why, s)
	}
	if f := readFailure(path); f != nil {
		why = append(why, f.Error)
	}
	if len(why) == 0 {
		if _, err := os.Stat(path + ".log"); err != nil {
			return StateNotStarted, ""
		}
		why = append(why, "stopped without a result")
	}
	if job != nil {
		why = append(why, "output "+filepath.Join(slurmDir(out), fmt.Sprintf("%s_%d.out", job.id, job.index)))
	}
	why = append(why, "log "+path+".log")
	return StateFailed, strings.Join(why, "; ")
}

// Status returns the status of every cell of g in cfg.Out. Without the
// grid's lists on the command line (RunConfig from ParseGrid without
// -dataset, -methods, -densities and -seeds), it is the last grid run in
// cfg.Out (OUT/experiment.json). note says what Slurm could not tell.
func Status(g Grid, cfg RunConfig) (sts []CellStatus, note string, err error) {
	if cfg.gridFromOut {
		raw, err := os.ReadFile(claimPath(cfg.Out))
		if err != nil {
			return nil, "", errors.Errorf("-status: %v: give the grid's -dataset, -methods, -densities and -seeds", err)
		}
		var ef experimentFile
		if err := json.Unmarshal(raw, &ef); err != nil {
			return nil, "", errors.Wrap(err, claimPath(cfg.Out))
		}
		g.Dataset, g.Methods, g.Densities, g.Seeds = ef.Settings.Dataset, ef.Methods, ef.Densities, ef.Seeds
	}
	cells := g.Cells()
	idx := make([]int, len(cells))
	for i := range idx {
		idx[i] = i
	}
	sts, note = cellStates(&g, cfg.Out, cells, idx)
	return sts, note, nil
}

// WriteStatus writes the status view of g in cfg.Out to w: a count per
// state, then one line per cell (index, state, cell, detail).
func WriteStatus(w io.Writer, g Grid, cfg RunConfig) error {
	sts, note, err := Status(g, cfg)
	if err != nil {
		return err
	}
	counts := map[string]int{}
	width := 0
	for _, st := range sts {
		counts[st.State]++
		width = max(width, len(st.Cell.String()))
	}
	fmt.Fprintf(w, "%s: %d cells: %d done, %d running, %d pending, %d failed, %d not started\n", cfg.Out, len(sts),
		counts[StateDone], counts[StateRunning], counts[StatePending], counts[StateFailed], counts[StateNotStarted])
	if note != "" {
		fmt.Fprintf(w, "(%s)\n", note)
	}
	for _, st := range sts {
		line := fmt.Sprintf("%4d  %-11s  %-*s  %s", st.Index, st.State, width, st.Cell, st.Detail)
		fmt.Fprintln(w, strings.TrimRight(line, " "))
	}
	return nil
}
