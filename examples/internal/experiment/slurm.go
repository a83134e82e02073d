package experiment

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pkg/errors"
)

// The slurm executor submits a grid's unfinished cells as one Slurm job
// array: task i runs RunConfig.Subprocess -cell-index i, which trains the
// grid's cell i (the order of Grid.Cells) into OUT, so OUT must be on a
// file system every node shares. A task writes its result atomically and
// last, holds the cell's lock while it trains, and records its failures,
// so the result files — not Slurm, whose finished jobs vanish from squeue
// after MinJobAge and whose sacct needs accounting storage — say what is
// finished. Running the same command again submits only the cells that
// are neither finished nor still queued or running.
//
// Files under OUT/slurm: job-<ID>.sh (the script submitted as job ID),
// job-<ID>.json (the submission: job name, time, and the cell of each
// task index), and <ID>_<index>.out (each task's output).

// submission is the record of one submitted job array,
// OUT/slurm/job-<ID>.json.
type submission struct {
	JobID     string    `json:"job_id"`
	JobName   string    `json:"job_name"`
	Submitted time.Time `json:"submitted"`
	// Cells maps each task index to the key of the cell it trains.
	Cells map[int]string `json:"cells"`
	// Command is the command line that submitted the array.
	Command []string `json:"command"`
}

// slurmDir is OUT/slurm.
func slurmDir(out string) string { return filepath.Join(out, "slurm") }

// runSlurm submits p's unfinished cells that no job of an earlier
// submission holds and no runner has locked, as one job array (see the
// comment above). It checks the output directory and the data first, and
// writes OUT/experiment.json only once sbatch has accepted the array. With cfg.DryRun it returns the
// script and writes or submits nothing; with cfg.Wait it waits for the
// array (and the earlier ones still queued) to end and writes the report.
func runSlurm(p *plan, done []string) (*Summary, error) {
	cfg := p.cfg
	states, _ := cellStates(p.g, cfg.Out, p.cells, p.todo)
	var submit []int
	var queued []string
	waitFor := map[string]string{} // job id → name, of the arrays to wait for
	for _, st := range states {
		switch st.State {
		case StateRunning, StatePending:
			if st.job != nil && st.job.name != "" {
				waitFor[st.job.id] = st.job.name
			}
			if st.locked {
				p.sum.Locked = append(p.sum.Locked, st.Cell)
			} else {
				p.sum.Queued = append(p.sum.Queued, st.Cell)
			}
			queued = append(queued, fmt.Sprintf("%s: %s (%s), not submitted again\n", p.tag(st.Index), st.State, st.Detail))
		default:
			submit = append(submit, st.Index)
			p.sum.Submitted = append(p.sum.Submitted, st.Cell)
		}
	}
	var script string
	if len(submit) > 0 {
		var err error
		if script, err = p.jobScript(submit); err != nil {
			return nil, err
		}
		p.sum.Script = script
	}
	if len(submit) > 0 && !cfg.DryRun {
		if err := checkArraySize(submit[len(submit)-1]); err != nil {
			return nil, err
		}
		created, err := prepareOut(cfg.Out)
		if err == nil {
			err = p.checkData()
		}
		if err != nil {
			if created {
				os.Remove(cfg.Out) // only if still empty
			}
			return nil, err
		}
	}
	p.logHead(append(done, queued...))
	if len(submit) == 0 {
		fmt.Fprintf(p.log, "nothing to submit: %d cells done, %d queued or running\n", len(p.sum.Done), len(p.sum.Queued)+len(p.sum.Locked))
		if cfg.DryRun || !cfg.Wait {
			p.sum.Elapsed = time.Since(p.start)
			return p.sum, nil
		}
		return p.waitAndReport(waitFor, nil)
	}
	if cfg.DryRun {
		p.sum.Elapsed = time.Since(p.start)
		return p.sum, nil
	}
	if err := os.MkdirAll(slurmDir(cfg.Out), 0o755); err != nil {
		return nil, errors.WithStack(err)
	}
	id, err := p.submit(script, submit)
	if err != nil {
		return nil, err
	}
	p.sum.JobID = id
	// Claimed once submitted: a refused submission leaves OUT free.
	if err := writeClaim(cfg.Out, p.g); err != nil {
		return p.sum, errors.Wrapf(err, "job array %s was submitted, but", id)
	}
	fmt.Fprintf(p.log, "submitted %d cells as Slurm job array %s (tasks %s): g2g experiment -status shows where they are; "+
		"run the same command again to submit the cells that do not finish\n", len(submit), id, arraySpec(submit, 0))
	if !cfg.Wait {
		p.sum.Elapsed = time.Since(p.start)
		return p.sum, nil
	}
	waitFor[id] = p.jobName()
	return p.waitAndReport(waitFor, submit)
}

