"""Verdicts on the configured claims: each claim's effect with both sources of variance, the
test chosen in advance for the shape it states, and one rule over all claims (Holm, TOST).

Reads runs.csv, the histories and the integer predictions; writes claims.json and claims.md.
"""

from __future__ import annotations

import json
import math
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from mnist_study.atomic import write_json, write_text
from mnist_study.evidence.claim_effects import Evidence
from mnist_study.evidence.claims import VERDICTS, Claim, base_variant, is_best
from mnist_study.evidence.effects import POWER, Effect, holm, jonckheere, least_seeds, verdict
from mnist_study.evidence.lr_evidence import (
    learning_rates,
    learning_rates_text,
    rate_dependence,
    rate_dependence_text,
    scaled_rates,
    tuning_record,
)
from mnist_study.evidence.stats import CONFIDENCE, load_all_correct
from mnist_study.formatting import metric_diff, metric_size, metric_value, pval
from mnist_study.metrics import IMAGE_METRICS, TIME_TO_METRICS
from mnist_study.runrecord import read_choices

RULE = (
    "Every claim has a smallest effect of interest, fixed in config.yaml before any run. Its "
    "effect is tested for a difference from zero and, against that smallest effect, for "
    "equivalence (two one-sided tests); Holm's method adjusts all these p-values together "
    "(with Shaffer's refinement: a claim's two null hypotheses cannot both be true), so the "
    "chance of any false verdict in the whole report stays below α. Supported: a "
    "difference in the expected direction. Contradicted: a difference in the other direction, "
    "or an effect shown to be smaller than the smallest effect of interest. Inconclusive: "
    "neither; the design could have detected an effect of the size shown (at the power the "
    "seeds were planned for). A claim of several comparisons (the last variant against each "
    "of the others) holds only if every comparison does: its p is the largest of theirs (an "
    "intersection-union test), and any comparison shown equivalent contradicts it. A claim of a "
    "level (one variant's runs against a fixed figure) is tested over seeds and has no "
    "equivalence test: shown above the level it is supported, shown below it contradicted. An "
    "interaction (how much more one change moves a metric under one condition than under "
    "another) is a difference of differences, paired by seed across its four variants. A "
    "recovery (how much of what a change B loses against a reference A a remedy C wins back) "
    "tests (C − B) − share × (A − B), paired by seed, and by image on the test set. A run "
    "that never reaches a threshold within its budget counts at the budget, a lower bound on "
    "its time: a claim with such runs is never shown equivalent. A claim that one variant is "
    "not worse than another (non-inferiority) states B − A > −(smallest effect): its two "
    "one-sided tests, 'worse by that margin or more' and 'not worse by more than it', join "
    "Holm's adjustment in place of the difference and equivalence tests; supported when the "
    "first is rejected, contradicted when the second is, so an effect shown inside the margin "
    "supports it. A claim repeated with each side at its own best learning rate (chosen on "
    "validation, on seeds of its own) stands beside the same claim at fixed rates: whether the "
    "verdict depends on the rate is judged by the difference of the two effects, paired by "
    "seed, tested against zero and for equivalence within the smallest effect (Holm over these "
    "differences, a family of their own), never by comparing the two verdicts."
)


def _trend(ev: Evidence, claim: Claim) -> dict:
    """Jonckheere-Terpstra on the per-run values along the ordered variants, for the monotone
    shape the claim states; the end-to-end effect (last minus first) for equivalence."""
    groups = [[x for x in g if not math.isnan(x)] for g in ev.groups(claim)]
    if any(len(g) < 1 for g in groups) or sum(map(len, groups)) < len(groups) + 1:
        tau, p_rise = math.nan, math.nan
    else:
        tau, p_rise = jonckheere(groups)
    p = math.nan if math.isnan(p_rise) else min(1.0, 2 * min(p_rise, 1 - p_rise))
    means = [float(np.mean(g)) if g else math.nan for g in groups]
    return {
        "runs": sum(map(len, groups)),
        "tau": tau,
        "p_trend": p,
        "means": means,
        "shape": shape(means, [str(v) for v in claim.variants]),
        "end_to_end": ev.effect(claim, claim.variants[0], claim.variants[-1]),
    }


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


