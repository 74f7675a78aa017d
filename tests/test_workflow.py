"""The workflow end to end on synthetic data: outputs, what reruns after a change, config errors."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from helpers import REPO, SmokeStudy

pytestmark = pytest.mark.slow

RULE = re.compile(r"^(?:Job \d+: )?(?:local)?(?:rule|checkpoint) (\w+):")


def planned_jobs(study, *args) -> set[str]:
    """The jobs a dry run would execute, by rule name (no rule has wildcards: one job each)."""
    done = study.snakemake("--dry-run", *args, check=True)
    lines = (done.stdout + "\n" + done.stderr).splitlines()
    return {m[1] for line in lines if (m := RULE.match(line))} - {"all", "sweeps"}


SMOKE_SEEDS = (0, 1)
PER_VARIANT = ("train", "evaluate", "misclassified")


def per_variant(variant: str) -> set[str]:
    """The jobs of one variant: its train job (all its seeds), evaluate and misclassified."""
    return {f"{rule}_{variant}" for rule in PER_VARIANT}


@contextlib.contextmanager
def edited(path: Path, addition: str = "\n_EDITED_FOR_A_TEST = 1\n"):
    """Edit a source file, by default with a statement (a change of meaning); restore it after.
    The file is also made newer, so a rerun decided by time stamps would show."""
    text, before = path.read_text(), path.stat()
    path.write_text(text + addition)
    later = time.time() + 5
    os.utime(path, (later, later))
    try:
        yield
    finally:
        path.write_text(text)
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


@contextlib.contextmanager
def edited_config(study, edit):
    """Change the study's config.yaml for the block, then put the original text back."""
    original = study.configfile.read_text()
    config = study.read_config()
    edit(config)
    study.write_config(config)
    try:
        yield config
    finally:
        study.configfile.write_text(original)


@pytest.fixture(scope="session")
def moved_run(smoke_run, tmp_path_factory) -> SmokeStudy:
    """The finished smoke study, workflow and results together, copied to another path."""
    root = tmp_path_factory.mktemp("moved") / "elsewhere"
    shutil.copytree(smoke_run.root, root, symlinks=True)
    return SmokeStudy(root)


@pytest.fixture(params=["in place", "moved"])
def study(request, smoke_run):
    """Each rerun test runs on the finished study and on a copy of it at another path."""
    return smoke_run if request.param == "in place" else request.getfixturevalue("moved_run")


PLOTS = {
    "plot_curves",
    "plot_studies",
    "plot_confusion",
    "plot_reliability",
    "plot_galleries",
    "plot_errors",
    "plot_weights",
    "plot_augmentation",
    "plot_memorization",
    "plot_explorer",
}
# Rules that read every run (tables, statistics, plots, report) rerun with any one of them.
# The history's snapshot of the study and what changed since the last one follow both.
HISTORY = {"snapshot", "changes"}
# The forest plot reads only the claims' verdicts: it follows them, not plots.py.
AGGREGATES = {"tables", "statistics", "claims", "plot_forest", "errors", "report"}
AGGREGATES |= PLOTS | HISTORY
# What reads runs.csv or its statistics; other figures and the error sets read the runs.
READ_TABLES = {"tables", "statistics", "claims", "plot_studies", "plot_explorer", "report"}
READ_TABLES |= HISTORY | {"plot_forest"}


