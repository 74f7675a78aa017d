"""The kept history of studies: one small, immutable record per completed report, so that the
next report can say what changed since (mnist_study.record.compare judges it against seed noise).

Layout: <history>/<dataset>/<UTC date-time>-<content hash>/{record.json, predictions.npz}.
The rule snapshot writes the current study's record into results/record/; `python -m
mnist_study.record.history record WORKDIR` (make report, after Snakemake) files it under the history
folder unless a record with the same content is already there. No checkpoints are kept.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from mnist_study import StudyError
from mnist_study.atomic import atomic_path, json_safe, write_json
from mnist_study.evidence.stats import Correct
from mnist_study.record.provenance import git_state
from mnist_study.settings import HASH_LENGTH, config_hash, recorded_config

# 1: record.json (config, runs, claims) and predictions.npz (uint8 integer predictions).
FORMAT = 1
SNAPSHOT = Path("results/record")
# Wall times differ on every run and are no result: kept in the record, left out of its hash.
TIMING_COLUMNS = ("train_seconds",)
RECORD_NAME = re.compile(r"^(\d{8}T\d{6}Z)-([0-9a-f]{12})$")


class HistoryError(StudyError, ValueError):
    """A history record or reference that cannot be read; the message names it and the remedy."""


# ----------------------------------------------------------------------------- content


def _run_name(variant: str, seed: int) -> str:
    return f"{variant}/seed{int(seed)}"


def content_hash(meta: Mapping, arrays: Mapping[str, np.ndarray]) -> str:
    """Hash of what a record holds, less its date, commit and wall times: the same study in any
    key order, written twice, hashes the same."""
    runs = [{k: v for k, v in r.items() if k not in TIMING_COLUMNS} for r in meta["runs"]]
    body = {
        "format": meta["format"],
        "dataset": meta["dataset"],
        "config": recorded_config(meta["config"]),
        "runs": sorted(runs, key=lambda r: (r["variant"], int(r["seed"]))),
        "claims": sorted(meta["claims"], key=lambda c: c["name"]),
    }
    digest = hashlib.sha256(json.dumps(json_safe(body), sort_keys=True).encode())
    for key in sorted(arrays):
        array = np.ascontiguousarray(arrays[key])
        digest.update(f"\0{key}\0{array.dtype.str}\0{array.shape}\0".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()[:HASH_LENGTH]


def _small_ints(array: np.ndarray, path) -> np.ndarray:
    """Class indices as uint8 (ten classes): a quarter of int16's room on disk."""
    array = np.asarray(array)
    if array.size and (array.min() < 0 or array.max() > 255):
        raise HistoryError(f"{path}: class indices outside 0..255; cannot keep them as uint8")
    return array.astype(np.uint8)


def prediction_arrays(run_keys: Sequence, prediction_paths: Sequence) -> dict[str, np.ndarray]:
    """{name: array} of every run's integer predictions: the test labels once, then per run
    ``<variant>/seed<seed>/{pred,train_pred,train_labels}`` (the training subset depends on a
    variant's train_size, so its labels travel with the run)."""
    arrays: dict[str, np.ndarray] = {}
    for (variant, seed), path in zip(run_keys, prediction_paths, strict=True):
        with np.load(path) as data:
            labels = _small_ints(data["labels"], path)
            if "labels" in arrays and not np.array_equal(arrays["labels"], labels):
                raise HistoryError(f"{path}: test labels differ from the other runs'")
            arrays["labels"] = labels
            name = _run_name(variant, seed)
            for key in ("pred", "train_pred", "train_labels"):
                arrays[f"{name}/{key}"] = _small_ints(data[key], path)
    return arrays


