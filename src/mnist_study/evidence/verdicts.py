"""Verdicts on the configured claims: each claim's effect with both sources of variance, the
test chosen in advance for the shape it states, and one rule over all claims (Holm, TOST).

Reads runs.csv, the histories and the integer predictions; writes claims.json and claims.md.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence

import pandas as pd

from mnist_study.atomic import write_json, write_text
from mnist_study.evidence.claim_effects import Evidence
from mnist_study.evidence.claim_tests import Verdict, evaluate_claim
from mnist_study.evidence.claim_tests import shape as shape  # the report reads it here
from mnist_study.evidence.claim_tests import turning_point as turning_point
from mnist_study.evidence.claims import VERDICTS, Claim, base_variant, is_best
from mnist_study.evidence.effects import POWER, holm, least_seeds
from mnist_study.evidence.effects import verdict as _verdict
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
    judged = [evaluate_claim(n, c, ev, alpha, power) for n, c in checked.items()]
    intervals = {v.claim.name: v.effect_ci for v in judged}
    dependence = rate_dependence(ev, checked, intervals, alpha)
    for verdict in judged:
        _beside(verdict, runs, dependence, choices or {}, lr_sources or {})
    # A claim's difference and equivalence nulls cannot both hold: at most one true null per
    # claim (Shaffer's refinement of Holm).
    # A non-inferiority claim's second null ('not worse by more than the margin') takes the
    # equivalence slot: again at most one of the two holds.
    firsts = [v.p_value for v in judged]
    adjusted = holm(firsts + [v.second_p for v in judged], max_true=len(judged))
    for i, verdict in enumerate(judged):
        verdict.alpha = alpha
        verdict.p_holm, verdict.p_second_holm = adjusted[i], adjusted[len(judged) + i]
        expect = "increase" if verdict.claim.expect == "present" else verdict.claim.expect
        verdict.word = _verdict(
            verdict.direction, verdict.p_holm, verdict.p_second_holm, expect, alpha
        )
        verdict.numbers = numbers(verdict)
    return [v.record() for v in judged]


def _beside(
    verdict: Verdict,
    runs: pd.DataFrame,
    dependence: Mapping[str, dict],
    choices: Mapping[str, Mapping],
    lr_sources: Mapping[str, str],
) -> None:
    """The learning rates a claim's variants trained at, where they came from, and whether
    its verdict depends on them (recorded beside the claim)."""
    variants = list(verdict.claim.variants)
    verdict.rate_dependence = dependence.get(verdict.claim.name)
    verdict.learning_rates = learning_rates(runs, variants)
    verdict.lr_scaled = scaled_rates(runs, variants) or None
    sides = {base_variant(v) for v in variants}
    borrowed = {v: s for v, s in lr_sources.items() if v in sides}
    verdict.lr_from = dict(sorted(borrowed.items())) if borrowed else None
    tuned = (sides | set(borrowed.values())) & set(choices)
    verdict.tuning = {v: tuning_record(choices[v]) for v in sorted(tuned)} if tuned else None


def numbers(verdict: Verdict) -> str:
    """The evidence behind a verdict in one line (claims.md and the report)."""
    claim = verdict.claim
    metric = claim.metric
    parts = []
    if claim.kind == "trend":
        tau = verdict.tau
        parts.append(f"trend τ = {tau:+.2f}" if not math.isnan(tau) else "trend τ n/a")
        parts.append(f"observed shape: {verdict.shape}")
    if claim.kind == "each":
        parts.append(
            "each comparison: "
            + "; ".join(
                f"{c['b']} − {c['a']} {metric_diff(metric, c['effect'])} (p = {pval(c['p_value'])})"
                for c in verdict.comparisons
            )
        )
    parts.append(_effect_text(verdict))
    parts.extend(_p_values_text(verdict))
    if verdict.word == "inconclusive" and math.isnan(verdict.detectable):
        parts.append(
            f"no spread to judge it by: it needs at least {least_seeds(metric)} seeds per variant"
        )
    elif verdict.word == "inconclusive":
        parts.append(
            f"detectable with {verdict.power:.0%} power: ±{metric_size(metric, verdict.detectable)}"
        )
    if verdict.censored:
        parts.append(
            "never reached within the budget (censored): "
            + ", ".join(f"{v} {c} runs" for v, c in verdict.censored.items())
        )
    parts.append(verdict.test)
    if verdict.learning_rates or verdict.rate_dependence:
        record = verdict.record()
        if verdict.learning_rates:
            parts.append(learning_rates_text(record))
        if verdict.rate_dependence:
            parts.append(rate_dependence_text(record))
    return "; ".join(parts)


def _effect_text(verdict: Verdict) -> str:
    """The effect as the claim's kind states it (last − first, a difference of differences,
    the remedy against its share, the variant against its level), with its interval."""
    claim, metric = verdict.claim, verdict.claim.metric
    first, last = claim.variants[0], claim.variants[-1]
    if claim.kind == "each":
        first, last = verdict.binding
    elif claim.kind == "interaction":
        a1, b1, a2, b2 = claim.variants
        first, last = f"({b1} − {a1})", f"({b2} − {a2})"
    elif claim.kind == "recovery":
        a, b, c = claim.variants
        first, last = f"{claim.share:g} × ({a} − {b})", f"({c} − {b})"
    elif claim.kind == "level":
        first = metric_value(metric, claim.level)
    effect = f"{last} − {first} {metric_diff(metric, verdict.effect.estimate)}"
    if claim.kind == "each":
        effect = f"deciding comparison {effect}"
    low, high = verdict.effect_ci
    if not math.isnan(low):
        effect += (
            f" ({CONFIDENCE:.0%} CI {metric_diff(metric, low)} to {metric_diff(metric, high)})"
        )
    return effect


def _p_values_text(verdict: Verdict) -> list[str]:
    """The margin or smallest effect, and the two tests' p-values raw and Holm-adjusted."""
    metric, size = verdict.claim.metric, verdict.claim.smallest_effect
    if verdict.claim.kind == "not_worse":
        return [
            f"margin −{metric_size(metric, size)}",
            f"non-inferiority p = {pval(verdict.p_value, 'n/a')} "
            f"(Holm {pval(verdict.p_holm, 'n/a')}); "
            f"inferiority p = {pval(verdict.p_inferior, 'n/a')} "
            f"(Holm {pval(verdict.p_second_holm, 'n/a')})",
        ]
    return [
        f"smallest effect of interest ±{metric_size(metric, size)}",
        f"p = {pval(verdict.p_value, 'n/a')} (Holm {pval(verdict.p_holm, 'n/a')}); equivalence p = "
        f"{pval(verdict.p_equivalence, 'n/a')} (Holm {pval(verdict.p_second_holm, 'n/a')})",
    ]