def test_end_to_end_outputs(smoke_run):
    work = smoke_run.workdir
    runs = pd.read_csv(work / "results/tables/runs.csv")
    summary = pd.read_csv(work / "results/tables/summary.csv")
    config = smoke_run.read_config()
    assert sorted(runs[["variant", "seed"]].itertuples(index=False)) == sorted(
        (v, s) for v in config["variants"] for s in config["seeds"]
    )
    assert list(summary["variant"]) == list(config["variants"])
    assert runs["test_acc"].between(0, 1).all()
    # The synthetic digits are learnable: every model beats chance by far, except those that
    # learned shuffled labels, which can only guess on test.
    shuffled = [
        v for v, e in config["variants"].items() if e.get("training", {}).get("random_labels")
    ]
    learned = runs[~runs["variant"].isin(shuffled)]
    assert shuffled and (learned["test_acc"] > 0.5).all(), learned[["variant", "test_acc"]]
    assert (runs[runs["variant"].isin(shuffled)]["test_acc"] < 0.3).all()
    for variant in config["variants"]:
        run = work / f"results/runs/{variant}/seed0"
        metrics = json.loads((run / "metrics.json").read_text())
        assert len(metrics["confusion"]) == 10 and sum(map(sum, metrics["confusion"])) == 200
        assert (work / f"benchmarks/train/{variant}.tsv").exists()
        assert (work / f"logs/train/{variant}.log").exists()
        assert (work / f"logs/train/{variant}.times.json").exists()
        assert not (run / "resume.pt").exists()
    assert (work / "results/data/mnist.pt").exists()
    html = (work / "results/report.html").read_text()
    assert all(variant in html for variant in config["variants"])
    # The smoke study has no design: every claim is marked so, and named at its Design section.
    claims = json.loads((work / "results/analysis/claims.json").read_text())
    assert {c["design"]["designed"] for c in claims} == {False}
    assert html.count('class="not-designed"') == len(claims) == len(config["claims"])
    assert all(f"<code>{c['name']}</code>" in html.split('id="not-designed"')[1] for c in claims)


def test_a_replicate_plans_its_replication_and_the_report_and_nothing_else(smoke_run, tmp_path):
    """Once the replicate's claims.json exists (replicate.claims), the study plans the
    replication and its report again (and the history record, whose config moved), no run;
    where the two cannot be judged (here: no committed design), the report says why."""
    study = SmokeStudy(tmp_path / "copy")
    shutil.copytree(smoke_run.root, study.root, symlinks=True)
    replicate = study.workdir / "replicate/claims.json"
    replicate.parent.mkdir()
    shutil.copy(study.workdir / "results/analysis/claims.json", replicate)
    config = study.read_config()
    config["replicate"] = {"claims": "replicate/claims.json"}
    study.write_config(config)
    assert planned_jobs(study) - HISTORY == {"replication", "report"}
    study.snakemake(check=True)
    outcome = json.loads((study.workdir / "results/analysis/replication.json").read_text())
    assert outcome["exit"] == 2 and "read no design" in outcome["error"]
    html = (study.workdir / "results/report.html").read_text()
    section = html.split('<section id="replication">', 1)[1].split("</section>", 1)[0]
    assert "could not be judged against this study" in section and "read no design" in section


def test_nothing_to_do_after_a_complete_run(study):
    assert planned_jobs(study) == set()


@pytest.mark.parametrize(
    "addition",
    ["\n\n   \n", "\n# a comment about nothing\n", '\n\ndef _f():\n    """Doc."""\n'],
    ids=["whitespace", "comment", "docstring-only-function"],
)
def test_comment_or_whitespace_edit_of_a_shared_helper_plans_nothing(study, addition):
    helpers = [
        study.repo / "src/mnist_study" / f for f in ("logs.py", "atomic.py", "data/datasets.py")
    ]
    with contextlib.ExitStack() as stack:
        for path in helpers[:2]:
            stack.enter_context(edited(path, addition if "def" not in addition else "\n\n"))
        stack.enter_context(edited(study.repo / "rules/common.smk", "\n# a note\n"))
        if "def" in addition:
            # Comments and blank lines only: the syntax tree and the tokens stay the same.
            stack.enter_context(edited(helpers[2], "\n\n# more words\n"))
        assert planned_jobs(study) == set()


def test_touching_every_input_plans_nothing(study):
    later = time.time() + 10
    for path in [*study.workdir.rglob("*"), *study.repo.rglob("*")]:
        if path.is_file() and ".snakemake" not in path.parts:
            os.utime(path, (later, later))
    assert planned_jobs(study) == set()


def test_learning_rate_change_reruns_only_that_variant(study):
    def edit(config):
        config["variants"]["mlp"].setdefault("training", {})["lr"] = 0.0123

    with edited_config(study, edit):
        # The gallery draws from the data alone, the memorization curves from their study's runs.
        unread = {"plot_augmentation", "plot_memorization"}
        assert planned_jobs(study) == per_variant("mlp") | AGGREGATES - unread