def write_snapshot(
    runs_csv, claims_json, run_keys, prediction_paths, config_json, out_json, out_npz
):
    """Rule snapshot: the current study as a history record (no date or commit yet)."""
    config = json.loads(config_json) if isinstance(config_json, str) else dict(config_json)
    runs = pd.read_csv(runs_csv).sort_values(["variant", "seed"]).to_dict("records")
    claims = json.loads(Path(claims_json).read_text(encoding="utf-8"))
    arrays = prediction_arrays(run_keys, prediction_paths)
    meta = {
        "format": FORMAT,
        "dataset": config["data"]["dataset"],
        "config": recorded_config(config),
        "config_hash": config_hash(config),
        "runs": runs,
        "claims": claims,
    }
    meta["content_hash"] = content_hash(meta, arrays)
    _write_npz(out_npz, arrays)
    write_json(out_json, meta)


def _write_npz(path, arrays: Mapping[str, np.ndarray]) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        # A file object: np.savez would otherwise append ".npz" to the temporary name.
        np.savez_compressed(f, **arrays)


# ----------------------------------------------------------------------------- reading


@dataclass
class Record:
    """One study's results as kept: from a history folder or a study's results/record/."""

    path: Path  # the folder holding record.json and predictions.npz
    meta: dict
    arrays: dict = field(repr=False, default_factory=dict)

    @property
    def id(self) -> str:
        return self.meta.get("id") or f"this study ({self.path})"

    @property
    def content_hash(self) -> str:
        return self.meta["content_hash"]

    @property
    def config(self) -> dict:
        return self.meta["config"]

    @property
    def variants(self) -> list[str]:
        return list(dict.fromkeys(r["variant"] for r in self.meta["runs"]))

    def seeds(self, variant: str) -> list[int]:
        return sorted(int(r["seed"]) for r in self.meta["runs"] if r["variant"] == variant)

    def run(self, variant: str, seed: int) -> dict:
        return next(
            r for r in self.meta["runs"] if r["variant"] == variant and int(r["seed"]) == seed
        )

    def correct(self, variant: str, seed: int) -> Correct:
        name = _run_name(variant, seed)
        return Correct.from_predictions(
            self.arrays[f"{name}/pred"],
            self.arrays["labels"],
            self.arrays[f"{name}/train_pred"],
            self.arrays[f"{name}/train_labels"],
        )

    def predictions(self, variant: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
        name = _run_name(variant, seed)
        return self.arrays[f"{name}/pred"], self.arrays[f"{name}/train_pred"]


def read_record(folder) -> Record:
    """A record folder, refused with the remedy when its format is not this code's."""
    folder = Path(folder)
    path = folder / "record.json"
    if not path.is_file():
        raise HistoryError(f"{folder}: no record.json; not a history record or study snapshot")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise HistoryError(f"{path}: unreadable ({err}); delete the record folder") from None
    version = meta.get("format") if isinstance(meta, dict) else None
    if version != FORMAT:
        raise HistoryError(
            f"{path}: history record format {version!r}; this code reads format {FORMAT}. "
            "Compare it with the code that wrote it, or delete the folder."
        )
    missing = [k for k in ("dataset", "config", "runs", "claims", "content_hash") if k not in meta]
    if missing:
        raise HistoryError(f"{path}: record lacks {missing}; delete the folder")
    with np.load(folder / "predictions.npz") as data:
        arrays = {k: data[k] for k in data.files}
    return Record(folder, meta, arrays)


def records(history, dataset: str) -> list[Path]:
    """The record folders of a dataset, oldest first (their names start with the UTC time)."""
    folder = Path(history) / dataset
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_dir() and RECORD_NAME.match(p.name))


def _hash_of(folder: Path) -> str:
    return RECORD_NAME.match(folder.name)[2]


def latest_other(history, dataset: str, current_hash: str) -> Path | None:
    """The newest record whose content differs from ``current_hash``: what "since" defaults to."""
    others = [p for p in records(history, dataset) if _hash_of(p) != current_hash]
    return others[-1] if others else None


