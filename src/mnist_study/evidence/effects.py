"""Effects with both sources of variance, training seeds and the finite test set, and the
verdict rule built on them: Holm across claims, equivalence against a smallest effect of interest.

The seed is the unit that was sampled independently; the test images recur in every seed, so
they are a second, crossed random factor and are never pooled across seeds as independent.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import chi2, t

POWER = 0.8  # the power at which the detectable effect is stated
CHURN_MIN_SEEDS = 3  # the churn's delete-one-seed jackknife leaves a pair of seeds at the least


@dataclass(frozen=True)
class Effect:
    """An estimated effect with its standard error split by source, and Student-t inference
    on ``df`` degrees of freedom (Satterthwaite's, from the seed and image components)."""

    estimate: float
    se_seed: float  # from the spread of the per-seed effects
    se_image: float  # from the spread of the per-image effects (finite test set)
    df: float
    n_seeds: int

    @property
    def se(self) -> float:
        return math.hypot(self.se_seed, self.se_image)

    def interval(self, confidence: float = 0.95) -> tuple[float, float]:
        if not self.df or not self.se:
            return (math.nan, math.nan)
        half = t_quantile(0.5 + confidence / 2, self.df) * self.se
        return (self.estimate - half, self.estimate + half)

    def p_value(self) -> float:
        """Two-sided p for 'no effect'."""
        if not self.df:
            return math.nan
        if not self.se:
            return 1.0 if self.estimate == 0 else 0.0
        return 2 * _t_sf(abs(self.estimate) / self.se, self.df)

    def p_equivalence(self, margin: float) -> float:
        """TOST (Lakens 2017): p for 'the effect lies outside ± margin' (small: equivalent)."""
        if not self.df:
            return math.nan
        if not self.se:
            return 0.0 if abs(self.estimate) < margin else 1.0
        lower = _t_sf((self.estimate + margin) / self.se, self.df)
        upper = _t_sf((margin - self.estimate) / self.se, self.df)
        return max(lower, upper)

    def p_noninferior(self, margin: float) -> float:
        """One-sided p for 'the effect is at most -margin' (small: not worse by the margin)."""
        if not self.df:
            return math.nan
        if not self.se:
            return 0.0 if self.estimate > -margin else 1.0
        return _t_sf((self.estimate + margin) / self.se, self.df)

    def p_inferior(self, margin: float) -> float:
        """One-sided p for 'the effect is at least -margin' (small: worse by more than it)."""
        if not self.df:
            return math.nan
        if not self.se:
            return 0.0 if self.estimate < -margin else 1.0
        return _t_sf((-margin - self.estimate) / self.se, self.df)

    def detectable(self, alpha: float = 0.05, power: float = POWER, sides: int = 2) -> float:
        """The smallest true effect this design finds with ``power`` at ``alpha`` (two-sided,
        or one-sided for a non-inferiority margin)."""
        if not self.df:
            return math.nan
        return (t_quantile(1 - alpha / sides, self.df) + t_quantile(power, self.df)) * self.se


@dataclass(frozen=True)
class Block:
    """Per-image values [seeds, images] of one term of an effect, with its weight, the seeds of
    its rows and the id of the image set of its columns (derived from the data: see
    ``image_set_id``). Blocks on one image set are summed per image before any variance is
    taken: the images they share are one sample, not one per block."""

    values: np.ndarray
    weight: float
    seeds: tuple[int, ...]
    images: str

    def scaled(self, factor: float) -> Block:
        return Block(self.values, self.weight * factor, self.seeds, self.images)


def image_set_id(kind: str, labels) -> str:
    """The id of an image set, from the data itself: a hash of its labels in order (the same
    images give the same id; another set, or the same images relabelled, another), with its
    kind (test set or training subset)."""
    labels = np.ascontiguousarray(np.asarray(labels, dtype=np.int64))
    digest = hashlib.sha256(f"{kind}:{labels.shape}".encode())
    digest.update(labels.tobytes())
    return digest.hexdigest()[:16]


def per_run_block(values: Sequence[float], seeds: Sequence[int]) -> Block:
    """A per-run value (no image structure) as a block of one column, its own image set."""
    column = np.asarray(values, dtype=np.float64)[:, None]
    return Block(column, 1.0, tuple(int(s) for s in seeds), "per-run")


def combine_per_image(blocks: Sequence[Block]) -> dict[str, np.ndarray]:
    """{image set id: sum_k weight_k x block_k} over the blocks on each image set, after checking
    that every block has the same seeds and each image set one size."""
    if not blocks:
        raise ValueError("an effect needs at least one block")
    seeds = blocks[0].seeds
    combined: dict[str, np.ndarray] = {}
    for block in blocks:
        values = np.asarray(block.values, dtype=np.float64)
        if block.seeds != seeds:
            raise ValueError(
                f"every block needs the same seeds, in order; got {list(seeds)} and "
                f"{list(block.seeds)}"
            )
        if values.ndim != 2 or values.shape[0] != len(seeds):
            raise ValueError(
                f"a block is [seeds, images] with one row per seed ({len(seeds)}); got shape "
                f"{values.shape}"
            )
        if block.images in combined and combined[block.images].shape != values.shape:
            raise ValueError(
                f"image set {block.images} has {combined[block.images].shape[1]} images in one "
                f"block and {values.shape[1]} in another; one id is one set of images"
            )
        term = block.weight * values
        combined[block.images] = combined[block.images] + term if block.images in combined else term
    return combined


def two_way_effect(blocks: Sequence[Block]) -> Effect:
    """Mean effect over seeds of ``sum_k weight_k * mean_i(block_k[s, i])``.

    Blocks on the same image set (the same id) are summed per image into one [seeds, images]
    contrast, which is decomposed once: images that are hard for every variant cancel in it.
    The variance is that of a crossed random-effects model (seeds x images; Owen 2007): the
    seed component from the spread of the per-seed effects (which carries the seed-by-image
    interaction), plus each image set's main effect, i.e. the spread of its per-image effects
    less the interaction they also carry (the pigeonhole bootstrap would count that interaction
    twice). Different image sets (a gap's training subset and test set) hold different images,
    sampled apart, so their image components add.
    """
    contrasts = combine_per_image(blocks)
    s = len(blocks[0].seeds)
    per_seed = sum(c.mean(axis=1) for c in contrasts.values())
    estimate = float(per_seed.mean())
    se_seed = float(per_seed.std(ddof=1) / math.sqrt(s)) if s > 1 else math.nan
    var_image = sum(_image_main_effect_variance(c) for c in contrasts.values())
    images = min(c.shape[1] for c in contrasts.values())
    return Effect(
        estimate=estimate,
        se_seed=se_seed if s > 1 else 0.0,
        se_image=math.sqrt(var_image),
        df=satterthwaite(se_seed**2, s - 1, var_image, images - 1) if s > 1 else 0,
        n_seeds=s,
    )


def least_seeds(metric: str) -> str:
    """The fewest seeds per variant that give a claim's effect a spread, in words: the churn
    (metric 'disagreements') needs CHURN_MIN_SEEDS for its jackknife, every other effect two."""
    return "three" if metric == "disagreements" else "two"


def churn_pseudo_values(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-seed, per-image terms [seeds, images] whose mean is the share of images A gets
    right and B wrong in the same seed, minus the share A gets right in one seed and wrong in
    another: the churn over every ordered pair of A's seeds s != t (a U-statistic, symmetric in
    the seeds' order).

    The pair term's rows are its delete-one-seed jackknife pseudo-values (S U - (S - 1) U_-s,
    per image): their mean is U itself, and their spread over seeds is the jackknife's, which
    sees that each seed of A enters many pairs. Decomposed as any [seeds, images] block, they
    give both variance components. Needs three seeds of A (two leave one pair)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    s = a.shape[0]
    if s < CHURN_MIN_SEEDS:
        raise ValueError(f"the churn between seeds needs at least {CHURN_MIN_SEEDS} seeds; got {s}")
    total, same = a.sum(axis=0), (a * (1 - a)).sum(axis=0)

    def pairs_mean(total, same, n):
        # sum over s != t of a_s (1 - a_t) = A (n - A) - sum_s a_s (1 - a_s)
        return (total * (n - total) - same) / (n * (n - 1))

    u = pairs_mean(total, same, s)
    u_without = pairs_mean(total[None, :] - a, same[None, :] - a * (1 - a), s - 1)
    pseudo = s * u[None, :] - (s - 1) * u_without
    return a * (1 - b) - pseudo


def satterthwaite(var_a: float, df_a: float, var_b: float, df_b: float) -> float:
    """Degrees of freedom of a sum of two independent variance estimates (Welch-Satterthwaite):
    near the seeds' when their spread dominates, large when the test images' does."""
    if df_a <= 0:
        return 0.0
    denominator = var_a**2 / df_a + (var_b**2 / df_b if df_b > 0 else 0.0)
    if denominator == 0:
        return float(df_a)
    return max(float(df_a), (var_a + var_b) ** 2 / denominator)


def _image_main_effect_variance(block: np.ndarray) -> float:
    """Variance of the mean over images due to which images the test set holds: the spread of
    the per-image means over seeds, less the seed-by-image residual it carries (two-way ANOVA
    mean squares), floored at zero."""
    s, n = block.shape
    if n < 2:
        return 0.0
    per_image = block.mean(axis=0)
    total = float(per_image.var(ddof=1)) / n
    if s < 2:
        return total
    residual = block - block.mean(axis=1, keepdims=True) - per_image[None, :] + block.mean()
    ms_residual = float((residual**2).sum()) / ((s - 1) * (n - 1))
    return max(total - ms_residual / (s * n), 0.0)


def seed_effect(values_a: Sequence[float], values_b: Sequence[float], paired: bool) -> Effect:
    """B minus A for a per-run metric with no image structure (e.g. epochs to a threshold):
    paired by seed where the seeds match, else Welch's unequal-variance t (Satterthwaite df)."""
    a, b = np.asarray(values_a, dtype=float), np.asarray(values_b, dtype=float)
    if paired:
        return two_way_effect([per_run_block(b - a, range(len(a)))])
    if min(len(a), len(b)) < 2:
        return Effect(float(b.mean() - a.mean()), 0.0, 0.0, 0, min(len(a), len(b)))
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    se = math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1)) if se else len(a) - 1
    return Effect(float(b.mean() - a.mean()), se, 0.0, max(int(df), 1), min(len(a), len(b)))


