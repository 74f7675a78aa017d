"""Learning-rate sweeps through the workflow (issue 20), on a small smoke study of their own:
the choice, what a new sweep value reruns, the stop at the sweep's edge, validation only."""

from __future__ import annotations

import json
import re
import shutil

import pandas as pd
import pytest
import torch
from helpers import SmokeStudy, make_smoke_study
from test_train import make_cache
from test_workflow import RULE, edited_config, planned_jobs

from mnist_study.engine.train import train_run
from mnist_study.engine.tuning import write_choice
from mnist_study.evidence.claims import VERDICTS
from mnist_study.evidence.lr_evidence import RATE_JUDGEMENTS

pytestmark = pytest.mark.slow

# On the synthetic digits (2 epochs, AdamW) 0.01 is best by far: 0.001 learns too slowly and
# 10 too wildly (pilot of this test: mean validation accuracy 0.73, 0.99 and 0.79).
SWEEP = {"values": [0.001, 0.01, 10.0]}
EXECUTED = RULE
# The rules that read a sweep's record: the claims (each tuned side's lr and the figure behind
# it) and the lr figure, then the forest plot of the claims, the history's snapshot and the
# report.
SWEEP_READERS = {"claims", "plot_tuning", "plot_forest", "snapshot", "changes", "report"}


def tuned_config(config: dict) -> dict:
    config["only_studies"] = ["activation", "shared"]
    config["variants"]["mlp_tuned"] = {
        "label": "MLP 32, tuned lr",
        "model": {"kind": "mlp", "hidden": [32]},
        "tune_lr": dict(SWEEP),
    }
    # The same runs chosen by speed (a shared sweep), and a batch of 32 at mlp_tuned's choice
    # scaled linearly (lr_from): neither trains a sweep of its own.
    config["variants"]["mlp_tuned_fast"] = {
        "label": "MLP 32, lr for speed",
        "model": {"kind": "mlp", "hidden": [32]},
        "tune_lr": {"shares": "mlp_tuned", "metric": "epochs_to_val_acc", "threshold": 0.5},
    }
    config["variants"]["mlp_tuned_b32"] = {
        "label": "MLP 32, batch 32, lr scaled",
        "model": {"kind": "mlp", "hidden": [32]},
        "lr_from": "mlp_tuned",
        "training": {"batch_size": 32, "lr_scaling": "linear"},
    }
    config["studies"]["shared"] = {
        "title": "What a sweep lends",
        "question": "Do a shared sweep and a borrowed lr train as they should?",
        "variants": ["mlp_tuned_fast", "mlp_tuned_b32"],
        "factor": {"label": "Use", "values": ["speed", "batch 32"]},
    }
    study = config["studies"]["activation"]
    study["variants"].append("mlp_tuned")
    study["factor"]["values"].append("ReLU, tuned lr")
    config["tuning"] = {"seeds": 2, "seed_offset": 500}
    config["claims"]["tuned_relu_converges_faster"] = {
        "statement": "ReLU, at its own best lr, converges faster than tanh.",
        "metric": "epochs_to_val_acc",
        "threshold": 0.9,
        "variants": ["mlp_tanh", "mlp_tuned"],
        "expect": "decrease",
        "smallest_effect": 0.25,
        "fixed_lr_claim": "relu_converges_faster",
    }
    config["claims"]["tuned_not_worse"] = {
        "statement": "The tuned MLP is not less accurate than the untuned one.",
        "metric": "test_acc",
        "variants": ["mlp", "mlp_tuned"],
        "expect": "not_worse",
        "smallest_effect": 0.02,
    }
    return config


@pytest.fixture(scope="module")
def tuned_run(tmp_path_factory) -> SmokeStudy:
    study = make_smoke_study(tmp_path_factory.mktemp("tuned"))
    study.write_config(tuned_config(study.read_config()))
    study.snakemake(check=True)
    return study


def copy_of(study: SmokeStudy, root) -> SmokeStudy:
    shutil.copytree(study.root, root, symlinks=True)
    return SmokeStudy(root)