def _each(ev: Evidence, claim: Claim) -> dict:
    """The last variant against each of the others (an intersection-union test, Berger 1982):
    the claim holds only if every comparison does, so its p is the largest of theirs. Where
    a comparison points the wrong way, the strongest such one stands for the claim (it can
    contradict it); any comparison shown equivalent contradicts it too."""
    effects = ev.comparison_effects(claim)
    wrong = [e for e in effects if e[2].estimate * claim.direction <= 0]
    if wrong:
        binding = min(wrong, key=lambda e: e[2].p_value())
    else:
        binding = max(effects, key=lambda e: e[2].p_value())
    return {
        "effects": effects,
        "binding": binding,
        "p_equivalence": min(e.p_equivalence(claim.smallest_effect) for _, _, e in effects),
    }


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


def evaluate_claim(
    name: str, claim: Mapping | Claim, ev: Evidence, alpha: float, power: float = POWER
) -> dict:
    """One claim's effect, interval, raw p-values and detectable effect (no verdict yet: the
    verdict needs every claim's p-values for Holm's adjustment)."""
    if not isinstance(claim, Claim):
        claim = Claim.from_dict(name, claim, list(dict.fromkeys(ev.runs["variant"])))
    result = claim.header()
    p_equivalence = None
    if claim.is_trend:
        trend = _trend(ev, claim)
        effect = trend["end_to_end"]
        result.update(
            test=f"Jonckheere-Terpstra trend over {len(claim.variants)} ordered variants "
            f"({trend['runs']} runs); equivalence on the last minus the first",
            tau=trend["tau"],
            p_value=trend["p_trend"],
            means=trend["means"],
            shape=trend["shape"],
        )
    elif claim.is_each:
        each = _each(ev, claim)
        a, b, effect = each["binding"]
        p_equivalence = each["p_equivalence"]
        result.update(
            test=f"intersection-union: {claim.variants[-1]} against each of "
            f"{len(claim.variants) - 1} others, the largest p; " + _test_name(claim, effect),
            p_value=effect.p_value(),
            binding=[a, b],
            comparisons=[
                _comparison(x, y, e, claim.smallest_effect) for x, y, e in each["effects"]
            ],
        )
    elif claim.is_recovery and claim.metric in IMAGE_METRICS:
        ((_, _, effect),) = ev.comparison_effects(claim)
        result.update(
            test=f"recovery beyond {claim.share:g} of the loss; " + _test_name(claim, effect),
            p_value=effect.p_value(),
        )
    elif claim.is_level or claim.is_interaction or claim.is_recovery:
        ((_, _, effect),) = ev.comparison_effects(claim)
        what = (
            f"runs against {claim.level:g}"
            if claim.is_level
            else "difference of differences"
            if claim.is_interaction
            else f"recovery beyond {claim.share:g} of the loss"
        )
        result.update(
            test=f"t over seeds ({what}; {effect.n_seeds} seeds, {effect.df:.0f} df)",
            p_value=effect.p_value(),
        )
        if claim.is_level:
            p_equivalence = math.nan  # a level is a bound, not a difference: none to be small
    elif claim.is_not_worse:
        effect = ev.effect(claim, *claim.variants)
        margin = claim.smallest_effect
        result.update(
            test="non-inferiority, one-sided at the margin; " + _test_name(claim, effect),
            p_value=effect.p_noninferior(margin),
            p_inferior=effect.p_inferior(margin),
        )
        p_equivalence = math.nan  # shown inside the margin is shown not worse: no second rule
    else:
        effect = ev.effect(claim, *claim.variants)
        result.update(test=_test_name(claim, effect), p_value=effect.p_value())
    censored = _censored(ev, claim)
    if censored:
        p_equivalence = math.nan  # censored times understate the effect: never equivalent
    low, high = effect.interval(CONFIDENCE)
    result.update(
        effect=effect.estimate,
        effect_ci=[low, high],
        se_seed=effect.se_seed,
        se_image=effect.se_image,
        df=effect.df,
        n_seeds=effect.n_seeds,
        p_equivalence=(
            effect.p_equivalence(claim.smallest_effect) if p_equivalence is None else p_equivalence
        ),
        detectable=effect.detectable(alpha, power, sides=1 if claim.is_not_worse else 2),
        power=power,
        censored=censored,
        seeds=ev.seeds_compared(claim),
    )
    return result


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


