"""Hyperparameter shifts (issue 20): the non-inferiority rule and the linear lr scaling rule,
on hand-computed cases and synthetic runs."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from mnist_study import StudyError
from mnist_study.engine.train_config import TrainConfig, lr_at
from mnist_study.engine.tuning import (
    Sweep,
    choose,
    decide_round,
    extension_candidates,
    extension_lr,
)
from mnist_study.evidence.claims import Claim
from mnist_study.evidence.effects import Effect, verdict
from mnist_study.evidence.verdicts import evaluate_claims

# Student's t quantiles from the printed tables: 20 df, one-sided 0.995 and 0.95.
T20_995 = 2.845
T20_95 = 1.725
MARGIN = 0.01
SE = 0.005


def effect(estimate: float) -> Effect:
    # se 0.005 split 3:4 between seeds and images, 20 df.
    return Effect(estimate, se_seed=0.003, se_image=0.004, df=20, n_seeds=21)


@pytest.mark.parametrize(
    ("estimate", "p_noninferior", "p_inferior", "expected"),
    [
        # 2.845 standard errors above the margin's edge: non-inferior at p = 0.005.
        (-MARGIN + T20_995 * SE, 0.005, 0.995, "supported"),
        # 2.845 standard errors below it: inferior at p = 0.005.
        (-MARGIN - T20_995 * SE, 0.995, 0.005, "contradicted"),
        # On the edge: both one-sided p are 0.5.
        (-MARGIN, 0.5, 0.5, "inconclusive"),
        # 1.725 standard errors above the edge: p = 0.05 (the table's rounding decides the
        # verdict, so only the p-values are checked).
        (-MARGIN + T20_95 * SE, 0.05, 0.95, None),
    ],
)
def test_non_inferiority_against_hand_computed_cases(estimate, p_noninferior, p_inferior, expected):
    e = effect(estimate)
    assert e.se == pytest.approx(SE)
    assert e.p_noninferior(MARGIN) == pytest.approx(p_noninferior, abs=2e-4)
    assert e.p_inferior(MARGIN) == pytest.approx(p_inferior, abs=2e-4)
    got = verdict(estimate, e.p_noninferior(MARGIN), e.p_inferior(MARGIN), "not_worse", 0.05)
    assert expected is None or got == expected


def test_an_effect_shown_inside_the_margin_supports_not_worse():
    """What the two-sided rule calls contradicted (shown equivalent) is what non-inferiority
    claims: an effect of zero, tightly measured, is not worse."""
    e = Effect(0.0, se_seed=0.001, se_image=0.001, df=30, n_seeds=31)
    assert e.p_equivalence(MARGIN) < 0.05
    two_sided = verdict(0.0, e.p_value(), e.p_equivalence(MARGIN), "increase", 0.05)
    assert two_sided == "contradicted"
    assert verdict(0.0, e.p_noninferior(MARGIN), e.p_inferior(MARGIN), "not_worse", 0.05) == (
        "supported"
    )


def test_no_spread_decides_by_the_estimate_alone():
    assert Effect(-0.005, 0.0, 0.0, 5, 6).p_noninferior(MARGIN) == 0.0
    assert Effect(-0.02, 0.0, 0.0, 5, 6).p_inferior(MARGIN) == 0.0
    assert math.isnan(Effect(0.0, 0.0, 0.0, 0, 1).p_noninferior(MARGIN))


def runs_frame(diffs: list[float]) -> pd.DataFrame:
    rows = []
    for seed, d in enumerate(diffs):
        rows.append({"variant": "adam", "seed": seed, "val_acc": 0.95})
        rows.append({"variant": "sgdm", "seed": seed, "val_acc": 0.95 + d})
    return pd.DataFrame(rows)


NOT_WORSE = {
    "statement": "SGD with momentum is not worse than Adam.",
    "metric": "val_acc",
    "variants": ["adam", "sgdm"],
    "expect": "not_worse",
    "smallest_effect": MARGIN,
}


def test_not_worse_claim_is_judged_one_sided_and_joins_holm():
    # Ten seeds, B - A alternating -0.004 and 0.000: mean -0.002, sd 0.00211 (se 0.000667).
    diffs = [-0.004, 0.0] * 5
    other = {
        "statement": "SGD with momentum is more accurate.",
        "metric": "val_acc",
        "variants": ["adam", "sgdm"],
        "expect": "increase",
        "smallest_effect": 0.001,
    }
    results = evaluate_claims(
        {"not_worse": NOT_WORSE, "other": other}, runs_frame(diffs), {}, {}, alpha=0.05
    )
    nw, two_sided = results
    se = 0.004 / 2 * math.sqrt(10 / 9) / math.sqrt(10)
    assert nw["effect"] == pytest.approx(-0.002)
    assert nw["se_seed"] == pytest.approx(se)
    # (-0.002 + 0.01) / se = 12: far beyond any table: non-inferior.
    assert nw["p_value"] < 1e-6
    assert nw["p_inferior"] > 1 - 1e-6
    assert math.isnan(nw["p_equivalence"]) and math.isnan(nw["p_equivalence_holm"])
    # Holm over four nulls, at most two true (Shaffer): the smallest p is doubled.
    assert nw["p_holm"] == pytest.approx(min(1.0, 2 * nw["p_value"]))
    assert nw["p_inferior_holm"] >= nw["p_inferior"]
    assert nw["verdict"] == "supported"
    # The same runs under the two-sided rule: a fall of 0.2 points, shown, contradicts.
    assert two_sided["verdict"] == "contradicted"
    assert "non-inferiority p" in nw["numbers"] and "margin −" in nw["numbers"]


def test_not_worse_is_contradicted_when_shown_worse_by_more_than_the_margin():
    diffs = [-0.03, -0.02] * 5
    (nw,) = evaluate_claims({"not_worse": NOT_WORSE}, runs_frame(diffs), {}, {}, alpha=0.05)
    assert nw["verdict"] == "contradicted"
    assert nw["p_inferior_holm"] < 0.05


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"metric": "test_loss"}, "larger is better"),
        ({"variants": ["a", "b", "c"]}, "3 variants"),
        ({"compare": "each", "variants": ["a", "b", "c"]}, "compare 'each'"),
    ],
)
def test_not_worse_takes_one_pair_on_an_accuracy(entry, message):
    d = {**NOT_WORSE, "variants": ["a", "b"], "metric": "test_acc"} | entry
    with pytest.raises(ValueError, match=message):
        Claim.from_dict("nw", d)


@pytest.mark.parametrize("batch", [64, 256, 1024, 2048])
def test_linear_scaling_gives_lr_times_batch_over_256(batch):
    cfg = TrainConfig.from_dict(
        {"lr": 0.05, "batch_size": batch, "lr_scaling": "linear", "schedule": "constant"}
    )
    assert cfg.peak_lr == pytest.approx(0.05 * batch / 256)
    assert lr_at(cfg, 0, 100) == pytest.approx(0.05 * batch / 256)


def test_scaling_scales_the_whole_one_cycle_schedule():
    base = TrainConfig.from_dict({"lr": 0.05, "batch_size": 256, "lr_scaling": "linear"})
    big = TrainConfig.from_dict({"lr": 0.05, "batch_size": 1024, "lr_scaling": "linear"})
    fixed = TrainConfig.from_dict({"lr": 0.05, "batch_size": 1024})
    for step in (0, 10, 25, 60, 99):
        assert lr_at(big, step, 100) == pytest.approx(4 * lr_at(base, step, 100))
        assert lr_at(fixed, step, 100) == pytest.approx(lr_at(base, step, 100))


def test_scaling_reads_its_reference_batch_from_the_config():
    cfg = TrainConfig.from_dict(
        {"lr": 0.1, "batch_size": 512, "lr_scaling": "linear", "lr_reference_batch": 128}
    )
    assert cfg.peak_lr == pytest.approx(0.4)


# ----------------------------------------------------------------------------- the lr choice

SWEEP = Sweep.from_dict({"values": [0.001, 0.003, 0.01, 0.03, 0.1]}, "variants.v.tune_lr")


def scores(means: list[float], spread: float = 0.001) -> dict:
    """Three seeds per lr around each mean: mean - spread, mean, mean + spread (se = spread /
    sqrt(3))."""
    return {
        lr: [(m - spread, True), (m, True), (m + spread, True)]
        for lr, m in zip(SWEEP.values, means, strict=True)
    }


def test_the_best_mean_is_chosen_when_nothing_ties():
    choice = choose(SWEEP, scores([0.90, 0.95, 0.97, 0.96, 0.93]), "variants.v.tune_lr")
    assert choice["lr"] == choice["best_lr"] == 0.01
    assert choice["tie_band"] == pytest.approx(0.001 / math.sqrt(3))
    assert [p["runs"] for p in choice["points"]] == [3] * 5


def test_a_tie_goes_to_the_smaller_lr():
    # 0.003 lies 0.0005 below the best (0.03), inside its standard error of 0.00058; 0.01 too.
    choice = choose(SWEEP, scores([0.90, 0.9695, 0.9698, 0.970, 0.93]), "variants.v.tune_lr")
    assert choice["best_lr"] == 0.03
    assert choice["lr"] == 0.003


def test_a_value_just_outside_one_standard_error_is_no_tie():
    choice = choose(SWEEP, scores([0.90, 0.9690, 0.95, 0.970, 0.93]), "variants.v.tune_lr")
    assert choice["lr"] == 0.03


def test_for_a_speed_metric_fewer_epochs_is_better_and_ties_go_down_too():
    speed = Sweep.from_dict(
        {"values": [0.001, 0.003, 0.01], "metric": "epochs_to_val_acc", "threshold": 0.9},
        "variants.v.tune_lr",
    )
    runs = {0.001: [(9.0, False)] * 3, 0.003: [(3.0, True)] * 3, 0.01: [(4.0, True)] * 3}
    assert choose(speed, runs, "w")["lr"] == 0.003
    # A censored run counts at its budget and is counted as censored.
    assert choose(speed, runs, "w")["points"][0]["censored"] == 3


SGD_SWEEP = Sweep.from_dict({"values": [0.05, 0.1, 0.2, 0.5, 1.0]}, "variants.sgd_best.tune_lr")


def sweep_runs(curves: dict) -> list[tuple[float, int, pd.DataFrame]]:
    """decide_round's runs from {lr: [validation accuracies per epoch, one list per seed]}."""
    return [
        (lr, seed, pd.DataFrame({"epoch": range(1, len(acc) + 1), "val_acc": acc}))
        for lr, per_seed in curves.items()
        for seed, acc in enumerate(per_seed)
    ]


