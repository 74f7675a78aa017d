"""A claim's verdict as a typed record, and the test each kind of claim states (chosen by
the claim's kind, never by the keys a result happens to hold).

mnist_study.evidence.verdicts adjusts every claim's p-values together and writes the records.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from mnist_study.evidence.claim_effects import Evidence
from mnist_study.evidence.claims import Claim
from mnist_study.evidence.effects import POWER, Effect, jonckheere
from mnist_study.evidence.stats import CONFIDENCE
from mnist_study.metrics import IMAGE_METRICS, TIME_TO_METRICS


@dataclass
class Verdict:
    """One claim's test and, once every claim is in (Holm), its verdict. ``record()`` is the
    claim's entry in claims.json; a field left None there is a key that entry leaves out."""

    claim: Claim
    test: str
    effect: Effect
    p_value: float
    # None until evaluate_claim settles it: the effect's own equivalence p unless the kind's
    # test decides otherwise (a level, non-inferiority, censored times: none).
    p_equivalence: float | None = None
    tau: float | None = None  # trend: Jonckheere-Terpstra's tau, the direction it judges by
    means: list[float] | None = None  # trend: each variant's mean
    shape: str | None = None  # trend: the observed shape of the means, in words
    binding: list[str] | None = None  # each: the comparison that stands for the claim
    comparisons: list[dict] | None = None  # each: every comparison's effect and p-values
    p_inferior: float | None = None  # not_worse: the second null, 'worse by the margin'
    effect_ci: list[float] | None = None
    detectable: float = math.nan
    power: float = POWER
    censored: dict[str, int] | None = None
    seeds: dict[str, list[int]] | None = None
    # Beside the claim (mnist_study.evidence.lr_evidence): set over all claims.
    rate_dependence: dict | None = None
    learning_rates: dict[str, float] | None = None
    lr_scaled: dict[str, dict] | None = None
    lr_from: dict[str, str] | None = None
    tuning: dict[str, dict] | None = None
    # Holm over all claims, then the verdict.
    alpha: float | None = None
    p_holm: float | None = None
    p_second_holm: float | None = None  # of p_inferior (not_worse) or of p_equivalence
    word: str | None = None  # supported, contradicted or inconclusive
    numbers: str | None = None

    @property
    def second_p(self) -> float:
        """The claim's second null in Holm's family: 'not worse by more than the margin' for
        non-inferiority, equivalence for every other kind."""
        return self.p_inferior if self.claim.kind == "not_worse" else self.p_equivalence

    @property
    def direction(self) -> float:
        """What the verdict's direction is read from: a trend's tau, else the effect."""
        return self.tau if self.claim.kind == "trend" else self.effect.estimate

    def record(self) -> dict:
        """The claim's entry in claims.json, its keys in the order they have always had."""
        kind, out = self.claim.kind, self.claim.header()
        out["test"] = self.test
        if kind == "trend":
            out["tau"] = self.tau
        out["p_value"] = self.p_value
        if kind == "trend":
            out.update(means=self.means, shape=self.shape)
        elif kind == "each":
            out.update(binding=self.binding, comparisons=self.comparisons)
        elif kind == "not_worse":
            out["p_inferior"] = self.p_inferior
        out.update(
            effect=self.effect.estimate,
            effect_ci=self.effect_ci,
            se_seed=self.effect.se_seed,
            se_image=self.effect.se_image,
            df=self.effect.df,
            n_seeds=self.effect.n_seeds,
            p_equivalence=self.p_equivalence,
            detectable=self.detectable,
            power=self.power,
            censored=self.censored,
            seeds=self.seeds,
        )
        beside = {
            "rate_dependence": self.rate_dependence,
            "learning_rates": self.learning_rates,
            "lr_scaled": self.lr_scaled,
            "lr_from": self.lr_from,
            "tuning": self.tuning,
        }
        out |= {k: v for k, v in beside.items() if v is not None}
        if self.alpha is not None:
            out.update(alpha=self.alpha, p_holm=self.p_holm)
            if kind == "not_worse":
                out.update(p_inferior_holm=self.p_second_holm, p_equivalence_holm=math.nan)
            else:
                out["p_equivalence_holm"] = self.p_second_holm
        if self.word is not None:
            out.update(verdict=self.word, numbers=self.numbers)
        return out


