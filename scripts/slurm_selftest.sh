#!/usr/bin/env bash
# End-to-end check of scripts/slurm.sh against a real Slurm on this machine (root, Debian):
# installs Slurm if missing, starts the private cluster through `slurm.sh run-with`, runs
# job arrays (outputs, task environment, states of completed, failed and cancelled tasks,
# what squeue, scontrol and sacct report), checks that run-with stops the cluster and leaves
# no job behind, starts it again, and checks that run-with passes on the command's exit
# status. Prints the time of each phase and a closing "N passed, N failed" line; exits
# non-zero on any failure. Takes about half a minute once Slurm is installed.
#
# It uses its own cluster directory and ports (G2G_SLURM_DIR=/tmp/g2g-slurm-selftest,
# 6927/6928 unless set), so a cluster started by hand with the defaults keeps running.
#
# The job scripts below are in single quotes on purpose: the jobs expand their variables.
# shellcheck disable=SC2016
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
slurm=$here/slurm.sh
export G2G_SLURM_DIR=${G2G_SLURM_SELFTEST_DIR:-/tmp/g2g-slurm-selftest}
export G2G_SLURMCTLD_PORT=${G2G_SLURM_SELFTEST_CTLD_PORT:-6927}
export G2G_SLURMD_PORT=${G2G_SLURM_SELFTEST_SLURMD_PORT:-6928}
export PATH="$PATH:/usr/sbin:/sbin"

# Results of the checks, shared by the outer run and the checks run inside run-with.
results=${G2G_SELFTEST_RESULTS:-}

pass() {
	echo "ok    $*"
	echo pass >>"$results"
}
fail() {
	echo "FAIL  $*"
	echo fail >>"$results"
}
# check DESCRIPTION CMD...: runs CMD, records a pass or a failure.
check() {
	local what=$1
	shift
	if "$@"; then pass "$what"; else fail "$what"; fi
}
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN {printf "%.1f", b - a}'; }
timing() { echo "time  $1: $2 s" | tee -a "$results.times"; }

# wait_gone JOBID SECONDS: waits until no task of JOBID is pending, running or completing.
wait_gone() {
	local deadline=$((SECONDS + $2))
	while ((SECONDS < deadline)); do
		[ -z "$(squeue -h -j "$1" -o '%i' 2>/dev/null)" ] && return 0
		sleep 0.25
	done
	return 1
}

# wait_state JOBID_TASK STATE SECONDS: waits until the task reports STATE.
wait_state() {
	local deadline=$((SECONDS + $3))
	while ((SECONDS < deadline)); do
		[ "$(squeue -h -t all -j "$1" -o '%T' 2>/dev/null)" = "$2" ] && return 0
		sleep 0.25
	done
	return 1
}

# task_states JOBID: "TASK STATE" per line, one line per array task (-r splits the pending
# range), sorted by task.
task_states() {
	squeue -r -h -t all -j "$1" -o '%K %T' | sort -n
}