// jobName is the job array's name.
func (p *plan) jobName() string {
	if p.cfg.Slurm.JobName != "" {
		return p.cfg.Slurm.JobName
	}
	abs, err := filepath.Abs(p.cfg.Out)
	if err != nil {
		abs = p.cfg.Out
	}
	name := "g2g-" + filepath.Base(abs)
	return strings.Map(func(r rune) rune {
		if r <= ' ' || r == '\'' || r == '"' || r == '\\' {
			return '_'
		}
		return r
	}, name)
}

// jobScript returns the batch script of a job array whose task i trains
// the grid's cell i, for the indices idx (ascending).
func (p *plan) jobScript(idx []int) (string, error) {
	cfg := p.cfg
	out, err := filepath.Abs(cfg.Out)
	if err != nil {
		return "", errors.WithStack(err)
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", errors.WithStack(err)
	}
	cpus := max(1, cfg.Slurm.CPUs)
	var b strings.Builder
	fmt.Fprintf(&b, "#!/bin/bash\n")
	fmt.Fprintf(&b, "# g2g experiment: %d of the %d cells of the grid in %s as one Slurm job array.\n", len(idx), len(p.cells), out)
	fmt.Fprintf(&b, "# Task i trains the grid's cell i (-cell-index i) and writes its result there.\n")
	fmt.Fprintf(&b, "#SBATCH --job-name=%s\n", p.jobName())
	fmt.Fprintf(&b, "#SBATCH --array=%s\n", arraySpec(idx, cfg.Jobs))
	fmt.Fprintf(&b, "#SBATCH --output=%s\n", filepath.Join(slurmDir(out), "%A_%a.out"))
	fmt.Fprintf(&b, "#SBATCH --chdir=%s\n", wd)
	fmt.Fprintf(&b, "#SBATCH --cpus-per-task=%d\n", cpus)
	if s := cfg.Slurm.Partition; s != "" {
		fmt.Fprintf(&b, "#SBATCH --partition=%s\n", s)
	}
	if s := cfg.Slurm.TimeLimit; s != "" {
		t, err := slurmTime(s)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "#SBATCH --time=%s\n", t)
	}
	if s := cfg.Slurm.Mem; s != "" {
		fmt.Fprintf(&b, "#SBATCH --mem=%s\n", s)
	}
	for _, a := range cfg.Slurm.Args {
		fmt.Fprintf(&b, "#SBATCH %s\n", a)
	}
	fmt.Fprintf(&b, "#\n# task  cell (METHOD/DENSITY/SEED)\n")
	for _, i := range idx {
		fmt.Fprintf(&b, "# %4d  %s\n", i, p.cells[i].Key())
	}
	fmt.Fprintf(&b, "\n# The cell's share of the node: the engine's goroutines follow GOMAXPROCS.\n")
	fmt.Fprintf(&b, "export %s\n", strings.Join(threadEnv(cpus), " "))
	fmt.Fprintf(&b, "exec %s -cell-index \"$SLURM_ARRAY_TASK_ID\"\n", shellJoin(cfg.Subprocess))
	return b.String(), nil
}

// arraySpec returns sbatch's --array value for the ascending indices idx:
// ranges such as 0-3,5,7-9, and %throttle when throttle > 0.
func arraySpec(idx []int, throttle int) string {
	var parts []string
	for k := 0; k < len(idx); {
		j := k
		for j+1 < len(idx) && idx[j+1] == idx[j]+1 {
			j++
		}
		if j == k {
			parts = append(parts, strconv.Itoa(idx[k]))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", idx[k], idx[j]))
		}
		k = j + 1
	}
	s := strings.Join(parts, ",")
	if throttle > 0 {
		s += "%" + strconv.Itoa(throttle)
	}
	return s
}

