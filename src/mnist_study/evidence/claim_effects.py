"""What a study's runs offer a claim: each run's value of the claim's metric, and the effects its
test reads, paired by seed (and by image for a test-set metric)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from mnist_study.evidence.claims import Claim
from mnist_study.evidence.effects import (
    CHURN_MIN_SEEDS,
    Block,
    Effect,
    churn_pseudo_values,
    seed_effect,
    two_way_effect,
)
from mnist_study.evidence.stats import (
    common_paired_seeds,
    image_blocks,
    paired_seeds,
    variant_blocks,
)
from mnist_study.metrics import IMAGE_METRICS, TABLE_METRICS, TIME_TO_METRICS, epochs_to

# ----------------------------------------------------------------------------- run metrics


def val_acc_at_epoch(history: pd.DataFrame, epoch: int) -> float:
    rows = history[history["epoch"] == epoch]
    if rows.empty:
        raise ValueError(f"history has epochs 1..{int(history['epoch'].max())}; asked for {epoch}")
    return float(rows["val_acc"].iloc[0])


def val_loss_slope(history: pd.DataFrame) -> float:
    """Least-squares slope of the validation loss per epoch over the second half of training:
    positive when it turns up. Unlike final-minus-minimum it is zero on average for a flat,
    noisy curve."""
    late = history.iloc[len(history) // 2 :].dropna(subset=["val_loss"])
    if len(late) < 2:
        return math.nan
    return float(np.polyfit(late["epoch"].astype(float), late["val_loss"].astype(float), 1)[0])


def run_value(claim: Claim, run: Mapping, history: pd.DataFrame | None) -> tuple[float, bool]:
    """One run's value of a per-run claim metric, and whether it is observed (not censored)."""
    if claim.metric in TABLE_METRICS:
        return float(run[claim.metric]), True
    if history is None:
        raise ValueError(f"metric {claim.metric!r} needs the run's history.csv")
    if claim.metric in TIME_TO_METRICS:
        return epochs_to(history, TIME_TO_METRICS[claim.metric], float(claim.threshold))
    if claim.metric == "val_acc_at_epoch":
        return val_acc_at_epoch(history, int(claim.epoch)), True
    if claim.metric == "val_loss_slope":
        return val_loss_slope(history), True
    raise ValueError(f"metric {claim.metric!r} is not a per-run value")


# ----------------------------------------------------------------------------- effects


