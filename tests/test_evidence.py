"""The statistics behind the verdicts, on data made here with known truth (fixed seeds)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mnist_study.evidence import effects as evidence
from mnist_study.evidence import stats

ALPHA = 0.05


def simulate_correct(rng, n_seeds, n_images, shift=0.0, seed_sd=0.15, difficulty=None):
    """Per-image correctness [seeds, images]: a fixed difficulty per image (the test set),
    a random offset per seed shared by all its images (one training run), and noise."""
    if difficulty is None:
        difficulty = rng.normal(2.5, 1.5, n_images)
    offsets = rng.normal(0.0, seed_sd, (n_seeds, 1))
    logits = difficulty[None, :] + offsets + shift + rng.logistic(0, 0.5, (n_seeds, n_images))
    return (logits > 0).astype(np.int8)


def block(values, weight=1.0, images="test"):
    values = np.asarray(values, dtype=np.float64)
    return evidence.Block(values, weight, tuple(range(values.shape[0])), images)


def compare(a, b):
    return evidence.two_way_effect([block(b - a)])


def test_holm_against_a_hand_computed_case():
    # Sorted 0.005, 0.01, 0.03, 0.04 -> x4, x3, x2, x1 = 0.02, 0.03, 0.06, 0.04 -> monotone.
    adjusted = evidence.holm([0.01, 0.04, 0.03, 0.005, math.nan])
    assert adjusted[:4] == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert math.isnan(adjusted[4])
    assert evidence.holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    # Shaffer: with at most 2 true nulls among 4, no step multiplies by more than 2.
    capped = evidence.holm([0.01, 0.04, 0.03, 0.005], max_true=2)
    assert capped == pytest.approx([0.02, 0.06, 0.06, 0.01])


def test_false_positive_rate_under_a_per_seed_shift_stays_at_alpha():
    """Null: both variants are the same model; every run has its own offset shared by all of
    its images. Pooling images over seeds (McNemar) would flag that offset; this must not."""
    rng = np.random.default_rng(2024)
    reps, hits = 600, 0
    for _ in range(reps):
        difficulty = rng.normal(2.5, 1.5, 1000)
        a = simulate_correct(rng, 4, 1000, difficulty=difficulty, seed_sd=0.3)
        b = simulate_correct(rng, 4, 1000, difficulty=difficulty, seed_sd=0.3)
        hits += compare(a, b).p_value() < ALPHA
    rate, se = hits / reps, math.sqrt(ALPHA * (1 - ALPHA) / reps)
    assert rate <= ALPHA + 2 * se, rate


def test_power_at_the_smallest_effect_of_interest_for_the_designed_seed_count():
    rng = np.random.default_rng(7)
    n_images, seed_sd, shift = 2000, 0.3, 0.25
    difficulty = rng.normal(2.5, 1.5, n_images)
    # The true effect of the shift, from many runs: the smallest effect of interest here.
    margin = compare(
        simulate_correct(rng, 400, n_images, difficulty=difficulty, seed_sd=seed_sd),
        simulate_correct(rng, 400, n_images, shift, difficulty=difficulty, seed_sd=seed_sd),
    ).estimate
    # A pilot of 5 seeds gives the spreads; the design then picks the seed count.
    pilot = compare(
        simulate_correct(rng, 5, n_images, difficulty=difficulty, seed_sd=seed_sd),
        simulate_correct(rng, 5, n_images, shift, difficulty=difficulty, seed_sd=seed_sd),
    )
    seeds = evidence.seeds_needed(pilot.se_seed * math.sqrt(5), pilot.se_image, margin, 5)
    assert seeds is not None and seeds >= 2
    reps, found = 400, 0
    for _ in range(reps):
        a = simulate_correct(rng, seeds, n_images, difficulty=difficulty, seed_sd=seed_sd)
        b = simulate_correct(rng, seeds, n_images, shift, difficulty=difficulty, seed_sd=seed_sd)
        effect = compare(a, b)
        found += effect.p_value() < ALPHA and effect.estimate > 0
    # As for the false-positive rate: the target, less twice the simulation's standard error.
    assert found / reps >= 0.8 - 2 * math.sqrt(0.8 * 0.2 / reps), (seeds, margin, found / reps)


def _paired_effect(a, b):
    """B - A through the workflow's own path: runs keyed by seed, repeated runs dropped by
    stats.paired_seeds, per-image blocks by stats.image_blocks."""
    correct = {}
    for seed, (ra, rb) in enumerate(zip(a, b, strict=True)):
        correct[("a", seed)] = stats.Correct(test=ra.astype(bool), train=ra.astype(bool))
        correct[("b", seed)] = stats.Correct(test=rb.astype(bool), train=rb.astype(bool))
    seeds = stats.paired_seeds(correct, "a", "b")
    return evidence.two_way_effect(stats.image_blocks(correct, "a", "b", "test_acc", seeds))


def test_repeating_a_seeds_predictions_never_shrinks_a_p_value():
    rng = np.random.default_rng(3)
    difficulty = rng.normal(2.5, 1.5, 1500)
    a = simulate_correct(rng, 3, 1500, difficulty=difficulty)
    b = simulate_correct(rng, 3, 1500, 0.2, difficulty=difficulty)
    before = _paired_effect(a, b).p_value()
    for repeat in ([0], [0, 1, 2], [2, 2, 2]):
        repeated = _paired_effect(np.concatenate([a, a[repeat]]), np.concatenate([b, b[repeat]]))
        assert repeated.p_value() >= before
    # Without collapsing repeats, the same data would look like more evidence.
    naive = compare(np.concatenate([a, a]), np.concatenate([b, b])).p_value()
    assert before == pytest.approx(compare(a, b).p_value())
    assert naive < before


def test_both_sources_of_variance_are_reported():
    rng = np.random.default_rng(11)
    difficulty = rng.normal(2.5, 1.5, 3000)
    effect = compare(
        simulate_correct(rng, 5, 3000, difficulty=difficulty, seed_sd=0.5),
        simulate_correct(rng, 5, 3000, 0.1, difficulty=difficulty, seed_sd=0.5),
    )
    assert effect.se_seed > 0 and effect.se_image >= 0 and effect.df == 4
    assert effect.se == pytest.approx(math.hypot(effect.se_seed, effect.se_image))
    low, high = effect.interval()
    assert low < effect.estimate < high


def test_gap_blocks_weigh_train_and_test_images():
    train = np.array([[1, 1, 0, 1], [1, 0, 1, 1]])  # B - A on training images, per seed
    test = np.array([[0, -1, 0], [1, 0, 0]])  # B - A on test images, per seed
    effect = evidence.two_way_effect([block(train, 1.0, "train"), block(test, -1.0, "test")])
    per_seed = train.mean(1) - test.mean(1)
    assert effect.estimate == pytest.approx(per_seed.mean())
    assert effect.se_seed == pytest.approx(per_seed.std(ddof=1) / math.sqrt(2))
    # Each image set's main effect: the spread of its per-image means less the residual
    # (seed x image) mean square over seeds x images, floored at zero.
    image_var = 0.0
    for x in (train, test):
        s, n = x.shape
        resid = x - x.mean(1, keepdims=True) - x.mean(0)[None, :] + x.mean()
        ms_res = (resid**2).sum() / ((s - 1) * (n - 1))
        image_var += max(x.mean(0).var(ddof=1) / n - ms_res / (s * n), 0.0)
    assert effect.se_image == pytest.approx(math.sqrt(image_var))


def test_verdicts_follow_the_stated_rule():
    assert evidence.verdict(0.02, 0.001, 0.9, "increase", ALPHA) == "supported"
    assert evidence.verdict(-0.02, 0.001, 0.9, "increase", ALPHA) == "contradicted"
    assert evidence.verdict(0.0001, 0.6, 0.01, "increase", ALPHA) == "contradicted"
    assert evidence.verdict(0.01, 0.2, 0.3, "decrease", ALPHA) == "inconclusive"
    assert evidence.verdict(0.01, math.nan, math.nan, "decrease", ALPHA) == "inconclusive"


def test_equivalence_and_detectable_effect():
    tight = evidence.Effect(0.001, 0.001, 0.001, 9, 10)
    assert tight.p_equivalence(0.01) < ALPHA  # inside ± 1 pp with room to spare
    assert tight.detectable() == pytest.approx(
        (2.2622 + 0.8834) * math.hypot(0.001, 0.001), rel=1e-3
    )
    loose = evidence.Effect(0.001, 0.02, 0.0, 2, 3)
    assert loose.p_equivalence(0.01) > ALPHA


def test_censored_runs_count_at_the_horizon_not_beyond():
    times = [2.5, 4.0, 99.0]
    assert evidence.restricted_mean(times, [True, True, False], horizon=10) == pytest.approx(
        (2.5 + 4.0 + 10) / 3
    )


def test_jonckheere_on_a_hand_worked_case():
    tau, p = evidence.jonckheere([[1, 2], [3, 4], [5, 6]])
    # J = 12 of 12 pairs rising; Var0 = (6*5*17 - 3*(2*1*9)) / 72 = 6.333.
    assert tau == 1.0
    assert p == pytest.approx(0.5 * math.erfc((12 - 6) / math.sqrt(456 / 72) / math.sqrt(2)))
    tau_down, p_down = evidence.jonckheere([[5, 6], [3, 4], [1, 2]])
    assert tau_down == -1.0 and p_down > 0.99
    with pytest.raises(ValueError, match="three"):
        evidence.jonckheere([[1], [2]])


def anova_components(x):
    """A two-way ANOVA without replication, written plainly with loops: (mean, se_seed²,
    se_image²) of the grand mean of x[seeds][images], seeds and images both random."""
    s, n = len(x), len(x[0])
    grand = sum(sum(row) for row in x) / (s * n)
    seed_means = [sum(row) / n for row in x]
    image_means = [sum(x[i][j] for i in range(s)) / s for j in range(n)]
    ss_seed = n * sum((m - grand) ** 2 for m in seed_means)
    ss_image = s * sum((m - grand) ** 2 for m in image_means)
    ss_resid = 0.0
    for i in range(s):
        for j in range(n):
            ss_resid += (x[i][j] - seed_means[i] - image_means[j] + grand) ** 2
    ms_seed, ms_image = ss_seed / (s - 1), ss_image / (n - 1)
    ms_resid = ss_resid / ((s - 1) * (n - 1))
    return grand, ms_seed / (s * n), max(ms_image - ms_resid, 0.0) / (s * n)


@pytest.mark.parametrize("trial", range(6))
def test_two_way_effect_agrees_with_a_plain_anova(trial):
    """Random blocks on one image set: two_way_effect's sum per image, then the ANOVA."""
    rng = np.random.default_rng(100 + trial)
    s, n = rng.integers(2, 7), rng.integers(3, 40)
    shared = rng.normal(0, 1, n)  # images that are hard for every block
    arrays = [rng.normal(0, 0.5, (s, n)) + shared + rng.normal(0, 0.3, (s, 1)) for _ in range(3)]
    weights = rng.normal(0, 1, 3)
    effect = evidence.two_way_effect([block(a, w) for a, w in zip(arrays, weights, strict=True)])
    contrast = sum(w * a for a, w in zip(arrays, weights, strict=True)).tolist()
    mean, var_seed, var_image = anova_components(contrast)
    assert effect.estimate == pytest.approx(mean)
    assert effect.se_seed == pytest.approx(math.sqrt(var_seed))
    assert effect.se_image == pytest.approx(math.sqrt(var_image), abs=1e-12)