def holm(p_values: Sequence[float], max_true: int | None = None) -> list[float]:
    """Holm's step-down adjustment (controls the family-wise error rate); NaN stays NaN.

    ``max_true``: at most this many of the null hypotheses can hold at once (Shaffer 1986).
    A claim's "no difference" and "not equivalent" nulls exclude each other, so with k claims
    no more than k are true, and each step multiplies by min(hypotheses left, k).
    """
    p = np.asarray(p_values, dtype=float)
    known = np.flatnonzero(~np.isnan(p))
    adjusted = np.full(len(p), math.nan)
    order = known[np.argsort(p[known], kind="stable")]
    cap = len(order) if max_true is None else max_true
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, min(len(order) - rank, cap) * p[i]))
        adjusted[i] = running
    return adjusted.tolist()


def verdict(
    effect: float, p_difference: float, p_equivalence: float, expect: str, alpha: float
) -> str:
    """Supported: a difference in the expected direction; contradicted: a difference the other
    way, or an effect shown to lie inside ± the smallest effect of interest; else inconclusive.
    The p-values given are already adjusted for multiplicity.

    ``expect`` 'not_worse' (non-inferiority): ``p_difference`` is the one-sided p for 'worse
    by the margin or more' and ``p_equivalence`` the one for 'not worse by more than it';
    supported when the first is rejected, contradicted when the second is. An effect shown
    inside the margin supports it: the margin is the claim."""
    if expect == "not_worse":
        if not math.isnan(p_difference) and p_difference < alpha:
            return "supported"
        if not math.isnan(p_equivalence) and p_equivalence < alpha:
            return "contradicted"
        return "inconclusive"
    sign = {"increase": 1, "decrease": -1}[expect]
    if not math.isnan(p_difference) and p_difference < alpha and effect != 0:
        return "supported" if effect * sign > 0 else "contradicted"
    if not math.isnan(p_equivalence) and p_equivalence < alpha:
        return "contradicted"
    return "inconclusive"