def final_scores(curves: dict) -> dict:
    return {lr: [(acc[-1], True) for acc in per_seed] for lr, per_seed in curves.items()}


def test_a_tie_at_the_edge_chooses_inside_the_grid_without_extending():
    """The seed_offset-200 study's sgd_best sweep: lr 1 leads 0.5 by 0.00015, within its
    standard error of 0.0034, so the tie rule picks 0.5 and nothing extends."""
    curves = {0.05: [[0.960], [0.961]], 0.1: [[0.968], [0.969]], 0.2: [[0.974], [0.975]]}
    curves |= {0.5: [[0.9789], [0.9785]], 1.0: [[0.9755], [0.9822]]}
    choice = choose(SGD_SWEEP, final_scores(curves), "variants.sgd_best.tune_lr")
    assert (choice["best_lr"], choice["lr"], choice["extensions"]) == (1.0, 0.5, [])
    round0 = decide_round({"sgd_best": SGD_SWEEP}, sweep_runs(curves), 0, 2)
    assert round0["added"] == [] and round0["edges"] == {"sgd_best": None}


def _rising(means: dict, spread: float = 0.001) -> dict:
    return {lr: [[m - spread], [m + spread]] for lr, m in means.items()}


def test_a_clear_best_at_the_edge_extends_once_and_then_chooses():
    curves = _rising({0.05: 0.90, 0.1: 0.92, 0.2: 0.94, 0.5: 0.96, 1.0: 0.98})
    round0 = decide_round({"sgd_best": SGD_SWEEP}, sweep_runs(curves), 0, 2)
    assert round0["added"] == [{"round": 0, "side": "upper", "lr": 2.0, "asked_by": ["sgd_best"]}]
    curves |= _rising({2.0: 0.97})
    round1 = decide_round({"sgd_best": SGD_SWEEP}, sweep_runs(curves), 1, 2, round0)
    assert round1["added"] == [] and round1["values"] == [0.05, 0.1, 0.2, 0.5, 1.0, 2.0]
    assert round1["extensions"] == round0["added"]
    choice = choose(SGD_SWEEP, final_scores(curves), "w", round1["values"], round1["extensions"])
    assert choice["lr"] == 1.0 and choice["points"][-1]["lr"] == 2.0
    assert choice["extensions"] == round0["added"]


