"""The records a study's jobs leave for later stages: a run's train.json, a sweep's choice.json.

Base layer: the engine writes them, and evidence, record and report read them only through here.
"""

from __future__ import annotations

import json
from pathlib import Path

from mnist_study import StudyError

# 1: train.json carries format, dataset and the training machine (host, CPU, GPU, torch).
# 2: and what the compute figures need: training images, epochs, FLOPs per sample, end time.
RUN_FORMAT = 2
RUN_KEYS = (
    "format",
    "dataset",
    "machine",
    "device",
    "threads",
    "train_seconds",
    "spec",
    "train_images",
    "epochs",
    "epoch_seconds",
    "train_flops_per_sample",
    "finished_at",
)


def run_flops(record) -> float:
    """A run's training arithmetic from its train.json: FLOPs per sample x images x epochs."""
    return float(record["train_flops_per_sample"]) * int(record["train_images"]) * record["epochs"]


def read_run_record(path) -> dict:
    """One run's train.json, refused with the remedy when it is of another format."""
    record = json.loads(Path(path).read_text(encoding="utf-8"))
    if record.get("format") != RUN_FORMAT:
        raise StudyError(
            f"{path}: run record format {record.get('format')!r}; this code reads format "
            f"{RUN_FORMAT}. Delete the file (or its run folder) and run the study again to "
            "retrain that run."
        )
    missing = [k for k in RUN_KEYS if k not in record]
    if missing:
        raise StudyError(f"{path}: run record lacks {missing}; rerun the study to rewrite it")
    return record


def read_choices(variants, paths) -> dict[str, dict]:
    """The tuned variants' choice.json records (written by the learning-rate sweeps), by
    variant."""
    return {
        v: json.loads(Path(p).read_text(encoding="utf-8"))
        for v, p in zip(variants, paths, strict=True)
    }


def pilot_run_dir(out: Path, form: str, strength: float, seed: int) -> Path:
    """The folder of one weight-penalty pilot run: the engine trains into it, evidence reads it."""
    return Path(out) / form / f"wd{strength:g}" / f"seed{seed}"
