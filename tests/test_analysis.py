"""Statistics, claim verdicts and error analysis on small results the tests construct by hand.

McNemar and intervals are checked against hand-worked numbers; no run outputs are needed.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from mnist_study import metrics
from mnist_study.engine.misclassified import misclassified_table
from mnist_study.evidence import claim_effects, claims, effects, error_analysis, stats, verdicts

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
    return misclassified_table(logits.argmax(1), softmax(logits), labels)


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


def correctness(test, train=None) -> stats.Correct:
    test = np.asarray(test, bool)
    return stats.Correct(test=test, train=np.asarray(train if train is not None else test, bool))


def judge(claims_, runs, histories=None, correct=None, alpha=0.05) -> dict:
    """{name: result} of verdicts.evaluate_claims over ``claims_`` ({name: config entry})."""
    results = verdicts.evaluate_claims(claims_, runs, histories or {}, correct or {}, alpha)
    return {r["name"]: r for r in results}


def test_compare_pair_over_seeds_and_images():
    a0, b0 = paired(1, 6, both=93)
    a1, b1 = paired(0, 5, both=95)
    correct = {
        ("a", 0): correctness(a0),
        ("b", 0): correctness(b0),
        ("a", 1): correctness(a1),
        ("b", 1): correctness(b1),
    }
    result = stats.compare_pair(correct, "a", "b")
    assert (result["a_only"], result["b_only"]) == (1, 11)
    assert result["p_per_seed"][0] == pytest.approx(16 / 128)  # McNemar within seed 0
    assert result["p_per_seed"][1] == pytest.approx(2 / 32)
    assert result["diff_mean"] == pytest.approx((0.05 + 0.05) / 2)
    # Two identical per-seed effects: no seed spread, only the test images' share.
    assert result["se_seed"] == 0 and result["se_image"] > 0
    assert result["diff_ci_low"] < 0.05 < result["diff_ci_high"]


def test_study_pairs_covers_every_pair_in_order_with_holm():
    rng = np.random.default_rng(0)
    correct = {
        (v, s): correctness(rng.random(200) < p)
        for v, p in {"a": 0.6, "b": 0.7, "c": 0.9}.items()
        for s in (0, 1, 2)
    }
    pairs = stats.study_pairs({"s": {"variants": ["a", "b", "c"]}}, correct)
    assert list(zip(pairs["a"], pairs["b"], strict=True)) == [("a", "b"), ("a", "c"), ("b", "c")]
    assert (pairs["p_holm"] >= pairs["p"]).all()
    assert pairs["p_holm"].min() == pytest.approx(3 * pairs["p"].min())


# ----------------------------------------------------------------------------- run metrics


def test_epochs_to_val_acc_interpolates_and_censors():
    h = history([0.5, 0.8, 0.95])
    assert metrics.epochs_to(h, "val_acc", 0.9) == (pytest.approx(2 + 0.1 / 0.15), True)
    # Epoch 0 sits at chance (0.1): 0.5 is reached exactly at the end of epoch 1.
    assert metrics.epochs_to(h, "val_acc", 0.5) == (pytest.approx(1.0), True)
    assert metrics.epochs_to(h, "val_acc", 0.3) == (pytest.approx(0.5), True)
    # Never reached: censored at the last epoch, never a made-up later one.
    assert metrics.epochs_to(h, "val_acc", 0.99) == (3.0, False)


def test_val_loss_slope_and_val_acc_at_epoch():
    h = history([0.5, 0.8, 0.9, 0.9], val_loss=[0.5, 0.2, 0.3, 0.4])
    assert claim_effects.val_loss_slope(h) == pytest.approx(0.1)  # epochs 3-4: 0.3 -> 0.4
    flat = history([0.9] * 6, val_loss=[0.5, 0.3, 0.2, 0.21, 0.19, 0.2])
    assert abs(claim_effects.val_loss_slope(flat)) < 0.01  # noise around a plateau: no rise
    assert claim_effects.val_acc_at_epoch(h, 2) == 0.8
    with pytest.raises(ValueError, match="asked for 7"):
        claim_effects.val_acc_at_epoch(h, 7)


# ----------------------------------------------------------------------------- claims


def retrained(base: np.ndarray, rng, churn: int = 40) -> np.ndarray:
    """One seed's correctness: ``base`` with ``churn`` images flipped, as retraining does."""
    hit = base.copy()
    flip = rng.choice(len(hit), churn, replace=False)
    hit[flip] = ~hit[flip]
    return hit


