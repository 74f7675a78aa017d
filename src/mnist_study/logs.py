"""Set-up for Snakemake job processes: stderr and the package's log records go to the rule's log
file, and the process skips work at exit that a short job would pay for every time.

Every thin script in workflow/scripts calls ``start_job(snakemake.log[0])`` first. A
``StudyError`` (bad input: the message names the culprit and the remedy) ends the job with one
line ``error: <message>`` in the log and exit status 1; Snakemake prints a failed job's log
(show-failed-logs), so that line is what the user sees. Any other exception keeps its traceback.
"""

from __future__ import annotations

import atexit
import gc
import json
import logging
import os
import sys
import time
from pathlib import Path

import psutil

from mnist_study import StudyError
from mnist_study.atomic import write_text


def start_job(path: str | os.PathLike) -> None:
    """Redirect stderr (warnings, tracebacks) and ``logging`` to ``path`` for this process."""
    stream = open(path, "a", buffering=1, encoding="utf-8")  # noqa: SIM115 - lives as long as the job
    sys.stderr = stream
    logging.basicConfig(
        stream=stream,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    # Outputs are written and renamed before exit; what is left is the interpreter's final
    # garbage collection over the ~1M objects torch creates at import, 0.7 s per job here
    # (4.1 -> 3.4 s for `import torch` and exit). Frozen objects are left to the OS to free.
    atexit.register(gc.freeze)
    atexit.register(_write_times, stamp_path(path), process_start())
    sys.excepthook = _study_excepthook


def stamp_path(log: str | os.PathLike) -> Path:
    """Where a job's start and end stamps go: beside its log (``x.log`` -> ``x.times.json``)."""
    return Path(log).with_suffix(".times.json")


def process_start() -> float:
    """When this process started (Unix time), before its imports: the job's own start."""
    try:
        return psutil.Process().create_time()
    except Exception:  # noqa: BLE001 - no psutil: the job's start is when it set up its log
        return time.time()


def _write_times(path: Path, start: float) -> None:
    """The job's start and end stamps, written atomically as it exits (a killed job writes none,
    and its rerun writes them anew). Benchmark files hold durations, not start times."""
    write_text(path, json.dumps({"start": start, "end": time.time(), "pid": os.getpid()}) + "\n")


def _study_excepthook(kind, value, traceback) -> None:
    """A StudyError is a message for the user, not a bug: one line, no traceback, status 1."""
    if not issubclass(kind, StudyError):
        sys.__excepthook__(kind, value, traceback)
        return
    # The interpreter then exits with status 1, as after any uncaught exception.
    print(f"error: {value}", file=sys.stderr, flush=True)