def test_reordering_the_keys_of_a_model_or_training_mapping_plans_nothing(study):
    def edit(config):
        reverse = lambda d: dict(reversed(list(d.items())))  # noqa: E731
        config["training"] = reverse(config["training"])
        for entry in config["variants"].values():
            entry["model"] = reverse(entry["model"])
            if "training" in entry:
                entry["training"] = reverse(entry["training"])

    with edited_config(study, edit):
        assert planned_jobs(study) == set()


def test_added_seed_plans_each_variants_jobs(study):
    """The design: a new seed joins its variant's train job (the block), which puts the
    finished runs back and trains only the new one (test_added_seed_trains_only_new_runs)."""
    with edited_config(study, lambda c: c.update(seeds=[*SMOKE_SEEDS, 7])) as config:
        expected = set().union(*(per_variant(v) for v in config["variants"])) | AGGREGATES
        # The augmentation gallery reads no run: adding a seed does not redraw it.
        assert planned_jobs(study) == expected - {"plot_augmentation"}


def test_added_seed_trains_only_new_runs(tmp_path, smoke_run):
    root = tmp_path / "more"
    shutil.copytree(smoke_run.root, root, symlinks=True)
    study = SmokeStudy(root)
    runs = study.workdir / "results/runs"
    trained = ("model.pt", "history.csv", "train.json")
    before = {p: p.read_bytes() for name in trained for p in runs.glob(f"*/seed*/{name}")}
    with edited_config(study, lambda c: c.update(seeds=[*SMOKE_SEEDS, 7])) as config:
        study.snakemake(check=True)
        for variant in config["variants"]:
            log = (study.workdir / f"logs/train/{variant}.log").read_text()
            assert log.count("kept outputs put back") == len(SMOKE_SEEDS), log
            assert "seed 7 on cpu" in log and log.count("done: val_acc") == 1, log
            assert (runs / variant / "seed7/train.json").exists()
    # The finished runs are the same files, byte for byte (train.json's end time included).
    assert len(before) == 3 * len(SMOKE_SEEDS) * len(config["variants"])
    assert {p: p.read_bytes() for p in before} == before


def test_model_module_edit_reruns_training_not_the_data(study):
    variants = study.read_config()["variants"]
    with edited(study.repo / "src/mnist_study/engine/models.py"):
        # evaluate imports models.py too; misclassified follows from new predictions. The
        # augmentation gallery draws from the data alone and imports no model code.
        expected = set().union(*(per_variant(v) for v in variants))
        expected |= AGGREGATES - {"plot_augmentation"}
        jobs = planned_jobs(study)
        assert jobs == expected
        assert not {"fetch_data", "cache_data"} & jobs


def test_tables_module_edit_reruns_only_aggregates(study):
    with edited(study.repo / "src/mnist_study/evidence/tables.py"):
        assert planned_jobs(study) == READ_TABLES


def test_plotting_module_edit_reruns_only_plots_and_report(study):
    # Only the figures curves.py draws, and the report that embeds them; the other figure modules
    # share report/plots/drawing.py, not curves.py.
    with edited(study.repo / "src/mnist_study/report/plots/curves.py"):
        assert planned_jobs(study) == {"plot_curves", "plot_studies", "report"}


def test_script_edit_reruns_only_its_rule(study):
    with edited(study.repo / "workflow/scripts/tables.py"):
        assert planned_jobs(study) == READ_TABLES


def test_template_edit_reruns_only_report(study):
    template = next((study.repo / "report").glob("*.j2"))
    with edited(template, "\n<!-- edited -->\n"):
        assert planned_jobs(study) == {"report"}


def test_only_studies_runs_just_their_variants_and_claims(tmp_path, smoke_study):
    """The quick study's mechanism: the same rules over a subset of the study."""
    config = smoke_study.read_config()
    config["only_studies"] = ["activation"]
    study = SmokeStudy(tmp_path)
    (tmp_path / "repo").symlink_to(smoke_study.repo)
    study.workdir.mkdir()
    study.write_config(config)
    trains = {job for job in planned_jobs(study) if job.startswith("train_")}
    assert trains == {"train_mlp_tanh", "train_mlp"}
    study.snakemake(check=True)
    summary = pd.read_csv(study.workdir / "results/tables/summary.csv")
    assert sorted(summary["variant"]) == ["mlp", "mlp_tanh"]
    claims = json.loads((study.workdir / "results/analysis/claims.json").read_text())
    # Only the claim decided by these two variants; the others need variants not run.
    assert [c["name"] for c in claims] == ["relu_converges_faster"]
    html = (study.workdir / "results/report.html").read_text()
    assert "ReLU or tanh?" in html and "Which family wins?" not in html