def evaluate_claims(
    claims: Mapping,
    runs: pd.DataFrame,
    histories: Mapping,
    correct: Mapping,
    alpha: float,
    power: float = POWER,
    choices: Mapping[str, Mapping] | None = None,
    lr_sources: Mapping[str, str] | None = None,
) -> list[dict]:
    """Every claim judged by one rule: Holm over the difference and equivalence p-values of
    all claims together, then supported / contradicted / inconclusive (see RULE). ``choices``:
    the tuned variants' lr choices (mnist_study.engine.tuning), recorded beside the claims
    using them; ``lr_sources``: variant -> the tuned variant whose choice it trains at (lr_from)."""
    ev = Evidence(runs, histories, correct)
    names = list(dict.fromkeys(runs["variant"]))
    checked = {
        n: c if isinstance(c, Claim) else Claim.from_dict(n, c, names) for n, c in claims.items()
    }
    results = [evaluate_claim(n, c, ev, alpha, power) for n, c in checked.items()]
    intervals = {r["name"]: r["effect_ci"] for r in results}
    dependence = rate_dependence(ev, checked, intervals, alpha)
    for r in results:
        if r["name"] in dependence:
            r["rate_dependence"] = dependence[r["name"]]
        r["learning_rates"] = learning_rates(runs, r["variants"])
        if scaled := scaled_rates(runs, r["variants"]):
            r["lr_scaled"] = scaled
        sides = {base_variant(v) for v in r["variants"]}
        borrowed = {v: s for v, s in (lr_sources or {}).items() if v in sides}
        if borrowed:
            r["lr_from"] = dict(sorted(borrowed.items()))
        tuned = (sides | set(borrowed.values())) & set(choices or {})
        if tuned:
            r["tuning"] = {v: tuning_record(choices[v]) for v in sorted(tuned)}
    # A claim's difference and equivalence nulls cannot both hold: at most one true null per
    # claim (Shaffer's refinement of Holm).
    # A non-inferiority claim's second null ('not worse by more than the margin') takes the
    # equivalence slot: again at most one of the two holds.
    second = [r.get("p_inferior", r["p_equivalence"]) for r in results]
    adjusted = holm([r["p_value"] for r in results] + second, max_true=len(results))
    for i, r in enumerate(results):
        r["alpha"] = alpha
        r["p_holm"], p_second = adjusted[i], adjusted[len(results) + i]
        if "p_inferior" in r:
            r["p_inferior_holm"], r["p_equivalence_holm"] = p_second, math.nan
        else:
            r["p_equivalence_holm"] = p_second
        direction = r["tau"] if "tau" in r else r["effect"]
        expect = "increase" if r["expect"] == "present" else r["expect"]
        r["verdict"] = verdict(direction, r["p_holm"], p_second, expect, alpha)
        r["numbers"] = numbers(r)
    return results


def numbers(r: Mapping) -> str:
    """The evidence behind a verdict in one line (claims.md and the report)."""
    metric = r["metric"]
    low, high = r["effect_ci"]
    first, last = r["variants"][0], r["variants"][-1]
    parts = []
    if "tau" in r:
        parts.append(f"trend τ = {r['tau']:+.2f}" if not math.isnan(r["tau"]) else "trend τ n/a")
        parts.append(f"observed shape: {r['shape']}")
    if r.get("comparisons"):
        parts.append(
            "each comparison: "
            + "; ".join(
                f"{c['b']} − {c['a']} {metric_diff(metric, c['effect'])} (p = {pval(c['p_value'])})"
                for c in r["comparisons"]
            )
        )
        first, last = r["binding"]
    if r.get("compare") == "interaction":
        a1, b1, a2, b2 = r["variants"]
        first, last = f"({b1} − {a1})", f"({b2} − {a2})"
    elif r.get("compare") == "recovery":
        a, b, c = r["variants"]
        first, last = f"{r['share']:g} × ({a} − {b})", f"({c} − {b})"
    elif r.get("compare") == "level":
        first = metric_value(metric, r["level"])
    effect = f"{last} − {first} {metric_diff(metric, r['effect'])}"
    if r.get("comparisons"):
        effect = f"deciding comparison {effect}"
    if not math.isnan(low):
        effect += (
            f" ({CONFIDENCE:.0%} CI {metric_diff(metric, low)} to {metric_diff(metric, high)})"
        )
    parts.append(effect)
    if "p_inferior" in r:
        parts.append(f"margin −{metric_size(metric, r['smallest_effect'])}")
        parts.append(
            f"non-inferiority p = {pval(r['p_value'], 'n/a')} (Holm {pval(r['p_holm'], 'n/a')}); "
            f"inferiority p = {pval(r['p_inferior'], 'n/a')} "
            f"(Holm {pval(r['p_inferior_holm'], 'n/a')})"
        )
    else:
        parts.append(f"smallest effect of interest ±{metric_size(metric, r['smallest_effect'])}")
        parts.append(
            f"p = {pval(r['p_value'], 'n/a')} (Holm {pval(r['p_holm'], 'n/a')}); equivalence p = "
            f"{pval(r['p_equivalence'], 'n/a')} (Holm {pval(r['p_equivalence_holm'], 'n/a')})"
        )
    if r["verdict"] == "inconclusive" and math.isnan(r["detectable"]):
        parts.append(
            f"no spread to judge it by: it needs at least {least_seeds(metric)} seeds per variant"
        )
    elif r["verdict"] == "inconclusive":
        parts.append(
            f"detectable with {r.get('power', POWER):.0%} power: "
            f"±{metric_size(metric, r['detectable'])}"
        )
    if r.get("censored"):
        parts.append(
            "never reached within the budget (censored): "
            + ", ".join(f"{v} {c} runs" for v, c in r["censored"].items())
        )
    parts.append(r["test"])
    if r.get("learning_rates"):
        parts.append(learning_rates_text(r))
    if r.get("rate_dependence"):
        parts.append(rate_dependence_text(r))
    return "; ".join(parts)


