"""The seed allocation: within the budget, as many claims as can reach the agreement forecast,
then the lowest forecast raised; checked against brute force over every seed assignment."""

import itertools
import math

import numpy as np
import pytest

from mnist_study.evidence import allocation
from mnist_study.evidence.allocation import Curve, allocate, cost, curve, labels
from mnist_study.evidence.forecast import ClaimModel, Contrast, forecast

GRID = (2, 3, 4, 6, 8, 12)
VARIANTS = ("a", "b", "c", "d")
AGREEMENT = 0.9


def _synthetic(rng) -> tuple[dict, dict, float]:
    """Four claims on overlapping variants, each with a rising F_same curve."""
    curves = {}
    for i in range(4):
        chosen = rng.choice(VARIANTS, size=rng.integers(1, 3), replace=False)
        scale = rng.uniform(0.5, 5.0)
        same = tuple(float(1 - 0.5 * math.exp(-n / scale)) for n in GRID)
        curves[f"claim{i}"] = Curve(f"claim{i}", frozenset(chosen), GRID, same)
    run_tflop = {v: float(rng.uniform(0.5, 3.0)) for v in VARIANTS}
    budget = float(rng.uniform(0.3, 1.0) * cost(dict.fromkeys(VARIANTS, 12), run_tflop))
    return curves, run_tflop, budget


def _score(seeds, curves):
    forecasts = [cv.at(min(seeds[v] for v in cv.variants)) for cv in curves.values()]
    return sum(f >= AGREEMENT for f in forecasts), min(forecasts)


def _brute_force(curves, run_tflop, budget, fixed=None):
    """The best (claims reaching the agreement, lowest F_same) over every assignment."""
    best, fixed = None, fixed or {}
    for counts in itertools.product(GRID, repeat=len(VARIANTS)):
        seeds = {**dict(zip(VARIANTS, counts, strict=True)), **fixed}
        if cost(seeds, run_tflop) <= budget:
            score = _score(seeds, curves)
            best = score if best is None or score > best else best
    return best


@pytest.mark.parametrize("instance", range(40))
def test_the_allocation_matches_brute_force_and_keeps_to_the_budget(instance):
    curves, run_tflop, budget = _synthetic(np.random.default_rng(instance))
    plan = allocate(curves, run_tflop, budget, AGREEMENT)
    assert plan.tflop <= budget
    assert plan.tflop == pytest.approx(cost(plan.seeds, run_tflop))
    assert min(plan.seeds.values()) >= allocation.MIN_SEEDS
    assert _score(plan.seeds, curves) == _brute_force(curves, run_tflop, budget)
    assert len(plan.reached) == _score(plan.seeds, curves)[0]


@pytest.mark.parametrize("instance", range(20))
def test_a_pinned_variant_keeps_its_seeds_and_the_rest_match_brute_force(instance):
    """A variant pinned in config.yaml is not the allocation's to change; the others are
    chosen as brute force chooses them around it."""
    curves, run_tflop, budget = _synthetic(np.random.default_rng(100 + instance))
    fixed = {"a": 3}
    budget += 3 * run_tflop["a"]
    plan = allocate(curves, run_tflop, budget, AGREEMENT, fixed)
    assert plan.seeds["a"] == 3 and plan.tflop <= budget
    assert _score(plan.seeds, curves) == _brute_force(curves, run_tflop, budget, fixed)


def test_two_claims_sharing_a_variant_beat_one_cheaper_claim():
    """Cheapest first would take x and then afford nothing; y and z share their runs."""

    def rising(name, variant, need):
        same = tuple(0.95 if n >= need else 0.5 for n in GRID)
        return Curve(name, frozenset({variant}), GRID, same)

    curves = {"x": rising("x", "a", 3), "y": rising("y", "b", 6), "z": rising("z", "b", 6)}
    run_tflop = {"a": 1.0, "b": 1.0, "c": 0.1, "d": 0.1}
    plan = allocate(curves, run_tflop, 4.4 + 4.5, AGREEMENT)
    assert plan.reached == ("y", "z")
    assert _score(plan.seeds, curves) == _brute_force(curves, run_tflop, 4.4 + 4.5)


def test_a_budget_below_two_seeds_each_names_the_key_and_what_it_needs():
    curves, run_tflop, _ = _synthetic(np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"design.budget_tflop 1: 2 seeds of every variant"):
        allocate(curves, run_tflop, 1.0, AGREEMENT)


def _pair(name, effect, source, se_image=0.0005):
    loadings = ((f"{source}:acc", -math.sqrt(0.5)), ("base:acc", math.sqrt(0.5)))
    contrast = Contrast(effect, 0.003, se_image, loadings)
    return ClaimModel(name, "pair", "increase", 0.001, (contrast,), (), 3, 10000)


def test_a_large_effect_gets_few_seeds_and_a_small_one_more():
    models = {"large": _pair("large", 0.02, "big"), "small": _pair("small", 0.004, "little")}
    grid = (2, 4, 8, 16, 32)
    curves = {
        n: curve(m, frozenset({"base", "big" if n == "large" else "little"}), 0.05, 2, grid)
        for n, m in models.items()
    }
    run_tflop = {"base": 1.0, "big": 1.0, "little": 1.0}
    needs = {n: cv.need(AGREEMENT) for n, cv in curves.items()}
    # Just the budget both need: nothing is left to raise the lowest forecast further.
    budget = needs["small"] * 2 + needs["large"]
    plan = allocate(curves, run_tflop, budget, AGREEMENT)
    assert set(plan.reached) == {"large", "small"}
    # A t on two seeds has one degree of freedom: even a large effect needs a few more.
    assert plan.seeds["big"] == needs["large"] <= 4
    assert plan.seeds["little"] == needs["small"] >= 4 * plan.seeds["big"]


def test_a_claim_the_test_set_bounds_is_labelled_so_at_any_budget():
    """An effect of 1.5 image standard errors: seeds cannot make a fresh test set agree."""
    bounded = _pair("bounded", 0.0015, "x", se_image=0.001)
    for n in (2, 50, 200):
        (result,) = forecast([bounded], {"base": n, "x": n}, 0.05).values()
        assert result.new < AGREEMENT
        assert "bounded by the test set" in labels(result.same, result.new, AGREEMENT)
    clear = _pair("clear", 0.02, "x")
    (result,) = forecast([clear], {"base": 8, "x": 8}, 0.05).values()
    assert labels(result.same, result.new, AGREEMENT) == ("resolved",)


def test_a_design_too_small_to_answer_does_not_reach_the_agreement():
    """An effect near its margin: two seeds leave both studies inconclusive (and agreeing),
    more split them; the curve counts only a size from which every larger one agrees."""
    loadings = (("x:acc", -math.sqrt(0.5)), ("base:acc", math.sqrt(0.5)))
    contrast = Contrast(0.002, 0.006, 0.0003, loadings)
    near = ClaimModel("near", "pair", "increase", 0.001, (contrast,), (), None, 10000)
    grid = (3, 4, 8, 16, 32, 64, 128)
    raw = [forecast([near], {"base": n, "x": n}, 0.05 / 2)["near"].same for n in grid]
    cv = curve(near, frozenset({"base", "x"}), 0.05, 2, grid)
    assert cv.same == tuple(sorted(cv.same))
    assert all(f <= r + 0.03 for f, r in zip(cv.same, raw, strict=True))
    dip = min(range(len(grid)), key=lambda i: raw[i])
    assert raw[0] > raw[dip] + 0.1 and cv.same[0] <= raw[dip] + 0.03