def restricted_mean(times: Sequence[float], reached: Sequence[bool], horizon: float) -> float:
    """Mean time to an event restricted to ``horizon`` (Royston & Parmar 2013): a run that
    never reached it counts as censored at the horizon, never as a made-up later time."""
    t = np.minimum(np.asarray(times, dtype=float), horizon)
    t[~np.asarray(reached, dtype=bool)] = horizon
    return float(t.mean())


def jonckheere(groups: Sequence[Sequence[float]]) -> tuple[float, float]:
    """Jonckheere-Terpstra test for a monotone increase across ordered groups: (tau, p).

    ``tau`` in [-1, 1] is the statistic scaled by its range (the share of ordered pairs of runs
    that rise minus those that fall); ``p`` is one-sided for an increase, from the normal
    approximation with the tie-corrected variance (Hollander, Wolfe & Chicken 2014, 6.2).
    """
    values = [np.asarray(g, dtype=float) for g in groups]
    sizes = np.array([len(g) for g in values])
    if len(values) < 3 or (sizes < 1).any():
        raise ValueError("Jonckheere-Terpstra needs at least three non-empty ordered groups")
    rises = falls = 0.0
    for i in range(len(values)):
        for j in range(i + 1, len(values)):
            diff = values[j][None, :] - values[i][:, None]
            rises += float((diff > 0).sum())
            falls += float((diff < 0).sum())
    pairs = sum(sizes[i] * sizes[j] for i in range(len(sizes)) for j in range(i + 1, len(sizes)))
    j_stat = rises + 0.5 * (pairs - rises - falls)
    n = sizes.sum()
    _, ties = np.unique(np.concatenate(values), return_counts=True)
    var = (
        n * (n - 1) * (2 * n + 5)
        - (sizes * (sizes - 1) * (2 * sizes + 5)).sum()
        - (ties * (ties - 1) * (2 * ties + 5)).sum()
    ) / 72.0
    var += ((sizes * (sizes - 1) * (sizes - 2)).sum() * (ties * (ties - 1) * (ties - 2)).sum()) / (
        36.0 * n * (n - 1) * (n - 2)
    )
    var += ((sizes * (sizes - 1)).sum() * (ties * (ties - 1)).sum()) / (8.0 * n * (n - 1))
    tau = (rises - falls) / pairs
    if var <= 0:
        return tau, (0.0 if rises > falls else 1.0)
    z = (j_stat - pairs / 2) / math.sqrt(var)
    return tau, _normal_sf(z)