def test_a_best_that_keeps_moving_stops_after_max_extensions_or_warns_unread():
    means = {0.05: 0.90, 0.1: 0.92, 0.2: 0.94, 0.5: 0.96, 1.0: 0.98, 2.0: 0.985, 4.0: 0.99}
    curves = _rising(means, spread=0.0001)
    previous = None
    for k, largest in enumerate((1.0, 2.0, 4.0)):
        runs = sweep_runs({lr: c for lr, c in curves.items() if lr <= largest})
        previous = decide_round({"sgd_best": SGD_SWEEP}, runs, k, 2, previous)
    assert previous["added"] == [] and previous["edges"] == {"sgd_best": "upper"}
    assert [e["lr"] for e in previous["extensions"]] == [2.0, 4.0]
    scores, values, extensions = final_scores(curves), list(means), previous["extensions"]
    with pytest.raises(StudyError, match=r"the largest of the sweep .*after 2 extension"):
        choose(SGD_SWEEP, scores, "variants.sgd_best.tune_lr", values, extensions)
    unread = choose(SGD_SWEEP, scores, "w", values, extensions, read_by_claim=False)
    assert unread["lr"] == 4.0 and "the largest of the sweep" in unread["warning"]


def test_a_shared_sweep_extends_where_any_reader_asks():
    """Two readers of one sweep's runs: accuracy peaks inside the grid, speed (epochs to 50%,
    from the first epoch's accuracy) is best at the smallest lr alone: one point below."""
    speed = Sweep.from_dict(
        {"values": list(SGD_SWEEP.values), "metric": "epochs_to_val_acc", "threshold": 0.5},
        "w",
    )
    first = {0.05: 0.90, 0.1: 0.70, 0.2: 0.65, 0.5: 0.60, 1.0: 0.55}
    final = {0.05: 0.91, 0.1: 0.93, 0.2: 0.97, 0.5: 0.95, 1.0: 0.92}
    curves = {lr: [[first[lr], final[lr] - d] for d in (0.0, 0.001)] for lr in first}
    round0 = decide_round({"acc": SGD_SWEEP, "fast": speed}, sweep_runs(curves), 0, 2)
    assert round0["edges"] == {"acc": None, "fast": "lower"}
    assert round0["added"] == [{"round": 0, "side": "lower", "lr": 0.025, "asked_by": ["fast"]}]
    # With no extension left, the same standing adds nothing.
    assert decide_round({"acc": SGD_SWEEP, "fast": speed}, sweep_runs(curves), 0, 0)["added"] == []


