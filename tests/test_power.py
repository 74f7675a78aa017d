"""The design's seed counts from a pilot: per claim, then per variant."""

from __future__ import annotations

import numpy as np
import pandas as pd
from test_analysis import claim

from mnist_study.evidence import power
from mnist_study.evidence.stats import Correct
from mnist_study.evidence.verdicts import Evidence


def pilot(shift: float, seed_sd: float, seeds=(0, 1, 2), n=3000):
    rng = np.random.default_rng(4)
    difficulty = rng.normal(2.5, 1.5, n)
    correct, rows = {}, []
    for s in seeds:
        for v, extra in (("a", 0.0), ("b", shift)):
            logits = difficulty + rng.normal(0, seed_sd) + extra + rng.logistic(0, 0.5, n)
            hit = logits > 0
            correct[(v, s)] = Correct(test=hit, train=hit)
            rows.append({"variant": v, "seed": s})
    return Evidence(pd.DataFrame(rows), {}, correct)


def test_noisier_seeds_need_more_seeds_and_variants_take_the_most():
    claims = {"c": claim("test_acc", ["a", "b"], "increase", smallest_effect=0.03)}
    quiet = power.plan(claims, pilot(0.3, 0.05), 0.05)[0]
    noisy = power.plan(claims, pilot(0.3, 0.6), 0.05)[0]
    assert quiet["seeds"] is not None and quiet["seeds"] >= 2
    assert noisy["seeds"] is None or noisy["seeds"] > quiet["seeds"]
    rows = [{"claim": "c", "seeds": 5}, {"claim": "d", "seeds": 9}, {"claim": "e", "seeds": None}]
    variants = {
        "c": {"variants": ["a", "b"]},
        "d": {"variants": ["b", "c"]},
        "e": {"variants": ["d"]},
    }
    assert power.seeds_per_variant(rows, variants) == {"a": 5, "b": 9, "c": 9, "d": None}
    assert "| c |" in power.markdown([{**quiet, "claim": "c"}], 0.05, 1)


def test_a_peaked_pilot_leaves_a_monotone_trend_test_no_power():
    rng = np.random.default_rng(2)
    means = {"a": 0.010, "b": 0.020, "c": 0.010}  # rises, then falls back
    rows = [
        {"variant": v, "seed": s, "val_acc": m + rng.normal(0, 0.001)}
        for v, m in means.items()
        for s in range(3)
    ]
    ev = Evidence(pd.DataFrame(rows), {}, {})
    entry = claim("val_acc", ["a", "b", "c"], "increase", smallest_effect=0.01)
    row = power.plan({"t": entry}, ev, 0.05)[0]
    assert row["seeds"] is not None and row["power_at_pilot"] < 0.2


def three_variant_pilot(shift_b: float, shift_c: float, seeds=(0, 1, 2), n=3000):
    rng = np.random.default_rng(9)
    difficulty = rng.normal(2.5, 1.5, n)
    correct, rows = {}, []
    for s in seeds:
        for v, extra in (("a", 0.0), ("b", shift_b), ("c", shift_c)):
            logits = difficulty + rng.normal(0, 0.05) + extra + rng.logistic(0, 0.5, n)
            hit = logits > 0
            correct[(v, s)] = Correct(test=hit, train=hit)
            rows.append({"variant": v, "seed": s})
    return Evidence(pd.DataFrame(rows), {}, correct)


def test_a_claim_of_several_comparisons_needs_the_seeds_of_its_hardest():
    """compare: each plans for the comparison that needs the most seeds; a higher power asks
    for more seeds; the pilot's own effect, larger than the smallest, needs fewer."""
    entry = claim("test_acc", ["a", "b", "c"], "increase", smallest_effect=0.01)
    entry["compare"] = "each"
    ev = three_variant_pilot(shift_b=0.2, shift_c=0.5)  # c - b is the smaller effect
    row = power.plan({"e": entry}, ev, 0.05)[0]
    alone = {
        pair: power.plan(
            {"p": claim("test_acc", list(pair), "increase", smallest_effect=0.01)}, ev, 0.05
        )[0]
        for pair in (("a", "c"), ("b", "c"))
    }
    assert row["seeds"] == max(alone[p]["seeds"] for p in alone)
    assert row["pilot_effect"] == alone[("b", "c")]["pilot_effect"]
    assert row["seeds_at_pilot"] <= row["seeds"]
    stronger = power.plan({"e": entry}, ev, 0.05, power=0.95)[0]
    assert stronger["seeds"] > row["seeds"]
    assert "power 95%" in power.markdown([{**stronger, "claim": "e"}], 0.05, 1, 0.95)
