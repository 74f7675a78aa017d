"""How often a claim's verdict would repeat, forecast from a pilot: F_same (a second study on
disjoint seeds and the same test images) and F_new (a fresh test set, unlimited seeds).

Both are predictive, not conditional (Pawel & Held 2020, PLoS ONE 15(4) e0231416): each
simulated pair of studies first draws the effect and the seed spread from what the pilot
measured (the spread's chi-square error on the pilot's degrees of freedom), then both studies
from them. Every simulated study judges the whole family at once, with the verdict rule the
study uses (Holm-Shaffer over the difference and equivalence nulls of every claim); claims that
read the same runs draw them from the same simulated seeds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import t

from mnist_study.evidence.claims import base_variant

SIMULATIONS = 4000  # simulated pairs of studies per forecast
FORECAST_SEED = 20260  # the forecasts' random stream: the same pilot gives the same design


@dataclass(frozen=True)
class Contrast:
    """One effect a claim's test reads: the pilot's estimate and spreads, and the per-seed
    noise sources (variant and metric) it is a weighted sum of. The loadings have unit norm:
    they say how the contrast's own seed spread is shared among its variants' runs."""

    effect: float  # the pilot's effect on the study's test set
    seed_sd: float  # the spread of the per-seed contrast in the pilot
    se_image: float  # the test set's component of the effect's standard error
    sources: tuple[tuple[str, float], ...]  # (source key, loading)


@dataclass(frozen=True)
class Group:
    """One ordered variant of a trend: the pilot's mean and per-run spread of its metric."""

    mean: float
    sd: float
    source: str


@dataclass(frozen=True)
class ClaimModel:
    """What the forecast needs of one claim: its test and what its pilot measured.
    ``contrasts``: each comparison of an 'each' claim; a trend's last minus first; else one."""

    name: str
    kind: str  # one of mnist_study.evidence.claims.KINDS
    expect: str
    smallest_effect: float
    contrasts: tuple[Contrast, ...]
    groups: tuple[Group, ...] = ()  # a trend's variants, in order
    pilot_seeds: int | None = 3  # None: the pilot's figures are taken as exact
    n_images: int = 10000

    @property
    def direction(self) -> int:
        return -1 if self.expect == "decrease" else 1

    @property
    def sources(self) -> set[str]:
        keys = {k for c in self.contrasts for k, _ in c.sources}
        return keys | {g.source for g in self.groups}


@dataclass(frozen=True)
class Forecast:
    """One claim's forecasts, and the verdicts' shares in the first simulated study."""

    same: float  # F_same
    new: float  # F_new
    shares: dict[str, float]


def _draw_truth(model: ClaimModel, at_smallest: bool, rng, reps: int) -> dict:
    """Per replicate, what the pilot allows the truth to be: each contrast's effect on the
    study's test set and its seed spread, and a trend's group means and spreads."""
    df0 = None if model.pilot_seeds is None else model.pilot_seeds - 1
    n0 = model.pilot_seeds or 1

    def spread(sd):
        if df0 is None or df0 < 1:
            return np.full(reps, float(sd))
        return sd * np.sqrt(df0 / rng.chisquare(df0, reps))

    def centre(estimate, sd_draw):
        if df0 is None:
            return np.full(reps, float(estimate))
        return estimate + rng.standard_normal(reps) * np.sqrt(sd_draw**2 / n0)

    smallest = model.direction * model.smallest_effect
    contrasts = []
    for c in model.contrasts:
        sd = spread(c.seed_sd)
        contrasts.append((centre(smallest if at_smallest else c.effect, sd), sd))
    groups = []
    steps = np.linspace(0.0, smallest, len(model.groups)) if model.groups else []
    for i, g in enumerate(model.groups):
        sd = spread(g.sd)
        mean = model.groups[0].mean + steps[i] if at_smallest else g.mean
        groups.append((centre(mean, sd), sd))
    return {"contrasts": contrasts, "groups": groups}