def executed(done) -> set[str]:
    lines = (done.stdout + "\n" + done.stderr).splitlines()
    return {m[1] for line in lines if (m := EXECUTED.match(line))} - {"all", "sweeps"}


def test_the_sweep_chooses_on_its_own_seeds_and_the_runs_train_at_the_choice(tuned_run):
    work = tuned_run.workdir
    choice = json.loads((work / "results/sweeps/mlp_tuned/choice.json").read_text())
    assert choice["lr"] == 0.01 and choice["metric"] == "val_acc"
    assert choice["sweep_seeds"] == [500, 501]
    assert [p["lr"] for p in choice["points"]] == SWEEP["values"]
    assert all(p["runs"] == 2 for p in choice["points"])
    for lr in ("0.001", "0.01", "10"):
        for seed in (500, 501):
            assert (work / f"results/sweeps/mlp_tuned/lr{lr}/seed{seed}/history.csv").exists()
    for seed in (0, 1):
        info = json.loads((work / f"results/runs/mlp_tuned/seed{seed}/train.json").read_text())
        assert info["train_config"]["lr"] == 0.01
    # The sweep seeds are no claim run's: the claim runs are seeds 0 and 1 only.
    runs = pd.read_csv(work / "results/tables/runs.csv")
    assert sorted(runs[runs["variant"] == "mlp_tuned"]["seed"]) == [0, 1]
    assert set(runs[runs["variant"] == "mlp_tuned"]["lr"]) == {0.01}


def test_a_shared_sweep_chooses_from_its_owners_runs_by_its_own_metric(tuned_run):
    work = tuned_run.workdir
    choice = json.loads((work / "results/sweeps/mlp_tuned_fast/choice.json").read_text())
    assert choice["metric"] == "epochs_to_val_acc" and choice["sweep_seeds"] == [500, 501]
    assert [p["lr"] for p in choice["points"]] == SWEEP["values"]
    assert all(p["runs"] == 2 for p in choice["points"])
    assert not list((work / "results/sweeps/mlp_tuned_fast").glob("lr*"))
    info = json.loads((work / "results/runs/mlp_tuned_fast/seed0/train.json").read_text())
    assert info["train_config"]["lr"] == choice["lr"]


def test_lr_from_trains_at_the_sources_choice_scaled_with_its_batch(tuned_run):
    work = tuned_run.workdir
    chosen = json.loads((work / "results/sweeps/mlp_tuned/choice.json").read_text())["lr"]
    for seed in (0, 1):
        info = json.loads((work / f"results/runs/mlp_tuned_b32/seed{seed}/train.json").read_text())
        assert info["train_config"]["lr"] == chosen
        assert info["peak_lr"] == pytest.approx(chosen * 32 / 256)
    assert not (work / "results/sweeps/mlp_tuned_b32").exists()


def test_claims_record_each_sides_lr_and_the_choice_behind_a_tuned_one(tuned_run):
    claims = json.loads((tuned_run.workdir / "results/analysis/claims.json").read_text())
    tuned = [c for c in claims if "mlp_tuned" in c["variants"]]
    assert tuned, [c["name"] for c in claims]
    for claim in tuned:
        record = claim["tuning"]["mlp_tuned"]
        assert record["lr"] == 0.01 and record["sweep_seeds"] == [500, 501]
        assert record["criterion"] == "final validation accuracy"
        assert record["figure"]["runs"] == 2 and 0 < record["figure"]["mean"] <= 1
        assert claim["learning_rates"]["mlp_tuned"] == 0.01
        assert "learning rates: " in claim["numbers"] and "sweep seeds 500–501" in claim["numbers"]
    by_name = {c["name"]: c for c in claims}
    # The tuned claim beside its fixed-lr twin: both verdicts, and the difference of the effects.
    dependence = by_name["tuned_relu_converges_faster"]["rate_dependence"]
    assert dependence["fixed_lr_claim"] == "relu_converges_faster"
    assert dependence["judgement"] in RATE_JUDGEMENTS
    assert by_name["relu_converges_faster"]["verdict"] in VERDICTS