def t_quantile(q: float, df: float) -> float:
    """Student's t quantile at ``q`` with ``df`` degrees of freedom."""
    return float(t.ppf(q, df))


def _t_sf(x: float, df: float) -> float:
    return float(t.sf(x, df))


def _normal_sf(z: float) -> float:
    return 0.5 * math.erfc(z / math.sqrt(2))


def seeds_needed(
    seed_sd: float,
    se_image: float,
    margin: float,
    pilot_seeds: int,
    alpha: float = 0.05,
    power: float = POWER,
    max_seeds: int = 50,
    n_images: int = 10000,
) -> int | None:
    """The fewest seeds (at least 2) at which an effect of size ``margin`` is found with
    ``power``: the design's answer to "how many seeds does this question need?".

    ``seed_sd`` is the spread of per-seed effects in a pilot of ``pilot_seeds`` seeds and
    ``se_image`` its test-set component. A few seeds estimate a spread poorly, so the design
    uses the pilot's one-sided 80% upper confidence bound of it (Browne 1995), not the point
    estimate. None when even ``max_seeds`` would not do (the test set alone is too small).
    """
    df = pilot_seeds - 1
    upper = seed_sd * math.sqrt(df / float(chi2.ppf(0.2, df))) if df > 0 else math.inf
    for s in range(2, max_seeds + 1):
        var_seed = upper**2 / s
        se = math.sqrt(var_seed + se_image**2)
        df = satterthwaite(var_seed, s - 1, se_image**2, n_images - 1)
        if (t_quantile(1 - alpha / 2, df) + t_quantile(power, df)) * se <= margin:
            return s
    return None
