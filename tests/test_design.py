"""The design from a pilot: each claim's contrast, what a change retrains, the forecast wall
time, and the design files make design writes (the smoke study's runs as the pilot)."""

import json

import pytest
import yaml
from helpers import REPO
from test_analysis import claim

from mnist_study.evidence import design
from mnist_study.evidence.claims import Claim
from mnist_study.seedplan import variant_hash


@pytest.mark.parametrize(
    ("extra", "variants", "weights"),
    [
        ({}, ["a", "b"], {"a": -1.0, "b": 1.0}),
        ({"compare": "recovery", "share": 0.5}, ["a", "b", "c"], {"a": -0.5, "b": -0.5, "c": 1.0}),
        (
            {"compare": "interaction", "metric": "train_acc"},
            ["a1", "b1", "a2", "b2"],
            {"a1": 1.0, "b1": -1.0, "a2": -1.0, "b2": 1.0},
        ),
        ({"compare": "level", "level": 0.9, "metric": "train_acc"}, ["a"], {"a": 1.0}),
    ],
)
def test_each_kind_of_claim_reads_its_own_contrast(extra, variants, weights):
    entry = {**claim("test_acc", variants, "increase", smallest_effect=0.01), **extra}
    c = Claim.from_dict("c", entry)
    a, b = c.comparisons[0]
    assert design.contrast_weights(c, a, b) == weights


def _record(**variants):
    return {
        "variants": {
            v: {"n_seeds": n, "tflop_per_run": 2.0, "config": h} for v, (n, h) in variants.items()
        }
    }


def test_a_change_retrains_added_seeds_new_variants_and_changed_configs():
    old = _record(a=(4, "x"), b=(4, "x"), c=(4, "x"), d=(4, "x"))
    new = _record(a=(4, "x"), b=(6, "x"), c=(2, "x"), d=(3, "y"), e=(2, "x"))
    total, lines = design.retrain_tflop(old, new)
    assert total == 2 * 2.0 + 0 + 3 * 2.0 + 2 * 2.0
    assert [line.split(":")[0].strip() for line in lines] == ["b", "c", "d", "e"]
    assert "config changed" in lines[2] and "new" in lines[3]
    assert design.retrain_tflop(old, old) == (0.0, [])


def test_the_wall_time_forecast_reads_the_last_study_s_speed(tmp_path):
    tables = tmp_path / "study/results/tables"
    tables.mkdir(parents=True)
    (tables / "matmul.json").write_text(json.dumps({"matmul_flops_per_s": 1e11}))
    assert design.wall_seconds(1.0, [tmp_path / "study"]) == pytest.approx(
        10 * design.DEFAULT_RATIO
    )
    (tables / "efficiency.json").write_text(json.dumps({"matmul_flops_per_s": 2e11, "ratio": 3.0}))
    assert design.wall_seconds(1.0, [tmp_path / "study"]) == pytest.approx(5 * 3.0)
    assert design.wall_seconds(1.0, [tmp_path / "nothing"]) is None


def test_a_variant_s_hash_follows_what_it_trains_not_its_seeds_or_label():
    config = yaml.safe_load((REPO / "config.yaml").read_text(encoding="utf-8"))
    config["device"] = "cpu"
    before = variant_hash(config, "mlp256")
    config["variants"]["mlp256"]["n_seeds"] = 99
    config["variants"]["mlp256"]["label"] = "renamed"
    assert variant_hash(config, "mlp256") == before
    config["variants"]["mlp256"].setdefault("training", {})["lr"] = 0.123
    assert variant_hash(config, "mlp256") != before


@pytest.mark.slow
def test_the_design_of_the_smoke_pilot_repeats_byte_for_byte_and_plans_a_new_claim(
    smoke_run, tmp_path, capsys
):
    """The smoke study's runs stand in for a pilot. A claim added to config.yaml gets its
    row and its variants' seeds from the design alone; the same pilot writes the same files;
    exploring another budget writes nothing."""
    config = smoke_run.read_config()
    config["claims"]["penalty_or_not"] = claim(
        "test_acc", ["mlp", "mlp_dropout"], "increase", smallest_effect=0.01
    )
    per_run = design.run_tflop(smoke_run.workdir, list(config["variants"]))
    budget = 6 * sum(per_run.values())  # room for six seeds of every variant
    config["design"] = {"budget_tflop": budget, "agreement": 0.9}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    stem = tmp_path / "designs/smoke"
    args = [str(smoke_run.workdir), str(path), "--out", str(stem)]
    assert design.main(args) == 0
    written = stem.with_suffix(".yaml").read_bytes(), stem.with_suffix(".md").read_bytes()
    record = yaml.safe_load(written[0])
    assert set(record["claims"]) == set(config["claims"])
    assert set(record["variants"]) == set(config["variants"])
    assert min(v["n_seeds"] for v in record["variants"].values()) >= 2
    assert record["training_tflop"] <= budget * 1.0005  # four significant digits
    new = record["claims"]["penalty_or_not"]
    assert new["seeds_given"] == min(record["variants"][v]["n_seeds"] for v in new["variants"])
    assert "| penalty_or_not |" in written[1].decode()
    capsys.readouterr()
    assert design.main(args) == 0
    assert "no change" in capsys.readouterr().out
    assert (stem.with_suffix(".yaml").read_bytes(), stem.with_suffix(".md").read_bytes()) == written
    assert design.main([*args, "--budget", str(budget / 2)]) == 0
    assert stem.with_suffix(".yaml").read_bytes() == written[0]


@pytest.mark.slow
def test_the_study_reads_a_new_claim_s_seeds_from_its_design_with_no_hand_edit(smoke_run, tmp_path):
    """Before its design, `snakemake -n` names the new claim and `make design`; after it, the
    claim's variants plan the design's seeds and no claim is left undesigned."""
    config = smoke_run.read_config()
    config["claims"]["penalty_or_not"] = claim(
        "test_acc", ["mlp", "mlp_dropout"], "increase", smallest_effect=0.01
    )
    per_run = design.run_tflop(smoke_run.workdir, list(config["variants"]))
    stem = tmp_path / "designs/smoke"
    config["design"] = {"budget_tflop": 6 * sum(per_run.values()), "file": f"{stem}.yaml"}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    before = smoke_run.snakemake("-n", "--configfile", str(path), check=True)
    assert "claim 'penalty_or_not' is not designed" in before.stderr
    assert "make design" in before.stderr
    assert design.main([str(smoke_run.workdir), str(path), "--out", str(stem)]) == 0
    planned = yaml.safe_load(stem.with_suffix(".yaml").read_text(encoding="utf-8"))
    after = smoke_run.snakemake("-n", "--configfile", str(path), check=True)
    assert "is not designed" not in after.stderr
    more = {v: e["n_seeds"] for v, e in planned["variants"].items() if e["n_seeds"] > 2}
    assert more, "the budget gave no variant more than the smoke study's two seeds"
    # Each job's start line counts what it writes: four files a run (rules/console.smk).
    for v, n in more.items():
        assert f"rule train_{v}: {4 * n} files under results/runs/{v}/" in after.stdout