def test_nothing_to_do_after_the_tuned_run(tuned_run):
    assert planned_jobs(tuned_run) == set()


def test_a_new_sweep_value_trains_only_its_runs_while_the_choice_stands(tuned_run, tmp_path):
    study = copy_of(tuned_run, tmp_path / "more")
    before = (study.workdir / "results/runs/mlp_tuned/seed0/model.pt").read_bytes()
    chosen = {
        v: json.loads((study.workdir / f"results/sweeps/{v}/choice.json").read_text())["lr"]
        for v in ("mlp_tuned", "mlp_tuned_fast")
    }
    assert chosen["mlp_tuned"] == 0.01

    def add(config):
        config["variants"]["mlp_tuned"]["tune_lr"]["values"] = [0.001, 0.01, 3.0, 10.0]

    with edited_config(study, add):
        # As make runs it: the sweeps and their choices first, then the study. The value's
        # runs feed both choices that read the sweep: its owner's and the one sharing it.
        # Its round reads the new point too (and asks for no extension).
        sweeps = {
            "sweep_mlp_tuned_lr3",
            "sweep_mlp_tuned_round0",
            "choose_lr_mlp_tuned",
            "choose_lr_mlp_tuned_fast",
        }
        assert planned_jobs(study, "--until", "sweeps") == sweeps
        done = study.snakemake("--until", "sweeps", check=True)
        assert executed(done) == sweeps, done.stdout
        for variant, lr in chosen.items():
            record = study.workdir / f"results/sweeps/{variant}/choice.json"
            choice = json.loads(record.read_text())
            assert choice["lr"] == lr and len(choice["points"]) == 4, (variant, choice)
        # The choice stands: only what reads the sweep's record follows (the claims, and the
        # history and report after them), no claim run.
        assert planned_jobs(study) == SWEEP_READERS
        study.snakemake(check=True)
    assert (study.workdir / "results/runs/mlp_tuned/seed0/model.pt").read_bytes() == before


def test_a_choice_that_moves_retrains_the_tuned_runs(tuned_run, tmp_path):
    study = copy_of(tuned_run, tmp_path / "moved")

    def drop_best(config):
        # Without 0.01, 0.001 learns too slowly and 10 too wildly: 1 wins, between them.
        config["variants"]["mlp_tuned"]["tune_lr"]["values"] = [0.001, 1.0, 10.0]

    with edited_config(study, drop_best):
        study.snakemake("--until", "sweeps", check=True)
        assert json.loads(
            (study.workdir / "results/sweeps/mlp_tuned/chosen_lr.json").read_text()
        ) == {"lr": 1.0}
        assert {"train_mlp_tuned", "evaluate_mlp_tuned"} <= planned_jobs(study)


def test_a_best_lr_at_the_edge_extends_the_sweep_once_and_every_reader_rechooses(
    tuned_run, tmp_path
):
    """0.01 leads 3 and 10 by far at the grid's lower end: one point below it (0.01 x 0.01 / 3)
    trains, and both variants reading the sweep choose again from all four points."""
    study = copy_of(tuned_run, tmp_path / "extend")
    before = (study.workdir / "results/runs/mlp_tuned/seed0/model.pt").read_bytes()

    def lower_end(config):
        config["variants"]["mlp_tuned"]["tune_lr"]["values"] = [0.01, 3.0, 10.0]
        config["tuning"]["max_extensions"] = 1

    with edited_config(study, lower_end):
        done = study.snakemake("--until", "sweeps", check=True)
        assert {"sweep_mlp_tuned_lr3p33333em05", "sweep_mlp_tuned_round1"} <= executed(done)
        rounds = study.workdir / "results/sweeps/mlp_tuned/rounds"
        round0 = json.loads((rounds / "round0.json").read_text())
        assert {"side": "lower", "lr": 3.33333e-05} in [
            {k: a[k] for k in ("side", "lr")} for a in round0["added"]
        ]
        for variant in ("mlp_tuned", "mlp_tuned_fast"):
            choice = json.loads(
                (study.workdir / f"results/sweeps/{variant}/choice.json").read_text()
            )
            assert 3.33333e-05 in [p["lr"] for p in choice["points"]], (variant, choice)
            assert (
                choice["extensions"]
                == json.loads((rounds / "round1.json").read_text())["extensions"]
            )
        assert (
            json.loads((study.workdir / "results/sweeps/mlp_tuned/choice.json").read_text())["lr"]
            == 0.01
        )
        # The choice stands at 0.01: the claim runs stay; then a dry run plans nothing.
        study.snakemake(check=True)
        assert planned_jobs(study) == set()
    assert (study.workdir / "results/runs/mlp_tuned/seed0/model.pt").read_bytes() == before


