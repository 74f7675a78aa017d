"""Every variant's seeds within a training budget: first as many claims as can reach the
agreement forecast (F_same), then the lowest F_same over all claims raised as far as it goes.

Each claim's F_same curve is that of the claim alone at alpha over the family's size (the
level Holm holds its most significant claim to), so no claim is planned too generously.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from mnist_study.evidence.forecast import ClaimModel, simulate_family

MIN_SEEDS = 2  # the fewest seeds a variant runs with: a spread needs two
# The seed counts a curve is evaluated at: the design chooses among these.
SEED_GRID = (2, 3, 4, 5, 6, 8, 10, 12, 16, 20, 25, 32, 40, 50, 64, 80, 100, 128, 160, 200)
CURVE_SIMULATIONS = 2000  # simulated pairs per point of a curve


@dataclass(frozen=True)
class Curve:
    """A claim's F_same at each seed count of ``seeds``, as the least it gets at that count or
    any larger one (so non-decreasing), and the variants whose runs it reads."""

    name: str
    variants: frozenset[str]
    seeds: tuple[int, ...]
    same: tuple[float, ...]

    def at(self, n: int) -> float:
        """F_same at ``n`` seeds: the largest grid count not above it."""
        below = [f for s, f in zip(self.seeds, self.same, strict=True) if s <= n]
        return below[-1] if below else 0.0

    def need(self, level: float) -> int | None:
        """The fewest grid seeds at which F_same reaches ``level``; None past the grid."""
        return next((s for s, f in zip(self.seeds, self.same, strict=True) if f >= level), None)


@dataclass(frozen=True)
class Allocation:
    seeds: dict[str, int]  # variant -> seeds
    reached: tuple[str, ...]  # the claims whose F_same reaches the agreement
    lowest: float  # the lowest F_same over all claims, from the curves
    tflop: float


def curve(
    model: ClaimModel, variants: frozenset[str], alpha: float, n_claims: int, grid=SEED_GRID
) -> Curve:
    """The claim's F_same over ``grid``, alone at alpha / n_claims, on common random numbers
    so that neighbouring counts differ by their seeds, not by their draws.

    Few seeds leave both studies inconclusive, and so agreeing; more seeds split them before
    still more make them agree on an answer. A count counts as reaching a level only where
    every larger count does too (the running minimum from the top), so a design never reaches
    the agreement by being too small to answer."""
    same = []
    for n in grid:
        first, second = simulate_family(
            [model], dict.fromkeys(variants, n), alpha / n_claims, reps=CURVE_SIMULATIONS
        )
        same.append(float((first[:, 0] == second[:, 0]).mean()))
    floor = [min(same[i:]) for i in range(len(same))]
    return Curve(model.name, variants, tuple(grid), tuple(floor))


def cost(seeds: Mapping[str, int], run_tflop: Mapping[str, float]) -> float:
    return sum(n * run_tflop[v] for v, n in seeds.items())


def _seeds_for(
    needs: Mapping[str, int],
    curves: Mapping[str, Curve],
    variants: Sequence[str],
    fixed: Mapping[str, int],
) -> dict[str, int]:
    """Each variant's seeds: the most any of ``needs``' claims asks of it, at least MIN_SEEDS;
    a ``fixed`` (pinned) variant keeps its count."""
    seeds = {v: fixed.get(v, MIN_SEEDS) for v in variants}
    for name, n in needs.items():
        for v in curves[name].variants - fixed.keys():
            seeds[v] = max(seeds[v], n)
    return seeds


def _attainable(cv: Curve, n: int, fixed: Mapping[str, int]) -> bool:
    """Whether the claim can have ``n`` seeds: none of its pinned variants has fewer."""
    return all(fixed[v] >= n for v in cv.variants & fixed.keys())


def _raise(seeds: Mapping[str, int], variants, n: int, fixed=()) -> dict[str, int]:
    return {v: max(k, n) if v in variants and v not in fixed else k for v, k in seeds.items()}


def _most_reached(
    base: Mapping[str, int],
    agree_need: Mapping[str, int],
    curves: Mapping[str, Curve],
    run_tflop: Mapping[str, float],
    budget: float,
    fixed: Mapping[str, int],
) -> tuple[str, ...] | None:
    """The largest set of claims whose agreement needs fit the budget on top of ``base``;
    among sets of that size, the cheapest. None where ``base`` alone does not fit. Exact: a
    depth-first search, pruned by how many remaining claims could still fit one by one."""
    if cost(base, run_tflop) > budget:
        return None

    def extra(seeds, name):
        raised = _raise(seeds, curves[name].variants, agree_need[name], fixed)
        return cost(raised, run_tflop) - cost(seeds, run_tflop), raised

    free = [c for c in agree_need if extra(base, c)[0] == 0]
    start = dict(base)
    for name in free:
        start = extra(start, name)[1]
    rest = sorted((c for c in agree_need if c not in free), key=lambda c: extra(start, c)[0])
    best: list = [(), math.inf]

    def search(i: int, chosen: tuple[str, ...], seeds: dict[str, int]) -> None:
        spent = cost(seeds, run_tflop)
        if len(chosen) > len(best[0]) or (len(chosen) == len(best[0]) and spent < best[1]):
            best[:] = [chosen, spent]
        left = budget - spent
        fitting = [c for c in rest[i:] if extra(seeds, c)[0] <= left]
        if not fitting or len(chosen) + len(fitting) < len(best[0]):
            return
        name, later = fitting[0], rest.index(fitting[0]) + 1
        search(later, (*chosen, name), extra(seeds, name)[1])
        search(later, chosen, seeds)

    search(0, (), start)
    return tuple(sorted((*free, *best[0])))


def allocate(
    curves: Mapping[str, Curve],
    run_tflop: Mapping[str, float],
    budget: float,
    agreement: float,
    fixed: Mapping[str, int] | None = None,
) -> Allocation:
    """Every variant's seeds (every variant in ``run_tflop``; one no claim reads keeps
    MIN_SEEDS, a ``fixed`` one its pin): the most claims reaching ``agreement`` within
    ``budget`` TFLOP, then the highest lowest F_same those claims' seeds leave room for."""
    variants = list(run_tflop)
    fixed = dict(fixed or {})
    agree_need = {
        c: n
        for c, cv in curves.items()
        if (n := cv.need(agreement)) is not None and _attainable(cv, n, fixed)
    }
    floor = _seeds_for({}, curves, variants, fixed)
    reached = _most_reached(floor, agree_need, curves, run_tflop, budget, fixed)
    if reached is None:
        raise ValueError(
            f"design.budget_tflop {budget:g}: {MIN_SEEDS} seeds of every variant alone take "
            f"{cost(floor, run_tflop):.4g} TFLOP; raise the budget or drop variants"
        )
    levels = sorted({f for cv in curves.values() for f in cv.same})
    best = (0.0, floor, reached)
    low, high = 0, len(levels) - 1
    while low <= high:  # the lowest F_same that can be guaranteed, by bisection over levels
        mid = (low + high) // 2
        # A claim a pin holds below the level caps the lowest F_same there, as no seeds reach it.
        needs = {
            c: n if n is not None and _attainable(cv, n, fixed) else None
            for c, cv in curves.items()
            for n in [cv.need(levels[mid])]
        }
        base = None if None in needs.values() else _seeds_for(needs, curves, variants, fixed)
        got = (
            None
            if base is None
            else _most_reached(base, agree_need, curves, run_tflop, budget, fixed)
        )
        if got is not None and len(got) == len(reached):
            best, low = (levels[mid], base, got), mid + 1
        else:
            high = mid - 1
    _, base, chosen = best
    seeds = _seeds_for({c: agree_need[c] for c in chosen}, curves, variants, fixed)
    seeds = {v: max(n, base[v]) for v, n in seeds.items()}
    lowest = min((cv.at(min(seeds[v] for v in cv.variants)) for cv in curves.values()), default=1.0)
    return Allocation(seeds, chosen, lowest, cost(seeds, run_tflop))


def to_reach(
    curve_: Curve, seeds: Mapping[str, int], run_tflop: Mapping[str, float], agreement: float
) -> tuple[int | None, float]:
    """The seeds at which a claim's F_same reaches ``agreement``, and the TFLOP of the whole
    study once its variants have them (None, inf: not within the grid)."""
    need = curve_.need(agreement)
    if need is None:
        return None, math.inf
    return need, cost(_raise(seeds, curve_.variants, need), run_tflop)


BOUNDED = "bounded by the test set"  # the label F_new below the agreement adds


def labels(same: float, new: float, agreement: float) -> tuple[str, ...]:
    """resolved (F_same reaches the agreement) or budget-limited; and, beside either,
    bounded by the test set where a fresh test set would not repeat the verdict (F_new)."""
    first = "resolved" if same >= agreement else "budget-limited"
    return (first, BOUNDED) if new < agreement else (first,)
