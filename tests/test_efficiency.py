"""The compute figures on constructed stamps, benchmark files and run records."""

from __future__ import annotations

import json

import pytest

from mnist_study.record.efficiency import MAX_IDLE_S, efficiency
from mnist_study.runrecord import run_flops


def record(flops_per_sample=3e6, images=1000, epochs=2, seconds=(1.0, 2.0), finished=50.0):
    return {
        "train_flops_per_sample": flops_per_sample,
        "train_images": images,
        "epochs": epochs,
        "epoch_seconds": list(seconds),
        "finished_at": finished,
    }


def job(tmp_path, name, start, end, seconds):
    stamp = tmp_path / f"{name}.times.json"
    stamp.write_text(json.dumps({"start": start, "end": end}))
    bench = tmp_path / f"{name}.tsv"
    bench.write_text(f"s\th:m:s\n{seconds}\t0:00:01\n")
    return {"name": name, "stamp": str(stamp), "benchmark": str(bench)}


MATMUL = {"matmul_flops_per_s": 1e9, "threads": 2}


def test_a_whole_study_in_one_invocation(tmp_path):
    jobs = [job(tmp_path, "train_a", 10, 60, 50.0), job(tmp_path, "evaluate_a", 60, 62, 2.0)]
    records = {("a", 0): record(), ("a", 1): record(seconds=(2.0, 3.0))}
    f = efficiency(records, jobs, MATMUL, report_start=62, report_end=64)
    assert f["train_flops"] == 2 * 3e6 * 1000 * 2 == 2 * run_flops(record())
    assert f["limit_seconds"] == pytest.approx(12.0)
    assert f["wall_seconds"] == 54
    assert f["ratio"] == pytest.approx(54 / 12)
    assert f["epoch_seconds"] == 8.0 and f["job_seconds"] == 54.0
    assert f["outside_epoch_share"] == pytest.approx(1 - 8 / 54)
    assert not f["partial"] and f["jobs"] == 3 and f["runs_trained"] == 2


def test_a_partial_rerun_covers_only_its_own_jobs(tmp_path):
    """The last report ended at 100: only what started after it belongs to this invocation."""
    jobs = [job(tmp_path, "train_a", 10, 60, 50.0), job(tmp_path, "train_b", 110, 130, 20.0)]
    records = {("a", 0): record(finished=55.0), ("b", 0): record(finished=129.0)}
    f = efficiency(records, jobs, MATMUL, 130, 131, previous_report={"start": 95, "end": 100})
    assert f["partial"]
    assert f["runs_trained"] == 1 and f["train_flops"] == run_flops(record())
    assert f["wall_seconds"] == 21 and f["jobs"] == 2
    assert f["job_seconds"] == 21.0


def test_a_study_stopped_and_started_again_is_partial(tmp_path):
    gap = MAX_IDLE_S + 1
    jobs = [job(tmp_path, "a", 0, 10, 10.0), job(tmp_path, "b", 10 + gap, 20 + gap, 10.0)]
    f = efficiency({("a", 0): record()}, jobs, MATMUL, 20 + gap, 21 + gap)
    assert f["idle_seconds"] == pytest.approx(gap) and f["partial"]


def test_a_job_without_stamps_did_not_run_now(tmp_path):
    missing = {"name": "x", "stamp": str(tmp_path / "none.json"), "benchmark": "unused"}
    f = efficiency({}, [missing], MATMUL, 0, 1)
    assert f["partial"] and f["jobs"] == 1 and f["ratio"] is None
