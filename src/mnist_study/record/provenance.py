"""Where and with what a study was made: packages, git state, job times and the data's checksums.

Each training run records its own machine (mnist_study.machine); the report shows them beside.
"""

from __future__ import annotations

import csv
import platform
import subprocess
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

import pandas as pd

from mnist_study.data.cache import load_cache

PACKAGES = (
    "torch",
    "torchvision",
    "numpy",
    "pandas",
    "scipy",
    "matplotlib",
    "jinja2",
    "snakemake",
)


def package_versions(names: Sequence[str] = PACKAGES) -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def git_state(repo) -> dict:
    """Commit and whether the working tree differs from it ('not a git checkout' otherwise)."""

    def git(*args):
        done = subprocess.run(
            ["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=30
        )
        return done.stdout.strip() if done.returncode == 0 else None

    try:
        commit = git("rev-parse", "HEAD")
        status = git("status", "--porcelain", "--untracked-files=no") if commit else None
    except (OSError, subprocess.SubprocessError):
        commit = status = None
    if not commit:
        return {"commit": "not a git checkout", "dirty": False}
    return {"commit": commit, "dirty": bool(status)}


def benchmark_seconds(path) -> list[float]:
    """The wall seconds of each repeat in one Snakemake benchmark file (column ``s``)."""
    with open(path, encoding="utf-8") as f:
        records = list(csv.DictReader(f, delimiter="\t"))
    if not records or "s" not in records[0]:
        raise ValueError(f"{path}: benchmark file without the column 's'")
    return [float(r["s"]) for r in records]


def benchmark_times(paths: Sequence):
    """Per rule: jobs, total, mean and max wall seconds from Snakemake benchmark files
    (``benchmarks/<rule>/...tsv`` or ``benchmarks/<rule>.tsv``, column ``s``)."""
    rows = []
    for path in paths:
        parts = Path(path).parts
        after = parts[parts.index("benchmarks") + 1 :] if "benchmarks" in parts else parts[-1:]
        rule = Path(after[0]).stem if len(after) == 1 else after[0]
        rows.extend({"rule": rule, "s": s} for s in benchmark_seconds(path))
    if not rows:
        return pd.DataFrame(columns=["rule", "jobs", "total_s", "mean_s", "max_s"])
    frame = pd.DataFrame(rows).groupby("rule", sort=True)["s"]
    return pd.DataFrame(
        {"jobs": frame.size(), "total_s": frame.sum(), "mean_s": frame.mean(), "max_s": frame.max()}
    ).reset_index()


def dataset_checksums(cache_path) -> dict:
    """The dataset name and the sha256 of each raw file, verified when the cache was built."""
    cache = load_cache(cache_path)
    return {
        "dataset": cache.get("dataset", "?"),
        "sha256": dict(cache.get("sha256", {})),
        "n_train": int(len(cache["train_idx"])),
        "n_val": int(len(cache["val_idx"])),
        "n_test": int(len(cache["test_labels"])),
    }
