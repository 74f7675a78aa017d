#!/usr/bin/env bash
# Start a throwaway one-node SLURM cluster (munged, slurmctld, slurmd) on this host for the tests.
# Usage: tests/slurm/up.sh [STATE_DIR]; tests/slurm/down.sh [STATE_DIR] stops what it started.
#
# Run as root: installs Debian's slurmctld slurmd slurm-client munge when missing, and runs the
# daemons as root. STATE_DIR (argument, else $MNIST_SLURM_STATE, else /tmp/mnist-study-slurm)
# holds slurm.conf, the munge key and socket, spool, state, logs, jobcomp.log and `pids`. Outside
# it only the link /run/slurm/conf/slurm.conf is written (see below); /etc is left to the packages.
# Idempotent: with the recorded daemons alive and the node idle it just says so.
# Environment: MNIST_SLURM_PARTITION (partition name, default debug), MNIST_SLURM_CTLD_PORT and
# MNIST_SLURM_SLURMD_PORT (6817, 6818), MNIST_SLURM_START_TIMEOUT (seconds until idle, 60).
set -euo pipefail

STATE=${1:-${MNIST_SLURM_STATE:-/tmp/mnist-study-slurm}}
mkdir -p "$STATE"
STATE=$(cd "$STATE" && pwd)
CONF=$STATE/slurm.conf
PIDS=$STATE/pids
HERE=$(cd "$(dirname "$0")" && pwd)
# Ports are overridable so that a host already running SLURM on the defaults can run the tests.
CTLD_PORT=${MNIST_SLURM_CTLD_PORT:-6817}
SLURMD_PORT=${MNIST_SLURM_SLURMD_PORT:-6818}
PARTITION=${MNIST_SLURM_PARTITION:-debug}
START_TIMEOUT=${MNIST_SLURM_START_TIMEOUT:-60}
RUN_CONF=/run/slurm/conf/slurm.conf
export SLURM_CONF=$CONF

log() { echo "slurm-up: $*" >&2; }

# Process start time (field 22 of /proc/PID/stat) pins a pid to one process: down.sh compares it
# before signalling, so a recycled pid is never killed. A zombie counts as gone.
start_time() {
    local rest
    rest=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) || return 1
    read -r -a f <<<"$rest"
    [[ ${f[0]} != Z ]] && echo "${f[19]}"
}

alive_all() {
    [[ -s $PIDS ]] || return 1
    local name pid stime
    while read -r name pid stime; do
        [[ $(start_time "$pid") == "$stime" ]] || return 1
    done <"$PIDS"
}

node_state() { timeout 10 sinfo -h -N -n "$NODE" -o '%T' 2>/dev/null | head -n1; }

wait_idle() {
    local deadline=$((SECONDS + START_TIMEOUT)) state=""
    while ((SECONDS < deadline)); do
        state=$(node_state || true)
        [[ $state == idle ]] && return 0
        sleep 0.5
    done
    log "node $NODE not idle after ${START_TIMEOUT}s (sinfo says '${state:-nothing}')"
    return 1
}

NODE=$(hostname -s)

if alive_all; then
    if wait_idle; then
        log "already running (state in $STATE)"
        echo "export SLURM_CONF=$CONF"
        exit 0
    fi
    log "daemons from an earlier start are alive but the node is not idle; restarting them"
    "$HERE/down.sh" "$STATE"
fi

if [[ $(id -u) != 0 ]]; then
    log "run as root: it installs packages, runs the daemons as root and writes $RUN_CONF"
    exit 1
fi
# The slurm executor's job step strips SLURM_* variables (SLURM_CONF too) before its inner srun,
# which then reads only /etc/slurm/slurm.conf or the configless cache link /run/slurm/conf. A host
# with its own /etc/slurm/slurm.conf already has a cluster: use that one instead of this.
if [[ -e /etc/slurm/slurm.conf ]]; then
    log "/etc/slurm/slurm.conf exists: this host already has a SLURM; run 'pytest -m slurm' on it"
    exit 1
fi
if [[ -e $RUN_CONF || -L $RUN_CONF ]] && [[ $(readlink "$RUN_CONF") != "$CONF" ]]; then
    log "$RUN_CONF exists and is not this cluster's; is another test cluster running?"
    exit 1
fi

missing=()
for cmd in munged slurmctld slurmd sinfo sbatch squeue; do
    command -v "$cmd" >/dev/null || missing+=("$cmd")
