"""Where and with what a result was made: the machine, packages, git state and job times.

Each training run records its own machine (train.json); the report shows them beside its own.
"""

from __future__ import annotations

import csv
import os
import platform
import subprocess
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

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


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()} ({os.cpu_count()} logical CPUs)"
    except OSError:
        pass
    return f"{platform.processor() or platform.machine()} ({os.cpu_count()} logical CPUs)"


def gpu_model() -> str:
    try:
        import torch

        if torch.cuda.is_available():
            return ", ".join(
                torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())
            )
    except Exception as err:  # a broken CUDA setup should not stop the record
        return f"unavailable ({err})"
    return "none"


def machine() -> dict:
    """This host as a run record keeps it: name, CPU, GPU, Python and torch versions."""
    import torch

    return {
        "host": platform.node() or "?",
        "cpu": cpu_model(),
        "gpu": gpu_model(),
        "python": platform.python_version(),
        "torch": torch.__version__,
    }


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
    import pandas as pd

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
    from mnist_study.data.datasets import load_cache

    cache = load_cache(cache_path)
    return {
        "dataset": cache.get("dataset", "?"),
        "sha256": dict(cache.get("sha256", {})),
        "n_train": int(len(cache["train_idx"])),
        "n_val": int(len(cache["val_idx"])),
        "n_test": int(len(cache["test_labels"])),
    }