def _set(*keys_and_value):
    """An edit that sets config[k1][k2]... = value."""
    *keys, value = keys_and_value

    def edit(config):
        node = config
        for key in keys[:-1]:
            node = node.setdefault(key, {})
        node[keys[-1]] = value

    return edit


# Each bad config, and what its message must say: the full key path and the valid values.
CONFIG_ERRORS = {
    "unknown-activation": (
        _set("variants", "mlp_tanh", "model", "activation", "tahn"),
        r"variants\.mlp_tanh\.model\.activation: 'tahn'; valid: \['relu', 'tanh', 'sigmoid'",
    ),
    "dropout-above-one": (
        _set("variants", "mlp_dropout", "model", "dropout", 1.5),
        r"variants\.mlp_dropout\.model\.dropout: 1\.5; must be a number in \[0, 1\)",
    ),
    "dropout-negative": (
        _set("variants", "mlp_dropout", "model", "input_dropout", -0.1),
        r"variants\.mlp_dropout\.model\.input_dropout: -0\.1; must be a number in \[0, 1\)",
    ),
    "dropout-one": (
        _set("variants", "mlp_dropout", "model", "dropout", 1),
        r"variants\.mlp_dropout\.model\.dropout: 1; must be a number in \[0, 1\)",
    ),
    "width-not-integer": (
        _set("variants", "mlp", "model", "hidden", ["abc"]),
        r"variants\.mlp\.model\.hidden\[0\]: 'abc'; must be a positive integer",
    ),
    "width-not-positive": (
        _set("variants", "mlp", "model", "hidden", [0]),
        r"variants\.mlp\.model\.hidden\[0\]: 0; must be a positive integer",
    ),
    "width-fraction": (
        _set("variants", "mlp", "model", "hidden", [32.5]),
        r"variants\.mlp\.model\.hidden\[0\]: 32\.5; must be a positive integer",
    ),
    "kernel-size-zero": (
        _set("variants", "cnn", "model", "kernel_size", 0),
        r"variants\.cnn\.model\.kernel_size: 0; must be a positive odd integer",
    ),
    "misspelled-key": (
        _set("epochs_typo", 3),
        r"\(top level\): unknown key\(s\) \['epochs_typo'\]; valid: \['alpha', 'claims', ",
    ),
    "unknown-variant-in-study": (
        lambda c: c["studies"]["baseline"]["variants"].append("nope"),
        r"studies\.baseline\.variants names \['nope'\], which are not variants; valid: \['cnn'",
    ),
    "empty-seeds": (
        _set("seeds", []),
        r"seeds: \[\] should be non-empty \(expected: a non-empty list of distinct training",
    ),
    "negative-epochs": (
        _set("training", "epochs", -2),
        r"training\.epochs: -2; must be an integer >= 1",
    ),
    "zero-lr": (
        _set("variants", "mlp", "training", "lr", 0),
        r"variants\.mlp\.training\.lr: 0; must be a number in \(0, inf\)",
    ),
    "unknown-dataset": (
        _set("data", "dataset", "mnsit"),
        r"data\.classes: 'mnsit' is not a built-in dataset \['fashion-mnist', 'mnist'\]",
    ),
    "misspelled-variant-field": (
        _set("variants", "mlp", "lable", "MLP"),
        r"variants\.mlp: unknown key\(s\) \['lable'\]; valid: \['label', 'lr_from', 'model', ",
    ),
    "unknown-claim-metric": (
        _set("claims", "hidden_layer_helps", "metric", "accuracy"),
        r"claims\.hidden_layer_helps\.metric: 'accuracy'; valid: \['test_acc', ",
    ),
    "wrong-type": (_set("seeds", "0,1"), r"seeds: '0,1' is not of type 'array'"),
    "bad-lr-type": (
        _set("variants", "mlp", "training", "lr", "fast"),
        r"variants\.mlp\.training\.lr: 'fast'; must be a number in \(0, inf\)",
    ),
    "negative-weight-decay": (
        _set("variants", "mlp", "training", "weight_decay", -0.5),
        r"variants\.mlp\.training\.weight_decay: -0\.5; must be a number in \[0, inf\)",
    ),
    "unknown-penalty-form": (
        _set("variants", "mlp", "training", "optimizer", "adamx"),
        r"variants\.mlp\.training\.optimizer: 'adamx'; valid: \['sgd', 'sgd_momentum', 'adam', "
        r"'adamw'\]",
    ),
    "unknown-claim-comparison": (
        _set("claims", "capacity_raises_gap", "compare", "pairs"),
        r"claims\.capacity_raises_gap\.compare: 'pairs'; valid: \['trend', 'each', 'level', "
        r"'interaction', 'recovery'\]",
    ),
    "shift-larger-than-the-image": (
        _set("variants", "mlp_aug", "training", "augment_shift", 30),
        r"variants\.mlp_aug\.training\.augment_shift: 30; must be a number in \[0, 28\)",
    ),
    "rotation-outside-its-range": (
        _set("variants", "mlp_aug", "training", "augment_rotation", 190),
        r"variants\.mlp_aug\.training\.augment_rotation: 190; must be a number in \[0, 180\)",
    ),
    "negative-rotation": (
        _set("variants", "mlp_aug", "training", "augment_rotation", -10),
        r"variants\.mlp_aug\.training\.augment_rotation: -10; must be a number in \[0, 180\)",
    ),
    "random-label-subset-larger-than-the-split": (
        # No data fetched yet: the split's size comes from the built-in dataset's files.
        _set("variants", "memo_random", "training", "train_size", 60000),
        r"variants\.memo_random\.training\.train_size: 60000; its random labels shuffle a subset "
        r"of the training split, which has 59900 images \(data\.val_size held out\): give at "
        r"most 59900",
    ),
    "random-labels-not-a-boolean": (
        _set("variants", "memo_random", "training", "random_labels", "yes"),
        r"variants\.memo_random\.training\.random_labels: 'yes'; must be true or false",
    ),
    "level-claim-of-two-variants": (
        _set("claims", "mlp_fits_random_labels", "variants", ["memo_real", "memo_random"]),
        r"claims\.mlp_fits_random_labels: compare 'level' holds one variant against a number",
    ),
    "interaction-of-three-variants": (
        _set(
            "claims", "dropout_slows_memorization", "variants", ["memo_real", "memo_random", "mlp"]
        ),
        r"claims\.dropout_slows_memorization\.variants: compare 'interaction' takes four variants",
    ),
    "empty-lr-sweep": (
        _set("variants", "mlp", "tune_lr", {"values": []}),
        r"variants\.mlp\.tune_lr\.values: \[\]; need a list of at least 3 positive learning rates",
    ),
    "non-positive-lr-in-a-sweep": (
        _set("variants", "mlp", "tune_lr", {"values": [0.001, 0.0, 0.1]}),
        r"variants\.mlp\.tune_lr\.values: \[0\.001, 0\.0, 0\.1\]; need a list of at least 3 "
        r"positive learning rates",
    ),
    "sweep-on-a-test-metric": (
        _set("variants", "mlp", "tune_lr", {"values": [0.001, 0.01, 0.1], "metric": "test_acc"}),
        r"variants\.mlp\.tune_lr\.metric: 'test_acc'; valid: \['val_acc', 'epochs_to_val_acc'\]",
    ),
    "sweep-seeds-shared-with-claim-runs": (
        lambda c: (
            c["variants"]["mlp"].update(tune_lr={"values": [0.001, 0.01, 0.1]}),
            c.update(tuning={"seeds": 2, "seed_offset": 1}),
        ),
        r"tuning\.seed_offset: 1; the sweep seeds \[1, 2\] share \[1\] with the claim runs' seeds",
    ),
    "lr-from-an-untuned-variant": (
        _set("variants", "memo_real", "lr_from", "mlp"),
        r"variants\.memo_real\.lr_from: 'mlp'; valid: \[\]",
    ),
    "sweep-shared-with-a-variant-that-trains-otherwise": (
        lambda c: (
            c["variants"]["mlp"].update(tune_lr={"values": [0.001, 0.01, 0.1]}),
            c["variants"]["mlp_tanh"].update(tune_lr={"shares": "mlp", "metric": "val_acc"}),
        ),
        r"variants\.mlp_tanh\.tune_lr\.shares: 'mlp' trains otherwise \(model differ\)",
    ),
    "series-naming-a-variant-outside-its-study": (
        _set("studies", "activation", "factor", "series", {"all": ["mlp", "linear"]}),
        r"studies\.activation\.factor\.series\.all names \['linear'\], which are not variants "
        r"of activation",
    ),
    "recovery-without-a-share": (
        _set("claims", "capacity_raises_gap", "compare", "recovery"),
        r"claims\.capacity_raises_gap: `share` goes with compare 'recovery' and only with it",
    ),
    "unknown-lr-scaling-rule": (
        _set("variants", "mlp", "training", "lr_scaling", "sqrt"),
        r"variants\.mlp\.training\.lr_scaling: 'sqrt'; valid: \['none', 'linear'\]",
    ),
    "lr-reference-batch-zero": (
        _set("variants", "mlp", "training", "lr_reference_batch", 0),
        r"variants\.mlp\.training\.lr_reference_batch: 0; must be an integer >= 1",
    ),
    "batch-larger-than-the-training-set": (
        _set("variants", "memo_real", "training", "batch_size", 100_000),
        r"variants\.memo_real\.training\.batch_size: 100000; the variant trains on \d+ images: "
        r"give at most \d+",
    ),
    "not-worse-on-a-loss": (
        _set("claims", "relu_converges_faster", "expect", "not_worse"),
        r"claims\.relu_converges_faster: expect 'not_worse' \(B - A > -smallest_effect, "
        r"one-sided\) compares two variants on a metric where larger is better",
    ),
    "best-checkpoint-of-no-variant": (
        _set("claims", "early_stopping_lowers_test_loss", "variants", ["mlp", "mpl@best"]),
        r"claims\.early_stopping_lowers_test_loss\.variants names \['mpl@best'\], which are not",
    ),
    "power-above-one": (
        _set("power", 1.5),
        r"power: 1\.5; valid: a number in \(0, 1\)",
    ),
    "design-unknown-key": (
        _set("design", "budget", 100),
        r"design: unknown key\(s\) \['budget'\]; valid: \['agreement', 'budget_tflop', 'file', "
        r"'undesigned_seeds', 'use'\]",
    ),
    "unknown-study": (
        _set("only_studies", ["baseline", "depht"]),
        r"only_studies names \['depht'\], which are not studies; "
        r"valid: \['activation', 'augmentation', 'baseline', 'memorization'\]",
    ),
}


