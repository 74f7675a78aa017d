"""Recovery from the common failures: a clean one-line message for bad input (no traceback), and
the stale-lock hint that `make report` / `make quick` print after a crash."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from helpers import REPO

from mnist_study import StudyError
from mnist_study.data import datasets as data
from mnist_study.data.cache import write_idx
from mnist_study.data.datasets import DataError

LOCK_HINT = REPO / "workflow" / "lock-hint.sh"
WARNING = "Warning: run it only when no other Snakemake is using this folder"


def run_job(log, body: str) -> subprocess.CompletedProcess:
    """A job process as Snakemake starts one: start_job(log) first, then ``body``."""
    code = "import sys\nfrom mnist_study.logs import start_job\nstart_job(sys.argv[1])\n"
    code += textwrap.dedent(body)
    return subprocess.run(
        [sys.executable, "-c", code, str(log)], capture_output=True, text=True, timeout=120
    )


def test_data_error_is_a_study_error():
    assert issubclass(DataError, StudyError) and issubclass(DataError, RuntimeError)


def test_study_error_is_one_line_in_the_log_without_traceback(tmp_path):
    path = tmp_path / "t10k-images-idx3-ubyte"
    write_idx(path, np.zeros((3, 28, 28), np.uint8))
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(DataError) as expected:
        data.verify_file(path, None)
    log = tmp_path / "job.log"
    done = run_job(
        log,
        f"""
        from mnist_study.data.datasets import verify_file
        verify_file({str(path)!r}, None)
        """,
    )
    assert done.returncode == 1
    assert done.stderr == ""  # all of it went to the log
    text = log.read_text()
    assert "Traceback" not in text
    assert text.splitlines() == [f"error: {expected.value}"]
    assert f"delete {path} and run the study again" in text


def test_other_exceptions_keep_their_traceback(tmp_path):
    log = tmp_path / "job.log"
    done = run_job(log, "raise ValueError('a bug, not bad input')\n")
    assert done.returncode == 1
    text = log.read_text()
    assert "Traceback (most recent call last)" in text
    assert "ValueError: a bug, not bad input" in text
    assert "error: " not in text


def lock_hint(folder) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["sh", str(LOCK_HINT), str(folder), "make unlock"], capture_output=True, text=True
    )


def test_lock_hint_silent_without_locks(tmp_path):
    done = lock_hint(tmp_path)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    (tmp_path / ".snakemake" / "locks").mkdir(parents=True)  # Snakemake may leave it empty
    done = lock_hint(tmp_path)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def test_lock_hint_names_one_command_and_never_unlocks(tmp_path):
    locks = tmp_path / ".snakemake" / "locks"
    locks.mkdir(parents=True)
    (locks / "0.input.lock").write_text("results/data/mnist.pt\n")
    (locks / "0.output.lock").write_text("results/runs/linear/seed0/train.json\n")
    done = lock_hint(tmp_path)
    assert done.returncode == 0 and done.stdout == ""
    assert f"lock files remain in {locks}" in done.stderr
    assert [line.strip() for line in done.stderr.splitlines()].count("make unlock") == 1
    assert WARNING in done.stderr
    assert sorted(p.name for p in locks.iterdir()) == ["0.input.lock", "0.output.lock"]


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
@pytest.mark.parametrize(
    ("target", "folder", "unlock"),
    [("report", ".", "make unlock"), ("quick", "results/quick", "make unlock-quick")],
)
def test_make_prints_the_hint_when_locks_remain(tmp_path, target, folder, unlock):
    """The Makefile's own recipe, with a Snakemake that fails (`false`), in a copy of the repo."""
    shutil.copy(REPO / "Makefile", tmp_path)
    (tmp_path / "workflow").mkdir()
    shutil.copy(LOCK_HINT, tmp_path / "workflow")
    stamp = tmp_path / "venv" / ".installed-stamp"
    stamp.parent.mkdir()
    stamp.touch()

    def make(*args):
        cmd = ["make", "-s", f"VENV={stamp.parent}", "SNAKEMAKE=false", "-o", str(stamp)]
        return subprocess.run([*cmd, *args], cwd=tmp_path, capture_output=True, text=True)

    # An ordinary failure: Snakemake removed its locks, so no hint.
    done = make(target)
    assert done.returncode != 0 and "lock files remain" not in done.stderr
    locks = tmp_path / folder / ".snakemake" / "locks"
    locks.mkdir(parents=True)
    (locks / "0.input.lock").write_text("x\n")
    done = make(target)
    assert done.returncode != 0
    assert [line.strip() for line in done.stderr.splitlines()].count(unlock) == 1
    assert WARNING in done.stderr
    assert (locks / "0.input.lock").exists()
    # The printed command is a target of this Makefile that runs snakemake --unlock there.
    dry = make("-n", unlock.split()[1])
    assert dry.returncode == 0 and dry.stdout.rstrip().endswith("--unlock")
    if folder != ".":
        assert f"--directory {folder}" in dry.stdout