def test_extension_points_continue_the_grids_own_step():
    assert extension_lr([0.001, 0.002, 0.005, 0.01, 0.02], "upper") == 0.04
    assert extension_lr([0.001, 0.002, 0.005, 0.01, 0.02], "lower") == 0.0005
    assert extension_candidates([0.05, 0.1, 0.2, 0.5, 1.0], 2) == [0.025, 0.0125, 2.0, 4.0]
    assert extension_candidates([0.1, 0.3, 1.0], 0) == []


@pytest.mark.parametrize(
    ("means", "end"), [([5, 4, 3, 2, 1], "smallest"), ([1, 2, 3, 4, 5], "largest")]
)
def test_a_best_lr_at_the_sweeps_edge_stops_naming_the_variant_and_the_sweep(means, end):
    with pytest.raises(StudyError) as err:
        choose(SWEEP, scores([m / 10 for m in means]), "variants.mlp_sgd.tune_lr")
    message = str(err.value)
    assert "variants.mlp_sgd.tune_lr" in message
    assert f"the {end} of the sweep ['0.001', '0.003', '0.01', '0.03', '0.1']" in message


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"values": []}, r"values: \[\]; need a list of at least 3 positive learning rates"),
        ({"values": [0.1, 0, 1]}, r"values: \[0\.1, 0, 1\]; need a list of at least 3 positive"),
        ({"values": [0.1, -1, 1]}, "need a list of at least 3 positive"),
        ({"values": [0.1, 0.1, 1]}, "each learning rate once"),
        (
            {"values": [0.1, 0.2, 1], "metric": "test_acc"},
            r"metric: 'test_acc'; valid: \['val_acc'",
        ),
        ({"values": [0.1, 0.2, 1], "metric": "epochs_to_val_acc"}, "needs a validation accuracy"),
    ],
)
def test_bad_sweeps_name_their_key_and_what_is_valid(entry, message):
    with pytest.raises(ValueError, match=message):
        Sweep.from_dict(entry, "variants.v.tune_lr")


