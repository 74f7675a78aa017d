"""Where each variant's seeds come from: a pin, the committed design, or the default; the
claims a design does not cover; and the seed sets kept apart when a design gives many."""

from __future__ import annotations

import copy
import re

import pytest
import yaml
from helpers import REPO
from snakemake.utils import validate
from test_analysis import claim

from mnist_study.config import ConfigError, plan_study_seeds
from mnist_study.seedplan import (
    DESIGNED,
    NOT_DESIGNED,
    PINNED,
    offsets_for,
    overlaps,
    plan_seeds,
    seed_sets,
    variant_hash,
)
from mnist_study.settings import load_study_config, resolve_dataset, seeds_of

SCHEMA = str(REPO / "workflow/schemas/config.schema.yaml")
MAX_PINS = 3
PIN = re.compile(r"\bn_seeds:\s*\d+")


def study_config(*layers: str) -> dict:
    """A study's config as rules/common.smk has it before the seeds: merged, defaults filled."""
    config = load_study_config([str(REPO / "config.yaml"), *(str(REPO / p) for p in layers)])
    validate(config, schema=SCHEMA)
    resolve_dataset(config)
    return config


def small_config() -> dict:
    config = study_config()
    config["variants"] = {
        "a": {"model": {"kind": "linear"}},
        "b": {"model": {"kind": "mlp", "hidden": [8]}},
        "c": {"model": {"kind": "mlp", "hidden": [16]}},
    }
    config["claims"] = {
        "ab": claim("test_acc", ["a", "b"], "increase"),
        "bc": claim("test_acc", ["b", "c"], "increase"),
    }
    return config


def design_of(config: dict, counts: dict) -> dict:
    return {
        "variants": {
            v: {"n_seeds": n, "config": variant_hash(config, v)} for v, n in counts.items()
        },
        "claims": {c: {} for c in config["claims"]},
    }


def test_at_most_three_variants_pin_their_seeds_each_with_its_reason():
    """The design plans the seeds; a pin in config.yaml or a dataset's layer is an exception."""
    files = [REPO / "config.yaml", *sorted((REPO / "workflow/datasets").glob("*.yaml"))]
    pins = [
        (path.name, line)
        for path in files
        for line in path.read_text(encoding="utf-8").splitlines()
        if PIN.search(line.split("#", 1)[0])
    ]
    assert len(pins) <= MAX_PINS, pins
    for name, line in pins:
        assert "#" in line and line.split("#", 1)[1].strip(), f"{name}: a pin without a reason"


def test_a_pin_beats_the_design_which_beats_the_default():
    config = small_config()
    config["variants"]["a"]["n_seeds"] = 7
    plan = plan_seeds(config, design_of(config, {"a": 20, "b": 12, "c": 5}))
    assert plan.counts == {"a": 7, "b": 12, "c": 5}
    assert plan.source == {"a": PINNED, "b": DESIGNED, "c": DESIGNED}
    assert plan.undesigned == ()


def test_a_variant_changed_since_the_design_falls_back_and_names_its_claims():
    config = small_config()
    design = design_of(config, {"a": 20, "b": 12, "c": 5})
    config["variants"]["c"]["training"] = {"lr": 0.123}
    plan = plan_seeds(config, design)
    assert plan.source["c"] == NOT_DESIGNED and plan.counts["c"] == 3  # undesigned_seeds
    assert plan.undesigned == ("bc",)
    assert "'bc'" in plan.warnings()[0] and "make design" in plan.warnings()[0]


def test_a_new_claim_is_not_designed_even_on_designed_variants():
    config = small_config()
    design = design_of(config, {"a": 20, "b": 12, "c": 5})
    config["claims"]["ac"] = {**config["claims"]["ab"], "variants": ["a", "c"]}
    assert plan_seeds(config, design).undesigned == ("ac",)


def test_no_design_gives_every_variant_the_default_and_no_more_than_the_list():
    config = small_config()
    config["seeds"] = [0, 1]
    plan = plan_seeds(config, None)
    assert set(plan.counts.values()) == {2} and plan.undesigned == ("ab", "bc")


def test_the_pilot_trains_all_its_seeds_whatever_a_pin_or_design_says():
    config = study_config("workflow/pilot.yaml")
    config["variants"]["mlp256"]["n_seeds"] = 40
    assert seeds_of(config, "mlp256") == [1000, 1001, 1002]
    assert set(plan_seeds(config, None).counts.values()) == {3}


def test_seeds_run_on_past_the_list_for_a_variant_the_design_gives_more():
    config = small_config()
    config["seeds"], config["seed_offset"] = [0, 1, 2], 100
    config["variants"]["a"]["n_seeds"] = 5
    assert seeds_of(config, "a") == [100, 101, 102, 103, 104]


def test_the_seed_sets_stay_apart_at_the_present_offsets_until_a_variant_has_over_100():
    offsets = {"study": 0, "replicate": 100, "pilot": 1000}
    assert overlaps(seed_sets(100, 2, offsets, 500, 3)) == []
    assert ("study", "replicate") in overlaps(seed_sets(101, 2, offsets, 500, 3))
    fix = offsets_for(101, 3, 2)
    offsets = {"study": 0, "replicate": fix["replicate"], "pilot": fix["pilot"]}
    assert overlaps(seed_sets(200, 2, offsets, fix["tuning"], 3)) == []
    assert offsets_for(50, 3, 2) == {"replicate": 100, "tuning": 500, "pilot": 1000}


def test_a_design_of_many_seeds_stops_the_study_with_the_offsets_it_asks(tmp_path):
    config = study_config()
    counts = dict.fromkeys(config["variants"], 2)
    counts["mlp256"] = 120
    path = tmp_path / "design.yaml"
    path.write_text(yaml.safe_dump(design_of(config, counts)), encoding="utf-8")
    config["design"]["file"] = str(path)
    with pytest.raises(ConfigError) as err:
        plan_study_seeds(copy.deepcopy(config), REPO)
    message = str(err.value)
    assert "mlp256 trains 120 seeds" in message and "study and replicate share" in message
    assert "workflow/replicate.yaml seed_offset: 200" in message
    counts["mlp256"] = 100
    path.write_text(yaml.safe_dump(design_of(config, counts)), encoding="utf-8")
    plan = plan_study_seeds(config, REPO)
    assert seeds_of(config, "mlp256")[-1] == 99 and plan.counts["mlp256"] == 100


@pytest.mark.parametrize("layers", [(), ("workflow/datasets/fashion-mnist.yaml",)])
def test_the_committed_design_covers_every_claim_and_variant_of_the_study(layers):
    """After a change to a claim or a variant, `make design` writes the design again: until
    then this fails, as `snakemake -n` warns."""
    config = study_config(*layers)
    plan = plan_study_seeds(config, REPO)
    assert plan.design is not None, f"no design at {plan.design_file}: run make design"
    assert plan.undesigned == ()
    assert all(s in (DESIGNED, PINNED) for s in plan.source.values()), plan.source
    budget = config["design"]["budget_tflop"]
    assert plan.design["budget_tflop"] == budget and plan.design["training_tflop"] <= budget


def test_a_design_file_that_is_no_design_stops_with_its_path(tmp_path):
    config = study_config()
    path = tmp_path / "design.yaml"
    path.write_text("- just a list\n", encoding="utf-8")
    config["design"]["file"] = str(path)
    with pytest.raises(ConfigError, match=re.escape(f"{path}: not a design")):
        plan_study_seeds(config, REPO)
