"""Finished runs kept safe beside their outputs: a job that trains several runs loses none of them
when Snakemake deletes its outputs before a rerun (an added seed, rerun-incomplete after a kill).

Each finished run's files are hard-linked (copied where links fail) into ``.finished/`` in the
run's folder, with the key that made them written last; a rerun with the same key links them back.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Mapping
from pathlib import Path

from mnist_study.atomic import atomic_path, write_json

FOLDER = ".finished"
KEY_FILE = "key.json"


def folder_of(output: str | os.PathLike) -> Path:
    """The store of the run whose output file this is (``results/runs/{variant}/seed{seed}/``)."""
    return Path(output).parent / FOLDER


def _link(src: Path, dest: Path) -> None:
    """``dest`` becomes ``src``'s content, atomically: a hard link where the filesystem has them
    (no second copy of the weights on disk), else a copy."""
    with atomic_path(dest) as tmp:
        tmp.unlink()
        try:
            os.link(src, tmp)
        except OSError:
            shutil.copyfile(src, tmp)


def keep(outputs: Mapping[str, str | os.PathLike], key: Mapping) -> None:
    """Keep a finished run's outputs (name -> path) under its key; the key file goes last, so a
    store interrupted half-way is never taken for a finished one."""
    store = folder_of(next(iter(outputs.values())))
    (store / KEY_FILE).unlink(missing_ok=True)
    for path in outputs.values():
        _link(Path(path), store / Path(path).name)
    write_json(
        store / KEY_FILE,
        {"key": dict(key), "files": sorted(Path(p).name for p in outputs.values())},
    )


def restore(outputs: Mapping[str, str | os.PathLike], key: Mapping) -> bool:
    """Put a kept run's outputs back if it was kept under exactly this key; False otherwise.
    The restored files are stamped now, as if written by this job."""
    store = folder_of(next(iter(outputs.values())))
    try:
        kept = json.loads((store / KEY_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    names = sorted(Path(p).name for p in outputs.values())
    if kept.get("key") != json.loads(json.dumps(dict(key))) or kept.get("files") != names:
        return False
    if not all((store / name).is_file() for name in names):
        return False
    now = time.time()
    for path in outputs.values():
        _link(store / Path(path).name, Path(path))
        os.utime(path, (now, now))
    return True