def test_a_best_lr_at_the_sweeps_edge_stops_the_workflow(tuned_run, tmp_path):
    """With no extension left (max_extensions 0), a best alone at the end stops."""
    study = copy_of(tuned_run, tmp_path / "edge")

    def narrow(config):
        config["variants"]["mlp_tuned"]["tune_lr"]["values"] = [0.0001, 0.001, 0.01]
        config["tuning"]["max_extensions"] = 0

    with edited_config(study, narrow):
        done = study.snakemake()
    assert done.returncode != 0
    log = (study.workdir / "logs/sweep/choose_lr_mlp_tuned.log").read_text()
    assert re.search(
        r"variants\.mlp_tuned\.tune_lr: the best lr by final validation accuracy on validation is "
        r"0\.01, the largest of the sweep \['0\.0001', '0\.001', '0\.01'\]",
        log,
    ), log
    assert "rule train_mlp_tuned" not in done.stdout + done.stderr
    assert not (study.workdir / "results/sweeps/mlp_tuned/choice.json").exists()


def test_the_choice_reads_validation_only(tmp_path):
    """Shuffling the test labels changes no sweep history, so no choice."""
    cache = make_cache()
    shuffled = dict(cache)
    shuffled["test_labels"] = cache["test_labels"][torch.randperm(len(cache["test_labels"]))]
    assert not torch.equal(shuffled["test_labels"], cache["test_labels"])
    choices = []
    for name, data in (("real", cache), ("shuffled", shuffled)):
        paths, infos = [], []
        for lr in SWEEP["values"]:
            for seed in (500, 501):
                folder = tmp_path / name / f"lr{lr}" / f"seed{seed}"
                folder.mkdir(parents=True)
                config = {"lr": lr, "batch_size": 64, "epochs": 2, "threads": 1, "seed": seed}
                train_run(
                    data,
                    {"kind": "mlp", "hidden": [32]},
                    config,
                    checkpoint=folder / "model.pt",
                    history=folder / "history.csv",
                    info=folder / "train.json",
                    resume=folder / "resume.pt",
                )
                paths.append(folder / "history.csv")
                infos.append(folder / "train.json")
        out = tmp_path / name / "choice.json"
        write_choice(SWEEP, "variants.mlp_tuned.tune_lr", paths, infos, out)
        choices.append(json.loads(out.read_text()))
    assert choices[0] == choices[1]
    assert choices[0]["lr"] == 0.01


def test_the_report_shows_the_sweeps_and_the_isolation_plot(tuned_run):
    work = tuned_run.workdir
    assert (work / "results/figures/tuning/activation.png").stat().st_size > 0
    html = (work / "results/report.html").read_text()
    assert 'id="fig-tuning-activation"' in html
    assert "the isolation plot" in html
    assert re.search(r"MLP 32, tuned lr 0\.01 \(\d+\.\d\d% on validation\)", html)


def test_the_sweeps_count_in_the_studys_compute_figures(tuned_run):
    figures = json.loads((tuned_run.workdir / "results/tables/efficiency.json").read_text())
    config = tuned_run.read_config()
    variants = {v for s in config["only_studies"] for v in config["studies"][s]["variants"]}
    claim_runs = len(config["seeds"]) * len(variants)
    sweep_runs = len(SWEEP["values"]) * config["tuning"]["seeds"]  # mlp_tuned's only
    assert figures["runs_in_study"] == claim_runs + sweep_runs