def accuracy_study(effect_images, seeds=(0, 1, 2, 3), n=2000):
    """Two variants on the same test images; B gets ``effect_images`` more right per seed (one
    number, or one per seed; negative: fewer), with a different random part in every seed."""
    rng = np.random.default_rng(5)
    correct, rows = {}, []
    base = rng.random(n) < 0.9
    for s in seeds:
        a = retrained(base, rng)
        b = a.copy()
        k = effect_images if isinstance(effect_images, int) else effect_images[s]
        if k >= 0:
            b[np.flatnonzero(~b)[:k]] = True
        else:
            b[np.flatnonzero(b)[:-k]] = False
        correct[("a", s)], correct[("b", s)] = correctness(a), correctness(b)
        rows += [{"variant": "a", "seed": s}, {"variant": "b", "seed": s}]
    return pd.DataFrame(rows), correct


def test_accuracy_claims_supported_contradicted_by_equivalence_and_inconclusive():
    runs, correct = accuracy_study(effect_images=100)  # +5 points in every seed
    results = judge(
        {
            "up": claim("test_acc", ["a", "b"], "increase", smallest_effect=0.005),
            "down": claim("test_acc", ["a", "b"], "decrease", smallest_effect=0.005),
        },
        runs,
        correct=correct,
    )
    assert results["up"]["verdict"] == "supported"
    assert results["up"]["effect"] == pytest.approx(0.05)
    assert results["up"]["p_holm"] <= 4 * results["up"]["p_value"]
    assert "two-way" in results["up"]["test"] and "+5.00 pp" in results["up"]["numbers"]
    assert results["down"]["verdict"] == "contradicted"
    # The same model twice: a difference of zero, shown smaller than 2 points.
    runs_same, same = accuracy_study(effect_images=0)
    zero = judge(
        {"flat": claim("test_acc", ["a", "b"], "increase", smallest_effect=0.02)},
        runs_same,
        correct=same,
    )["flat"]
    assert zero["effect"] == 0 and zero["verdict"] == "contradicted"
    assert zero["p_equivalence_holm"] < 0.05
    # Too small to tell apart from a half-point effect either way: inconclusive, with the
    # effect the design could have detected.
    runs_two, two = accuracy_study(effect_images=[6, -4], seeds=(0, 1))
    unclear = judge(
        {"u": claim("test_acc", ["a", "b"], "increase", smallest_effect=0.0005)},
        runs_two,
        correct=two,
    )["u"]
    assert unclear["verdict"] == "inconclusive"
    assert unclear["detectable"] > 0 and "detectable with 80% power" in unclear["numbers"]


def test_gap_claim_reads_train_and_test_images():
    n, rows, correct = 500, [], {}
    rng = np.random.default_rng(1)
    for s in (0, 1, 2):
        test = rng.random(n) < 0.9
        for v, train_rate in (("wide", 1.0), ("drop", 0.93)):
            train = rng.random(n) < train_rate
            correct[(v, s)] = correctness(test, train)
            rows.append({"variant": v, "seed": s})
    result = judge(
        {"c": claim("gap", ["wide", "drop"], "decrease", smallest_effect=0.002)},
        pd.DataFrame(rows),
        correct=correct,
    )["c"]
    # Same test predictions: the gap moves only by the train side, about -7 points.
    assert result["effect"] == pytest.approx(-0.07, abs=0.02)
    assert result["verdict"] == "supported"
    assert result["se_image"] > 0


def test_claim_with_one_seed_is_inconclusive():
    runs, correct = accuracy_study(effect_images=100, seeds=(0,))
    result = judge(
        {"one": claim("test_acc", ["a", "b"], "increase", smallest_effect=0.005)},
        runs,
        correct=correct,
    )["one"]
    assert result["verdict"] == "inconclusive" and math.isnan(result["p_value"])


