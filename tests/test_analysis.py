"""Statistics, claim verdicts and error analysis on small results the tests construct by hand.

McNemar and intervals are checked against hand-worked numbers; no run outputs are needed.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from mnist_study import claims, error_analysis, stats, verdicts
from mnist_study.evaluate import misclassified_table

# ----------------------------------------------------------------------------- helpers


def paired(a_only: int, b_only: int, both: int = 0, neither: int = 0):
    """Correctness vectors of two models with the given discordant and concordant counts."""
    a = [True] * a_only + [False] * b_only + [True] * both + [False] * neither
    b = [False] * a_only + [True] * b_only + [True] * both + [False] * neither
    return np.array(a), np.array(b)


def runs_frame(values: dict[str, list[float]], metric: str = "test_acc") -> pd.DataFrame:
    rows = []
    for variant, per_seed in values.items():
        for seed, value in enumerate(per_seed):
            rows.append({"variant": variant, "seed": seed, metric: value})
    return pd.DataFrame(rows)


def history(val_acc: list[float], val_loss: list[float] | None = None) -> pd.DataFrame:
    n = len(val_acc)
    return pd.DataFrame(
        {
            "epoch": range(1, n + 1),
            "val_acc": val_acc,
            "val_loss": val_loss if val_loss is not None else [1.0 / (e + 1) for e in range(n)],
        }
    )


def claim(metric: str, variants: list[str], expect: str, **extra) -> dict:
    return {"statement": "s", "metric": metric, "variants": variants, "expect": expect, **extra}


def softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def misclassified_from_logits(logits: np.ndarray, labels: np.ndarray) -> pd.DataFrame:
    """misclassified.csv as the misclassified rule builds it, from constructed logits."""
    return misclassified_table(softmax(logits), labels)


# ----------------------------------------------------------------------------- statistics


def test_t_interval_matches_hand_computation():
    # mean 2, sample std 1, t(0.975, 2) = 4.302653: half-width 4.302653 / sqrt(3).
    result = stats.t_interval([1.0, 2.0, 3.0])
    assert result["n"] == 3 and result["mean"] == 2.0 and result["std"] == 1.0
    half = 4.302652729911275 / math.sqrt(3)
    assert result["ci_low"] == pytest.approx(2 - half)
    assert result["ci_high"] == pytest.approx(2 + half)


def test_t_interval_with_one_value_has_no_spread():
    result = stats.t_interval([0.9])
    assert result["mean"] == 0.9 and math.isnan(result["std"]) and math.isnan(result["ci_low"])


def test_variant_stats_long_table():
    runs = runs_frame({"a": [0.9, 0.92], "b": [0.95, 0.97]})
    table = stats.variant_stats(runs, metrics=["test_acc"])
    assert list(table["variant"]) == ["a", "b"]
    assert table.set_index("variant").loc["b", "mean"] == pytest.approx(0.96)
    assert (table["ci_low"] < table["mean"]).all() and (table["mean"] < table["ci_high"]).all()


def test_variant_stats_names_missing_columns():
    with pytest.raises(ValueError, match=r"lacks columns \['gap'\]"):
        stats.variant_stats(runs_frame({"a": [0.9]}), metrics=["gap"])


# ----------------------------------------------------------------------------- McNemar


def test_mcnemar_hand_worked_case():
    # 1 image only A gets right, 6 only B: two-sided exact p = 2 * (C(7,0) + C(7,1)) / 2^7.
    a, b = paired(a_only=1, b_only=6, both=50, neither=3)
    result = stats.mcnemar_exact(a, b)
    assert (result["a_only"], result["b_only"], result["n"]) == (1, 6, 60)
    assert result["p"] == pytest.approx(16 / 128)


def test_mcnemar_without_discordant_pairs_is_p_one():
    a, b = paired(0, 0, both=5, neither=1)
    assert stats.mcnemar_exact(a, b)["p"] == 1.0


def test_mcnemar_rejects_unpaired_shapes():
    with pytest.raises(ValueError, match="paired"):
        stats.mcnemar_exact(np.ones(3, bool), np.ones(4, bool))


def test_compare_pair_pools_discordant_pairs_over_seeds():
    a0, b0 = paired(1, 6, both=93)
    a1, b1 = paired(0, 5, both=95)
    correct = {("a", 0): a0, ("b", 0): b0, ("a", 1): a1, ("b", 1): b1}
    result = stats.compare_pair(correct, "a", "b")
    # Pooled: 1 against 11 discordant pairs, p = 2 * (1 + 12) / 2^12.
    assert (result["a_only"], result["b_only"]) == (1, 11)
    assert result["p_combined"] == pytest.approx(26 / 4096)
    assert result["p_per_seed"][0] == pytest.approx(16 / 128)
    assert result["p_per_seed"][1] == pytest.approx(2 / 32)
    assert result["diff_mean"] == pytest.approx((0.05 + 0.05) / 2)
    assert result["diff_ci_method"].startswith("t over 2 seeds")


def test_compare_pair_with_one_seed_uses_the_paired_wald_interval():
    a, b = paired(10, 30, both=960)
    result = stats.compare_pair({("a", 0): a, ("b", 0): b}, "a", "b")
    # diff 0.02; var = (40 - 20^2/1000) / 1000^2; half-width 1.96 * sqrt(var).
    half = 1.959963984540054 * math.sqrt((40 - 400 / 1000) / 1000**2)
    assert result["diff_ci_low"] == pytest.approx(0.02 - half)
    assert result["diff_ci_high"] == pytest.approx(0.02 + half)
    assert "Wald" in result["diff_ci_method"]


def test_study_pairs_covers_every_pair_in_order():
    correct = {(v, 0): np.array([True, v != "a", v == "c"]) for v in "abc"}
    pairs = stats.study_pairs({"s": {"variants": ["a", "b", "c"]}}, correct)
    assert list(zip(pairs["a"], pairs["b"], strict=True)) == [("a", "b"), ("a", "c"), ("b", "c")]
    assert list(pairs["b_only"]) == [1, 2, 1]


# ----------------------------------------------------------------------------- run metrics


def test_epochs_to_val_acc_interpolates_between_epochs():
    h = history([0.5, 0.8, 0.95])
    assert verdicts.epochs_to_val_acc(h, 0.9) == pytest.approx(2 + 0.1 / 0.15)
    # Epoch 0 sits at chance (0.1): 0.5 is reached exactly at the end of epoch 1.
    assert verdicts.epochs_to_val_acc(h, 0.5) == pytest.approx(1.0)
    assert verdicts.epochs_to_val_acc(h, 0.3) == pytest.approx(0.5)
    # Never reached: one epoch past the budget.
    assert verdicts.epochs_to_val_acc(h, 0.99) == 4.0


def test_val_loss_rise_and_val_acc_at_epoch():
    h = history([0.5, 0.8, 0.9], val_loss=[0.5, 0.2, 0.35])
    assert verdicts.val_loss_rise(h) == pytest.approx(0.15)
    assert verdicts.val_acc_at_epoch(h, 2) == 0.8
    with pytest.raises(ValueError, match="asked for 7"):
        verdicts.val_acc_at_epoch(h, 7)


# ----------------------------------------------------------------------------- claims


def test_test_accuracy_claim_supported_contradicted_and_inconclusive():
    runs = runs_frame({"lin": [0.90, 0.90], "mlp": [0.95, 0.95], "twin": [0.90, 0.90]})
    a, b = paired(10, 60, both=890, neither=40)
    same_a, same_b = paired(20, 20, both=880, neither=80)
    correct = {}
    for seed in (0, 1):
        correct.update({("lin", seed): a, ("mlp", seed): b, ("twin", seed): same_b})
    correct[("lin", 0)], correct[("lin", 1)] = a, a
    up = verdicts.evaluate_claim(
        "up", claim("test_acc", ["lin", "mlp"], "increase"), runs, {}, correct
    )
    assert up["verdict"] == "supported"
    assert up["effect"] == pytest.approx(0.05)
    assert up["p_value"] < 1e-9
    assert "McNemar" in up["test"] and "+5.00 pp" in up["numbers"]

    down = verdicts.evaluate_claim(
        "down", claim("test_acc", ["lin", "mlp"], "decrease"), runs, {}, correct
    )
    assert down["verdict"] == "contradicted"

    tie = {("x", s): same_a for s in (0, 1)} | {("y", s): same_b for s in (0, 1)}
    runs_tie = runs_frame({"x": [0.9, 0.9], "y": [0.9, 0.9]})
    flat = verdicts.evaluate_claim(
        "flat", claim("test_acc", ["x", "y"], "increase"), runs_tie, {}, tie
    )
    assert flat["verdict"] == "inconclusive"
    assert flat["p_value"] == pytest.approx(1.0)


def test_gap_claim_by_welch_t_test():
    runs = runs_frame({"wide": [0.020, 0.021, 0.019], "drop": [0.005, 0.006, 0.004]}, "gap")
    closes = verdicts.evaluate_claim("c", claim("gap", ["wide", "drop"], "decrease"), runs)
    assert closes["verdict"] == "supported"
    assert closes["effect"] == pytest.approx(-0.015)
    assert closes["effect_ci"][0] < -0.015 < closes["effect_ci"][1]
    assert "Welch" in closes["test"]
    opens = verdicts.evaluate_claim("o", claim("gap", ["wide", "drop"], "increase"), runs)
    assert opens["verdict"] == "contradicted"
    noisy = runs_frame({"wide": [0.01, 0.03, 0.02], "drop": [0.02, 0.01, 0.03]}, "gap")
    unclear = verdicts.evaluate_claim("n", claim("gap", ["wide", "drop"], "decrease"), noisy)
    assert unclear["verdict"] == "inconclusive"


def test_claim_with_one_seed_per_variant_is_inconclusive_for_t_tests():
    runs = runs_frame({"a": [0.02], "b": [0.01]}, "gap")
    result = verdicts.evaluate_claim("one", claim("gap", ["a", "b"], "decrease"), runs)
    assert result["verdict"] == "inconclusive"
    assert "at least two seeds" in result["test"]


def test_ordered_list_claim_by_spearman_trend():
    widths = {
        "w8": [0.001, 0.002],
        "w64": [0.004, 0.005],
        "w512": [0.010, 0.012],
        "w1024": [0.015, 0.014],
    }
    runs = runs_frame(widths, "gap")
    names = list(widths)
    rises = verdicts.evaluate_claim("r", claim("gap", names, "increase"), runs)
    assert rises["verdict"] == "supported" and rises["effect"] > 0.9
    assert "Spearman" in rises["test"]
    falls = verdicts.evaluate_claim("f", claim("gap", names, "decrease"), runs)
    assert falls["verdict"] == "contradicted"
    flat = runs_frame({"a": [1, 3], "b": [2, 2], "c": [3, 1]}, "gap")
    assert (
        verdicts.evaluate_claim("x", claim("gap", ["a", "b", "c"], "increase"), flat)["verdict"]
        == "inconclusive"
    )


def test_convergence_claim_from_histories():
    runs = runs_frame({"tanh": [0, 0, 0], "relu": [0, 0, 0]}, "test_acc")
    histories = {}
    for seed, jitter in enumerate((0.0, 0.01, -0.01)):
        histories[("tanh", seed)] = history(
            [0.80 + jitter, 0.90 + jitter, 0.955 + jitter, 0.975 + jitter]
        )
        histories[("relu", seed)] = history([0.93 + jitter, 0.975 + jitter, 0.98, 0.985])
    c = claim("epochs_to_val_acc", ["tanh", "relu"], "decrease", threshold=0.97)
    result = verdicts.evaluate_claim("faster", c, runs, histories)
    assert result["verdict"] == "supported"
    assert result["values"]["relu"]["mean"] < 2 < result["values"]["tanh"]["mean"]


def test_disagreement_claim_counts_images_wrong_in_every_seed():
    mlp = {0: np.array([1, 1, 1, 1, 0, 0], bool), 1: np.array([1, 1, 1, 0, 0, 0], bool)}
    drop = {0: np.array([0, 1, 0, 1, 1, 0], bool), 1: np.array([0, 1, 1, 1, 1, 0], bool)}
    correct = {("mlp", s): mlp[s] for s in (0, 1)} | {("drop", s): drop[s] for s in (0, 1)}
    runs = runs_frame({"mlp": [0.5, 0.5], "drop": [0.5, 0.5]})
    c = claim("disagreements", ["mlp", "drop"], "present")
    result = verdicts.evaluate_claim("loses", c, runs, {}, correct)
    # Image 0: MLP right, dropout wrong in both seeds; image 2 only in seed 0.
    assert result["verdict"] == "supported"
    assert result["indices"] == [0] and result["per_seed"] == [2, 1]
    assert result["reverse"] == 1  # image 4 the other way round in both seeds
    needs_two = verdicts.evaluate_claim("two", {**c, "min_count": 2}, runs, {}, correct)
    assert needs_two["verdict"] == "contradicted"


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"variants": ["a", "nope"]}, r"claims.x.variants names \['nope'\].*valid: \['a', 'b'\]"),
        ({"metric": "speed"}, r"claims.x.metric: 'speed'; valid: \["),
        ({"expect": "up"}, r"claims.x.expect: 'up'; valid: \['increase'"),
        ({"metric": "epochs_to_val_acc"}, r"claims.x.threshold: None; need a number in \(0, 1\]"),
        ({"expect": "present"}, r"'disagreements' goes with expect 'present'"),
        ({"variants": ["a"]}, r"claims.x.variants: \['a'\]; give at least two"),
    ],
)
def test_bad_claims_name_the_key(bad, message):
    runs = runs_frame({"a": [0.1], "b": [0.2]}, "gap")
    with pytest.raises(ValueError, match=message):
        verdicts.evaluate_claim("x", {**claim("gap", ["a", "b"], "increase"), **bad}, runs)


def test_claims_markdown_counts_verdicts():
    results = [
        {"name": "a", "statement": "A.", "verdict": "supported", "numbers": "n1"},
        {"name": "b", "statement": "B.", "verdict": "inconclusive", "numbers": "n2"},
    ]
    text = verdicts.claims_markdown(results)
    assert "1 supported, 0 contradicted, 1 inconclusive" in text
    assert "- **inconclusive**: B. (b). n2" in text


# ----------------------------------------------------------------------------- errors


def constructed_errors():
    """Three runs over eight test images; logits chosen so the errors are known by hand."""
    labels = np.array([0, 1, 2, 3, 4, 5, 6, 7])
    tables = {}
    for key, wrong in {
        ("mlp", 0): {0: 6, 3: 5, 4: 9},
        ("mlp", 1): {0: 6, 3: 5},
        ("drop", 0): {0: 6, 3: 8, 7: 1},
    }.items():
        logits = np.zeros((8, 10))
        logits[np.arange(8), labels] = 5.0
        for i, pred in wrong.items():
            logits[i, pred] = 6.0 + i  # more confident mistakes on later images
        tables[key] = misclassified_from_logits(logits, labels)
    return tables, labels


def test_misclassified_from_constructed_logits():
    tables, _ = constructed_errors()
    frame = tables[("mlp", 0)]
    assert list(frame["index"]) == [4, 3, 0]  # sorted by confidence, most confident first
    assert list(frame["pred"]) == [9, 5, 6]
    assert (frame["confidence"] > frame["runner_up_prob"]).all()
    assert list(frame["runner_up"]) == list(frame["true"])


def test_error_analysis_hardest_pairs_and_overlap():
    tables, labels = constructed_errors()
    result = error_analysis.error_analysis(tables, labels, pair=("mlp", "drop"))
    assert result["n_runs"] == 3 and result["all_wrong"] == 2 and result["never_wrong"] == 4
    hardest = result["hardest"]
    # Images 0 and 3: wrong in all three runs; image 0 always as a 6.
    assert [h["index"] for h in hardest[:2]] == [0, 3]
    assert hardest[0] == {"index": 0, "true": 0, "pred": 6, "runs_wrong": 3, "variants_wrong": 2}
    assert hardest[1]["pred"] == 5 and hardest[1]["variants_wrong"] == 2
    assert {h["index"] for h in hardest} == {0, 3, 4, 7}
    assert result["confused_pairs"][0] == {"true": 0, "pred": 6, "count": 3, "per_run": 1.0}
    assert result["class_error"][0] == pytest.approx(1.0)
    assert result["class_error"][1] == 0.0
    jac = dict(zip(result["jaccard"]["variants"], result["jaccard"]["matrix"], strict=True))
    # mlp seeds {0,3,4} vs {0,3}: 2/3; mlp vs drop on seed 0: {0,3,4} vs {0,3,7} = 2/4.
    assert jac["mlp"][0] == pytest.approx(2 / 3)
    assert jac["mlp"][1] == pytest.approx(0.5)
    assert math.isnan(jac["drop"][1])  # one seed: no spread across seeds
    pair = result["pair"]
    assert pair["seeds"] == [0] and pair["per_seed"][0]["both"] == 2
    assert pair["b_wrong_a_right"] == [7] and pair["a_wrong_b_right"] == [4]


def test_error_analysis_rejects_indices_outside_the_test_set():
    tables, labels = constructed_errors()
    with pytest.raises(ValueError, match="outside the 4 test images"):
        error_analysis.error_analysis(tables, labels[:4])


def test_rule_entry_points_write_their_files(tmp_path):
    labels = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9] * 3)
    keys, pred_paths, hist_paths, mis_paths, rows = [], [], [], [], []
    rng = np.random.default_rng(0)
    for variant, skill in (("lin", 2.0), ("mlp", 6.0)):
        for seed in (0, 1):
            logits = rng.normal(0, 1, (30, 10))
            logits[np.arange(30), labels] += skill
            probs = softmax(logits)
            run = tmp_path / variant / str(seed)
            run.mkdir(parents=True)
            np.savez(run / "p.npz", probs=probs.astype(np.float16), labels=labels)
            misclassified_from_logits(logits, labels).to_csv(run / "m.csv", index=False)
            history([0.5, 0.9]).to_csv(run / "h.csv", index=False)
            keys.append((variant, seed))
            pred_paths.append(run / "p.npz")
            hist_paths.append(run / "h.csv")
            mis_paths.append(run / "m.csv")
            acc = float((probs.argmax(1) == labels).mean())
            rows.append(
                {
                    "variant": variant,
                    "seed": seed,
                    **dict.fromkeys(claims.TABLE_METRICS, 1.0),
                    "test_acc": acc,
                }
            )
    pd.DataFrame(rows).to_csv(tmp_path / "runs.csv", index=False)
    studies = {"s": {"variants": ["lin", "mlp"]}}
    stats.write_statistics(
        tmp_path / "runs.csv",
        keys,
        pred_paths,
        studies,
        tmp_path / "variants.csv",
        tmp_path / "pairs.csv",
    )
    assert set(pd.read_csv(tmp_path / "variants.csv")["variant"]) == {"lin", "mlp"}
    assert len(pd.read_csv(tmp_path / "pairs.csv")) == 1
    configured = {"up": claim("test_acc", ["lin", "mlp"], "increase")}
    verdicts.write_claims(
        tmp_path / "runs.csv",
        keys,
        hist_paths,
        pred_paths,
        configured,
        tmp_path / "claims.json",
        tmp_path / "claims.md",
    )
    judged = json.loads((tmp_path / "claims.json").read_text())
    assert judged[0]["name"] == "up" and judged[0]["verdict"] in claims.VERDICTS
    assert "up" in (tmp_path / "claims.md").read_text()
    error_analysis.write_errors(keys, mis_paths, pred_paths[0], ("lin", "mlp"), tmp_path / "e.json")
    errors = json.loads((tmp_path / "e.json").read_text())
    assert errors["n_runs"] == 4 and errors["pair"]["a"] == "lin"