# ----------------------------------------------------------------------------- rate dependence


def four_variant_runs(fixed_diffs, tuned_diffs) -> pd.DataFrame:
    """Per seed: tanh and relu at fixed rates (relu - tanh = fixed_diffs), and at tuned rates
    (relu - tanh = tuned_diffs); validation accuracy, a per-run metric."""
    rows = []
    for seed, (f, t) in enumerate(zip(fixed_diffs, tuned_diffs, strict=True)):
        base = 0.95 + 0.001 * seed
        rows += [
            {"variant": "tanh", "seed": seed, "val_acc": base},
            {"variant": "relu", "seed": seed, "val_acc": base + f},
            {"variant": "tanh_tuned", "seed": seed, "val_acc": base + 0.002},
            {"variant": "relu_tuned", "seed": seed, "val_acc": base + 0.002 + t},
        ]
    return pd.DataFrame(rows)


def twin_claims(margin: float = 0.005) -> dict:
    fixed = {
        "statement": "ReLU is more accurate than tanh.",
        "metric": "val_acc",
        "variants": ["tanh", "relu"],
        "expect": "increase",
        "smallest_effect": margin,
    }
    return {
        "relu_wins": fixed,
        "relu_wins_tuned": {
            **fixed,
            "variants": ["tanh_tuned", "relu_tuned"],
            "fixed_lr_claim": "relu_wins",
        },
    }


def test_a_verdict_that_holds_at_both_rates_does_not_depend_on_them():
    fixed = [0.010, 0.011] * 5
    tuned = [0.0105, 0.0105] * 5  # the same effect (+1.05 points), paired seed by seed
    results = evaluate_claims(twin_claims(), four_variant_runs(fixed, tuned), {}, {}, alpha=0.05)
    record = {r["name"]: r for r in results}["relu_wins_tuned"]["rate_dependence"]
    assert record["fixed_lr_claim"] == "relu_wins"
    assert record["difference"] == pytest.approx(0.0, abs=1e-12)
    assert record["judgement"] == "does not depend on the rate"
    assert "rate_dependence" not in {r["name"]: r for r in results}["relu_wins"]


def test_an_effect_that_vanishes_at_the_best_rates_depends_on_them():
    fixed = [0.010, 0.012] * 5
    tuned = [-0.001, 0.001] * 5  # at their own best rates the two are alike
    results = evaluate_claims(twin_claims(), four_variant_runs(fixed, tuned), {}, {}, alpha=0.05)
    by_name = {r["name"]: r for r in results}
    record = by_name["relu_wins_tuned"]["rate_dependence"]
    assert record["difference"] == pytest.approx(-0.011)
    assert record["p_difference_holm"] < 0.05
    assert record["judgement"] == "depends on the rate"
    # Both verdicts stand beside it, each judged on its own runs.
    assert by_name["relu_wins"]["verdict"] == "supported"
    assert by_name["relu_wins_tuned"]["verdict"] == "contradicted"
    assert (
        "against the same claim at fixed rates (relu_wins)" in by_name["relu_wins_tuned"]["numbers"]
    )


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ({"fixed_lr_claim": "nope"}, r"'nope' is no other claim; valid: \['relu_wins'\]"),
        ({"fixed_lr_claim": "relu_wins", "metric": "test_acc"}, r"it differs in \['metric'\]"),
    ],
)
def test_a_fixed_lr_twin_must_be_the_same_comparison(edit, message):
    from mnist_study.config import claims_of

    claims = twin_claims()
    claims["relu_wins_tuned"].update(edit)
    variants = {v: {} for v in ("tanh", "relu", "tanh_tuned", "relu_tuned")}
    with pytest.raises(ValueError, match=message):
        claims_of({"variants": variants, "claims": claims})


