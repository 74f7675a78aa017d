#!/bin/sh
# After a failed Snakemake run: if lock files remain in <dir>/.snakemake/locks, print the one
# command that removes them, and when it is safe to run it. Snakemake removes its own locks after
# an ordinary failure, so locks that remain mean another Snakemake runs in <dir>, or one was
# killed (kill -9, power loss) and left them stale. This script never removes a lock itself.
# Usage: lock-hint.sh <dir> <unlock command>; exit status 0 (prints nothing when no lock remains).
set -eu
if [ "$#" -ne 2 ]; then
    echo "usage: $0 <dir> <unlock command>" >&2
    exit 2
fi
locks="${1%/}/.snakemake/locks"
locks="${locks#./}" # "." names the current folder: print .snakemake/locks
for lock in "$locks"/*.lock; do
    [ -e "$lock" ] || exit 0 # the glob matched nothing: no lock remains
    break
done
cat >&2 <<HINT

Snakemake's lock files remain in $locks.
If a crash or kill left them, remove them with:
    $2
Warning: run it only when no other Snakemake is using this folder; unlocking under a
running Snakemake lets two runs write the same files.
HINT