def claims_markdown(results: Sequence[dict]) -> str:
    """One line per claim: the verdict, the statement and its numbers (for notes and logs)."""
    counts = Counter(r["verdict"] for r in results)
    lines = [
        "# Claims",
        "",
        ", ".join(f"{counts.get(v, 0)} {v}" for v in VERDICTS),
        "",
        RULE.replace("α", f"α = {results[0]['alpha']:g}") if results else RULE,
        "",
    ]
    for r in results:
        lines.append(f"- **{r['verdict']}**: {r['statement']} ({r['name']}). {r['numbers']}")
    return "\n".join(lines) + "\n"


def compare_verdicts(first: Sequence[dict], second: Sequence[dict]) -> tuple[str, bool]:
    """Two studies' claims side by side: (a Markdown table, whether every verdict agrees)."""
    other = {r["name"]: r for r in second}
    lines = ["| claim | first | second | agree |", "| --- | --- | --- | --- |"]
    agree = True
    for r in first:
        twin = other.get(r["name"], {}).get("verdict", "missing")
        same = twin == r["verdict"]
        agree &= same
        lines.append(f"| {r['name']} | {r['verdict']} | {twin} | {'yes' if same else 'NO'} |")
    return "\n".join(lines) + "\n", agree


def main(argv: Sequence[str]) -> int:
    """python -m mnist_study.evidence.verdicts FIRST/claims.json SECOND/claims.json: exit 1 when any
    verdict differs."""
    if len(argv) != 2:
        print(main.__doc__, file=sys.stderr)
        return 2
    first, second = (json.loads(Path(p).read_text(encoding="utf-8")) for p in argv)
    table, agree = compare_verdicts(first, second)
    print(table + ("Every verdict agrees." if agree else "Some verdicts differ."))
    return 0 if agree else 1


def names_best(claims: Mapping) -> bool:
    """Whether any claim reads a best-epoch checkpoint (a variant named ``v@best``)."""
    return any(is_best(v) for c in claims.values() for v in c["variants"])


def _read_histories(run_keys, history_paths) -> dict:
    return {(v, int(s)): pd.read_csv(p) for (v, s), p in zip(run_keys, history_paths, strict=True)}


def write_claims(
    runs_csv,
    run_keys,
    history_paths,
    prediction_paths,
    claims,
    alpha,
    json_out,
    md_out,
    power: float = POWER,
    choice_paths: Mapping[str, str] | None = None,
    lr_sources: Mapping[str, str] | None = None,
):
    """Rule claims: one verdict per configured claim, as JSON and as a Markdown list;
    ``choice_paths``: each tuned variant's choice.json; ``lr_sources``: see evaluate_claims."""
    runs = pd.read_csv(runs_csv)
    histories = _read_histories(run_keys, history_paths)
    correct = load_all_correct(run_keys, prediction_paths, names_best(claims or {}))
    paths = choice_paths or {}
    choices = read_choices(list(paths), list(paths.values()))
    results = evaluate_claims(
        claims or {}, runs, histories, correct, alpha, power, choices, lr_sources
    )
    write_json(json_out, results)
    write_text(md_out, claims_markdown(results))


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
