"""Jobs that hold several runs, on the smoke workflow: a kill loses no finished run, and a
corrupt data file stops the study before anything is deleted."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time

import pytest
from helpers import SmokeStudy
from test_workflow import edited_config, planned_jobs

pytestmark = pytest.mark.slow


@pytest.fixture
def copy(smoke_run, tmp_path) -> SmokeStudy:
    """The finished smoke study, copied: each test changes its files."""
    root = tmp_path / "copy"
    shutil.copytree(smoke_run.root, root, symlinks=True)
    return SmokeStudy(root)


def wait_for(condition, process, timeout=120.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, "the job ended before the moment to kill it"
        assert time.monotonic() < deadline, "timed out waiting for the moment to kill the job"
        time.sleep(0.01)


def test_a_job_killed_mid_training_loses_no_finished_run(copy):
    """kill -9 of Snakemake and its job while the second of two runs trains; the rerun
    (rerun-incomplete: Snakemake deletes every output of the job first) puts the first run
    back untouched and resumes the second from its last finished epoch."""
    runs = copy.workdir / "results/runs/mlp"

    def slow(config):  # long enough to be caught mid-way; a change: the job reruns
        config["variants"]["mlp"]["training"] = {"epochs": 150}

    with edited_config(copy, slow):
        cmd, env = copy.command("train_mlp")
        job = subprocess.Popen(
            cmd, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        first_kept = runs / "seed0/.finished/key.json"
        second_going = runs / "seed1/resume.pt"
        try:
            wait_for(lambda: first_kept.exists() and second_going.exists(), job)
            time.sleep(0.2)  # a few more epochs of the second run
        finally:
            os.killpg(job.pid, signal.SIGKILL)
            job.wait()
        first = {p.name: p.read_bytes() for p in (runs / "seed0").iterdir() if p.is_file()}
        assert {"model.pt", "history.csv", "train.json"} <= set(first)
        assert not (runs / "seed1/train.json").exists()

        copy.snakemake("--unlock", check=True)
        copy.snakemake("train_mlp", check=True)
        log = (copy.workdir / "logs/train/mlp.log").read_text()
        assert "seed 0: finished before under the same key; kept outputs put back" in log, log
        assert "resume: continuing after epoch" in log, log
        assert log.count("done: val_acc") == 1, log  # only the second run finished here
        for name in ("model.pt", "history.csv", "train.json"):
            assert (runs / "seed0" / name).read_bytes() == first[name], name
        assert (runs / "seed1/train.json").exists() and not second_going.exists()


def test_a_corrupt_data_file_stops_the_run_and_deletes_nothing(copy):
    raw = copy.workdir / "data/MNIST/raw/t10k-labels-idx1-ubyte"
    cache = copy.workdir / "results/data/mnist.pt"
    good, kept_cache = raw.read_bytes(), cache.read_bytes()
    bad = bytearray(good)
    bad[-1] = (bad[-1] + 1) % 10  # still a valid label: only the checksum can tell
    raw.write_bytes(bytes(bad))
    done = copy.snakemake()
    assert done.returncode != 0
    out = done.stdout + done.stderr
    assert str(raw) in out or "t10k-labels-idx1-ubyte" in out
    assert out.count("sha256") >= 1 and "expected" in out and "Put the original file back" in out
    assert cache.read_bytes() == kept_cache
    assert (copy.workdir / "results/runs/mlp/seed0/model.pt").exists()
    raw.write_bytes(good)  # restored: newer on disk, the same content as before
    assert planned_jobs(copy) == set()