// checkArraySize refuses a task index beyond the cluster's MaxArraySize
// (when scontrol tells it), which sbatch would refuse less clearly.
func checkArraySize(maxIndex int) error {
	out, err := exec.Command("scontrol", "show", "config").Output()
	if err != nil {
		return nil
	}
	for _, line := range strings.Split(string(out), "\n") {
		k, v, ok := strings.Cut(line, "=")
		if !ok || strings.TrimSpace(k) != "MaxArraySize" {
			continue
		}
		if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && maxIndex >= n {
			return errors.Errorf("cell index %d is beyond this cluster's MaxArraySize %d (task indices 0 to %d): "+
				"submit part of the grid first (fewer -seeds or -methods, same -out)", maxIndex, n, n-1)
		}
	}
	return nil
}

// submit submits script with sbatch, records the submission in
// OUT/slurm/job-<ID>.json (keeping the script as job-<ID>.sh) and returns
// the job id.
func (p *plan) submit(script string, idx []int) (string, error) {
	dir := slurmDir(p.cfg.Out)
	tmp, err := os.CreateTemp(dir, ".submit-*.sh")
	if err != nil {
		return "", errors.Wrap(err, "write the job script")
	}
	_, err = tmp.WriteString(script)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp.Name())
		return "", errors.Wrap(err, "write the job script")
	}
	cmd := exec.Command("sbatch", "--parsable", tmp.Name())
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		os.Remove(tmp.Name())
		msg := strings.Join(strings.Fields(stderr.String()), " ")
		if msg == "" {
			msg = err.Error()
		}
		return "", errors.Errorf("sbatch refused the job array: %s", msg)
	}
	id, _, _ := strings.Cut(strings.TrimSpace(stdout.String()), ";")
	if _, err := strconv.Atoi(id); err != nil {
		os.Remove(tmp.Name())
		return "", errors.Errorf("sbatch --parsable printed %q, not a job id", stdout.String())
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, "job-"+id+".sh")); err != nil {
		return id, errors.Wrapf(err, "job array %s was submitted, but its script", id)
	}
	sub := submission{JobID: id, JobName: p.jobName(), Submitted: time.Now().UTC().Truncate(time.Second),
		Cells: map[int]string{}, Command: os.Args}
	for _, i := range idx {
		sub.Cells[i] = p.cells[i].Key()
	}
	if err := writeJSON(filepath.Join(dir, "job-"+id+".json"), sub); err != nil {
		return id, errors.Wrapf(err, "job array %s was submitted, but its record", id)
	}
	return id, nil
}

// loadSubmissions reads OUT/slurm/job-*.json, oldest first.
func loadSubmissions(out string) []submission {
	paths, _ := filepath.Glob(filepath.Join(slurmDir(out), "job-*.json"))
	var subs []submission
	for _, path := range paths {
		raw, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		var s submission
		if json.Unmarshal(raw, &s) == nil && s.JobID != "" {
			subs = append(subs, s)
		}
	}
	sort.SliceStable(subs, func(i, j int) bool { return subs[i].Submitted.Before(subs[j].Submitted) })
	return subs
}

// taskState is what Slurm says about one array task.
type taskState struct {
	State, Reason string
}

// finalStates are the job states after which a task runs no more.
var finalStates = map[string]bool{
	"COMPLETED": true, "FAILED": true, "CANCELLED": true, "TIMEOUT": true, "OUT_OF_MEMORY": true,
	"NODE_FAIL": true, "BOOT_FAIL": true, "DEADLINE": true, "PREEMPTED": true, "REVOKED": true, "SPECIAL_EXIT": true,
}

// final reports whether a task in state s runs no more.
func final(s string) bool {
	s, _, _ = strings.Cut(s, " ") // sacct: "CANCELLED by 0"
	return finalStates[s]
}

// errNoSlurm is the cause of arrayStates' error when neither squeue nor
// sacct is on PATH.
var errNoSlurm = errors.New("squeue is not on PATH")