def _noise(models: Sequence[ClaimModel], seeds: Mapping[str, int], rng, reps: int) -> dict:
    """One simulated study's per-seed noise, one standard normal per source and seed: claims
    that read the same source (a variant's metric) read the same draws."""
    keys = sorted(set().union(*(m.sources for m in models)))
    return {k: rng.standard_normal((reps, seeds[source_variant(k)])) for k in keys}


def source_variant(key: str) -> str:
    """The variant whose runs a source ('variant:metric') is drawn from: a best-epoch
    checkpoint is scored on its variant's own runs."""
    return base_variant(key.rsplit(":", 1)[0])


def _satterthwaite(var_seed, df_seed, var_image, df_image):
    denominator = var_seed**2 / df_seed + (var_image**2 / df_image if df_image > 0 else 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        df = np.where(denominator > 0, (var_seed + var_image) ** 2 / denominator, df_seed)
    return np.maximum(df, df_seed)


def _contrast_stats(contrast: Contrast, truth, noise, n: int | None, n_images: int):
    """Estimate, standard error and degrees of freedom of one contrast in a simulated study;
    ``n`` None: unlimited seeds, the effect on the test set itself."""
    effect, sd = truth
    if n is None:
        df = np.full(effect.shape, float(max(n_images - 1, 1)))
        return effect, np.full(effect.shape, contrast.se_image), df
    per_seed = sum(w * noise[k][:, :n] for k, w in contrast.sources)
    per_seed = per_seed * sd[:, None]
    estimate = effect + per_seed.mean(axis=1)
    var_seed = per_seed.var(axis=1, ddof=1) / n
    var_image = contrast.se_image**2
    return (
        estimate,
        np.sqrt(var_seed + var_image),
        _satterthwaite(var_seed, n - 1, var_image, n_images - 1),
    )


def _t_p(x, se, df, sided: str):
    """Vectorised Student-t p-values as mnist_study.evidence.effects.Effect computes them,
    with its conventions where the standard error is zero."""
    with np.errstate(divide="ignore", invalid="ignore"):
        z = x / se
    p = t.sf(z, df) if sided == "upper" else 2 * t.sf(np.abs(z), df)
    zero = se == 0
    if sided == "upper":
        return np.where(zero, (x <= 0).astype(float), p)
    return np.where(zero, (x == 0).astype(float), p)


def _p_difference_and_equivalence(estimate, se, df, margin):
    lower = _t_p(estimate + margin, se, df, "upper")
    upper = _t_p(margin - estimate, se, df, "upper")
    return _t_p(estimate, se, df, "two"), np.maximum(lower, upper)


def jonckheere_rows(groups: Sequence[np.ndarray]):
    """Jonckheere-Terpstra's tau and one-sided p for a rise, per replicate, as
    mnist_study.evidence.effects.jonckheere computes them (continuous draws: no ties). Each
    pair of groups' rises are a Mann-Whitney count, from ranks: no seeds x seeds array."""
    rises = 0.0
    pairs = 0
    for i in range(len(groups)):
        for j in range(i + 1, len(groups)):
            both = np.concatenate([groups[i], groups[j]], axis=1)
            ranks = both.argsort(axis=1).argsort(axis=1) + 1
            n_j = groups[j].shape[1]
            rises = rises + ranks[:, -n_j:].sum(axis=1) - n_j * (n_j + 1) / 2
            pairs += groups[i].shape[1] * n_j
    sizes = np.array([g.shape[1] for g in groups])
    n = sizes.sum()
    var = (n * (n - 1) * (2 * n + 5) - (sizes * (sizes - 1) * (2 * sizes + 5)).sum()) / 72.0
    falls = pairs - rises
    z = (rises - pairs / 2) / math.sqrt(var)
    return (rises - falls) / pairs, 0.5 * np.vectorize(math.erfc)(z / math.sqrt(2))


def _claim_test(model: ClaimModel, truth, noise, seeds: Mapping[str, int] | None):
    """A claim's first and second p-values and the direction its verdict reads, per replicate
    (see mnist_study.evidence.claim_tests for each kind's test)."""
    n = None if seeds is None else min(seeds[source_variant(k)] for k in model.sources)
    margin = model.smallest_effect
    stats = [
        _contrast_stats(c, tr, noise, n, model.n_images)
        for c, tr in zip(model.contrasts, truth["contrasts"], strict=True)
    ]
    if model.kind == "trend":
        return _trend_test(model, truth, noise, n, stats[0], margin)
    if model.kind == "each":
        return _each_test(stats, margin, model.direction)
    ((estimate, se, df),) = stats
    if model.kind == "not_worse":
        return (
            _t_p(estimate + margin, se, df, "upper"),
            _t_p(-margin - estimate, se, df, "upper"),
            estimate,
        )
    p, p_equivalence = _p_difference_and_equivalence(estimate, se, df, margin)
    if model.kind == "level":
        p_equivalence = np.full(p.shape, math.nan)
    return p, p_equivalence, estimate


def _trend_test(model: ClaimModel, truth, noise, n, end_to_end, margin):
    """Jonckheere-Terpstra over the groups' runs; equivalence on the last minus the first.
    With unlimited seeds the test finds any trend, so the verdict turns on the sign of the
    end-to-end effect on that test set."""
    estimate, se, df = end_to_end
    _, p_equivalence = _p_difference_and_equivalence(estimate, se, df, margin)
    if n is None:
        return (estimate == 0).astype(float), p_equivalence, estimate
    runs = [
        mean[:, None] + sd[:, None] * noise[g.source][:, :n]
        for g, (mean, sd) in zip(model.groups, truth["groups"], strict=True)
    ]
    tau, p_rise = jonckheere_rows(runs)
    return np.minimum(1.0, 2 * np.minimum(p_rise, 1 - p_rise)), p_equivalence, tau


def _each_test(stats, margin, direction):
    """The intersection-union test: the largest p, or the strongest comparison the wrong way;
    any comparison shown equivalent contradicts the claim."""
    tests = [(*_p_difference_and_equivalence(e, s, d, margin), e) for e, s, d in stats]
    p = np.stack([x[0] for x in tests])
    estimate = np.stack([x[2] for x in tests])
    wrong = estimate * direction <= 0
    largest = np.argmax(p, axis=0)
    strongest_wrong = np.argmin(np.where(wrong, p, np.inf), axis=0)
    binding = np.where(wrong.any(axis=0), strongest_wrong, largest)
    cols = np.arange(p.shape[1])
    p_equivalence = np.min(np.stack([x[1] for x in tests]), axis=0)
    return p[binding, cols], p_equivalence, estimate[binding, cols]


WORDS = np.array(["supported", "contradicted", "inconclusive"], dtype=object)


def holm_rows(p: np.ndarray, max_true: int | None = None) -> np.ndarray:
    """mnist_study.evidence.effects.holm on every row of ``p`` at once (NaN stays NaN)."""
    known = ~np.isnan(p)
    order = np.argsort(np.where(known, p, np.inf), axis=1, kind="stable")
    ranked = np.take_along_axis(p, order, axis=1)
    m = known.sum(axis=1, keepdims=True)
    rank = np.arange(p.shape[1])[None, :]
    cap = m if max_true is None else np.minimum(m, max_true)
    factor = np.minimum(m - rank, cap)
    stepped = np.where(rank < m, np.minimum(1.0, factor * ranked), -np.inf)
    running = np.maximum.accumulate(stepped, axis=1)
    adjusted = np.full(p.shape, np.nan)
    np.put_along_axis(adjusted, order, np.where(rank < m, running, np.nan), axis=1)
    return adjusted


def verdict_codes(direction, p_first, p_second, expect: str, alpha: float) -> np.ndarray:
    """mnist_study.evidence.effects.verdict on arrays: indices into WORDS."""
    first = ~np.isnan(p_first) & (p_first < alpha)
    second = ~np.isnan(p_second) & (p_second < alpha)
    if expect == "not_worse":
        return np.where(first, 0, np.where(second, 1, 2))
    sign = {"increase": 1, "decrease": -1}[expect]
    decided = first & (direction != 0)
    return np.where(decided, np.where(direction * sign > 0, 0, 1), np.where(second, 1, 2))


def _verdicts(models, tests, alpha: float) -> np.ndarray:
    """Each replicate's verdicts [replicates, claims], by the study's own rule: Holm-Shaffer
    over both nulls of every claim, then the verdict (effects.holm and effects.verdict, on
    all replicates at once)."""
    first = np.stack([x[0] for x in tests], axis=1)
    second = np.stack([x[1] for x in tests], axis=1)
    direction = np.stack([x[2] for x in tests], axis=1)
    k = len(models)
    adjusted = holm_rows(np.concatenate([first, second], axis=1), max_true=k)
    codes = np.stack(
        [
            verdict_codes(
                direction[:, c],
                adjusted[:, c],
                adjusted[:, k + c],
                "increase" if m.expect == "present" else m.expect,
                alpha,
            )
            for c, m in enumerate(models)
        ],
        axis=1,
    )
    return WORDS[codes]


def simulate_family(
    models: Sequence[ClaimModel],
    seeds: Mapping[str, int] | None,
    alpha: float,
    at_smallest: bool = False,
    reps: int = SIMULATIONS,
    seed: int = FORECAST_SEED,
) -> tuple[np.ndarray, np.ndarray]:
    """The verdicts of ``reps`` simulated pairs of studies, each [replicates, claims].
    ``seeds``: each variant's seeds; the two studies draw disjoint seeds from one truth and
    share the test set. None: unlimited seeds, each study on a fresh test set."""
    rng = np.random.default_rng(seed)
    truths = [_draw_truth(m, at_smallest, rng, reps) for m in models]
    if seeds is None:
        truths = [_fresh_test_sets(m, tr, rng) for m, tr in zip(models, truths, strict=True)]
    studies = []
    for study in range(2):
        noise = {} if seeds is None else _noise(models, seeds, rng, reps)
        tests = [
            _claim_test(m, tr[study] if seeds is None else tr, noise, seeds)
            for m, tr in zip(models, truths, strict=True)
        ]
        studies.append(_verdicts(models, tests, alpha))
    return studies[0], studies[1]


def _fresh_test_sets(model: ClaimModel, truth, rng) -> tuple[dict, dict]:
    """Two fresh test sets of the same size: each shifts every contrast's effect by its image
    component, around an effect that carries the pilot's test-set error too."""
    reps = len(truth["contrasts"][0][0])
    # The pilot saw one test set: where its figures are not taken as exact, the effect beyond
    # that test set is uncertain by the image component too.
    pilot_error = 0.0 if model.pilot_seeds is None else 1.0
    shared = [
        (effect + pilot_error * rng.standard_normal(reps) * c.se_image, sd)
        for c, (effect, sd) in zip(model.contrasts, truth["contrasts"], strict=True)
    ]
    return tuple(
        {
            "contrasts": [
                (effect + rng.standard_normal(reps) * c.se_image, sd)
                for c, (effect, sd) in zip(model.contrasts, shared, strict=True)
            ],
            "groups": truth["groups"],
        }
        for _ in range(2)
    )


def forecast(
    models: Sequence[ClaimModel],
    seeds: Mapping[str, int],
    alpha: float,
    at_smallest: bool = False,
    reps: int = SIMULATIONS,
) -> dict[str, Forecast]:
    """F_same at ``seeds`` and F_new, per claim (see the module's docstring)."""
    first, second = simulate_family(models, seeds, alpha, at_smallest, reps)
    fresh_a, fresh_b = simulate_family(models, None, alpha, at_smallest, reps)
    out = {}
    for c, model in enumerate(models):
        words, counts = np.unique(first[:, c], return_counts=True)
        out[model.name] = Forecast(
            same=float(np.mean(first[:, c] == second[:, c])),
            new=float(np.mean(fresh_a[:, c] == fresh_b[:, c])),
            shares={str(w): float(n) / reps for w, n in zip(words, counts, strict=True)},
        )
    return out
