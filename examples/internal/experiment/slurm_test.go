package experiment

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/g2g-ml/g2g/examples/internal/fixtures"
	"github.com/g2g-ml/g2g/examples/internal/runner"
)

// The tests here check the slurm executor's side — the job script, what is
// submitted and when, the status view — against stand-ins for sbatch and
// squeue. The g2g command's TestSlurmGrid runs a grid on a real Slurm.

// fakeSlurm puts stand-ins for sbatch, squeue, scontrol and sacct first on
// PATH and returns their directory. sbatch records its arguments (file
// sbatch.args) and the script it got (script.N), then prints the job id in
// file next_id (refusing with file sbatch.fail's text when it exists);
// squeue prints file squeue.ID for job ID, or refuses an unknown id as
// Slurm does; sacct fails as without accounting storage.
func fakeSlurm(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	scripts := map[string]string{
		"sbatch": `#!/bin/sh
d=$(dirname "$0")
echo "$@" >> "$d/sbatch.args"
for last; do :; done
n=$(ls "$d" | grep -c '^script\.')
cp "$last" "$d/script.$n"
if [ -f "$d/sbatch.fail" ]; then cat "$d/sbatch.fail" >&2; exit 1; fi
echo "$(cat "$d/next_id");cluster"
`,
		"squeue": `#!/bin/sh
d=$(dirname "$0")
while [ $# -gt 0 ]; do if [ "$1" = -j ]; then id=$2; fi; shift; done
if [ -f "$d/squeue.$id" ]; then cat "$d/squeue.$id"; exit 0; fi
echo "slurm_load_jobs error: Invalid job id specified" >&2
exit 1
`,
		"scontrol": "#!/bin/sh\necho 'MaxArraySize            = 1001'\n",
		"sacct":    "#!/bin/sh\necho 'Slurm accounting storage is disabled' >&2\nexit 1\n",
	}
	for name, text := range scripts {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	return dir
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// slurmGrid parses a 4-cell grid on data for the slurm executor into out,
// with extra flags; its cells would run "/opt/g2g bin/g2g experiment ...".
func slurmGrid(t *testing.T, data, out string, extra ...string) (Grid, RunConfig, *bytes.Buffer) {
	t.Helper()
	args := append(tinyArgs(data), "-methods", "dense,g2g-index,g2g-index+dst,g2g-mixer", "-densities", "0.5", "-seeds", "1",
		"-out", out, "-executor", "slurm")
	g, cfg, err := ParseGrid(append(args, extra...), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Subprocess = append([]string{"/opt/g2g bin/g2g", "experiment"}, cfg.GridArgs...)
	var log bytes.Buffer
	cfg.Log = &log
	return g, cfg, &log
}

func TestSlurmDryRunPrintsTheJobScript(t *testing.T) {
	data := fixtures.FashionMNIST(t, 120, 40)
	out := filepath.Join(t.TempDir(), "grid")
	t.Setenv("PATH", t.TempDir()) // a dry run needs no Slurm
	g, cfg, _ := slurmGrid(t, data, out, "-dry-run", "-jobs", "2", "-partition", "short", "-time-limit", "90m",
		"-cpus-per-task", "2", "-mem", "3G", "-sbatch-args", "--qos=low --account=lab")
	sum, err := Run(g, cfg)
	if err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	for _, line := range []string{
		"#!/bin/bash\n",
		"\n#SBATCH --job-name=g2g-grid\n",
		"\n#SBATCH --array=0-3%2\n",
		"\n#SBATCH --output=" + out + "/slurm/%A_%a.out\n",
		"\n#SBATCH --chdir=" + wd + "\n",
		"\n#SBATCH --cpus-per-task=2\n",
		"\n#SBATCH --partition=short\n",
		"\n#SBATCH --time=0-01:30:00\n",
		"\n#SBATCH --mem=3G\n",
		"\n#SBATCH --qos=low\n#SBATCH --account=lab\n",
		"\n#    2  g2g-index+dst/0.5/1\n",
		"\nexport GOMAXPROCS=2 OPENBLAS_NUM_THREADS=2\n",
		"\nexec '/opt/g2g bin/g2g' experiment -batch=32 -data=" + data + " -densities=0.5 -epochs=2 -groups=4 -hidden=16,16 " +
			"-methods=dense,g2g-index,g2g-index+dst,g2g-mixer -out=" + out + " -seeds=1 -subset=80 -cell-index \"$SLURM_ARRAY_TASK_ID\"\n",
	} {
		if !strings.Contains(sum.Script, line) {
			t.Errorf("the script lacks %q:\n%s", line, sum.Script)
		}
	}
	// Every #SBATCH line comes before the first command.
	if strings.LastIndex(sum.Script, "#SBATCH") > strings.Index(sum.Script, "\nexport") {
		t.Errorf("an #SBATCH line after a command:\n%s", sum.Script)
	}
	if len(sum.Submitted) != 4 || sum.JobID != "" {
		t.Fatalf("dry run: %+v", sum)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("a dry run wrote %s", out)
	}
}

// TestSlurmSubmitsOnlyWhatIsMissing submits a grid to the stand-in sbatch,
// then lets squeue report one task running, one pending and one cancelled,
// with one cell finished: the status view says so and a rerun submits the
// cancelled cell only. Refusals come before anything is submitted.
func TestSlurmSubmitsOnlyWhatIsMissing(t *testing.T) {
	data := fixtures.FashionMNIST(t, 120, 40)
	fake := fakeSlurm(t)
	out := filepath.Join(t.TempDir(), "grid")
	writeFile(t, filepath.Join(fake, "next_id"), "42")
	g, cfg, log := slurmGrid(t, data, out)
	sum, err := Run(g, cfg)
	if err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	if sum.JobID != "42" || len(sum.Submitted) != 4 || len(sum.Files) != 0 {
		t.Fatalf("first submission: %+v", sum)
	}
	args, _ := os.ReadFile(filepath.Join(fake, "sbatch.args"))
	if !strings.HasPrefix(string(args), "--parsable "+out+"/slurm/.submit-") {
		t.Fatalf("sbatch arguments: %s", args)
	}
	script, err := os.ReadFile(filepath.Join(out, "slurm/job-42.sh"))
	if err != nil || !strings.Contains(string(script), "#SBATCH --array=0-3\n") {
		t.Fatalf("job-42.sh: %v\n%s", err, script)
	}
	if sent, _ := os.ReadFile(filepath.Join(fake, "script.0")); !bytes.Equal(sent, script) {
		t.Fatalf("the script kept differs from the one submitted")
	}
	var sub submission
	raw, _ := os.ReadFile(filepath.Join(out, "slurm/job-42.json"))
	if err := json.Unmarshal(raw, &sub); err != nil || sub.JobName != "g2g-grid" ||
		!reflect.DeepEqual(sub.Cells, map[int]string{0: "dense/1/1", 1: "g2g-index/0.5/1", 2: "g2g-index+dst/0.5/1", 3: "g2g-mixer/0.5/1"}) {
		t.Fatalf("job-42.json: %v %+v", err, sub)
	}
	if _, err := os.Stat(claimPath(out)); err != nil {
		t.Fatalf("no claim after the submission: %v", err)
	}
	if leftovers, _ := filepath.Glob(filepath.Join(out, "slurm/.submit-*")); len(leftovers) > 0 {
		t.Fatalf("temporary scripts left: %v", leftovers)
	}

	// Task 0 finished (a result file), 1 runs, 2 waits, 3 was cancelled.
	cells := g.Cells()
	r := &CellResult{Dataset: g.Dataset, Method: "dense", Density: 1, Seed: 1, Result: runner.Result{TestAcc: 0.5},
		Run: &RunInfo{Host: "node1", Job: "slurm 42_0", Ended: time.Now()}}
	if err := os.MkdirAll(filepath.Dir(cells[0].Path(out, g.Dataset)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := writeJSON(cells[0].Path(out, g.Dataset)+".json", r); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(fake, "squeue.42"), "0|COMPLETED|None|g2g-grid\n1|RUNNING|None|g2g-grid\n2|PENDING|Resources|g2g-grid\n3|CANCELLED|None|g2g-grid\n")
	var st bytes.Buffer
	if err := WriteStatus(&st, g, cfg); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"4 cells: 1 done, 1 running, 1 pending, 1 failed, 0 not started",
		"   0  done         dense d=1 seed 1            50.00 % test accuracy, on node1 (slurm 42_0)",
		"   1  running      g2g-index d=0.5 seed 1      slurm 42_1 RUNNING\n",
		"   2  pending      g2g-index+dst d=0.5 seed 1  slurm 42_2 PENDING (Resources)\n",
		"   3  failed       g2g-mixer d=0.5 seed 1      slurm 42_3 CANCELLED; output " + out + "/slurm/42_3.out; log ",
	} {
		if !strings.Contains(st.String(), want) {
			t.Errorf("status lacks %q:\n%s", want, st.String())
		}
	}
	// -status of the g2g command, without the grid: the last grid in OUT.
	_, scfg, err := ParseGrid([]string{"-status", "-out", out}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	var st2 bytes.Buffer
	if err := WriteStatus(&st2, Grid{}, scfg); err != nil || st2.String() != st.String() {
		t.Fatalf("status from OUT/experiment.json: %v\n%s\nvs\n%s", err, st2.String(), st.String())
	}

	writeFile(t, filepath.Join(fake, "next_id"), "43")
	log.Reset()
	sum, err = Run(g, cfg)
	if err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	if sum.JobID != "43" || len(sum.Submitted) != 1 || sum.Submitted[0].Key() != "g2g-mixer/0.5/1" || len(sum.Queued) != 2 || len(sum.Done) != 1 {
		t.Fatalf("second submission: %+v\n%s", sum, log)
	}
	if script, _ := os.ReadFile(filepath.Join(out, "slurm/job-43.sh")); !strings.Contains(string(script), "#SBATCH --array=3\n") {
		t.Fatalf("job-43.sh:\n%s", script)
	}
	if !strings.Contains(log.String(), "[3/4] g2g-index+dst d=0.5 seed 1: pending (slurm 42_2 PENDING (Resources)), not submitted again") {
		t.Errorf("log:\n%s", log)
	}

	// sbatch refuses: one clear error, no record, nothing left behind.
	writeFile(t, filepath.Join(fake, "sbatch.fail"), "sbatch: error: invalid partition specified: gpu\nsbatch: error: Batch job submission failed\n")
	out2 := filepath.Join(t.TempDir(), "grid2")
	g, cfg, _ = slurmGrid(t, data, out2, "-partition", "gpu")
	if _, err := Run(g, cfg); err == nil || err.Error() != "sbatch refused the job array: sbatch: error: invalid partition specified: gpu sbatch: error: Batch job submission failed" {
		t.Fatalf("refused submission: %v", err)
	}
	if entries, _ := os.ReadDir(filepath.Join(out2, "slurm")); len(entries) != 0 {
		t.Fatalf("a refused submission left %v", entries)
	}
	if _, err := os.Stat(claimPath(out2)); !os.IsNotExist(err) {
		t.Fatal("a refused submission claimed the directory")
	}
	os.Remove(filepath.Join(fake, "sbatch.fail"))

	// An output directory that cannot be one, and no sbatch: refused
	// before anything is submitted.
	calls, _ := os.ReadFile(filepath.Join(fake, "sbatch.args"))
	file := filepath.Join(t.TempDir(), "file")
	writeFile(t, file, "")
	g, cfg, _ = slurmGrid(t, data, file)
	if _, err := Run(g, cfg); err == nil || err.Error() != "-out "+file+": not a directory" {
		t.Fatalf("a file as -out: %v", err)
	}
	g, cfg, _ = slurmGrid(t, data, filepath.Join(file, "sub"))
	if _, err := Run(g, cfg); err == nil || err.Error() != "-out "+filepath.Join(file, "sub")+": not a directory" {
		t.Fatalf("-out under a file: %v", err)
	}
	if now, _ := os.ReadFile(filepath.Join(fake, "sbatch.args")); !bytes.Equal(now, calls) {
		t.Fatal("sbatch was called for a refused grid")
	}
	t.Setenv("PATH", t.TempDir())
	out3 := filepath.Join(t.TempDir(), "grid3")
	g, cfg, _ = slurmGrid(t, data, out3)
	if _, err := Run(g, cfg); err == nil || !strings.HasPrefix(err.Error(), "-executor slurm: sbatch is not on PATH") {
		t.Fatalf("no sbatch: %v", err)
	}
	if _, err := os.Stat(out3); !os.IsNotExist(err) {
		t.Fatal("a refused grid created its output directory")
	}
}
