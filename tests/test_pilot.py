"""The weight-penalty pilot: it trains from the training split alone, judges on validation only,
and a bad pilot file stops with the key at fault and what would be valid."""

from __future__ import annotations

import pandas as pd
import pytest
from test_train import make_cache

from mnist_study.engine.pilot import PilotError, check_pilot, train_pilot
from mnist_study.evidence.pilot import choose, summarise

CONFIG = {
    "device": "cpu",
    "training": {"batch_size": 32, "epochs": 2, "lr": 0.01, "schedule": "constant"},
    "variants": {
        "small": {
            "model": {"kind": "mlp", "hidden": [16]},
            "training": {"train_size": 200, "eval_train_size": 100},
        }
    },
}
PILOT = {
    "base": "small",
    "seeds": [1000],
    "forms": {
        "adam_l2": {"optimizer": "adam", "lr": 0.01, "strengths": [0, 0.001]},
        "decoupled": {"optimizer": "adamw", "lr": 0.01, "strengths": [0, 1.0]},
    },
}


def test_the_pilot_reads_no_test_data(tmp_path):
    """The cache without its test images and labels: the pilot still trains and chooses, so
    nothing it decides can come from the test set."""
    cache = make_cache()
    del cache["test_images"], cache["test_labels"]
    check_pilot(PILOT, CONFIG["variants"])
    train_pilot(CONFIG, PILOT, cache, tmp_path, threads=1)
    table = summarise(PILOT, tmp_path)
    assert len(table) == 4 and set(table["form"]) == {"adam_l2", "decoupled"}
    assert table["val_acc"].between(0, 1).all()
    choice = choose(table)
    assert choice["form"] in PILOT["forms"]
    assert set(choice["forms"]) == {"adam_l2", "decoupled"}
    # Each run trained with its form's optimizer and strength, on the base variant's data.
    info = pd.read_json(tmp_path / "decoupled/wd1/seed1000/train.json", typ="series")
    assert info["train_config"]["optimizer"] == "adamw"
    assert info["train_config"]["weight_decay"] == 1.0
    assert info["train_images"] == 200


def test_the_choice_rule_picks_the_form_that_narrows_the_gap_most_at_its_best_strength():
    rows = [
        # form a: best validation accuracy at 0.1, which narrows the gap by 1 point
        ("a", 0.0, 0.90, 0.10),
        ("a", 0.1, 0.91, 0.09),
        ("a", 1.0, 0.80, 0.02),  # underfits: the narrowest gap, but not the best accuracy
        # form b: best at 3, narrowing the gap by 3 points; 3 is its largest strength
        ("b", 0.0, 0.90, 0.10),
        ("b", 3.0, 0.92, 0.07),
    ]
    table = pd.DataFrame(rows, columns=["form", "strength", "val_acc", "val_gap"])
    choice = choose(table)
    assert choice["form"] == "b"
    assert choice["forms"]["a"]["strength"] == 0.1
    assert choice["forms"]["a"]["gap_change"] == pytest.approx(-0.01)
    assert not choice["forms"]["a"]["at_edge"] and choice["forms"]["b"]["at_edge"]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda p: p.update(base="nope"), r"pilot.base: 'nope'; valid: \['small'\]"),
        (lambda p: p.update(seeds=[]), r"pilot.seeds: \[\]; give a list of integers >= 0"),
        (
            lambda p: p["forms"]["adam_l2"].update(optimizer="adamx"),
            r"pilot.forms.adam_l2.optimizer: 'adamx'; valid: \['sgd', 'sgd_momentum'",
        ),
        (
            lambda p: p["forms"]["adam_l2"].update(strengths=[0, -0.1]),
            r"pilot.forms.adam_l2.strengths: \[0, -0.1\]; give 0 .* all numbers >= 0",
        ),
        (
            lambda p: p["forms"]["decoupled"].update(strengths=[1.0]),
            r"pilot.forms.decoupled.strengths: \[1.0\]; give 0 \(the unpenalized twin\)",
        ),
        (lambda p: p["forms"]["decoupled"].update(lr=0), r"pilot.forms.decoupled.lr: 0; need"),
        (lambda p: p.update(strength=1), r"pilot: unknown key\(s\) \['strength'\]; valid: \["),
    ],
)
def test_a_bad_pilot_names_its_key_and_the_valid_values(edit, message):
    import copy

    pilot = copy.deepcopy(PILOT)
    edit(pilot)
    with pytest.raises(PilotError, match=message):
        check_pilot(pilot, CONFIG["variants"])
