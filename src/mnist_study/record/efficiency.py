"""How near the study ran to its compute limit: training FLOPs over the machine's matmul figure,
against the wall time from the jobs' own stamps, and the share of job time outside the epochs.

The report shows these figures and writes them to results/tables/efficiency.json.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

from mnist_study.record.provenance import benchmark_seconds
from mnist_study.runrecord import run_flops

# Idle time between jobs beyond this (seconds) means the study was stopped and started again:
# its wall time then says nothing about speed, and the figures are labelled partial.
MAX_IDLE_S = 60.0
# Jobs whose outputs every study of a checkout shares (fetch_data: the files under data.root).
# Where another study made them this one plans no such job, and that is no partial rerun.
SHARED_JOBS = frozenset({"fetch_data"})


def _read_json(path) -> dict | None:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _idle(intervals: Sequence[tuple[float, float]]) -> float:
    """Seconds between the first start and the last end when no job ran."""
    idle, reach = 0.0, None
    for start, end in sorted(intervals):
        if reach is not None and start > reach:
            idle += start - reach
        reach = end if reach is None else max(reach, end)
    return idle


def efficiency(
    records: Mapping,
    jobs: Sequence[Mapping],
    matmul: Mapping,
    report_start: float,
    report_end: float,
    previous_report: Mapping | None = None,
) -> dict:
    """The figures of this invocation of the study.

    ``records``: every run's train.json; ``jobs``: every other job's ``name``, ``stamp`` (its
    start and end, written by the job) and ``benchmark`` file; ``matmul``: the bench_matmul
    figure; ``report_start``/``report_end``: this report job's own span; ``previous_report``:
    the stamps the last report job left, if any. A job belongs to this invocation when it
    started after that report ended; where some job did not (a partial rerun) or the jobs stood
    idle for long, the figures are labelled partial and cover only this invocation's jobs.
    """
    since = float((previous_report or {}).get("end", -math.inf))
    ran, skipped = [], []
    for job in jobs:
        stamp = _read_json(job["stamp"])
        if stamp is not None and stamp.get("start", -math.inf) > since:
            ran.append((job, stamp))
        elif job["name"] not in SHARED_JOBS:
            skipped.append(job["name"])
    intervals = [(s["start"], s["end"]) for _, s in ran] + [(report_start, report_end)]
    first = min(start for start, _ in intervals)
    trained = [r for r in records.values() if float(r.get("finished_at", -math.inf)) > since]
    train_flops = sum(run_flops(r) for r in trained)
    epoch_seconds = sum(sum(r["epoch_seconds"]) for r in trained)
    job_seconds = sum(sum(benchmark_seconds(job["benchmark"])) for job, _ in ran)
    job_seconds += report_end - report_start
    figure = float(matmul["matmul_flops_per_s"])
    limit = train_flops / figure
    wall = report_end - first
    idle = _idle(intervals)
    return {
        "train_flops": train_flops,
        "matmul_flops_per_s": figure,
        "matmul_threads": matmul.get("threads"),
        "limit_seconds": limit,
        "wall_seconds": wall,
        "ratio": wall / limit if limit > 0 else None,
        "outside_epoch_share": 1 - epoch_seconds / job_seconds if job_seconds > 0 else None,
        "epoch_seconds": epoch_seconds,
        "job_seconds": job_seconds,
        "idle_seconds": idle,
        "jobs": len(ran) + 1,
        "jobs_in_study": len(jobs) + 1,
        "runs_trained": len(trained),
        "runs_in_study": len(records),
        "partial": bool(skipped) or len(trained) < len(records) or idle > MAX_IDLE_S,
        "started": first,
        "ended": report_end,
    }


def figures_from_files(
    records: Mapping, jobs: Sequence[Mapping], matmul, report_stamp, report_start, report_end
) -> dict:
    """efficiency() with the matmul figure and the last report job's stamps read from their
    files (``report_stamp`` absent or unreadable: no report ran before)."""
    return efficiency(
        records,
        jobs,
        _read_json(matmul),
        report_start,
        report_end,
        previous_report=_read_json(report_stamp) if report_stamp else None,
    )
