"""The workflow end to end on synthetic data: outputs, what reruns after a change, config errors."""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from helpers import REPO, SmokeStudy

pytestmark = pytest.mark.slow

RULE = re.compile(r"^(?:local)?rule (\w+):$")
WILDCARDS = re.compile(r"^\s+wildcards: variant=(\w+), seed=(\d+)")


def planned_jobs(study, *args) -> set[str]:
    """The jobs a dry run would execute, as 'rule' or 'rule[variant/seed]'."""
    done = study.snakemake("--dry-run", *args, check=True)
    jobs, rule, wildcards = set(), None, None
    for line in (done.stdout + "\n" + done.stderr).splitlines() + ["rule end:"]:
        if match := RULE.match(line):
            if rule not in (None, "all"):
                jobs.add(f"{rule}[{wildcards[0]}/{wildcards[1]}]" if wildcards else rule)
            rule, wildcards = match[1], None
        elif rule and (match := WILDCARDS.match(line)):
            wildcards = match.groups()
    return jobs


def per_run(variant: str, seed: int = 0) -> set[str]:
    return {f"{rule}[{variant}/{seed}]" for rule in ("train", "evaluate", "misclassified")}


@contextlib.contextmanager
def edited(path: Path):
    """Edit a source file (Snakemake compares content, not only times); restore it after."""
    text, before = path.read_text(), path.stat()
    path.write_text(text + "\n# edited\n")
    later = time.time() + 5
    os.utime(path, (later, later))
    try:
        yield
    finally:
        path.write_text(text)
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


@contextlib.contextmanager
def edited_config(study, edit):
    """Change the study's config.yaml for the block, then put the original text back.

    The dry runs edit one finished study in place: a copy would move the absolute paths of the
    code inputs, and Snakemake would rightly call every job changed.
    """
    original = study.configfile.read_text()
    config = study.read_config()
    edit(config)
    study.write_config(config)
    try:
        yield config
    finally:
        study.configfile.write_text(original)


# Rules that read every run (tables, statistics, plots, report) rerun with any one of them.
AGGREGATES = {
    "tables",
    "statistics",
    "claims",
    "errors",
    "plot_curves",
    "plot_studies",
    "plot_confusion",
    "plot_galleries",
    "plot_errors",
    "plot_weights",
    "report",
}
PLOTS_AND_REPORT = {rule for rule in AGGREGATES if rule.startswith("plot_")} | {
    "plot_rulegraph",
    "report",
}
# What reads runs.csv or its statistics; other figures and the error sets read the runs.
READ_TABLES = {"tables", "statistics", "claims", "plot_studies", "report"}


def test_end_to_end_outputs(smoke_run):
    work = smoke_run.workdir
    runs = pd.read_csv(work / "results/tables/runs.csv")
    summary = pd.read_csv(work / "results/tables/summary.csv")
    config = smoke_run.read_config()
    assert sorted(runs["variant"]) == sorted(config["variants"])
    assert list(summary["variant"]) == list(config["variants"])
    assert runs["test_acc"].between(0, 1).all()
    # The synthetic digits are learnable: every model beats chance by far.
    assert (runs["test_acc"] > 0.5).all(), runs[["variant", "test_acc"]]
    for variant in config["variants"]:
        run = work / f"results/runs/{variant}/seed0"
        metrics = json.loads((run / "metrics.json").read_text())
        assert len(metrics["confusion"]) == 10 and sum(map(sum, metrics["confusion"])) == 200
        assert (work / f"benchmarks/train/{variant}/seed0.tsv").exists()
        assert (work / f"logs/train/{variant}/seed0.log").exists()
        assert not (run / "resume.pt").exists()
    assert (work / "results/data/mnist.pt").exists()
    html = (work / "results/report.html").read_text()
    assert all(variant in html for variant in config["variants"])


def test_nothing_to_do_after_a_complete_run(smoke_run):
    assert planned_jobs(smoke_run) == set()


def test_learning_rate_change_reruns_only_that_variant(smoke_run):
    def edit(config):
        config["variants"]["mlp"].setdefault("training", {})["lr"] = 0.0123

    with edited_config(smoke_run, edit):
        assert planned_jobs(smoke_run) == per_run("mlp") | AGGREGATES


