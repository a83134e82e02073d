package experiment

import (
	"fmt"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/pkg/errors"
)

// The executors: how the cells of a grid run.
const (
	// ExecutorLocal trains the cells on this machine, RunConfig.Jobs at
	// once, each in a child process (see runLocal).
	ExecutorLocal = "local"
	// ExecutorSlurm submits the unfinished cells as one Slurm job array,
	// one task per cell (see runSlurm).
	ExecutorSlurm = "slurm"
)

// SlurmOptions are the slurm executor's job options; empty ones are left
// to the cluster's defaults.
type SlurmOptions struct {
	// Partition is sbatch's --partition.
	Partition string
	// TimeLimit is the time limit of each cell (sbatch --time): a Go
	// duration such as 2h or 90m, or one of Slurm's forms (minutes,
	// minutes:seconds, hours:minutes:seconds, days-hours,
	// days-hours:minutes, days-hours:minutes:seconds, UNLIMITED).
	TimeLimit string
	// CPUs is sbatch's --cpus-per-task (0 means 1): the cell's GOMAXPROCS
	// and OpenBLAS threads.
	CPUs int
	// Mem is the memory of each cell (sbatch --mem): megabytes, or a size
	// with a K, M, G or T suffix.
	Mem string
	// JobName is the array's name (default g2g-<base name of Out>).
	JobName string
	// Args are more sbatch options, one per #SBATCH line of the script.
	Args []string
}

var (
	slurmTimeRE = regexp.MustCompile(`^(\d+|\d+:\d+|\d+:\d+:\d+|\d+-\d+|\d+-\d+:\d+|\d+-\d+:\d+:\d+|UNLIMITED|INFINITE)$`)
	slurmMemRE  = regexp.MustCompile(`^\d+[KMGT]?$`)
)

// slurmTime returns the time limit s in Slurm's form, accepting Go
// durations (rounded up to whole seconds) besides Slurm's own forms.
func slurmTime(s string) (string, error) {
	if d, err := time.ParseDuration(s); err == nil {
		if d <= 0 {
			return "", errors.Errorf("-time-limit %s: want a positive duration", s)
		}
		sec := int64((d + time.Second - 1) / time.Second)
		return fmt.Sprintf("%d-%02d:%02d:%02d", sec/86400, sec/3600%24, sec/60%60, sec%60), nil
	}
	if !slurmTimeRE.MatchString(s) {
		return "", errors.Errorf("-time-limit %q: want a duration such as 2h or 90m, or one of Slurm's forms "+
			"(minutes, minutes:seconds, hours:minutes:seconds, days-hours, days-hours:minutes, days-hours:minutes:seconds)", s)
	}
	return s, nil
}

// check checks the run options' values (not which executor takes them).
func (cfg *RunConfig) check() error {
	switch cfg.Executor {
	case "", ExecutorLocal, ExecutorSlurm:
	default:
		return errors.Errorf("-executor %q: want local or slurm", cfg.Executor)
	}
	if cfg.Jobs < 0 {
		return errors.Errorf("-jobs %d: want 1 or more (0: the executor's default)", cfg.Jobs)
	}
	if cfg.Executor != ExecutorSlurm {
		return nil
	}
	s := &cfg.Slurm
	if s.CPUs < 0 {
		return errors.Errorf("-cpus-per-task %d: want 1 or more", s.CPUs)
	}
	if s.TimeLimit != "" {
		if _, err := slurmTime(s.TimeLimit); err != nil {
			return err
		}
	}
	if s.Mem != "" && !slurmMemRE.MatchString(s.Mem) {
		return errors.Errorf("-mem %q: want megabytes or a size with a K, M, G or T suffix, e.g. 4G or 1500M", s.Mem)
	}
	for _, v := range []struct{ flag, val string }{{"-partition", s.Partition}, {"-job-name", s.JobName}} {
		if strings.ContainsAny(v.val, " \t\n'\"\\") {
			return errors.Errorf("%s %q: no spaces, quotes or backslashes", v.flag, v.val)
		}
	}
	for _, a := range s.Args {
		if !strings.HasPrefix(a, "-") {
			return errors.Errorf("-sbatch-args: %q is not an option (each entry starts with - or --, e.g. --qos=short)", a)
		}
		for _, own := range []string{"--array", "-a", "--output", "-o", "--parsable", "--wrap"} {
			if a == own || strings.HasPrefix(a, own+"=") || (len(own) == 2 && strings.HasPrefix(a, own) && len(a) > 2) {
				return errors.Errorf("-sbatch-args: %s is set by g2g experiment itself", own)
			}
		}
	}
	if cfg.PollInterval < 0 {
		return errors.Errorf("poll interval %v: want a positive duration", cfg.PollInterval)
	}
	return nil
}

// checkExecutor checks what the executor needs before anything runs:
// valid options, a command that trains one cell for child processes and
// Slurm tasks, and, to submit, sbatch (and, to wait, squeue) on PATH.
func checkExecutor(cfg *RunConfig) error {
	if err := cfg.check(); err != nil {
		return err
	}
	if cfg.Executor == "" {
		cfg.Executor = ExecutorLocal
	}
	switch cfg.Executor {
	case ExecutorLocal:
		if cfg.Jobs > 1 && cfg.Subprocess == nil {
			return errors.Errorf("-jobs %d: cells run at once only in child processes (RunConfig.Subprocess)", cfg.Jobs)
		}
	case ExecutorSlurm:
		var tools []string
		if !cfg.DryRun {
			tools = append(tools, "sbatch")
		}
		if cfg.Wait {
			tools = append(tools, "squeue")
		}
		for _, t := range tools {
			if _, err := exec.LookPath(t); err != nil {
				return errors.Errorf("-executor slurm: %s is not on PATH (%v): run on a Slurm login node, or use -executor local", t, err)
			}
		}
		if cfg.Subprocess == nil {
			return errors.New("-executor slurm: the Slurm tasks need the command that trains one cell (RunConfig.Subprocess)")
		}
	}
	return nil
}

// coreShares splits cores between jobs concurrent cells: slot i gets
// shares[i] cores, at least one.
func coreShares(cores, jobs int) []int {
	shares := make([]int, jobs)
	for i := range shares {
		shares[i] = max(1, cores/jobs)
		if cores > jobs && i < cores%jobs {
			shares[i]++
		}
	}
	return shares
}

// threadEnv returns the environment entries that give a cell's process
// cores cores: GOMAXPROCS, which the engine's goroutine split follows
// (docs/design.md §7.6), and OPENBLAS_NUM_THREADS (g2g's engine runs
// OpenBLAS on one thread and splits products itself; the variable also
// keeps OpenBLAS from starting a thread per core of the machine).
func threadEnv(cores int) []string {
	n := strconv.Itoa(cores)
	return []string{"GOMAXPROCS=" + n, "OPENBLAS_NUM_THREADS=" + n}
}

// localCores is how many cores this machine gives the process.
func localCores() int { return runtime.NumCPU() }

var shellSafe = regexp.MustCompile(`^[A-Za-z0-9_@%+=:,./-]+$`)

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	if shellSafe.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// shellJoin quotes and joins a command line.
func shellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = shellQuote(a)
	}
	return strings.Join(q, " ")
}
