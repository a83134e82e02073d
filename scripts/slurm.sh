#!/usr/bin/env bash
# A private, single-node Slurm cluster on this machine, for g2g's integration tests of
# `g2g experiment -executor slurm` (issue 14) and for trying the executor by hand.
#
#   scripts/slurm.sh install        apt-get install slurm-wlm and munge when missing
#   scripts/slurm.sh start          write the config, start munged, slurmctld and slurmd
#                                   from empty state (job ids restart at 1), wait until the
#                                   node is idle; prints `export SLURM_CONF=...`
#   scripts/slurm.sh stop           cancel all jobs, stop the daemons that start started,
#                                   remove the cluster's state (keeps key, config and logs)
#   scripts/slurm.sh status         sinfo and squeue of the private cluster
#   scripts/slurm.sh env            print the export lines (same as the env file)
#   scripts/slurm.sh run-with CMD…  install, start, run CMD with SLURM_CONF exported, stop
#                                   on exit; exits with CMD's status
#
# Everything lives in $G2G_SLURM_DIR (default /tmp/g2g-slurm): the configuration
# (etc/slurm.conf), a munge key and munged's socket (munge/), controller state (state/),
# slurmd spool (spool/), pid files (run/), logs (log/) and an env file (env) to source.
# /etc/slurm, /etc/munge and a system munged or Slurm cluster, if any, are left alone: the
# private cluster has its own munge socket (AuthInfo=socket=…), its own ports
# ($G2G_SLURMCTLD_PORT, $G2G_SLURMD_PORT, default 6917/6918 instead of Slurm's 6817/6818)
# and its own cluster name, and its clients find it through SLURM_CONF.
#
# The daemons run as root (SlurmUser=root); start and stop re-run themselves through sudo
# when not root. Jobs run as the user who submits them. The cluster is deliberately plain:
# proctrack/linuxproc and task/none (no cgroups, which these VMs and containers may not
# offer), no accounting database (so `sacct` does not work: see docs/slurm.md), a job
# completion log instead (log/jobcomp.log), finished jobs kept by slurmctld for
# $G2G_SLURM_MIN_JOB_AGE seconds (default 3600) so that squeue/scontrol can still report
# them.
#
# Other settings: G2G_SLURM_TIMEOUT (default 60) bounds the wait for the node to be idle.
# Notes on the setup, its gotchas, timings and what tests may rely on: docs/slurm.md.
set -euo pipefail

export PATH="$PATH:/usr/sbin:/sbin"

DIR=${G2G_SLURM_DIR:-/tmp/g2g-slurm}
DIR=$(realpath -m "$DIR") # absolute: it goes into slurm.conf and the env file
CTLD_PORT=${G2G_SLURMCTLD_PORT:-6917}
SLURMD_PORT=${G2G_SLURMD_PORT:-6918}
TIMEOUT=${G2G_SLURM_TIMEOUT:-60}
MIN_JOB_AGE=${G2G_SLURM_MIN_JOB_AGE:-3600}

CONF=$DIR/etc/slurm.conf
MUNGE_DIR=$DIR/munge
MUNGE_SOCKET=$MUNGE_DIR/munge.socket
MUNGE_KEY=$MUNGE_DIR/munge.key
MUNGE_PID=$DIR/run/munged.pid
CTLD_PID=$DIR/run/slurmctld.pid
SLURMD_PID=$DIR/run/slurmd.pid
ENV_FILE=$DIR/env
# The node is this machine, named by its short host name as slurmd would name itself.
NODE=$(hostname -s 2>/dev/null || uname -n | cut -d. -f1)

log() { echo "slurm.sh: $*" >&2; }
die() {
	log "error: $*"
	exit 1
}

# as_root re-runs this script with the same subcommand as root (through sudo) when needed,
# passing on the settings above.
as_root() {
	if [ "$(id -u)" = 0 ]; then
		return 0
	fi
	command -v sudo >/dev/null || die "$1 needs root (or sudo)"
	exec sudo env G2G_SLURM_DIR="$DIR" G2G_SLURMCTLD_PORT="$CTLD_PORT" \
		G2G_SLURMD_PORT="$SLURMD_PORT" G2G_SLURM_TIMEOUT="$TIMEOUT" \
		G2G_SLURM_MIN_JOB_AGE="$MIN_JOB_AGE" PATH="$PATH" bash "$0" "$@"
}