# ----------------------------------------------------------------------------- recovery

RECOVERY = {
    "statement": "Scaling the lr wins back at least half of what the large batch loses.",
    "metric": "test_acc",
    "variants": ["b256", "b2048", "b2048_scaled"],
    "compare": "recovery",
    "share": 0.5,
    "expect": "increase",
    "smallest_effect": 0.005,
}


def correct_sets(n_seeds: int, accuracies: dict[str, list[float]], images: int = 1000) -> dict:
    """Per variant and seed, the first ``accuracy x images`` test images right, the rest
    wrong: accuracies exact, and nested (a more accurate run gets every image a less accurate
    one gets)."""
    from mnist_study.evidence.stats import Correct

    out = {}
    for variant, accs in accuracies.items():
        for seed in range(n_seeds):
            right = np.arange(images) < round(accs[seed] * images)
            out[(variant, seed)] = Correct(test=right, train=right)
    return out


def test_recovery_on_the_test_set_against_a_hand_computed_case():
    # Batch 256 at 98%, 2048 at 96% (a loss of 2 points), scaled at 97.5% (wins back 1.5):
    # (97.5 - 96) - 0.5 x (98 - 96) = +0.5 points in every seed, image by image.
    seeds = 4
    correct = correct_sets(
        seeds,
        {
            "b256": [0.980, 0.981, 0.979, 0.982],
            "b2048": [0.960, 0.961, 0.959, 0.962],
            "b2048_scaled": [0.975, 0.976, 0.974, 0.977],
        },
    )
    runs = pd.DataFrame([{"variant": v, "seed": s} for v, s in correct])
    (r,) = evaluate_claims({"recovery": RECOVERY}, runs, {}, correct, alpha=0.05)
    assert r["effect"] == pytest.approx(0.005)
    assert r["se_seed"] == pytest.approx(0.0, abs=1e-12)
    assert r["compare"] == "recovery" and r["share"] == 0.5
    assert r["seeds"] == {v: [0, 1, 2, 3] for v in RECOVERY["variants"]}
    assert "0.5 × (b256 − b2048)" in r["numbers"] and "(b2048_scaled − b2048)" in r["numbers"]


def test_recovery_over_seeds_for_a_per_run_metric():
    rows = []
    for seed, (a, b, c) in enumerate([(0.98, 0.96, 0.96), (0.98, 0.95, 0.955), (0.97, 0.95, 0.96)]):
        rows += [
            {"variant": "b256", "seed": seed, "val_acc": a},
            {"variant": "b2048", "seed": seed, "val_acc": b},
            {"variant": "b2048_scaled", "seed": seed, "val_acc": c},
        ]
    claim = {**RECOVERY, "metric": "val_acc"}
    (r,) = evaluate_claims({"recovery": claim}, pd.DataFrame(rows), {}, {}, alpha=0.05)
    # Per seed: 0 - 0.01 = -0.01; 0.005 - 0.015 = -0.01; 0.01 - 0.01 = 0.
    assert r["effect"] == pytest.approx(-0.02 / 3)
    assert r["n_seeds"] == 3


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ({"share": None}, "`share` goes with compare 'recovery' and only with it"),
        ({"share": 1.5}, r"a share in \(0, 1\]; got 3 variants, share 1.5"),
        ({"variants": ["a", "b"]}, "got 2 variants"),
    ],
)
def test_a_recovery_takes_three_variants_and_a_share(edit, message):
    d = {k: v for k, v in {**RECOVERY, **edit}.items() if v is not None}
    with pytest.raises(ValueError, match=message):
        Claim.from_dict("recovery", d)


def test_sweep_seeds_are_shifted_by_the_replicates_offset():
    from mnist_study.engine.tuning import sweep_seeds

    tuning = {"seeds": 3, "seed_offset": 500}
    assert sweep_seeds({"tuning": tuning}) == [500, 501, 502]
    assert sweep_seeds({"tuning": tuning, "seed_offset": 100}) == [600, 601, 602]


