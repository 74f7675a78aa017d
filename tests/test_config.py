"""The config checks Snakemake runs at every parse: light imports, one message per fault."""

from __future__ import annotations

import pytest
import yaml
from helpers import REPO

from mnist_study import config as study_config
from mnist_study.data.datasets import train_split_size
from mnist_study.report.figure_plan import FigurePlan, figure_plan

SCHEMA = REPO / "workflow/schemas/config.schema.yaml"


@pytest.mark.parametrize("dataset", ["mnist", "fashion-mnist"])
def test_the_study_config_passes_every_check_on_each_built_in_dataset(dataset):
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["data"]["dataset"] = dataset
    study_config.check_structure(config, SCHEMA)
    study_config.resolve_dataset(config)
    study_config.check_meaning(config)
    claims = study_config.claims_of(config)
    assert set(claims) == set(config["claims"])
    # Every threshold is fixed for this dataset in advance, so every claim can be decided.
    assert all(c.threshold for c in claims.values() if c.metric == "epochs_to_val_acc")
    # The resolved config passes the schema again (the rule graph job hands it on).
    study_config.check_structure(config, SCHEMA)
    references = {
        v: e["seed_reference"][dataset]
        for v, e in config["variants"].items()
        if dataset in e.get("seed_reference", {})
    }
    assert references == (
        {"linear": 92.1, "mlp256": 98.1, "mlp_dropout": 97.9} if dataset == "mnist" else {}
    )


def test_a_sweeps_threshold_is_settled_per_dataset_like_a_claims():
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    tuned = {
        v: e["tune_lr"]
        for v, e in config["variants"].items()
        if "threshold" in e.get("tune_lr", {})
    }
    assert tuned, "the default study has a speed-tuned variant"
    config["data"]["dataset"] = "fashion-mnist"
    study_config.resolve_dataset(config)
    for variant in tuned:
        assert config["variants"][variant]["tune_lr"]["threshold"] == 0.875
    config["claims"] = {}
    config["variants"] = {v: config["variants"][v] for v in tuned}
    for entry in config["variants"].values():
        entry["tune_lr"]["threshold"] = {"mnist": 0.97}
    with pytest.raises(study_config.ConfigError, match=r"variants\.\w+\.tune_lr\.threshold gives"):
        study_config.resolve_dataset(config)


def test_a_per_dataset_value_missing_for_the_dataset_names_key_and_remedy():
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["data"]["dataset"] = "my-letters"
    with pytest.raises(
        study_config.ConfigError,
        match=r"claims\.relu_converges_faster\.threshold gives values for \['fashion-mnist', "
        r"'mnist'\] but not for the dataset under study, 'my-letters'; add `my-letters: <value>`",
    ):
        study_config.resolve_dataset(config)


def test_a_dataset_of_ones_own_is_described_by_the_config():
    data = {"dataset": "my-letters", "classes": list("ABCDEFGHIJ"), "title": "Letters"}
    described = study_config.describe_dataset(data)
    assert described == {
        "name": "my-letters",
        "title": "Letters",
        "noun": "image",
        "classes": list("ABCDEFGHIJ"),
    }
    with pytest.raises(study_config.ConfigError, match=r"data\.classes: .*give 10 distinct names"):
        study_config.describe_dataset({**data, "classes": list("ABCDEFGHIA")})
    fashion = study_config.describe_dataset({"dataset": "fashion-mnist"})
    assert (fashion["title"], fashion["noun"], fashion["classes"][6]) == (
        "Fashion-MNIST",
        "article",
        "Shirt",
    )


def test_all_structural_errors_are_listed_by_key_path():
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["typo"] = 1
    config["studies"]["depth"]["question"] = 3
    with pytest.raises(study_config.ConfigError) as info:
        study_config.check_structure(config, SCHEMA)
    message = str(info.value)
    assert "(top level): unknown key(s) ['typo']" in message
    assert "studies.depth.question: 3 is not of type 'string'" in message


@pytest.mark.parametrize("value", [-1, 1.5, "two"])
def test_max_extensions_is_a_count_checked_before_any_job(value):
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["tuning"]["max_extensions"] = value
    with pytest.raises(study_config.ConfigError, match="tuning.max_extensions"):
        study_config.check_structure(config, SCHEMA)


def test_max_extensions_defaults_to_two():
    from snakemake.utils import validate

    config = yaml.safe_load((REPO / "config.yaml").read_text())
    del config["tuning"]["max_extensions"]
    validate(config, schema=str(SCHEMA))
    assert config["tuning"]["max_extensions"] == 2


def resolved_study_config() -> dict:
    """config.yaml as rules/common.smk resolves it (schema defaults included)."""
    from snakemake.utils import validate

    config = yaml.safe_load((REPO / "config.yaml").read_text())
    study_config.check_structure(config, SCHEMA)
    validate(config, schema=str(SCHEMA))
    study_config.resolve_dataset(config)
    study_config.check_meaning(config)
    study_config.select_studies(config)
    study_config.plan_study_seeds(config, REPO)
    return config


def test_the_default_study_trains_a_pinned_number_of_flops():
    """The compute limit's numerator: train FLOPs per sample x images x epochs over every run.
    A change of variants, seeds or epochs moves it, and so must this figure, on purpose."""
    config = resolved_study_config()
    images = train_split_size(config["data"])
    assert images == 50000  # from the files where fetched, else the built-in dataset's size
    # The design's 214.9 TFLOP of claim runs and the sweeps' 16.4.
    assert study_config.study_train_flops(config, images) == 231_304_032_000_000
    assert f"{study_config.study_train_flops(config, images):.4g}" == "2.313e+14"


def test_the_figure_plan_of_the_default_study():
    """What the rule files read off the config to plan the figures, and the plan passing through
    a rule's params as a plain dict and back."""
    plan = figure_plan(resolved_study_config())
    assert (plan.linear, plan.mlp) == ("linear", "mlp256")
    assert plan.augmented == {
        "wide_small_aug": {"augment_shift": 2, "augment_rotation": 10, "train_size": 5000}
    }
    assert plan.random_labels == ["memo_random", "memo_random_dropout"]
    assert plan.memorization == ["memorization"] and plan.levels == {"memorization": [0.99]}
    assert plan.tuned_studies == ["lr_activation", "optimizer", "optimizer_speed"]
    assert plan.studies == list(plan.titles) and "baseline" in plan.studies
    assert FigurePlan(**plan.fields()) == plan
    assert repr(plan.fields()) == repr(FigurePlan(**plan.fields()).fields())