def test_blocks_on_one_image_set_are_combined_before_the_variance():
    """(C - B) - 0.5 (A - B) on one test set: the images hard for all three cancel, which a
    sum of the two differences' variances would not see."""
    rng = np.random.default_rng(5)
    difficulty = rng.normal(2.5, 2.0, 4000)
    a, b, c = (
        simulate_correct(rng, 6, 4000, shift, difficulty=difficulty) for shift in (0.4, 0, 0.3)
    )
    won, lost = block(c - b), block(a - b, -0.5)
    effect = evidence.two_way_effect([won, lost])
    direct = evidence.two_way_effect([block(c - b - 0.5 * (a - b))])
    assert effect.se_image == pytest.approx(direct.se_image)
    assert effect.se_seed == pytest.approx(direct.se_seed)
    apart = evidence.two_way_effect([block(c - b, 1.0, "test"), block(a - b, -0.5, "other")])
    assert effect.se_image < apart.se_image


def test_blocks_must_share_their_seeds_and_an_image_set_its_size():
    a = np.zeros((3, 5))
    same = evidence.Block(a, 1.0, (0, 1, 2), "test")
    with pytest.raises(ValueError, match="same seeds"):
        evidence.two_way_effect([same, evidence.Block(a, 1.0, (0, 1, 3), "test")])
    with pytest.raises(ValueError, match="one id is one set of images"):
        evidence.two_way_effect([same, evidence.Block(np.zeros((3, 4)), 1.0, (0, 1, 2), "test")])
    # Two image sets of different sizes (a gap's two sides) are fine.
    evidence.two_way_effect([same, evidence.Block(np.zeros((3, 4)), -1.0, (0, 1, 2), "train")])