class Evidence:
    """What one study's runs offer a claim: runs.csv, histories and per-image correctness."""

    def __init__(self, runs: pd.DataFrame, histories: Mapping, correct: Mapping):
        self.runs, self.histories, self.correct = runs, dict(histories), dict(correct)

    def values(self, claim: Claim, variant: str) -> dict[int, tuple[float, bool]]:
        """{seed: (value, observed)} of a per-run metric. Censored times count at the horizon
        (the run's last epoch): the restricted mean (Royston & Parmar 2013)."""
        rows = self.runs[self.runs["variant"] == variant].to_dict("records")
        return {
            int(r["seed"]): run_value(claim, r, self.histories.get((variant, int(r["seed"]))))
            for r in rows
        }

    def groups(self, claim: Claim) -> list[list[float]]:
        """The per-run values of each of the claim's variants, in the claim's order."""
        return [[v for v, _ in self.values(claim, name).values()] for name in claim.variants]

    def effect(self, claim: Claim, a: str, b: str) -> Effect:
        """B - A in the claim's metric, paired by seed."""
        if claim.metric in IMAGE_METRICS:
            seeds = paired_seeds(self.correct, a, b)
            return two_way_effect(image_blocks(self.correct, a, b, claim.metric, seeds))
        if claim.metric == "disagreements":
            return self.lost_beyond_churn(a, b)
        va, vb = self.values(claim, a), self.values(claim, b)
        # Runs of one seed share the data order (and, for equal shapes, the initialisation):
        # pair them where two seeds or more are common, else compare the groups (Welch).
        common = sorted(set(va) & set(vb))
        paired = len(common) >= 2
        xa = [va[s][0] for s in (common if paired else sorted(va))]
        xb = [vb[s][0] for s in (common if paired else sorted(vb))]
        return seed_effect(xa, xb, paired)

    def level_effect(self, claim: Claim) -> Effect:
        """The variant's runs minus the claim's fixed level, over seeds."""
        values = [v for v, _ in self.values(claim, claim.variants[0]).values()]
        return seed_effect([claim.level] * len(values), values, paired=True)

    def seed_contrast(self, claim: Claim, variants: Sequence[str], weights) -> Effect:
        """sum_k weight_k x variant_k of a per-run metric, over the seeds every variant ran:
        runs of one seed share their data order (and their initialisation, for equal shapes)."""
        runs = [self.values(claim, v) for v in variants]
        common = sorted(set.intersection(*(set(r) for r in runs)))
        contrast = [sum(w * r[s][0] for w, r in zip(weights, runs, strict=True)) for s in common]
        return seed_effect([0.0] * len(contrast), contrast, paired=True)

    def interaction_effect(self, claim: Claim) -> Effect:
        """(B2 - A2) - (B1 - A1) for variants [A1, B1, A2, B2], paired by seed."""
        return self.seed_contrast(claim, claim.variants, (1.0, -1.0, -1.0, 1.0))

    def recovery_pairs(self, claim: Claim) -> list[tuple[str, str]]:
        """A recovery's two differences over images: B to C (won back), B to A (lost)."""
        a, b, c = claim.variants
        return [(b, c), (b, a)]

    def recovery_effect(self, claim: Claim) -> Effect:
        """(C - B) - share x (A - B) for variants [A, B, C], paired by seed (and by image for a
        test-set metric): how much of A's lead over B the remedy C wins back beyond the share."""
        share = float(claim.share)
        if claim.metric in IMAGE_METRICS:
            (b, c), (_, a) = pairs = self.recovery_pairs(claim)
            seeds = common_paired_seeds(self.correct, pairs)
            # Both differences are scored on the same images and both contain B: the blocks
            # are summed per image inside two_way_effect, never as independent terms.
            won = image_blocks(self.correct, b, c, claim.metric, seeds)
            lost = image_blocks(self.correct, b, a, claim.metric, seeds)
            return two_way_effect(won + [block.scaled(-share) for block in lost])
        # (C - B) - share x (A - B) = -share x A + (share - 1) x B + C
        return self.seed_contrast(claim, claim.variants, (-share, share - 1.0, 1.0))

    def comparison_effects(self, claim: Claim) -> list[tuple[str, str, Effect]]:
        """The effects that decide a claim, each as (A, B, B - A): every pair it compares; a
        level claim's variant against its level; an interaction's two differences."""
        if claim.is_level:
            return [(f"{claim.level:g}", claim.variants[0], self.level_effect(claim))]
        if claim.is_interaction:
            a1, b1, a2, b2 = claim.variants
            return [(f"{b1} − {a1}", f"{b2} − {a2}", self.interaction_effect(claim))]
        if claim.is_recovery:
            a, b, c = claim.variants
            lost = f"{claim.share:g} × ({a} − {b})"
            return [(lost, f"{c} − {b}", self.recovery_effect(claim))]
        return [(a, b, self.effect(claim, a, b)) for a, b in claim.comparisons]

    def seeds_compared(self, claim: Claim) -> dict[str, list[int]]:
        """The seeds of each variant the claim's test read: the paired seeds for a comparison
        over images, else every run of the variant."""
        if claim.is_recovery and claim.metric in IMAGE_METRICS:
            common = common_paired_seeds(self.correct, self.recovery_pairs(claim))
            return {v: common for v in claim.variants}
        if claim.is_level or claim.is_interaction or claim.is_recovery:
            return {v: sorted(self.values(claim, v)) for v in claim.variants}
        if claim.metric in IMAGE_METRICS or claim.metric == "disagreements":
            seeds: dict[str, list[int]] = {}
            for a, b in claim.comparisons:
                common = paired_seeds(self.correct, a, b)
                for v in (a, b):
                    seeds[v] = sorted(set(seeds.get(v, common)) & set(common))
            if claim.is_trend:  # the trend test reads every run of each variant
                seeds |= {v: sorted(self.values(claim, v)) for v in claim.variants}
            return {v: seeds[v] for v in claim.variants if v in seeds}
        return {v: sorted(self.values(claim, v)) for v in claim.variants}

    def lost_beyond_churn(self, a: str, b: str) -> Effect:
        """Share of test images A gets right and B wrong in the same seed, minus the share A
        gets right in one seed and wrong in another (over every pair of A's seeds): images B
        loses beyond the churn between two training runs of A itself. Needs three seeds."""
        seeds = paired_seeds(self.correct, a, b)
        if len(seeds) < 2:
            return Effect(math.nan, 0.0, 0.0, 0, len(seeds))
        (b_block,) = variant_blocks(self.correct, b, "test_acc", seeds)
        (a_block,) = variant_blocks(self.correct, a, "test_acc", seeds)
        if a_block.images != b_block.images:
            raise ValueError(f"{a!r} and {b!r} are scored on different test sets")
        if len(seeds) < CHURN_MIN_SEEDS:
            # Two seeds give the estimate (both ordered pairs) but no jackknife of it.
            a_s, b_s = a_block.values, b_block.values
            estimate = float((a_s * (1 - b_s)).mean() - (a_s * (1 - a_s[::-1])).mean())
            return Effect(estimate, 0.0, 0.0, 0, len(seeds))
        terms = churn_pseudo_values(a_block.values, b_block.values)
        return two_way_effect([Block(terms, 1.0, a_block.seeds, a_block.images)])
