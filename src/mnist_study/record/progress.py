"""A study's progress a person can follow: runs planned at the parse against runs finished, one
console line per run from the train jobs, and `python -m` of this module for any study folder."""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from mnist_study.atomic import write_text
from mnist_study.formatting import seconds as seconds_text

logger = logging.getLogger(__name__)

# Two files whatever the study's size: a line reads these and nothing else.
PLAN = Path("results") / "progress" / "plan.json"
LEDGER = Path("results") / "progress" / "runs.jsonl"
# Set at the Snakemake parse and inherited by every job it starts: which runs the rate is over.
INVOCATION = "MNIST_STUDY_INVOCATION"
TERA = 1e12


def run_id(code: str, model: dict, training: dict, seed: int) -> str:
    """What a run trains (the rule's code hash, model, training and seed) as a short digest: it
    changes exactly where the run would train anew."""
    text = json.dumps([code, model, training, int(seed)], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def planned_run(
    folder: str, label: str, flops: float, run: str | None, optional: bool = False
) -> dict:
    """One entry of the plan, by its run's folder (its outputs' place: which run it is, however
    the jobs group the runs). ``run`` is its run_id, None while its lr waits for a sweep's choice;
    an ``optional`` run (a sweep extension no round has asked for) counts once trained."""
    return {
        "folder": folder,
        "label": label,
        "tflop": flops / TERA,
        "id": run,
        "optional": optional,
    }


def start_invocation() -> str:
    """This invocation's name, made by its parse and kept by the job processes it starts."""
    return os.environ.setdefault(INVOCATION, f"{time.time():.3f}-{os.getpid()}")


def write_plan(runs: list[dict], root: str | os.PathLike = ".") -> bool:
    """Write the plan where its runs changed; ``since`` says when they last did (the ledger's
    lines before it cannot vouch for a run the plan does not name by its id)."""
    path = Path(root) / PLAN
    old = read_plan(root)
    if old is not None and old.get("runs") == runs:
        return False
    planned = [r for r in runs if not r["optional"]]
    plan = {
        "since": time.time(),
        "tflop": sum(r["tflop"] for r in planned),
        "count": len(planned),
        "runs": runs,
    }
    write_text(path, json.dumps(plan, indent=1) + "\n")
    return True


def read_plan(root: str | os.PathLike = ".") -> dict | None:
    try:
        return json.loads((Path(root) / PLAN).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


def append_run(folder: str, run: str, seconds: float | None, root: str | os.PathLike = ".") -> dict:
    """Add a finished run (``seconds`` None: kept, put back untrained) to the ledger."""
    line = {
        "folder": folder,
        "id": run,
        "seconds": None if seconds is None else round(float(seconds), 3),
        "kept": seconds is None,
        "time": round(time.time(), 3),
        "invocation": os.environ.get(INVOCATION),
    }
    path = Path(root) / LEDGER
    path.parent.mkdir(parents=True, exist_ok=True)
    # One short line in one O_APPEND write: jobs running side by side never mix their lines
    # (on a local disk; NFS does not promise it, and read_ledger skips a line cut short).
    data = (json.dumps(line, separators=(",", ":")) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    return line


def read_ledger(root: str | os.PathLike = ".") -> list[dict]:
    try:
        text = (Path(root) / LEDGER).read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    lines = []
    for raw in text.splitlines():
        try:
            lines.append(json.loads(raw))
        except ValueError:
            continue  # cut short by a kill mid-write: that run is simply not counted
    return lines


@dataclass(frozen=True)
class Progress:
    done_tflop: float
    planned_tflop: float
    done_runs: int
    planned_runs: int
    rate: float | None  # TFLOP a second of this invocation's trained runs; None before one

    @property
    def finished(self) -> bool:
        return self.done_runs >= self.planned_runs

    @property
    def seconds_left(self) -> float | None:
        if self.rate is None:
            return None
        return max(self.planned_tflop - self.done_tflop, 0.0) / self.rate


def tally(plan: dict, lines: list[dict], invocation: str | None) -> Progress:
    """The plan's runs done by the ledger: by folder and id (twin variants train the same id); a
    run whose id the plan could not know yet, or an optional one, by a line written since the
    plan last changed."""
    since = plan["since"]
    ever = {(line["folder"], line["id"]) for line in lines}
    recent = [line for line in lines if line["time"] >= since]
    recent_ids = {(line["folder"], line["id"]) for line in recent}
    recent_folders = {line["folder"] for line in recent}
    done = planned = 0
    done_tflop = planned_tflop = 0.0
    for run in plan["runs"]:
        if run["id"] is None:
            hit = run["folder"] in recent_folders
        else:
            hit = (run["folder"], run["id"]) in (recent_ids if run["optional"] else ever)
        if hit or not run["optional"]:
            planned, planned_tflop = planned + 1, planned_tflop + run["tflop"]
        if hit:
            done, done_tflop = done + 1, done_tflop + run["tflop"]
    return Progress(done_tflop, planned_tflop, done, planned, _rate(plan, lines, invocation))


def _rate(plan: dict, lines: list[dict], invocation: str | None) -> float | None:
    """TFLOP a second of the invocation's trained runs, from the first one's start to the last
    one's end: jobs side by side count together, as the time left will pass. The plan's FLOPs
    on both sides of the ratio, so an estimate off by a factor leaves the time left right."""
    tflop = {r["folder"]: r["tflop"] for r in plan["runs"]}
    trained = [
        line
        for line in lines
        if line.get("invocation") == invocation and not line["kept"] and line["seconds"] is not None
    ]
    if not trained:
        return None
    start = min(line["time"] - line["seconds"] for line in trained)
    end = max(line["time"] for line in trained)
    work = sum(tflop.get(line["folder"], 0.0) for line in trained)
    return work / (end - start) if end > start and work > 0 else None


def tflop_text(done: float, planned: float) -> str:
    """Done and planned TFLOP to the same decimals, enough for the total's size (a smoke study
    plans a few GFLOP: 0.0012/0.0034)."""
    places = 1 if planned <= 0 else min(max(1, 2 - math.floor(math.log10(planned))), 9)
    return f"{done:.{places}f}/{planned:.{places}f} TFLOP"


def time_left_text(progress: Progress) -> str:
    if progress.finished:
        return "all runs done"
    seconds = progress.seconds_left
    if seconds is None:
        return "time left not known yet"
    if seconds < 60:
        return "less than a minute left"
    if seconds < 90 * 60:
        return f"about {round(seconds / 60)} min left"
    return f"about {seconds / 3600:.1f} h left"


def run_line(label: str, seconds: float | None, progress: Progress | None) -> str:
    """``wide_small seed 23/45 done (7.3 s) · study 82.4/213.0 TFLOP · about 26 min left``."""
    head = f"{label} done ({'kept' if seconds is None else seconds_text(seconds)})"
    if progress is None:
        return f"{head} · no study plan to count it against"
    return f"{head} · study {tflop_text(progress.done_tflop, progress.planned_tflop)} · " + (
        time_left_text(progress)
    )


def study_line(progress: Progress) -> str:
    if progress.finished:
        total = tflop_text(progress.planned_tflop, progress.planned_tflop).split("/")[1]
        return f"study finished: {total}, {progress.planned_runs} runs"
    return (
        f"study {tflop_text(progress.done_tflop, progress.planned_tflop)} "
        f"({progress.done_runs}/{progress.planned_runs} runs) · {time_left_text(progress)}"
    )


def _label(plan: dict | None, folder: str) -> str:
    found = next((r for r in plan["runs"] if r["folder"] == folder), None) if plan else None
    return found["label"] if found else folder


def finish_run(
    folder: str, run: str, seconds: float | None, root: str | os.PathLike = "."
) -> str | None:
    """Ledger a finished run and print its line to the job's own stdout (Snakemake's console;
    stderr goes to the job's log). A failure here is logged, never the job's: its run is done."""
    try:
        append_run(folder, run, seconds, root)
        plan, lines = read_plan(root), read_ledger(root)
        counted = tally(plan, lines, os.environ.get(INVOCATION)) if plan else None
        line = run_line(_label(plan, folder), seconds, counted)
    except (OSError, ValueError, KeyError, TypeError) as err:
        logger.warning("progress of %s not shown: %r", folder, err)
        return None
    print(line, file=sys.__stdout__, flush=True)
    logger.info(line)
    return line


def reporter(
    code: str, model: dict, training: dict, seeds: Sequence[int], infos: Sequence[str]
) -> Callable[[int, dict, bool], None]:
    """A train job's on_run_end: its runs by their place in ``seeds``, each in the folder of its
    train.json (of ``infos``, as the plan names it)."""

    def on_run_end(index: int, info: dict, kept: bool) -> None:
        run = run_id(code, model, training, seeds[index])
        finish_run(os.path.dirname(infos[index]), run, None if kept else info["train_seconds"])

    return on_run_end


def summary(folder: str | os.PathLike) -> str:
    """The study line of the study in ``folder``: its latest invocation's rate."""
    plan = read_plan(folder)
    if plan is None:
        return f"no study has started in {folder}: run make report first"
    lines = read_ledger(folder)
    latest = lines[-1].get("invocation") if lines else None
    return study_line(tally(plan, lines, latest))


def main(argv: Sequence[str]) -> int:
    """python -m mnist_study.record.progress [STUDY]: how far the study in STUDY (the folder
    Snakemake runs in: . for MNIST, results/<dataset> for another) has come."""
    parser = argparse.ArgumentParser(
        prog="python -m mnist_study.record.progress", description=main.__doc__
    )
    parser.add_argument("study", nargs="?", default=".")
    print(summary(parser.parse_args(argv).study))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