def test_the_run_record_states_the_peak_lr_it_trained_at(tmp_path):
    """train.json carries the scaled peak, which runs.csv and the claims state."""
    import json

    import torch
    from test_train import make_cache

    from mnist_study.engine.train import train_run

    config = {"lr": 0.001, "batch_size": 64, "lr_scaling": "linear", "epochs": 1, "threads": 1}
    info = train_run(
        make_cache(),
        {"kind": "linear"},
        config,
        checkpoint=tmp_path / "model.pt",
        history=tmp_path / "history.csv",
        info=tmp_path / "train.json",
    )
    record = json.loads((tmp_path / "train.json").read_text())
    assert record["peak_lr"] == pytest.approx(0.001 * 64 / 256) == info["peak_lr"]
    assert torch.load(tmp_path / "model.pt", weights_only=True)["train_config"]["lr"] == 0.001


def test_each_sides_rate_says_where_it_came_from():
    from mnist_study.evidence.lr_evidence import learning_rates_text

    record = {
        "learning_rates": {"sgdm_best": 0.2, "b2048": 1.6, "linear": 0.003},
        "tuning": {
            "sgdm_best": {
                "criterion": "final validation accuracy",
                "points": [{}] * 5,
                "sweep_seeds": [500, 501],
            }
        },
        "lr_from": {"b2048": "sgdm_best"},
    }
    assert learning_rates_text(record) == (
        "learning rates: sgdm_best 0.2 (tuned: best final validation accuracy over 5 rates, "
        "sweep seeds 500–501), b2048 1.6 (from sgdm_best's choice), linear 0.003 (fixed)"
    )


def test_a_rate_scaled_with_the_batch_names_the_rate_it_was_scaled_from():
    from mnist_study.evidence.lr_evidence import learning_rates_text, scaled_rates

    runs = pd.DataFrame(
        {
            "variant": ["b256", "b2048_linear", "b2048_linear", "borrowed"],
            "lr": [0.1, 0.8, 0.8, 0.05],
            "lr_base": [0.1, 0.1, 0.1, 0.2],
            "batch_size": [256, 2048, 2048, 64],
        }
    )
    scaled = scaled_rates(runs, ["b256", "b2048_linear", "borrowed"])
    # An unscaled side is left out; the reference batch follows from the two rates.
    assert scaled == {
        "b2048_linear": {"base": 0.1, "batch": 2048, "reference": 256},
        "borrowed": {"base": 0.2, "batch": 64, "reference": 256},
    }
    record = {
        "learning_rates": {"b256": 0.1, "b2048_linear": 0.8, "borrowed": 0.05},
        "lr_scaled": scaled,
        "lr_from": {"borrowed": "sgdm_best"},
    }
    assert learning_rates_text(record) == (
        "learning rates: b256 0.1 (fixed), b2048_linear 0.8 (fixed 0.1 × 2048 / 256, scaled "
        "with the batch), borrowed 0.05 (sgdm_best's choice 0.2 × 64 / 256, scaled with the "
        "batch)"
    )


def test_a_claim_on_a_borrowed_rate_records_its_source_and_the_choice_behind_it():
    from mnist_study.evidence.verdicts import evaluate_claims

    rows = [
        {"variant": v, "seed": s, "lr": lr, "val_acc": acc + 0.001 * s}
        for v, lr, acc in (("ref", 0.2, 0.98), ("big", 0.2, 0.97))
        for s in range(3)
    ]
    claim = {
        "statement": "The big batch is less accurate.",
        "metric": "val_acc",
        "variants": ["big", "ref"],
        "expect": "increase",
        "smallest_effect": 0.002,
    }
    choice = {
        "lr": 0.2,
        "best_lr": 0.2,
        "criterion": "final validation accuracy",
        "sweep_seeds": [500, 501],
        "points": [{"lr": 0.2, "mean": 0.98, "se": 0.001, "runs": 2, "censored": 0}],
    }
    (r,) = evaluate_claims(
        {"big": claim},
        pd.DataFrame(rows),
        {},
        {},
        alpha=0.05,
        choices={"ref": choice},
        lr_sources={"big": "ref"},
    )
    assert r["lr_from"] == {"big": "ref"}
    assert r["tuning"]["ref"]["lr"] == 0.2
    assert "big 0.2 (from ref's choice)" in r["numbers"]