# alive PIDFILE NAME: the process in PIDFILE runs and is NAME (pid files can outlive their
# process, and pids are reused).
alive() {
	local pid="" comm="" stat=""
	# (read, not $(cat): a fork per call takes a while on a loaded machine; read fails at a
	# missing final newline, hence the || true)
	[ -f "$1" ] || return 1
	read -r pid 2>/dev/null <"$1" || true
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	[ -e "/proc/$pid/comm" ] || return 1
	read -r comm 2>/dev/null <"/proc/$pid/comm" || true
	[ "$comm" = "$2" ] || return 1
	# A daemon that exited stays a zombie until PID 1 reaps it, which on these machines can
	# take a while: its comm still reads NAME, but its state is Z.
	read -r stat 2>/dev/null <"/proc/$pid/stat" || true
	stat=${stat##*) }
	[ "${stat%% *}" != Z ]
}

# running: all three daemons of the private cluster run.
running() {
	alive "$MUNGE_PID" munged && alive "$CTLD_PID" slurmctld && alive "$SLURMD_PID" slurmd
}

cmd_install() {
	local missing=() p sudo=""
	for p in slurm-wlm munge; do
		dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
	done
	if ((${#missing[@]} == 0)); then
		return 0
	fi
	if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
	log "installing ${missing[*]}"
	$sudo apt-get update -qq
	# The packages' maintainer scripts may try to start the system's munge and slurm services
	# (on a machine with a policy-rc.d that says 101, as here, they do not). Either way this
	# script's cluster does not use them.
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
		"${missing[@]}" >/dev/null
}

# ensure_hostname makes the short host name resolve, adding "127.0.0.1 NAME" to /etc/hosts
# only when it does not. Slurm itself does not need it here (slurm.conf gives 127.0.0.1 as
# the controller's and the node's address; tried with an unresolvable name: the cluster ran
# jobs), but munged warns "Failed to lookup origin", and on a fresh VM whose DNS does not
# answer every lookup of the unknown name (by the daemons, sbatch, srun, the jobs) can stall
# for the resolver's timeout.
ensure_hostname() {
	if getent hosts "$NODE" >/dev/null 2>&1; then
		return 0
	fi
	log "host name $NODE does not resolve: adding '127.0.0.1 $NODE' to /etc/hosts"
	echo "127.0.0.1 $NODE" >>/etc/hosts
}

# write_conf writes slurm.conf for this machine: nproc CPUs, and RealMemory 95% of MemTotal
# (slurmd drains a node whose configured memory exceeds what it measures; the margin keeps
# the configured value below any rounding of the measured one).
write_conf() {
	local cpus mem_kb mem_mb tmp
	cpus=$(nproc)
	mem_kb=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)
	mem_mb=$((mem_kb * 95 / 100 / 1024))
	mkdir -p "$DIR/etc"
	tmp=$(mktemp "$CONF.XXXXXX")
	cat >"$tmp" <<EOF
# Written by scripts/slurm.sh start: a private single-node cluster for g2g's tests.
ClusterName=g2g
SlurmctldHost=$NODE(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$MUNGE_SOCKET
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$CTLD_PID
SlurmdPidFile=$SLURMD_PID
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$DIR/log/jobcomp.log
MpiDefault=none
SwitchType=switch/none
MailProg=/bin/true
SchedulerType=sched/backfill
# Schedule batch jobs at once: with the default delay of 3 s, each wave of array tasks
# waits about 3 s after the previous wave ends.
SchedulerParameters=batch_sched_delay=0
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
DefMemPerCPU=$((mem_mb / cpus))
# Trust this file's node description (no drain when slurmd measures a little less).
SlurmdParameters=config_overrides
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=30
MessageTimeout=10
InactiveLimit=0
KillWait=5
Waittime=0
MinJobAge=$MIN_JOB_AGE
NodeName=$NODE NodeAddr=127.0.0.1 NodeHostname=$NODE CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
	chmod 644 "$tmp"
	mv "$tmp" "$CONF"
	cat >"$ENV_FILE.tmp" <<EOF
export SLURM_CONF=$CONF
EOF
	chmod 644 "$ENV_FILE.tmp"
	mv "$ENV_FILE.tmp" "$ENV_FILE"
}

start_munge() {
	if alive "$MUNGE_PID" munged; then
		return 0
	fi
	mkdir -p "$MUNGE_DIR" "$DIR/run" "$DIR/log"
	# munged refuses a key or socket directory that others can write to, and a socket
	# directory that others cannot enter (every user's client must reach the socket).
	chmod 755 "$MUNGE_DIR"
	if [ ! -s "$MUNGE_KEY" ]; then
		if command -v mungekey >/dev/null; then
			mungekey --create --keyfile="$MUNGE_KEY"
		else
			dd if=/dev/urandom of="$MUNGE_KEY" bs=1024 count=1 status=none
		fi
	fi
	chmod 400 "$MUNGE_KEY"
	rm -f "$MUNGE_SOCKET" "$MUNGE_SOCKET.lock"
	munged --socket="$MUNGE_SOCKET" --key-file="$MUNGE_KEY" --pid-file="$MUNGE_PID" \
		--log-file="$DIR/log/munged.log" --seed-file="$MUNGE_DIR/munged.seed"
	# A credential round trip proves the socket, the key and the daemon.
	munge --socket="$MUNGE_SOCKET" -n | unmunge --socket="$MUNGE_SOCKET" >/dev/null ||
		die "munged does not answer on $MUNGE_SOCKET; $(tail -n 20 "$DIR/log/munged.log" 2>&1)"
}

# node_state prints the node's state as sinfo reports it (idle, mixed, down*, ...), or
# nothing when slurmctld does not answer.
node_state() {
	SLURM_CONF=$CONF timeout 10 sinfo -h -N -n "$NODE" -o '%T' 2>/dev/null | head -n 1 || true
}

# wait_idle waits at most $TIMEOUT seconds for the node to be usable.
wait_idle() {
	local deadline=$((SECONDS + TIMEOUT)) state=""
	while ((SECONDS < deadline)); do
		state=$(node_state)
		case $state in
		idle | mixed | allocated | completing) return 0 ;;
		esac
		sleep 0.25
	done
	log "error: node $NODE is not idle after ${TIMEOUT}s (sinfo says '${state:-no answer}')"
	{
		SLURM_CONF=$CONF timeout 10 sinfo -R 2>&1 || true
		local f
		for f in munged slurmctld slurmd; do
			echo "--- tail of $DIR/log/$f.log"
			tail -n 25 "$DIR/log/$f.log" 2>&1 || true
		done
	} >&2
	return 1
}

cmd_start() {
	as_root start
	local b
	for b in slurmctld slurmd munged; do
		command -v "$b" >/dev/null || die "$b not found: run '$0 install' first"
	done
	if running; then
		wait_idle || exit 1
		log "already running (SLURM_CONF=$CONF)"
		cat "$ENV_FILE"
		return 0
	fi
	# Some but not all daemons run (a crash, a killed run): start again from scratch.
	stop_daemons
	# A daemon that cannot bind its port keeps running without serving, and the node would
	# only fail to become idle after $TIMEOUT s: say at once which port is taken (by another
	# cluster, or another G2G_SLURM_DIR with the same ports).
	local port
	for port in "$CTLD_PORT" "$SLURMD_PORT"; do
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			die "port $port is in use (another Slurm?): set G2G_SLURMCTLD_PORT and G2G_SLURMD_PORT"
		fi
	done
	ensure_hostname
	# Fresh state every start: stale jobs of a killed run must not come back. Job ids start
	# at 1 again, so the previous run's logs (the job completion log names job ids) move to
	# *.log.1.
	rm -rf "$DIR/state" "$DIR/spool" "$DIR/run"
	mkdir -p "$DIR/state" "$DIR/spool" "$DIR/run" "$DIR/log"
	local f
	for f in "$DIR"/log/*.log; do
		if [ -e "$f" ]; then mv -f "$f" "$f.1"; fi
	done
	chmod 755 "$DIR"
	write_conf
	start_munge
	export SLURM_CONF=$CONF
	# Both daemons fork into the background and write their pid files.
	slurmctld -f "$CONF"
	slurmd -f "$CONF" -N "$NODE"
	wait_idle || exit 1
	log "node $NODE is idle (SLURM_CONF=$CONF)"
	cat "$ENV_FILE"
}

# stop_pid PIDFILE NAME: SIGTERM, up to 10 s, then SIGKILL.
stop_pid() {
	local pid i
	alive "$1" "$2" || {
		rm -f "$1"
		return 0
	}
	pid=$(cat "$1")
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 100; i++)); do
		alive "$1" "$2" || break
		sleep 0.1
	done
	if alive "$1" "$2"; then
		log "$2 ($pid) did not stop on SIGTERM: SIGKILL"
		kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -f "$1"
}

stop_daemons() {
	stop_pid "$SLURMD_PID" slurmd
	stop_pid "$CTLD_PID" slurmctld
	stop_pid "$MUNGE_PID" munged
}

# sweep_steps kills job steps of this cluster that outlived slurmd (slurmctld was gone, so
# their jobs could not be cancelled): each slurmstepd carries slurmd's environment, hence
# SLURM_CONF=$CONF; its tasks are each in their own process group.
sweep_steps() {
	local p c comm
	for p in /proc/[0-9]*; do
		comm=""
		read -r comm 2>/dev/null <"$p/comm" || true
		[ "$comm" = slurmstepd ] || continue
		tr '\0' '\n' 2>/dev/null <"$p/environ" | grep -qxF "SLURM_CONF=$CONF" || continue
		log "killing leftover job step ${p#/proc/} and its tasks"
		for c in $(ps -o pgid= --ppid "${p#/proc/}" 2>/dev/null | sort -u); do
			kill -KILL -- "-$c" 2>/dev/null || true
		done
		kill -KILL "${p#/proc/}" 2>/dev/null || true
	done
}

cmd_stop() {
	as_root stop
	local i
	if alive "$CTLD_PID" slurmctld; then
		# Cancel every job of the private cluster (cancelling an array's id cancels all its
		# tasks), so that no job step outlives slurmd, and wait at most 20 s for them to end.
		export SLURM_CONF=$CONF
		timeout 10 squeue -h -o '%F' 2>/dev/null | sort -u | xargs -r timeout 10 scancel 2>/dev/null || true
		for ((i = 0; i < 40; i++)); do
			[ -z "$(timeout 10 squeue -h -t running,completing,configuring -o '%A' 2>/dev/null)" ] && break
			sleep 0.5
		done
	fi
	stop_daemons
	sweep_steps
	rm -rf "$DIR/state" "$DIR/spool" "$DIR/run"
	log "stopped"
}

cmd_status() {
	[ -f "$CONF" ] || die "no cluster configured in $DIR (run '$0 start')"
	export SLURM_CONF=$CONF
	local d
	for d in munged:"$MUNGE_PID" slurmctld:"$CTLD_PID" slurmd:"$SLURMD_PID"; do
		if alive "${d#*:}" "${d%%:*}"; then
			echo "${d%%:*}: running (pid $(cat "${d#*:}"))"
		else
			echo "${d%%:*}: not running"
		fi
	done
	echo "SLURM_CONF=$CONF"
	if alive "$CTLD_PID" slurmctld; then
		timeout 10 sinfo || true
		timeout 10 squeue || true
	fi
}

cmd_run_with() {
	(($# > 0)) || die "run-with needs a command"
	local was_running=0 status=0
	cmd_install
	if running; then
		# A cluster started before (by hand) is left running afterwards.
		was_running=1
	fi
	if ((!was_running)); then
		# Set before start, so that a start that fails half way is cleaned up too.
		trap 'bash "$0" stop' EXIT
	fi
	bash "$0" start >/dev/null
	export SLURM_CONF=$CONF
	"$@" || status=$?
	return "$status"
}

case "${1:-}" in
install) cmd_install ;;
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
env) cat "$ENV_FILE" ;;
run-with)
	shift
	cmd_run_with "$@"
	;;
*)
	sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
	exit 2
	;;
esac
