#!/usr/bin/env bash
# Stop the test cluster that tests/slurm/up.sh started: exactly the pids it recorded, nothing else.
# Usage: tests/slurm/down.sh [STATE_DIR] (else $MNIST_SLURM_STATE, else /tmp/mnist-study-slurm)
#
# Jobs still queued or running are cancelled first so that no slurmstepd outlives its slurmd.
# A pid is signalled only while its process start time matches the one recorded at launch.
# The state folder is kept for its logs; up.sh starts afresh on it.
set -uo pipefail

STATE=${1:-${MNIST_SLURM_STATE:-/tmp/mnist-study-slurm}}
[[ -d $STATE ]] && STATE=$(cd "$STATE" && pwd)
PIDS=$STATE/pids
STOP_TIMEOUT=${MNIST_SLURM_STOP_TIMEOUT:-20}
export SLURM_CONF=$STATE/slurm.conf

log() { echo "slurm-down: $*" >&2; }
# Fields after the ")" that closes the command name: state is the 1st, start time the 20th.
# A zombie counts as stopped: nothing may reap it in a container whose init does not.
live_start_time() {
    local rest
    rest=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) || return 1
    read -r -a f <<<"$rest"
    [[ ${f[0]} != Z ]] && echo "${f[19]}"
}

is_ours() { [[ -n $2 && $(live_start_time "$1") == "$2" ]]; }

[[ -s $PIDS ]] || log "no daemons recorded in $PIDS"

# Cancel this cluster's jobs while slurmctld still runs, then give them a bounded time to end.
if [[ -s $PIDS && -f $SLURM_CONF ]] && timeout 10 scontrol ping >/dev/null 2>&1; then
    # Every job on this throwaway cluster came from the tests.
    timeout 10 squeue -h -o '%i' 2>/dev/null | xargs -r timeout 10 scancel 2>/dev/null || true
    deadline=$((SECONDS + STOP_TIMEOUT))
    while ((SECONDS < deadline)); do
        [[ -z $(timeout 10 squeue -h -o '%i' 2>/dev/null) ]] && break
        sleep 0.5
    done
fi

# Stop in reverse start order: slurmd, slurmctld, then munged they both authenticate through.
entries=()
[[ -s $PIDS ]] && mapfile -t entries < <(tac "$PIDS")
rc=0
for entry in "${entries[@]}"; do
    read -r name pid stime <<<"$entry"
    if ! is_ours "$pid" "$stime"; then
        log "$name (pid $pid) already gone"
        continue
    fi
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$((SECONDS + STOP_TIMEOUT))
    while is_ours "$pid" "$stime" && ((SECONDS < deadline)); do
        sleep 0.2
    done
    if is_ours "$pid" "$stime"; then
        log "$name (pid $pid) ignored SIGTERM for ${STOP_TIMEOUT}s; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        sleep 0.5
        if is_ours "$pid" "$stime"; then
            log "$name (pid $pid) still alive"
            rc=1
            continue
        fi
    fi
    log "stopped $name (pid $pid)"
done
# up.sh linked the configless path to this cluster's slurm.conf; drop the link only if still ours.
RUN_CONF=/run/slurm/conf/slurm.conf
if [[ -L $RUN_CONF && $(readlink "$RUN_CONF") == "$SLURM_CONF" ]]; then
    rm -f "$RUN_CONF"
    rmdir /run/slurm/conf /run/slurm 2>/dev/null || true
fi
((rc == 0)) && rm -f "$PIDS"
exit "$rc"