def resolve(reference: str, history, dataset: str) -> Record:
    """A record named by the user: a record or study folder, a record id (or its unique start),
    a content hash, or a git commit (that commit's latest record)."""
    path = Path(reference)
    for candidate in (path, path / SNAPSHOT):
        if (candidate / "record.json").is_file():
            return read_record(candidate)
    kept = records(history, dataset)
    ref = reference.strip().lower()
    by_name = [p for p in kept if p.name.startswith(reference) or _hash_of(p).startswith(ref)]
    if len(by_name) == 1:
        return read_record(by_name[0])
    if len(by_name) > 1:
        names = [p.name for p in by_name]
        raise HistoryError(f"{reference!r} matches several records {names}; give more of it")
    if re.fullmatch(r"[0-9a-f]{4,40}", ref):
        by_commit = [p for p in kept if _commit_of(p).startswith(ref)]
        if by_commit:
            return read_record(by_commit[-1])
    known = ", ".join(p.name for p in kept[-5:]) or "none yet"
    raise HistoryError(
        f"{reference!r} is neither a record folder, a study folder, nor a record id or git "
        f"commit in {Path(history) / dataset}; the latest records: {known}"
    )


def _commit_of(folder: Path) -> str:
    try:
        meta = json.loads((folder / "record.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return ""
    return str(meta.get("commit") or "")


# ----------------------------------------------------------------------------- recording


def history_of(workdir) -> Path:
    """The history folder the study's changes job read (results/analysis/changes.json)."""
    path = Path(workdir) / "results/analysis/changes.json"
    if not path.is_file():
        raise HistoryError(f"{path}: missing; run the study (make report) before recording it")
    history = Path(json.loads(path.read_text(encoding="utf-8"))["history"])
    return history if history.is_absolute() else Path(workdir) / history


def record_study(workdir, repo=".", now: datetime | None = None) -> tuple[Path, bool]:
    """File the study's snapshot under its history folder: (record folder, newly written?).
    A record with the same content is never written twice."""
    snapshot = read_record(Path(workdir) / SNAPSHOT)
    history = history_of(workdir)
    for existing in records(history, snapshot.meta["dataset"]):
        if _hash_of(existing) == snapshot.content_hash:
            return existing, False
    now = now or datetime.now(timezone.utc)
    name = f"{now.strftime('%Y%m%dT%H%M%SZ')}-{snapshot.content_hash}"
    final = history / snapshot.meta["dataset"] / name
    meta = {**snapshot.meta, "id": name, "date": now.isoformat(timespec="seconds")}
    meta["commit"] = _commit(repo)
    _write_folder(final, meta, snapshot.path / "predictions.npz")
    return final, True


def _commit(repo) -> str | None:
    state = git_state(repo)
    commit = state["commit"]
    if commit == "not a git checkout":
        return None
    return commit + ("-dirty" if state["dirty"] else "")


def _write_folder(final: Path, meta: Mapping, predictions: Path) -> None:
    """Write a temporary folder beside ``final``, then rename it: a record is whole or absent."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}."))
    try:
        shutil.copyfile(predictions, tmp / "predictions.npz")
        write_json(tmp / "record.json", meta)
        os.chmod(tmp, 0o755)
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def main(argv: Sequence[str]) -> int:
    """python -m mnist_study.record.history record WORKDIR [--repo DIR]: keep the study in WORKDIR
    (the folder `make report` ran Snakemake in) in its history folder, unless already kept."""
    parser = argparse.ArgumentParser(
        prog="python -m mnist_study.record.history", description=main.__doc__
    )
    parser.add_argument("command", choices=["record"])
    parser.add_argument("workdir")
    parser.add_argument("--repo", default=".", help="git checkout whose commit is recorded")
    args = parser.parse_args(argv)
    try:
        folder, new = record_study(args.workdir, args.repo)
    except StudyError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"History: {'recorded' if new else 'unchanged, already recorded as'} {folder}")
    return 0


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