def shape(means: Sequence[float], names: Sequence[str], flat: float = 0.0) -> str:
    """The observed shape of a sequence of means, in words. Means that all lie within less than
    ``flat`` of each other stay flat; the default never says so, which keeps the claims' shapes
    apart from their smallest effects (a supported trend may move less than it)."""
    if any(math.isnan(m) for m in means):
        return "not observed"
    if max(means) - min(means) < flat:
        return "stays flat"
    turn = turning_point(means)
    if turn is not None:
        if means[turn] == max(means):
            return f"rises to a peak at {names[turn]}, then falls"
        return f"falls to a low at {names[turn]}, then rises"
    if means[-1] > means[0]:
        return "rises"
    if means[-1] < means[0]:
        return "falls"
    return "mixed"


def turning_point(means: Sequence[float]) -> int | None:
    """Where a sequence of means turns: an inner maximum, else an inner minimum (the first of
    either, as argmax finds it); None where both extremes lie at the ends."""
    peak, trough = int(np.argmax(means)), int(np.argmin(means))
    last = len(means) - 1
    if 0 < peak < last:
        return peak
    if 0 < trough < last:
        return trough
    return None


def _trend(ev: Evidence, claim: Claim) -> Verdict:
    """Jonckheere-Terpstra on the per-run values along the ordered variants, for the monotone
    shape the claim states; the end-to-end effect (last minus first) for equivalence."""
    groups = [[x for x in g if not math.isnan(x)] for g in ev.groups(claim)]
    if any(len(g) < 1 for g in groups) or sum(map(len, groups)) < len(groups) + 1:
        tau, p_rise = math.nan, math.nan
    else:
        tau, p_rise = jonckheere(groups)
    means = [float(np.mean(g)) if g else math.nan for g in groups]
    return Verdict(
        claim,
        test=f"Jonckheere-Terpstra trend over {len(claim.variants)} ordered variants "
        f"({sum(map(len, groups))} runs); equivalence on the last minus the first",
        effect=ev.effect(claim, claim.variants[0], claim.variants[-1]),
        p_value=math.nan if math.isnan(p_rise) else min(1.0, 2 * min(p_rise, 1 - p_rise)),
        tau=tau,
        means=means,
        shape=shape(means, [str(v) for v in claim.variants]),
    )


def _each(ev: Evidence, claim: Claim) -> Verdict:
    """The last variant against each of the others (an intersection-union test, Berger 1982):
    the claim holds only if every comparison does, so its p is the largest of theirs. Where
    a comparison points the wrong way, the strongest such one stands for the claim (it can
    contradict it); any comparison shown equivalent contradicts it too."""
    effects = ev.comparison_effects(claim)
    wrong = [e for e in effects if e[2].estimate * claim.direction <= 0]
    if wrong:
        a, b, effect = min(wrong, key=lambda e: e[2].p_value())
    else:
        a, b, effect = max(effects, key=lambda e: e[2].p_value())
    return Verdict(
        claim,
        test=f"intersection-union: {claim.variants[-1]} against each of "
        f"{len(claim.variants) - 1} others, the largest p; " + _test_name(claim, effect),
        effect=effect,
        p_value=effect.p_value(),
        p_equivalence=min(e.p_equivalence(claim.smallest_effect) for _, _, e in effects),
        binding=[a, b],
        comparisons=[_comparison(x, y, e, claim.smallest_effect) for x, y, e in effects],
    )


def _comparison(a: str, b: str, effect: Effect, margin: float) -> dict:
    low, high = effect.interval(CONFIDENCE)
    return {
        "a": a,
        "b": b,
        "effect": effect.estimate,
        "effect_ci": [low, high],
        "p_value": effect.p_value(),
        "p_equivalence": effect.p_equivalence(margin),
        "se_seed": effect.se_seed,
        "se_image": effect.se_image,
        "df": effect.df,
        "n_seeds": effect.n_seeds,
    }


def _over_seeds(effect: Effect, what: str) -> str:
    return f"t over seeds ({what}; {effect.n_seeds} seeds, {effect.df:.0f} df)"


