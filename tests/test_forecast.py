"""The verdict forecasts against an independent simulation: per-image 0/1 data with known seed
and image components, judged by the study's own verdict code on two disjoint seed sets."""

import math

import numpy as np
import pytest
from scipy.stats import norm

from mnist_study.evidence.effects import Block, holm, two_way_effect, verdict
from mnist_study.evidence.forecast import ClaimModel, Contrast, forecast, simulate_family

IMAGES, SEEDS, MARGIN, ALPHA = 2000, 4, 0.01, 0.05
PAIRS = 2000  # simulated pairs of studies per check
SIMULATION_SEED = 7
SEED_SHIFT = 0.05  # the sd of a seed's shift of every image's score


class Population:
    """A fixed test set of IMAGES images: variant B scores each image higher than A by
    ``delta`` plus an image-specific term. A seed shifts a variant's scores; an image is
    right where its score beats a standard normal."""

    def __init__(self, delta: float):
        rng = np.random.default_rng(SIMULATION_SEED)
        self.theta = rng.normal(1.5, 1.2, IMAGES)
        self.gain = delta + rng.normal(0.0, 1.5, IMAGES)

    def probabilities(self, shift_a, shift_b):
        return norm.cdf(self.theta + shift_a), norm.cdf(self.theta + self.gain + shift_b)

    def components(self) -> tuple[float, float, float]:
        """The effect on this test set, the per-seed spread and the image component, by
        Gauss-Hermite quadrature over the seed's shift (no simulation)."""
        x, w = np.polynomial.hermite_e.hermegauss(40)
        w = w / w.sum()
        pa, pb = self.probabilities(SEED_SHIFT * x[:, None], SEED_SHIFT * x[:, None])
        fa, fb = pa.mean(axis=1), pb.mean(axis=1)
        spread = w @ fa**2 - (w @ fa) ** 2 + w @ fb**2 - (w @ fb) ** 2
        spread += (w @ (pa * (1 - pa)).mean(axis=1) + w @ (pb * (1 - pb)).mean(axis=1)) / IMAGES
        per_image = w @ pb - w @ pa
        return float(per_image.mean()), math.sqrt(spread), math.sqrt(per_image.var(ddof=1) / IMAGES)

    def study(self, rng) -> str:
        """One study of SEEDS seeds, judged as the study judges a pair claim."""
        shifts = rng.normal(0.0, SEED_SHIFT, (2, SEEDS, 1))
        pa, pb = self.probabilities(shifts[0], shifts[1])
        right_a = (rng.random(pa.shape) < pa).astype(float)
        right_b = (rng.random(pb.shape) < pb).astype(float)
        seeds = tuple(range(SEEDS))
        effect = two_way_effect([Block(right_b, 1.0, seeds, "t"), Block(right_a, -1.0, seeds, "t")])
        p, p_equivalence = holm([effect.p_value(), effect.p_equivalence(MARGIN)], max_true=1)
        return verdict(effect.estimate, p, p_equivalence, "increase", ALPHA)


def _model(effect, seed_sd, se_image, pilot_seeds=None, name="c", source="a"):
    loadings = ((f"{source}:acc", -math.sqrt(0.5)), ("b:acc", math.sqrt(0.5)))
    contrast = Contrast(effect, seed_sd, se_image, loadings)
    return ClaimModel(name, "pair", "increase", MARGIN, (contrast,), (), pilot_seeds, IMAGES)


@pytest.mark.parametrize("delta", [0.72, 0.83, 0.9])  # F_same near 0.5, 0.8 and 0.95
def test_f_same_matches_the_verdict_code_on_simulated_images(delta):
    population = Population(delta)
    rng = np.random.default_rng(SIMULATION_SEED)
    agree = np.mean([population.study(rng) == population.study(rng) for _ in range(PAIRS)])
    predicted = forecast([_model(*population.components())], {"a": SEEDS, "b": SEEDS}, ALPHA)
    assert abs(predicted["c"].same - agree) < 0.03, (delta, agree, predicted["c"])


def test_claims_that_read_the_same_runs_draw_the_same_seeds():
    """Two claims on the same variants move together in every simulated study; on
    different variants they do not."""
    twin_a = _model(0.012, 0.01, 0.001, name="a")
    twin_b = _model(0.012, 0.01, 0.001, name="b")
    apart = _model(0.012, 0.01, 0.001, name="apart", source="other")
    seeds = {"a": SEEDS, "b": SEEDS, "other": SEEDS}
    first, _ = simulate_family([twin_a, twin_b, apart], seeds, ALPHA, reps=1000)
    assert (first[:, 0] == first[:, 1]).all()
    assert 0.05 < np.mean(first[:, 0] != first[:, 2]) < 0.95


def test_f_same_tends_to_one_with_seeds_and_a_pilot_of_three_widens_it():
    """More seeds make two studies agree; the pilot's own uncertainty (three seeds) is
    integrated over, so its forecast differs from the one that takes its figures as exact."""
    seeds = {"a": 4, "b": 4}
    exact = forecast([_model(0.03, 0.013, 0.002)], seeds, ALPHA)["c"].same
    piloted = forecast([_model(0.03, 0.013, 0.002, pilot_seeds=3)], seeds, ALPHA)["c"].same
    many = forecast([_model(0.03, 0.013, 0.002, pilot_seeds=3)], {"a": 200, "b": 200}, ALPHA)
    assert many["c"].same > 0.97 > max(exact, piloted)
    assert abs(exact - piloted) > 0.02


def test_the_vectorised_trend_test_is_jonckheere_terpstra():
    from mnist_study.evidence.effects import jonckheere
    from mnist_study.evidence.forecast import jonckheere_rows

    rng = np.random.default_rng(3)
    groups = [rng.normal(m, 1.0, (5, n)) for m, n in ((0.0, 4), (0.3, 6), (0.5, 5))]
    tau, p_rise = jonckheere_rows(groups)
    for r in range(5):
        expected = jonckheere([g[r] for g in groups])
        assert (tau[r], p_rise[r]) == pytest.approx(expected)


def test_the_vectorised_verdict_rule_is_the_study_s_own():
    """Holm-Shaffer and the verdict on arrays, against effects.holm and effects.verdict row
    by row (NaN p-values, ties and both expectations included)."""
    from mnist_study.evidence.forecast import WORDS, holm_rows, verdict_codes

    rng = np.random.default_rng(11)
    p = rng.choice([0.001, 0.004, 0.01, 0.03, 0.2, 0.7, np.nan], size=(400, 6))
    direction = rng.choice([-1.0, 0.0, 2.0], size=(400, 3))
    adjusted = holm_rows(p, max_true=3)
    for r in range(len(p)):
        np.testing.assert_allclose(adjusted[r], holm(list(p[r]), max_true=3), equal_nan=True)
        for c, expect in enumerate(("increase", "decrease", "not_worse")):
            want = verdict(direction[r, c], adjusted[r, c], adjusted[r, 3 + c], expect, 0.05)
            got = verdict_codes(
                direction[r : r + 1, c],
                adjusted[r : r + 1, c],
                adjusted[r : r + 1, 3 + c],
                expect,
                0.05,
            )
            assert WORDS[got[0]] == want