# checks: run inside `slurm.sh run-with`, with SLURM_CONF exported.
checks() {
	local t0=$1 node cpus work id out st i ok
	timing "start to idle (run-with: install check + start)" "$(since "$t0")"
	check "SLURM_CONF is exported by run-with" test -f "${SLURM_CONF:-}"

	node=$(hostname -s)
	cpus=$(nproc)
	out=$(sinfo -h -N -o '%N %T %c')
	check "sinfo shows node $node idle with $cpus CPUs ('$out')" test "$out" = "$node idle $cpus"

	t0=$(now)
	out=$(bash "$slurm" start 2>/dev/null)
	check "start again while running succeeds and prints the env" \
		test "$out" = "export SLURM_CONF=$SLURM_CONF"
	timing "start while already running" "$(since "$t0")"

	work=$(mktemp -d)
	cd "$work"

	# 1. A job array runs every task, each with its index and the array's variables.
	t0=$(now)
	id=$(sbatch --parsable --array=0-3 -o 'slurm-%A_%a.out' --wrap \
		'echo $SLURM_ARRAY_TASK_ID > out.$SLURM_ARRAY_TASK_ID; env | grep -E "^SLURM_(ARRAY|CONF|JOB_ID)" > env.$SLURM_ARRAY_TASK_ID')
	check "sbatch --parsable prints a job id ('$id')" test -n "$id" -a "$id" -eq "$id"
	check "4-task array leaves the queue within 60 s" wait_gone "$id" 60
	timing "4-task array, submit to done" "$(since "$t0")"
	ok=1
	for i in 0 1 2 3; do [ "$(cat "out.$i" 2>/dev/null)" = "$i" ] || ok=0; done
	check "each task wrote out.<SLURM_ARRAY_TASK_ID> with its index" test $ok = 1
	check "task env has SLURM_ARRAY_JOB_ID=$id" grep -qx "SLURM_ARRAY_JOB_ID=$id" env.2
	check "task env has SLURM_ARRAY_TASK_COUNT=4" grep -qx "SLURM_ARRAY_TASK_COUNT=4" env.2
	check "task env has SLURM_CONF (sbatch exports the caller's environment)" \
		grep -qx "SLURM_CONF=$SLURM_CONF" env.2
	check "output file per task (-o slurm-%A_%a.out)" test -f "slurm-${id}_3.out"
	out=$(task_states "$id" | tr '\n' ',')
	check "squeue -r -t all still lists the finished tasks as COMPLETED ('$out')" \
		test "$out" = "0 COMPLETED,1 COMPLETED,2 COMPLETED,3 COMPLETED,"
	out=$(squeue -h -j "$id" -o '%i %T')
	check "squeue without -t all no longer lists them ('$out')" test -z "$out"
	out=$(scontrol -o show job "$id" | grep -c 'JobState=COMPLETED .*ExitCode=0:0' || true)
	check "scontrol -o show job <array id> gives one COMPLETED, ExitCode=0:0 line per task ($out)" \
		test "$out" = 4
	out=$(scontrol show config | awk '$1 == "MinJobAge" {print $3}')
	check "MinJobAge keeps finished jobs for an hour ('$out')" test "$out" = 3600
	out=$(grep -c "JobState=COMPLETED .*ArrayJobId=$id ArrayTaskId=" "$G2G_SLURM_DIR/log/jobcomp.log" || true)
	check "job completion log has the 4 tasks ($out)" test "$out" = 4

	# sacct: no accounting storage, so it is expected to refuse; report what it says.
	st=0
	out=$(sacct -n -j "$id" 2>&1) || st=$?
	echo "note  sacct -j $id: exit $st: $out"

	# 2. Failure and cancellation. Throttled to 2 tasks at a time (%2) so that task 3 is
	#    still pending whatever the CPU count: 0 and 1 sleep, 2 fails with status 3, 3 would
	#    succeed.
	id=$(sbatch --parsable --array=0-3%2 -o 'slurm-%A_%a.out' --wrap \
		'case $SLURM_ARRAY_TASK_ID in 0|1) exec sleep 3107;; 2) exit 3;; 3) true;; esac')
	check "tasks 0 and 1 run" wait_state "${id}_1" RUNNING 30
	check "task 0 runs" wait_state "${id}_0" RUNNING 30
	out=$(task_states "$id" | tr '\n' ',')
	check "squeue -r shows the pending tasks one per line ('$out')" \
		test "$out" = "0 RUNNING,1 RUNNING,2 PENDING,3 PENDING,"
	scancel "${id}_3"
	sleep 1
	out=$(task_states "$id" | tr '\n' ',')
	check "a task cancelled while pending vanishes from squeue -t all ('$out')" \
		test "$out" = "0 RUNNING,1 RUNNING,2 PENDING,"
	t0=$(now)
	scancel "${id}_0"
	check "a running task cancelled becomes CANCELLED within 15 s" wait_state "${id}_0" CANCELLED 15
	timing "scancel of a running task to CANCELLED" "$(since "$t0")"
	check "task 2 then runs and FAILS" wait_state "${id}_2" FAILED 30
	out=$(scontrol -o show job "${id}_2" | grep -o 'JobState=[A-Z]* Reason=[A-Za-z]*\|\bExitCode=[0-9:]*' | tr '\n' ' ')
	check "scontrol shows the failure's exit status ('$out')" \
		test "$out" = "JobState=FAILED Reason=NonZeroExitCode ExitCode=3:0 "
	out=$(scontrol -o show job "${id}_0" | grep -o 'JobState=[A-Z]*\|\bExitCode=[0-9:]*' | tr '\n' ' ')
	check "scontrol shows the cancelled task killed by signal 15 ('$out')" \
		test "$out" = "JobState=CANCELLED ExitCode=0:15 "
	check "the cancelled task's output says so" grep -q "CANCELLED AT" "slurm-${id}_0.out"
	scancel "$id"
	check "scancel <array id> ends the rest within 15 s" wait_gone "$id" 15
	out=$(task_states "$id" | tr '\n' ',')
	check "final states ('$out')" test "$out" = "0 CANCELLED,1 CANCELLED,2 FAILED,"
	sleep 0.5
	check "no task process is left" bash -c '! pgrep -f "[s]leep 3107" >/dev/null'

	# 3. An unknown (or purged) job id is an error, not an empty answer.
	st=0
	out=$(squeue -h -t all -j 999999 -o '%T' 2>&1) || st=$?
	check "squeue of an unknown job id exits 1 with 'Invalid job id' (exit $st: '$out')" \
		test $st = 1 -a "${out#*Invalid job id}" != "$out"

	cd /
	rm -rf "$work"
}