def test_image_set_ids_come_from_the_labels():
    labels = np.arange(20) % 10
    assert evidence.image_set_id("test", labels) == evidence.image_set_id("test", labels.copy())
    assert evidence.image_set_id("test", labels) != evidence.image_set_id("test", labels[::-1])
    assert evidence.image_set_id("test", labels) != evidence.image_set_id("train", labels)
    hit = np.ones(20, bool)
    run = stats.Correct.from_predictions(labels, labels, labels[:5], labels[:5])
    assert run.test_set == evidence.image_set_id("test", labels) and run.test.all()
    # Another test set (another dataset's labels) never pairs per image with this one.
    other = stats.Correct.from_predictions(labels, labels[::-1], labels[:5], labels[:5])
    correct = {("a", 0): run, ("b", 0): other, ("a", 1): run, ("b", 1): other}
    blocks = stats.image_blocks(correct, "a", "b", "test_acc", [0, 1])
    assert len({b.images for b in blocks}) == 2
    assert stats.Correct(test=hit, train=hit).test_set == evidence.image_set_id(
        "test", np.zeros(20)
    )


def test_churn_is_symmetric_in_the_seeds_order():
    rng = np.random.default_rng(8)
    difficulty = rng.normal(2.0, 1.5, 500)
    a = simulate_correct(rng, 6, 500, difficulty=difficulty)
    b = simulate_correct(rng, 6, 500, -0.3, difficulty=difficulty)
    terms = evidence.churn_pseudo_values(a, b)
    order = rng.permutation(6)
    shuffled = evidence.churn_pseudo_values(a[order], b[order])
    assert terms.mean() == pytest.approx(shuffled.mean())
    # The estimate: same-seed losses minus the mean over every ordered pair s != t.
    pairs = np.mean([a[s] * (1 - a[t]) for s in range(6) for t in range(6) if s != t])
    assert terms.mean() == pytest.approx((a * (1 - b)).mean() - pairs)
    with pytest.raises(ValueError, match="at least 3 seeds"):
        evidence.churn_pseudo_values(a[:2], b[:2])