def test_trend_claim_by_jonckheere_with_its_shape():
    widths = {
        "w8": [0.001, 0.002, 0.0015],
        "w64": [0.004, 0.005, 0.0045],
        "w512": [0.010, 0.012, 0.011],
        "w1024": [0.015, 0.014, 0.016],
    }
    runs = runs_frame(widths, "val_acc")
    names = list(widths)
    results = judge(
        {
            "r": claim("val_acc", names, "increase", smallest_effect=0.002),
            "f": claim("val_acc", names, "decrease", smallest_effect=0.002),
        },
        runs,
    )
    assert results["r"]["verdict"] == "supported" and results["r"]["tau"] == 1.0
    assert results["r"]["shape"] == "rises" and "Jonckheere" in results["r"]["test"]
    assert results["f"]["verdict"] == "contradicted"
    peak = runs_frame({"a": [1, 1.1, 0.9], "b": [3, 3.1, 2.9], "c": [2, 2.1, 1.9]}, "val_acc")
    shaped = judge({"p": claim("val_acc", ["a", "b", "c"], "increase", smallest_effect=5)}, peak)
    assert shaped["p"]["shape"] == "rises to a peak at b, then falls"


def test_convergence_claim_with_censored_runs():
    rows, histories = [], {}
    for seed, jitter in enumerate((0.0, 0.01, -0.01, 0.005)):
        histories[("tanh", seed)] = history([0.80 + jitter, 0.90 + jitter, 0.93, 0.95])
        histories[("relu", seed)] = history([0.93 + jitter, 0.975 + jitter, 0.98, 0.985])
        rows += [{"variant": "tanh", "seed": seed}, {"variant": "relu", "seed": seed}]
    c = claim("epochs_to_val_acc", ["tanh", "relu"], "decrease", threshold=0.97)
    result = judge({"faster": {**c, "smallest_effect": 0.25}}, pd.DataFrame(rows), histories)
    faster = result["faster"]
    # tanh never reaches 0.97 in 4 epochs: censored at 4, never counted as 5.
    assert faster["censored"] == {"tanh": 4}
    assert faster["verdict"] == "supported" and faster["effect"] < -2
    assert "censored" in faster["numbers"]