# restarted: the short check after a restart.
restarted() {
	local t0=$1 id work
	timing "restart: run-with to idle" "$(since "$t0")"
	check "sinfo shows the node idle after a restart" test "$(sinfo -h -o '%T')" = idle
	work=$(mktemp -d)
	cd "$work"
	id=$(sbatch --parsable --array=0-1 -o /dev/null --wrap 'touch done.$SLURM_ARRAY_TASK_ID')
	check "array after a restart runs (job id $id: state was cleaned)" wait_gone "$id" 60
	check "both tasks ran" test -f done.0 -a -f done.1
	cd /
	rm -rf "$work"
}

case "${1:-}" in
--checks)
	checks "$2"
	exit 0
	;;
--restarted)
	restarted "$2"
	exit 0
	;;
esac

[ "$(id -u)" = 0 ] || command -v sudo >/dev/null || { echo "needs root or sudo" >&2; exit 1; }
results=$(mktemp)
export G2G_SELFTEST_RESULTS=$results

t0=$(now)
bash "$slurm" install
timing "install (no-op when installed)" "$(since "$t0")"

# A previous, killed run of this test may have left its cluster running.
bash "$slurm" stop 2>/dev/null

t0=$(now)
check "run-with runs the checks" bash "$slurm" run-with bash "$0" --checks "$t0"
timing "whole run-with (start, checks, stop)" "$(since "$t0")"

out=$(bash "$slurm" status 2>/dev/null | grep -c 'not running' || true)
check "run-with stopped munged, slurmctld and slurmd ($out of 3 not running)" test "$out" = 3
check "no pid files, state or spool left" \
	test ! -e "$G2G_SLURM_DIR/run" -a ! -e "$G2G_SLURM_DIR/state" -a ! -e "$G2G_SLURM_DIR/spool"
check "no slurmstepd of this cluster left" bash -c \
	'for p in $(pgrep -x slurmstepd); do tr "\0" "\n" </proc/$p/environ | grep -qxF "SLURM_CONF=$G2G_SLURM_DIR/etc/slurm.conf" && exit 1; done; exit 0'
check "stop when not running succeeds" bash "$slurm" stop

t0=$(now)
check "restart through run-with" bash "$slurm" run-with bash "$0" --restarted "$t0"

st=0
bash "$slurm" run-with sh -c 'exit 7' 2>/dev/null || st=$?
check "run-with exits with the command's status (7, got $st)" test "$st" = 7
out=$(bash "$slurm" status 2>/dev/null | grep -c 'not running' || true)
check "run-with stops the cluster after a failing command too" test "$out" = 3

echo
cat "$results.times"
passed=$(grep -c '^pass$' "$results" || true)
failed=$(grep -c '^fail$' "$results" || true)
rm -f "$results" "$results.times"
echo "slurm-selftest: $passed passed, $failed failed"
[ "$failed" = 0 ]