def test_added_seed_trains_only_new_runs(smoke_run):
    with edited_config(smoke_run, lambda c: c.update(seeds=[0, 1])) as config:
        # The weight figures show seed 0 alone, so a new seed leaves them be.
        aggregates = AGGREGATES - {"plot_weights"}
        expected = set().union(*(per_run(v, 1) for v in config["variants"])) | aggregates
        assert planned_jobs(smoke_run) == expected


def test_model_module_edit_reruns_training(smoke_run):
    variants = smoke_run.read_config()["variants"]
    with edited(smoke_run.repo / "src/mnist_study/models.py"):
        expected = set().union(*(per_run(v) for v in variants)) | AGGREGATES
        # evaluate imports models.py too; misclassified follows from new predictions.
        assert planned_jobs(smoke_run) == expected


def test_tables_module_edit_reruns_only_aggregates(smoke_run):
    with edited(smoke_run.repo / "src/mnist_study/tables.py"):
        assert planned_jobs(smoke_run) == READ_TABLES


def test_plotting_module_edit_reruns_only_plots_and_report(smoke_run):
    with edited(smoke_run.repo / "src/mnist_study/plots.py"):
        assert planned_jobs(smoke_run) == PLOTS_AND_REPORT


def test_template_edit_reruns_only_report(smoke_run):
    template = next((smoke_run.repo / "report").glob("*.j2"))
    with edited(template):
        assert planned_jobs(smoke_run) == {"report"}


def test_only_studies_runs_just_their_variants_and_claims(tmp_path, smoke_study):
    """The quick study's mechanism: the same rules over a subset of the study."""
    config = smoke_study.read_config()
    config["only_studies"] = ["activation"]
    study = SmokeStudy(tmp_path)
    (tmp_path / "repo").symlink_to(smoke_study.repo)
    study.workdir.mkdir()
    study.write_config(config)
    trains = {job for job in planned_jobs(study) if job.startswith("train[")}
    assert trains == {"train[mlp_tanh/0]", "train[mlp/0]"}
    study.snakemake(check=True)
    summary = pd.read_csv(study.workdir / "results/tables/summary.csv")
    assert sorted(summary["variant"]) == ["mlp", "mlp_tanh"]
    claims = json.loads((study.workdir / "results/analysis/claims.json").read_text())
    # Only the claim decided by these two variants; the others need variants not run.
    assert [c["name"] for c in claims] == ["relu_converges_faster"]
    html = (study.workdir / "results/report.html").read_text()
    assert "ReLU or tanh?" in html and "Which family wins?" not in html


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda c: c.update(epochs_typo=3),
            r"Additional properties are not allowed \('epochs_typo'",
        ),
        (lambda c: c.update(seeds="0,1"), r"'0,1' is not of type 'array'"),
        (lambda c: c.update(seeds=[]), r"\[\] should be non-empty"),
        (
            lambda c: c["studies"]["baseline"]["variants"].append("nope"),
            r"studies.baseline.variants names \['nope'\], which are not variants; valid: \[",
        ),
        (
            lambda c: (
                c["variants"]["mlp"]["training"].update(lr="fast")
                if "training" in c["variants"]["mlp"]
                else c["variants"]["mlp"].update(training={"lr": "fast"})
            ),
            r"'fast' is not of type 'number'",
        ),
        (
            lambda c: c.update(only_studies=["baseline", "depht"]),
            r"only_studies names \['depht'\], which are not studies; "
            r"valid: \['activation', 'baseline'\]",
        ),
    ],
    ids=["unknown-key", "wrong-type", "empty-seeds", "unknown-variant", "bad-lr", "unknown-study"],
)
def test_config_errors_stop_before_any_job(tmp_path, smoke_study, edit, message):
    config = smoke_study.read_config()
    edit(config)
    study = SmokeStudy(tmp_path)
    (tmp_path / "repo").symlink_to(smoke_study.repo)
    study.workdir.mkdir()
    study.write_config(config)
    done = study.snakemake("--dry-run")
    assert done.returncode != 0
    assert re.search(message, done.stdout + done.stderr), done.stderr[-3000:]
    assert not (study.workdir / "results").exists()


def test_snakemake_lint_is_clean():
    done = subprocess.run(
        [sys.executable, "-m", "snakemake", "--lint"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
