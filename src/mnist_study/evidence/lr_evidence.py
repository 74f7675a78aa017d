"""What a claim's learning rates add to its verdict: each side's rate, the sweep behind a tuned
one, and whether the verdict depends on the rates (the tuned claim against its fixed-lr twin).

The dependence is judged by the difference of the two effects with its interval, as carry-over
judges two datasets, never by comparing the two verdicts (Gelman & Stern 2006).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import pandas as pd

from mnist_study.evidence.claim_effects import Evidence
from mnist_study.evidence.claims import Claim, base_variant
from mnist_study.evidence.effects import Effect, holm, two_way_effect
from mnist_study.evidence.stats import CONFIDENCE, common_paired_seeds, image_blocks
from mnist_study.formatting import metric_diff, pval
from mnist_study.metrics import IMAGE_METRICS

RATE_JUDGEMENTS = {
    "does not depend on the rate": "the two effects differ by less than the smallest effect",
    "same direction, different size": "both effects point the same way; their sizes differ",
    "depends on the rate": "the effects differ beyond chance, and not merely in size",
    "unresolved": "the difference is neither shown nor excluded",
}


def difference_of_effects(ev: Evidence, tuned: Claim, fixed: Claim) -> Effect:
    """The tuned claim's effect minus its fixed-lr twin's, paired by seed across the four
    variants (their runs share seeds, data order and test images): one interaction."""
    (a1, b1), (a2, b2) = fixed.variants, tuned.variants
    if tuned.metric in IMAGE_METRICS:
        seeds = common_paired_seeds(ev.correct, [(a1, b1), (a2, b2)])
        # The four variants are scored on the same test images: two_way_effect sums their
        # blocks per image before it takes any variance.
        fixed_blocks = image_blocks(ev.correct, a1, b1, tuned.metric, seeds)
        return two_way_effect(
            image_blocks(ev.correct, a2, b2, tuned.metric, seeds)
            + [block.scaled(-1.0) for block in fixed_blocks]
        )
    if tuned.metric == "disagreements":
        raise ValueError(f"claims.{tuned.name}: a fixed-lr twin needs a metric other than it")
    # (B2 - A2) - (B1 - A1), as an interaction over the four variants.
    return ev.seed_contrast(tuned, (a1, b1, a2, b2), (1.0, -1.0, -1.0, 1.0))


def rate_dependence(
    ev: Evidence, claims: Mapping[str, Claim], intervals: Mapping[str, Sequence], alpha: float
) -> dict[str, dict]:
    """Per tuned claim whose fixed-lr twin is in the study: the difference of the two effects
    with its interval, tested against zero and, for equivalence, against the claim's smallest
    effect; Holm over these rows together (their own family, as carry-over's). ``intervals``:
    each claim's own effect interval, already computed for its verdict."""
    rows = {}
    for claim in claims.values():
        fixed = claims.get(claim.fixed_lr_claim or "")
        if fixed is None:
            continue
        diff = difference_of_effects(ev, claim, fixed)
        low, high = diff.interval(CONFIDENCE)
        rows[claim.name] = {
            "fixed_lr_claim": fixed.name,
            "difference": diff.estimate,
            "difference_ci": [low, high],
            "se_seed": diff.se_seed,
            "se_image": diff.se_image,
            "df": diff.df,
            "p_difference": diff.p_value(),
            "p_equivalence": diff.p_equivalence(claim.smallest_effect),
        }
    adjusted = holm(
        [r["p_difference"] for r in rows.values()] + [r["p_equivalence"] for r in rows.values()],
        max_true=len(rows),
    )
    for i, (name, r) in enumerate(rows.items()):
        r["p_difference_holm"], r["p_equivalence_holm"] = adjusted[i], adjusted[len(rows) + i]
        r["judgement"] = rate_judgement(r, intervals[name], intervals[r["fixed_lr_claim"]], alpha)
    return rows


def rate_judgement(r: Mapping, tuned: Sequence, fixed: Sequence, alpha: float) -> str:
    """One label of RATE_JUDGEMENTS from the Holm-adjusted p-values of the difference and the
    two claims' own effect intervals."""
    if r["p_difference_holm"] < alpha:
        sides = {_side(tuned), _side(fixed)}
        return (
            "same direction, different size"
            if len(sides) == 1 and 0 not in sides
            else ("depends on the rate")
        )
    if r["p_equivalence_holm"] < alpha:
        return "does not depend on the rate"
    return "unresolved"


def _side(interval: Sequence) -> int:
    low, high = interval
    return 1 if low > 0 else -1 if high < 0 else 0


def learning_rates(runs: pd.DataFrame, variants: Sequence[str]) -> dict[str, float]:
    """The learning rate each variant's runs trained at (the schedule's peak), where runs.csv
    records it."""
    if "lr" not in runs.columns:
        return {}
    rates = {}
    for name in dict.fromkeys(base_variant(v) for v in variants):
        values = sorted(set(runs.loc[runs["variant"] == name, "lr"].astype(float)))
        if len(values) == 1:
            rates[name] = values[0]
    return rates


def scaled_rates(runs: pd.DataFrame, variants: Sequence[str]) -> dict[str, dict]:
    """Each side whose rate was scaled with its batch: the rate given, the batch, and the
    reference batch at which the two agree (lr = base x batch / reference)."""
    if not {"lr", "lr_base", "batch_size"} <= set(runs.columns):
        return {}
    scaled = {}
    for name in dict.fromkeys(base_variant(v) for v in variants):
        mine = runs.loc[runs["variant"] == name, ["lr", "lr_base", "batch_size"]].drop_duplicates()
        if len(mine) != 1:
            continue
        lr, base, batch = (float(x) for x in mine.iloc[0])
        if not math.isclose(lr, base):
            scaled[name] = {
                "base": base,
                "batch": int(batch),
                "reference": round(batch * base / lr),
            }
    return scaled


def tuning_record(choice: Mapping) -> dict:
    """What claims.json keeps of a sweep's choice: the lr, the sweep seeds, and the validation
    figure behind it (the chosen lr's and the best's), with every point of the sweep."""
    points = {p["lr"]: p for p in choice["points"]}
    return {
        "lr": choice["lr"],
        "best_lr": choice["best_lr"],
        "criterion": choice["criterion"],
        "sweep_seeds": list(choice["sweep_seeds"]),
        "figure": {k: points[choice["lr"]][k] for k in ("mean", "se", "runs", "censored")},
        "best_figure": {k: points[choice["best_lr"]][k] for k in ("mean", "se", "runs")},
        "points": list(choice["points"]),
        # The points a round added past the grid's end, where there are any.
        **({"extensions": list(choice["extensions"])} if choice.get("extensions") else {}),
    }


def learning_rates_text(verdict: Mapping) -> str:
    """Each side's learning rate: for one scaled with its batch the rate it was scaled from,
    for a tuned one how its sweep chose it, for one trained at another's choice whose
    (lr_from), and otherwise that it is fixed in config.yaml."""
    tuning, borrowed = verdict.get("tuning", {}), verdict.get("lr_from", {})
    sides = []
    for name, lr in verdict["learning_rates"].items():
        text = f"{name} {lr:g}"
        if scaled := verdict.get("lr_scaled", {}).get(name):
            source = f"{borrowed[name]}'s choice" if name in borrowed else "fixed"
            text += (
                f" ({source} {scaled['base']:g} × {scaled['batch']} / {scaled['reference']}, "
                f"scaled with the batch)"
            )
        elif name in tuning:
            t = tuning[name]
            seeds = t["sweep_seeds"]
            added = len(t.get("extensions", []))
            text += (
                f" (tuned: best {t['criterion']} over {len(t['points'])} rates"
                + (f", {added} of them added past the grid's end" if added else "")
                + f", sweep seeds {seeds[0]}–{seeds[-1]})"
            )
        elif name in borrowed:
            text += f" (from {borrowed[name]}'s choice)"
        else:
            text += " (fixed)"
        sides.append(text)
    return "learning rates: " + ", ".join(sides)


def rate_dependence_text(verdict: Mapping) -> str:
    d, metric = verdict["rate_dependence"], verdict["metric"]
    low, high = d["difference_ci"]
    interval = (
        ""
        if math.isnan(low)
        else f" ({CONFIDENCE:.0%} CI {metric_diff(metric, low)} to {metric_diff(metric, high)})"
    )
    return (
        f"against the same claim at fixed rates ({d['fixed_lr_claim']}): difference of the "
        f"effects {metric_diff(metric, d['difference'])}{interval}, p = "
        f"{pval(d['p_difference'], 'n/a')} (Holm {pval(d['p_difference_holm'], 'n/a')}), "
        f"equivalence p = {pval(d['p_equivalence'], 'n/a')} "
        f"(Holm {pval(d['p_equivalence_holm'], 'n/a')}): {d['judgement']}"
    )