// arrayStates returns the state of every task of job array id that Slurm
// still knows, by task index: from squeue, or, for a job squeue no longer
// lists, from sacct when the cluster keeps accounting. known is false
// when neither knows the job, or when squeue shows it under another name
// than name (job ids restart on a new cluster).
func arrayStates(id, name string) (states map[int]taskState, known bool, err error) {
	if _, err := exec.LookPath("squeue"); err != nil {
		return nil, false, errNoSlurm
	}
	cmd := exec.Command("squeue", "-r", "-h", "-t", "all", "-j", id, "-o", "%K|%T|%r|%j")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if strings.Contains(stderr.String(), "Invalid job id") {
			return sacctStates(id)
		}
		return nil, false, errors.Errorf("squeue -j %s: %v: %s", id, err, strings.TrimSpace(stderr.String()))
	}
	states = map[int]taskState{}
	for _, line := range strings.Split(stdout.String(), "\n") {
		f := strings.SplitN(strings.TrimSpace(line), "|", 4)
		if len(f) != 4 {
			continue
		}
		if name != "" && f[3] != name {
			return nil, false, nil
		}
		k, err := strconv.Atoi(f[0])
		if err != nil {
			continue
		}
		states[k] = taskState{State: f[1], Reason: f[2]}
	}
	if len(states) == 0 {
		return sacctStates(id)
	}
	return states, true, nil
}

// sacctStates asks sacct for the tasks of job array id; without accounting
// storage (sacct then fails) the job is unknown, which is no error.
func sacctStates(id string) (map[int]taskState, bool, error) {
	if _, err := exec.LookPath("sacct"); err != nil {
		return nil, false, nil
	}
	out, err := exec.Command("sacct", "-n", "-P", "-X", "-j", id, "-o", "JobID,State").Output()
	if err != nil {
		return nil, false, nil
	}
	states := map[int]taskState{}
	for _, line := range strings.Split(string(out), "\n") {
		jid, state, ok := strings.Cut(strings.TrimSpace(line), "|")
		if !ok {
			continue
		}
		_, task, ok := strings.Cut(jid, "_")
		if k, err := strconv.Atoi(task); ok && err == nil {
			states[k] = taskState{State: state}
		}
	}
	return states, len(states) > 0, nil
}

// waitAndReport waits until the job arrays jobs (id → name) have ended,
// writes the report and returns the summary; submitted are the indices
// submitted now, whose unfinished cells make the error.
func (p *plan) waitAndReport(jobs map[string]string, submitted []int) (*Summary, error) {
	if err := p.waitJobs(jobs); err != nil {
		return p.sum, err
	}
	var missing []string
	for _, i := range submitted {
		if _, err := os.Stat(p.path(i) + ".json"); err != nil {
			missing = append(missing, p.cells[i].String())
		} else {
			p.sum.Ran = append(p.sum.Ran, p.cells[i])
		}
	}
	var runErr error
	if len(missing) > 0 {
		runErr = errors.Errorf("%d of %d submitted cells did not finish (%s): g2g experiment -status says why; "+
			"run the same command again to submit them again", len(missing), len(submitted), strings.Join(missing, "; "))
	}
	return p.finish(runErr)
}

// waitJobs polls squeue until every task of the job arrays jobs (id →
// name) is in a final state or gone, logging each change of the counts.
func (p *plan) waitJobs(jobs map[string]string) error {
	every := p.cfg.PollInterval
	if every <= 0 {
		every = 2 * time.Second
	}
	ids := make([]string, 0, len(jobs))
	for id := range jobs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	last := ""
	for {
		counts := map[string]int{}
		active := 0
		for _, id := range ids {
			states, _, err := arrayStates(id, jobs[id])
			if err != nil {
				return err
			}
			for _, st := range states {
				counts[st.State]++
				if !final(st.State) {
					active++
				}
			}
		}
		names := make([]string, 0, len(counts))
		for s := range counts {
			names = append(names, s)
		}
		// Queued first, then running, then the final states.
		rank := func(s string) int {
			switch {
			case s == "PENDING":
				return 0
			case !final(s):
				return 1
			}
			return 2
		}
		sort.Slice(names, func(i, j int) bool {
			if ri, rj := rank(names[i]), rank(names[j]); ri != rj {
				return ri < rj
			}
			return names[i] < names[j]
		})
		parts := make([]string, len(names))
		for k, s := range names {
			parts[k] = fmt.Sprintf("%d %s", counts[s], strings.ToLower(s))
		}
		if line := strings.Join(parts, ", "); line != last {
			fmt.Fprintf(p.log, "job array %s: %s\n", strings.Join(ids, ", "), line)
			last = line
		}
		if active == 0 {
			return nil
		}
		time.Sleep(every)
	}
}
