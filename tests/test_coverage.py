"""Coverage of the effects' standard errors: synthetic studies of 0/1 outcomes with known seed,
image and interaction components, drawn afresh (seeds and images) for every replicate.

For each kind of contrast the claims use, the mean se² must lie within 5% of the estimates'
empirical variance, and 95% intervals must cover the true effect 93.5-96.5% of the time.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from mnist_study.evidence.effects import Block, churn_pseudo_values, two_way_effect

REPLICATES = 4000  # at least 2,000: the empirical variance is then known to about 2%
RANDOM_SEED = 20261207
SEEDS, IMAGES = 8, 300
TRUTH_DRAWS = 4000  # replicates' worth of probabilities averaged for the true effect


def _logits(rng, shape, offset, image_effect, seed_effect, interaction):
    """Latent logits [reps, seeds, images] of one variant: offset + image + seed + interaction.
    ``image_effect`` and ``seed_effect`` are arrays shared between variants (hard images are
    hard for all; one seed's data order is shared); ``interaction`` is its own sd."""
    return offset + image_effect + seed_effect + rng.normal(0.0, interaction, shape)


def _seed_effects(rng, reps, variants, seed_sd=0.15):
    """Each variant's seed effects [reps, seeds, 1]: a part common to the variants (one seed's
    data order is shared) and a part of its own."""
    common = rng.normal(0.0, seed_sd, (reps, SEEDS, 1))
    return [common + rng.normal(0.0, seed_sd, (reps, SEEDS, 1)) for _ in range(variants)]


def _study(rng, reps, offsets, share=0.9, image_sd=2.0, interaction=0.4, seeds=None):
    """Per-variant probabilities [reps, seeds, images] on one fresh set of images: the variants
    share most of each image's difficulty (``share`` of it), so contrasts between them cancel
    most of it. ``seeds``: the variants' seed effects, where another image set shares them
    (the same runs scored on a training subset and on the test set)."""
    shape = (reps, SEEDS, IMAGES)
    seeds = seeds or _seed_effects(rng, reps, len(offsets))
    common_image = rng.normal(0.0, image_sd, (reps, 1, IMAGES))
    probabilities = []
    for offset, seed in zip(offsets, seeds, strict=True):
        own_image = rng.normal(0.0, image_sd, (reps, 1, IMAGES))
        image = math.sqrt(share) * common_image + math.sqrt(1 - share) * own_image
        eta = _logits(rng, shape, offset, image, seed, interaction)
        probabilities.append(1.0 / (1.0 + np.exp(-eta)))
    return probabilities


def _two_sets(rng, reps, train_offsets, test_offsets):
    """The same runs (variants x seeds) on a training subset and on the test set."""
    seeds = _seed_effects(rng, reps, len(train_offsets))
    train = _study(rng, reps, train_offsets, seeds=seeds)
    return train, _study(rng, reps, test_offsets, seeds=seeds)


def _outcomes(rng, probabilities):
    return [rng.random(p.shape) < p for p in probabilities]


def _blocks(arrays, weights, image_set):
    seeds = tuple(range(SEEDS))
    return [
        Block(a.astype(np.float64), w, seeds, image_set)
        for a, w in zip(arrays, weights, strict=True)
    ]


def _coverage(estimates, ses, dfs, truth):
    from scipy.stats import t

    estimates, ses, dfs = map(np.asarray, (estimates, ses, dfs))
    half = t.ppf(0.975, dfs) * ses
    covered = float(np.mean(np.abs(estimates - truth) <= half))
    ratio = float(np.mean(ses**2) / np.var(estimates, ddof=1))
    return ratio, covered


def _check(ratio, covered):
    assert abs(ratio - 1) <= 0.05, f"mean se² / empirical variance = {ratio:.3f}"
    assert 0.935 <= covered <= 0.965, f"95% intervals cover {covered:.3%}"


def _run(case, rng):
    """(mean se² / variance of the estimates, coverage) of one case over REPLICATES studies."""
    truth = _truth(case, rng)
    results = []
    for start in range(0, REPLICATES, 500):
        outcomes = case(rng, min(500, REPLICATES - start))
        for blocks in outcomes:
            e = two_way_effect(blocks)
            results.append((e.estimate, e.se, e.df))
    estimates, ses, dfs = zip(*results, strict=True)
    return _coverage(estimates, ses, dfs, truth)


def _truth(case, rng):
    """The contrast's expectation over seeds, images and outcomes: the mean of the case's
    expected per-image values, over TRUTH_DRAWS fresh studies (probabilities, not outcomes)."""
    return float(np.mean([case.expected(rng) for _ in range(TRUTH_DRAWS // 100)]))


class Pair:
    """B - A in test accuracy on one test set."""

    offsets = (1.5, 1.8)

    def __call__(self, rng, reps):
        a, b = _outcomes(rng, _study(rng, reps, self.offsets))
        return [_blocks([b[r], a[r]], [1.0, -1.0], "test") for r in range(reps)]

    def expected(self, rng):
        a, b = _study(rng, 100, self.offsets)
        return float((b - a).mean())


class Recovery:
    """(C - B) - 0.5 (A - B): three variants on one test set, strongly correlated."""

    offsets = (2.0, 1.4, 1.8)

    def __call__(self, rng, reps):
        a, b, c = _outcomes(rng, _study(rng, reps, self.offsets, share=0.97))
        return [
            _blocks([c[r], b[r], a[r], b[r]], [1.0, -1.0, -0.5, 0.5], "test") for r in range(reps)
        ]

    def expected(self, rng):
        a, b, c = _study(rng, 100, self.offsets, share=0.97)
        return float((c - b - 0.5 * (a - b)).mean())


class Gap:
    """One variant's train - test accuracy: two image sets, drawn apart."""

    offsets = (2.2,)

    def __call__(self, rng, reps):
        train, test = _two_sets(rng, reps, (3.0,), self.offsets)
        (train,), (test,) = _outcomes(rng, train), _outcomes(rng, test)
        return [
            _blocks([train[r]], [1.0], "train") + _blocks([test[r]], [-1.0], "test")
            for r in range(reps)
        ]

    def expected(self, rng):
        (train,), (test,) = _two_sets(rng, 100, (3.0,), self.offsets)
        return float(train.mean() - test.mean())


class GapDifference:
    """gap(B) - gap(A): four blocks on two image sets, each set shared by both variants."""

    def __call__(self, rng, reps):
        train, test = _two_sets(rng, reps, (3.2, 2.6), (1.8, 1.7))
        (train_a, train_b), (test_a, test_b) = _outcomes(rng, train), _outcomes(rng, test)
        return [
            _blocks([train_b[r], train_a[r]], [1.0, -1.0], "train")
            + _blocks([test_b[r], test_a[r]], [-1.0, 1.0], "test")
            for r in range(reps)
        ]

    def expected(self, rng):
        (train_a, train_b), (test_a, test_b) = _two_sets(rng, 100, (3.2, 2.6), (1.8, 1.7))
        return float((train_b - train_a).mean() - (test_b - test_a).mean())


class Churn:
    """Images A gets right and B wrong, beyond the churn between A's own seeds."""

    offsets = (1.8, 1.6)

    def __call__(self, rng, reps):
        a, b = _outcomes(rng, _study(rng, reps, self.offsets))
        seeds = tuple(range(SEEDS))
        return [[Block(churn_pseudo_values(a[r], b[r]), 1.0, seeds, "test")] for r in range(reps)]

    def expected(self, rng):
        a, b = _study(rng, 100, self.offsets)
        same = (a * (1 - b)).mean()
        # two different seeds of A on the same image: independent outcomes given the image
        other = a[:, :1] * (1 - a[:, 1:2])
        return float(same - other.mean())


@pytest.mark.parametrize("case", [Pair, Recovery, Gap, GapDifference, Churn])
def test_standard_errors_cover(case):
    rng = np.random.default_rng(RANDOM_SEED)
    ratio, covered = _run(case(), rng)
    _check(ratio, covered)