done
if ((${#missing[@]})); then
    log "installing slurmctld slurmd slurm-client munge (missing: ${missing[*]})"
    apt_install() {
        DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -q --no-install-recommends \
            slurmctld slurmd slurm-client munge >"$STATE/apt.log" 2>&1
    }
    # The package lists may be absent on a fresh image; update only when the install needs it.
    if ! apt_install; then
        timeout 300 apt-get update -q >>"$STATE/apt.log" 2>&1
        apt_install || { tail -n 20 "$STATE/apt.log" >&2; exit 1; }
    fi
fi

mkdir -p "$STATE/munge" "$STATE/ctld" "$STATE/spool" "$STATE/log"
chmod 700 "$STATE/munge"
rm -f "$PIDS" "$STATE/munge/munge.socket" "$STATE/munge/munge.socket.lock"
if [[ ! -s $STATE/munge/munge.key ]]; then
    (umask 077 && dd if=/dev/urandom of="$STATE/munge/munge.key" bs=1024 count=1 status=none)
fi

# slurmd -C reports what slurmd will measure at registration; configuring exactly that keeps the
# node from being drained for "low RealMemory" or a CPU mismatch.
read -r -a HW < <(slurmd -C | head -n1)
HWLINE=""
CPUS=1
MEM=1024
for kv in "${HW[@]}"; do
    case $kv in
    NodeName=*) ;;
    CPUs=*) CPUS=${kv#CPUs=} && HWLINE+=" $kv" ;;
    RealMemory=*) MEM=${kv#RealMemory=} && HWLINE+=" $kv" ;;
    *) HWLINE+=" $kv" ;;
    esac
done
# A job without --mem would otherwise be given the whole node and block every other job.
DEF_MEM=$((MEM / CPUS))

cat >"$CONF" <<EOF
# One-node test cluster written by tests/slurm/up.sh; state in $STATE.
ClusterName=mnist-study
SlurmctldHost=$NODE
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$STATE/munge/munge.socket
CredType=cred/munge
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
# No cgroups and no systemd in containers: track processes through /proc, bind nothing.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
# Without slurmdbd the finished-job record is this file (tests read job ids and states from it).
JobCompType=jobcomp/filetxt
JobCompLoc=$STATE/jobcomp.log
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=$DEF_MEM
SchedulerType=sched/backfill
MpiDefault=none
SwitchType=switch/none
MailProg=/bin/true
ReturnToService=2
# MinJobAge stays at its default (300 s): squeue-based status checks need finished jobs listed.
NodeName=$NODE$HWLINE State=UNKNOWN
PartitionName=$PARTITION Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF

started=()
up=0
# Any failure below (set -e) exits through here: stop whatever was started, show why.
on_exit() {
    ((up)) && return
    log "start failed; stopping what was started. Logs in $STATE/log:"
    tail -n 15 "$STATE"/log/* 2>/dev/null >&2 || true
    "$HERE/down.sh" "$STATE" || true
}
trap on_exit EXIT

# Foreground daemons under setsid: $! is the daemon itself (no double fork), the process survives
# this script and Ctrl-C in the caller's terminal, and stdio points at files so a caller reading
# our output through a pipe is never held open by a daemon.
launch() {
    local name=$1
    shift
    setsid "$@" </dev/null >"$STATE/log/$name.out" 2>&1 &
    local pid=$!
    local stime=""
    for _ in $(seq 50); do
        stime=$(start_time "$pid") && [[ -n $stime ]] && break
        sleep 0.1
    done
    [[ -n $stime ]] || { log "$name exited at once"; return 1; }
    echo "$name $pid $stime" >>"$PIDS"
    started+=("$name:$pid")
}

wait_for() {
    local what=$1 deadline=$((SECONDS + $2))
    shift 2
    until "$@" >/dev/null 2>&1; do
        ((SECONDS < deadline)) || { log "timed out waiting for $what"; return 1; }
        sleep 0.2
    done
}

t0=$SECONDS
mkdir -p "$(dirname "$RUN_CONF")"
ln -sfn "$CONF" "$RUN_CONF"
launch munged munged --foreground --force --socket="$STATE/munge/munge.socket" \
    --key-file="$STATE/munge/munge.key" --pid-file="$STATE/munge/munged.pid" \
    --seed-file="$STATE/munge/munged.seed" --log-file="$STATE/log/munged.log"
wait_for "munged socket" 10 test -S "$STATE/munge/munge.socket"

# -c: a throwaway cluster starts empty, so job ids and the jobcomp record begin afresh.
: >"$STATE/jobcomp.log"
launch slurmctld slurmctld -D -c -f "$CONF"
wait_for "slurmctld to answer" 30 scontrol ping
launch slurmd slurmd -D -f "$CONF"
wait_idle
up=1

log "cluster up in $((SECONDS - t0))s: node $NODE ($CPUS CPUs, ${MEM} MB), partition $PARTITION"
log "daemons: ${started[*]} (recorded in $PIDS)"
echo "export SLURM_CONF=$CONF"