def test_disagreement_claim_against_the_churn_between_seeds():
    rng = np.random.default_rng(9)
    n, correct, rows = 3000, {}, []
    lost = np.zeros(n, bool)
    lost[:60] = True  # 60 images the dropout model gets wrong in every seed
    base = rng.random(n) < 0.97
    base[:60] = True
    for s in range(4):
        mlp = base.copy()
        seed_churn = rng.choice(np.arange(60, n), 30, replace=False)
        mlp[seed_churn] = ~mlp[seed_churn]
        drop = mlp.copy()
        churn = rng.choice(np.arange(60, n), 30, replace=False)
        drop[churn] = ~drop[churn]
        drop[lost] = False
        correct[("mlp", s)], correct[("drop", s)] = correctness(mlp), correctness(drop)
        rows += [{"variant": "mlp", "seed": s}, {"variant": "drop", "seed": s}]
    c = claim("disagreements", ["mlp", "drop"], "present", smallest_effect=0.0005)
    result = judge({"loses": c}, pd.DataFrame(rows), correct=correct)["loses"]
    assert result["verdict"] == "supported" and result["effect"] > 0.005
    # Two training runs of the same model lose about as many images as they gain.
    same = {k: v for k, v in correct.items() if k[0] == "mlp"}
    same |= {("twin", s): correct[("mlp", (s + 1) % 4)] for s in range(4)}
    twin_rows = pd.DataFrame([{"variant": v, "seed": s} for v, s in same])
    twin = judge(
        {"twin": claim("disagreements", ["mlp", "twin"], "present", smallest_effect=0.0005)},
        twin_rows,
        correct=same,
    )["twin"]
    assert twin["verdict"] != "supported"


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"variants": ["a", "nope"]}, r"claims.x.variants names \['nope'\].*valid: \['a', 'b'\]"),
        ({"metric": "speed"}, r"claims.x.metric: 'speed'; valid: \["),
        ({"expect": "up"}, r"claims.x.expect: 'up'; valid: \['increase'"),
        ({"metric": "epochs_to_val_acc"}, r"claims.x.threshold: None; need a number in \(0, 1\]"),
        ({"expect": "present"}, r"'disagreements' goes with expect 'present'"),
        ({"variants": ["a"]}, r"claims.x.variants: \['a'\]; give at least two"),
        ({"smallest_effect": 0}, r"claims.x.smallest_effect: 0; need a positive number"),
        ({"alpha": 0.1}, r"claims.x: unknown key\(s\) \['alpha'\]; valid: \["),
        ({"compare": "pairs"}, r"claims.x.compare: 'pairs'; valid: \['trend', 'each', 'level'"),
        ({"compare": "level"}, r"claims.x: `level` goes with compare 'level' and only with it"),
        ({"level": 0.9}, r"claims.x: `level` goes with compare 'level' and only with it"),
        (
            {"compare": "level", "level": 0.9, "variants": ["a", "b"]},
            r"claims.x: compare 'level' holds one variant against a number `level`",
        ),
        (
            {"compare": "level", "level": 0.9, "variants": ["a"], "metric": "test_acc"},
            r"claims.x.metric: 'test_acc'; compare 'level' reads per-run figures over seeds",
        ),
        ({"compare": "interaction"}, r"claims.x.variants: compare 'interaction' takes four"),
        ({"compare": "each"}, r"claims.x.compare: 'each' tests the last variant against each"),
        (
            {"variants": ["a", "a@best"], "metric": "best_epoch"},
            r"claims.x.variants names best-epoch checkpoints \['a@best'\]; .*metric must be one",
        ),
        ({"variants": ["a", "nope@best"]}, r"claims.x.variants names \['nope@best'\]"),
    ],
)
def test_bad_claims_name_the_key(bad, message):
    runs = runs_frame({"a": [0.1], "b": [0.2]}, "gap")
    entry = {**claim("gap", ["a", "b"], "increase", smallest_effect=0.01), **bad}
    with pytest.raises(ValueError, match=message):
        judge({"x": entry}, runs)


def test_claims_markdown_counts_verdicts_and_states_the_rule():
    results = [
        {"name": "a", "statement": "A.", "verdict": "supported", "numbers": "n1", "alpha": 0.05},
        {"name": "b", "statement": "B.", "verdict": "inconclusive", "numbers": "n2", "alpha": 0.05},
    ]
    text = verdicts.claims_markdown(results)
    assert "1 supported, 0 contradicted, 1 inconclusive" in text
    assert "- **inconclusive**: B. (b). n2" in text
    assert "Holm" in text and "α = 0.05" in text


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
            np.savez(
                run / "p.npz",
                probs=probs.astype(np.float16),
                pred=logits.argmax(1),
                labels=labels,
                train_pred=logits.argmax(1),
                train_labels=labels,
            )
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
    configured = {"up": claim("test_acc", ["lin", "mlp"], "increase", smallest_effect=0.01)}
    verdicts.write_claims(
        tmp_path / "runs.csv",
        keys,
        hist_paths,
        pred_paths,
        configured,
        0.05,
        tmp_path / "claims.json",
        tmp_path / "claims.md",
    )
    judged = json.loads((tmp_path / "claims.json").read_text())
    assert judged[0]["name"] == "up" and judged[0]["verdict"] in claims.VERDICTS
    # The test set's id, from its labels: a replicate is judged only on the same images.
    labels = np.load(pred_paths[0])["labels"]
    assert {r["test_set"] for r in judged} == {effects.image_set_id("test", labels)}
    assert "up" in (tmp_path / "claims.md").read_text()
    error_analysis.write_errors(keys, mis_paths, pred_paths[0], ("lin", "mlp"), tmp_path / "e.json")
    errors = json.loads((tmp_path / "e.json").read_text())
    assert errors["n_runs"] == 4 and errors["pair"]["a"] == "lin"


