"""History and "What changed" on the smoke workflow: a kept study, an edit, the next report.

Each test works on its own copy of the finished smoke study (no retraining to start with).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
from helpers import SmokeStudy
from test_workflow import edited_config, planned_jobs

from mnist_study.record.compare import NOISE, REAL

pytestmark = pytest.mark.slow


def record(study: SmokeStudy) -> str:
    """What `make report` does after Snakemake: keep the study in its history folder."""
    return _module(study, "mnist_study.record.history", "record", str(study.workdir), "--repo", ".")


def _module(study: SmokeStudy, module: str, *args: str, check: bool = True):
    env = {**os.environ, "PYTHONPATH": str(study.repo / "src")}
    done = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=study.workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if check:
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout
    return done


def kept_records(study: SmokeStudy) -> list[str]:
    return sorted(p.name for p in (study.workdir / "history/mnist").iterdir())


def changes(study: SmokeStudy) -> dict:
    return json.loads((study.workdir / "results/analysis/changes.json").read_text())


@pytest.fixture
def kept(smoke_run, tmp_path) -> SmokeStudy:
    """The finished smoke study, copied, and kept in its history once."""
    root = tmp_path / "kept"
    shutil.copytree(smoke_run.root, root, symlinks=True)
    study = SmokeStudy(root)
    assert "History: recorded" in record(study)
    return study


def test_a_second_run_without_a_change_does_nothing_and_keeps_no_record(kept):
    done = kept.snakemake(check=True)
    assert "Nothing to be done" in done.stdout + done.stderr
    assert "unchanged, already recorded" in record(kept)
    assert len(kept_records(kept)) == 1


def reorder_keys(config: dict) -> None:
    """The top-level, data and resources mappings in reverse key order, values the same."""
    items = list(config.items())[::-1]
    config.clear()
    config.update(items)
    config["data"] = dict(list(config["data"].items())[::-1])
    config["resources"] = {k: dict(list(v.items())[::-1]) for k, v in config["resources"].items()}


def test_reordered_yaml_keys_change_nothing(kept):
    (first,) = kept_records(kept)
    with edited_config(kept, reorder_keys):
        assert planned_jobs(kept) == set()
        # Rebuild the record and compare it with the kept one: the same study.
        kept.snakemake("--forcerun", "snapshot", "--config", f"since={first}", check=True)
        result = changes(kept)
        assert result["changes"]["nothing_changed"], result
        assert result["summary"].startswith(f"Nothing changed since {first}")
        assert result["summary"] in (kept.workdir / "results/report.html").read_text()
        assert "unchanged, already recorded" in record(kept)
    assert kept_records(kept) == [first]


def test_a_learning_rate_change_is_named_and_judged_by_the_verdict_rule(kept):
    (first,) = kept_records(kept)

    def edit(config):
        config["variants"]["mlp"].setdefault("training", {})["lr"] = 0.0123

    with edited_config(kept, edit):
        kept.snakemake(check=True)
        result = changes(kept)["changes"]
        assert result["old"]["id"] == first
        assert [c["key"] for c in result["config"]] == ["variants.mlp.training.lr"]
        rows = result["variants"]
        assert {(r["variant"], r["metric"]) for r in rows} == {("mlp", "test_acc"), ("mlp", "gap")}
        for r in rows:
            assert r["verdict"] == (REAL if r["p_holm"] < result["alpha"] else NOISE), r
        html = (kept.workdir / "results/report.html").read_text()
        section = html[html.index('<section id="changes">') : html.index('<section id="results">')]
        assert "variants.mlp.training.lr" in section and "0.0123" in section
        assert section.count("data-changed=") == 2 and 'data-changed="mlp"' in section
        assert "History: recorded" in record(kept)
        assert len(kept_records(kept)) == 2
        # make compare: the same comparison as text; its exit status follows the verdict.
        done = _module(kept, "mnist_study.record.compare", first, ".", check=False)
        worse = any(r["worse"] for r in rows if r["metric"] == "test_acc")
        assert done.returncode == (1 if worse else 0), done.stdout + done.stderr
        assert "variants.mlp.training.lr: (absent) → 0.0123" in done.stdout


def test_retraining_with_another_thread_count_is_within_seed_noise(kept):
    """Float-only perturbation: every run retrained on two threads instead of one."""
    trains = [f"train_{v}" for v in kept.read_config()["variants"]]
    threads = [f"{rule}=2" for rule in trains]
    kept.snakemake("--forcerun", *trains, "--set-threads", *threads, check=True)
    infos = sorted((kept.workdir / "results/runs").glob("*/seed*/train.json"))
    assert len(infos) == 2 * len(trains) and all(
        json.loads(p.read_text())["threads"] == 2 for p in infos
    )
    # None: not one number moved, so the study is the kept one (nothing to compare with).
    result = changes(kept)["changes"] or {"config": [], "claims": [], "variants": []}
    assert result["config"] == [] and result["claims"] == [], result
    # Predictions that moved at all are judged within noise; none is a real change.
    assert all(r["verdict"] == NOISE for r in result["variants"]), result["variants"]