def claims_markdown(results: Sequence[dict]) -> str:
    """One line per claim: the verdict, the statement and its numbers (for notes and logs)."""
    counts = Counter(verdict["verdict"] for verdict in results)
    lines = [
        "# Claims",
        "",
        ", ".join(f"{counts.get(v, 0)} {v}" for v in VERDICTS),
        "",
        RULE.replace("α", f"α = {results[0]['alpha']:g}") if results else RULE,
        "",
    ]
    for verdict in results:
        word, statement, name = verdict["verdict"], verdict["statement"], verdict["name"]
        lines.append(f"- **{word}**: {statement} ({name}). {verdict['numbers']}")
    return "\n".join(lines) + "\n"


def names_best(claims: Mapping) -> bool:
    """Whether any claim reads a best-epoch checkpoint (a variant named ``v@best``)."""
    return any(is_best(v) for c in claims.values() for v in c["variants"])


def _read_histories(run_keys, history_paths) -> dict:
    return {(v, int(s)): pd.read_csv(p) for (v, s), p in zip(run_keys, history_paths, strict=True)}


def _reads_design(seeds: Mapping) -> bool:
    return any(s["source"] != "all seeds" for s in seeds.values())


def design_entry(design: Mapping | None, name: str, variants) -> dict:
    """A verdict's design: the design file and its sha256, whether the design covers the
    claim, its row there (label, seeds, forecasts) and its variants' seeds as run."""
    design = design or {}
    row = design.get("claims", {}).get(name)
    seeds = design.get("seeds", {})
    return {
        "file": design.get("file"),
        "sha256": design.get("sha256"),
        # None: the study reads no design (the pilot, make quick: every variant all seeds).
        "designed": row is not None if _reads_design(seeds) else None,
        **({"forecast": dict(row)} if row is not None else {}),
        "seeds": {v: seeds[b]["n"] for v in variants if (b := base_variant(v)) in seeds},
    }


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
    design: Mapping | None = None,
):
    """Rule claims: one verdict per configured claim, as JSON and as a Markdown list;
    ``choice_paths``: each tuned variant's choice.json; ``lr_sources``: see evaluate_claims;
    ``design``: seedplan.summary, whose file hash and row go beside each verdict."""
    runs = pd.read_csv(runs_csv)
    histories = _read_histories(run_keys, history_paths)
    correct = load_all_correct(run_keys, prediction_paths, names_best(claims or {}))
    paths = choice_paths or {}
    choices = read_choices(list(paths), list(paths.values()))
    results = evaluate_claims(
        claims or {}, runs, histories, correct, alpha, power, choices, lr_sources
    )
    test_set = next(iter(correct.values())).test_set if correct else None
    for result in results:
        result["design"] = design_entry(design, result["name"], result["variants"])
        # Which images every verdict was scored on: a replicate is judged on the same ones.
        result["test_set"] = test_set
    write_json(json_out, results)
    write_text(md_out, claims_markdown(results))