def _recovery(ev: Evidence, claim: Claim) -> Verdict:
    """(C - B) - share x (A - B): over images on the test set, else over seeds."""
    ((_, _, effect),) = ev.comparison_effects(claim)
    what = f"recovery beyond {claim.share:g} of the loss"
    if claim.metric in IMAGE_METRICS:
        test = f"{what}; " + _test_name(claim, effect)
    else:
        test = _over_seeds(effect, what)
    return Verdict(claim, test=test, effect=effect, p_value=effect.p_value())


def _level(ev: Evidence, claim: Claim) -> Verdict:
    """One variant's runs against a fixed figure: a bound, not a difference, so there is no
    effect to show small (no equivalence test)."""
    ((_, _, effect),) = ev.comparison_effects(claim)
    return Verdict(
        claim,
        test=_over_seeds(effect, f"runs against {claim.level:g}"),
        effect=effect,
        p_value=effect.p_value(),
        p_equivalence=math.nan,
    )


def _interaction(ev: Evidence, claim: Claim) -> Verdict:
    """(B2 - A2) - (B1 - A1), paired by seed across the four variants."""
    ((_, _, effect),) = ev.comparison_effects(claim)
    test = _over_seeds(effect, "difference of differences")
    return Verdict(claim, test=test, effect=effect, p_value=effect.p_value())


def _not_worse(ev: Evidence, claim: Claim) -> Verdict:
    """Non-inferiority: its two one-sided tests at the margin take the difference and
    equivalence slots; shown inside the margin is shown not worse, so no equivalence rule."""
    effect = ev.effect(claim, *claim.variants)
    margin = claim.smallest_effect
    return Verdict(
        claim,
        test="non-inferiority, one-sided at the margin; " + _test_name(claim, effect),
        effect=effect,
        p_value=effect.p_noninferior(margin),
        p_equivalence=math.nan,
        p_inferior=effect.p_inferior(margin),
    )


def _pair(ev: Evidence, claim: Claim) -> Verdict:
    """Two variants, B - A, tested for a difference and for equivalence."""
    effect = ev.effect(claim, *claim.variants)
    return Verdict(claim, test=_test_name(claim, effect), effect=effect, p_value=effect.p_value())


# The test each kind of claim states (Claim.kind).
KIND_TESTS: Mapping[str, Callable[[Evidence, Claim], Verdict]] = {
    "trend": _trend,
    "each": _each,
    "recovery": _recovery,
    "level": _level,
    "interaction": _interaction,
    "not_worse": _not_worse,
    "pair": _pair,
}


def evaluate_claim(
    name: str, claim: Mapping | Claim, ev: Evidence, alpha: float, power: float = POWER
) -> Verdict:
    """One claim's effect, interval, raw p-values and detectable effect (no verdict yet: the
    verdict needs every claim's p-values for Holm's adjustment)."""
    if not isinstance(claim, Claim):
        claim = Claim.from_dict(name, claim, list(dict.fromkeys(ev.runs["variant"])))
    verdict = KIND_TESTS[claim.kind](ev, claim)
    effect = verdict.effect
    verdict.censored = _censored(ev, claim)
    if verdict.censored:
        verdict.p_equivalence = math.nan  # censored times understate the effect: never equivalent
    elif verdict.p_equivalence is None:
        verdict.p_equivalence = effect.p_equivalence(claim.smallest_effect)
    low, high = effect.interval(CONFIDENCE)
    verdict.effect_ci = [low, high]
    verdict.detectable = effect.detectable(alpha, power, sides=1 if claim.is_not_worse else 2)
    verdict.power = power
    verdict.seeds = ev.seeds_compared(claim)
    return verdict


def _test_name(claim: Claim, effect: Effect) -> str:
    if claim.metric in IMAGE_METRICS or claim.metric == "disagreements":
        return (
            f"two-way (seeds × images) variance, t on {effect.df:.0f} df, "
            f"{effect.n_seeds} paired seeds"
        )
    return f"t over seeds ({effect.n_seeds} runs per variant, {effect.df:.0f} df)"


def _censored(ev: Evidence, claim: Claim) -> dict[str, int]:
    if claim.metric not in TIME_TO_METRICS:
        return {}
    counts = {v: sum(not seen for _, seen in ev.values(claim, v).values()) for v in claim.variants}
    return {v: c for v, c in counts.items() if c}