def three_way_study(extra_b: int, extra_c: int, seeds=(0, 1, 2, 3), n=2000):
    """Variants a, b, c on the same test images; b and c get ``extra_b`` and ``extra_c`` more
    images right than a in every seed (with a different random part in each)."""
    rng = np.random.default_rng(7)
    correct, rows = {}, []
    base = rng.random(n) < 0.85
    for s in seeds:
        a = retrained(base, rng)
        wrong = np.flatnonzero(~a)
        b, c = a.copy(), a.copy()
        b[wrong[:extra_b]] = True
        c[wrong[:extra_c]] = True
        for v, hit in (("a", a), ("b", b), ("c", c)):
            correct[(v, s)] = correctness(hit)
            rows.append({"variant": v, "seed": s})
    return pd.DataFrame(rows), correct


def test_a_claim_on_each_comparison_holds_only_if_both_do():
    """compare: each, the last variant against each of the others (intersection-union): its p
    is the larger of the two, and one comparison shown equivalent contradicts it."""
    entry = {**claim("test_acc", ["a", "b", "c"], "increase", smallest_effect=0.005)}
    entry["compare"] = "each"
    runs, correct = three_way_study(extra_b=40, extra_c=100)  # c beats a by 5, b by 3 points
    both = judge({"more": entry}, runs, correct=correct)["more"]
    assert both["verdict"] == "supported"
    ps = [c["p_value"] for c in both["comparisons"]]
    assert both["p_value"] == max(ps) and len(ps) == 2
    # The binding comparison is the weaker one, c against b (+3 points).
    assert both["binding"] == ["b", "c"] and both["effect"] == pytest.approx(0.03)
    assert both["seeds"] == {"a": [0, 1, 2, 3], "b": [0, 1, 2, 3], "c": [0, 1, 2, 3]}
    # c no better than b: c - b is 0 in every seed, shown inside half a point: contradicted,
    # although c beats a by 5 points.
    runs, correct = three_way_study(extra_b=100, extra_c=100)
    tied = judge({"more": entry}, runs, correct=correct)["more"]
    assert tied["verdict"] == "contradicted"
    assert tied["comparisons"][0]["effect"] == pytest.approx(0.05)
    assert "each comparison" in tied["numbers"]


def test_overconfidence_and_test_loss_claims_read_per_image_values():
    """Overconfidence is confidence minus correctness per test image, judged over seeds and
    images like accuracy; a best-epoch checkpoint is compared as the variant 'v@best'."""
    rng = np.random.default_rng(3)
    n, correct, rows = 1000, {}, []
    for s in range(4):
        hit = rng.random(n) < 0.9
        conf = np.clip(0.9 + rng.normal(0, 0.02, n), 0, 1)
        nll = rng.gamma(2.0, 0.1, n)
        correct[("drop", s)] = stats.Correct(test=hit, train=hit, confidence=conf, nll=nll)
        # The unregularized twin: same predictions, 5 points more confident.
        correct[("wide", s)] = stats.Correct(test=hit, train=hit, confidence=conf + 0.05, nll=nll)
        # Its best epoch: the same images right, 0.05 nats lower loss on each.
        correct[("wide@best", s)] = stats.Correct(
            test=hit, train=hit, confidence=conf, nll=nll - 0.05
        )
        rows += [{"variant": "drop", "seed": s}, {"variant": "wide", "seed": s}]
    results = judge(
        {
            "over": claim("overconfidence", ["drop", "wide"], "increase", smallest_effect=0.01),
            "early": claim("test_loss", ["wide", "wide@best"], "decrease", smallest_effect=0.01),
        },
        pd.DataFrame(rows),
        correct=correct,
    )
    assert results["over"]["effect"] == pytest.approx(0.05)
    assert results["over"]["verdict"] == "supported"
    assert results["early"]["effect"] == pytest.approx(-0.05)
    assert results["early"]["verdict"] == "supported"
    assert results["early"]["seeds"] == {"wide": [0, 1, 2, 3], "wide@best": [0, 1, 2, 3]}
    # The same overconfidence: shown within a point of it, contradicted.
    same = judge(
        {"over": claim("overconfidence", ["drop", "wide@best"], "increase", smallest_effect=0.01)},
        pd.DataFrame(rows),
        correct=correct,
    )["over"]
    assert same["effect"] == pytest.approx(0.0) and same["verdict"] == "contradicted"