# A bad design value stops with its key path and the valid range.
CONFIG_ERRORS |= {
    f"design-{key}-{value}": (
        _set("design", key, value),
        rf"design\.{key}: {re.escape(repr(value))}; valid: a number {re.escape(valid)}",
    )
    for key, value, valid in [
        ("budget_tflop", -5, "> 0"),
        ("budget_tflop", 0, "> 0"),
        ("agreement", 1.0, "in (0, 1)"),
        ("agreement", 0, "in (0, 1)"),
        ("undesigned_seeds", 1, ">= 2"),
    ]
}


@pytest.mark.parametrize(("edit", "message"), CONFIG_ERRORS.values(), ids=CONFIG_ERRORS.keys())
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


def test_snakemake_report_renders_the_shared_captions(smoke_run, tmp_path):
    """`snakemake --report` shows the same caption files the HTML report fills in."""
    out = tmp_path / "report.zip"
    smoke_run.snakemake("--report", str(out), check=True)
    with zipfile.ZipFile(out) as archive:
        text = "\n".join(
            archive.read(name).decode("utf-8", "replace")
            for name in archive.namelist()
            if name.endswith((".html", ".js", ".json"))
        )
    assert "Learning curves of one variant" in text and "first seed" in text


def test_runs_per_job_splits_a_variant_into_blocks_of_seeds(study):
    """resources.train.runs_per_job: 1 gives one train job per run, named by its first seed;
    the finished runs are kept, so the new jobs put them back rather than train them."""

    def edit(config):
        config.setdefault("resources", {}).setdefault("train", {})["runs_per_job"] = 1

    with edited_config(study, edit) as config:
        trains = {job for job in planned_jobs(study) if job.startswith("train_")}
        assert trains == {f"train_{v}_seeds{s}" for v in config["variants"] for s in SMOKE_SEEDS}
