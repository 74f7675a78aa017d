"""Verdicts on the configured claims: each claim's metric per run, the test, and the numbers.

Reads runs.csv, the histories and the test predictions; writes claims.json and claims.md.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from .atomic import write_json, write_text
from .claims import CLAIM_METRICS, HISTORY_METRICS, TABLE_METRICS, VERDICTS, Claim
from .formatting import metric_diff, metric_value, pval
from .stats import CONFIDENCE, compare_pair, load_correct, t_interval


def epochs_to_val_acc(history: pd.DataFrame, threshold: float, chance: float = 0.1) -> float:
    """Epochs until validation accuracy first reaches ``threshold``, interpolated linearly
    between epochs (epoch 0 at chance level) so that seeds give continuous values. A run that
    never reaches it within its budget counts as one epoch past its last epoch."""
    epochs = [0.0, *history["epoch"].astype(float)]
    accs = [chance, *history["val_acc"].astype(float)]
    for i in range(1, len(epochs)):
        if accs[i] >= threshold:
            prev, cur = accs[i - 1], accs[i]
            frac = 1.0 if cur == prev else (threshold - prev) / (cur - prev)
            return epochs[i - 1] + min(max(frac, 0.0), 1.0) * (epochs[i] - epochs[i - 1])
    return epochs[-1] + 1.0


def val_acc_at_epoch(history: pd.DataFrame, epoch: int) -> float:
    rows = history[history["epoch"] == epoch]
    if rows.empty:
        raise ValueError(f"history has epochs 1..{int(history['epoch'].max())}; asked for {epoch}")
    return float(rows["val_acc"].iloc[0])


def val_loss_rise(history: pd.DataFrame) -> float:
    """Final validation loss minus its minimum: how far it turned up (0 if it never did)."""
    return float(history["val_loss"].iloc[-1] - history["val_loss"].min())


def run_metric(
    metric: str, run: Mapping, history: pd.DataFrame | None = None, claim: Claim | None = None
) -> float:
    """One run's value of a claim metric (``run`` is its runs.csv row)."""
    if metric in TABLE_METRICS:
        return float(run[metric])
    if history is None:
        raise ValueError(f"metric {metric!r} needs the run's history.csv")
    if metric == "epochs_to_val_acc":
        return epochs_to_val_acc(history, float(claim.threshold))
    if metric == "val_acc_at_epoch":
        return val_acc_at_epoch(history, int(claim.epoch))
    if metric == "val_loss_rise":
        return val_loss_rise(history)
    raise ValueError(f"unknown metric {metric!r}; valid: {list(CLAIM_METRICS)}")


def _verdict(p: float, effect: float, expect: str, alpha: float) -> str:
    if pd.isna(p) or pd.isna(effect) or p >= alpha or effect == 0:
        return "inconclusive"
    rising = effect > 0
    return "supported" if rising == (expect == "increase") else "contradicted"


def evaluate_claim(
    name: str,
    claim: Mapping | Claim,
    runs: pd.DataFrame,
    histories: Mapping | None = None,
    correct: Mapping | None = None,
) -> dict:
    """Verdict of one claim with the numbers behind it.

    Two variants: test accuracy by the exact McNemar test (pooled over seeds), any other metric
    by Welch's t-test over seeds. Three or more: Spearman's rank correlation between position in
    the list and the per-run values. ``disagreements``: images A gets right and B wrong in every
    seed. A significant effect in the expected direction is supported, in the other direction
    contradicted; anything not significant at ``alpha`` is inconclusive.
    """
    from scipy import stats

    if not isinstance(claim, Claim):
        claim = Claim.from_dict(name, claim, list(dict.fromkeys(runs["variant"])))
    metric, expect, names, alpha = claim.metric, claim.expect, list(claim.variants), claim.alpha
    histories = histories or {}
    result = claim.header()
    if metric == "disagreements":
        return {**result, **_disagreement_verdict(claim, names, correct)}

    values: dict[str, list[float]] = {}
    for variant in names:
        rows = runs[runs["variant"] == variant]
        values[variant] = [
            run_metric(metric, row, histories.get((variant, int(row["seed"]))), claim)
            for row in rows.to_dict("records")
        ]
    summary = {v: t_interval(x) for v, x in values.items()}
    result["values"] = {v: {**s, "per_seed": values[v]} for v, s in summary.items()}
    described = "; ".join(
        f"{v} {metric_value(metric, s['mean'])}"
        + (f" ± {metric_value(metric, s['std'])}" if not pd.isna(s["std"]) else "")
        for v, s in summary.items()
    )
    if metric in HISTORY_METRICS[:1]:
        censored = {v: sum(x > max(_epochs(histories, v)) for x in values[v]) for v in names}
        if any(censored.values()):
            described += "; never reached within the budget: " + ", ".join(
                f"{v} {c}/{len(values[v])} runs" for v, c in censored.items() if c
            )

    if len(names) == 2 and metric == "test_acc" and correct is not None:
        pair = compare_pair(correct, names[0], names[1])
        effect, p = pair["diff_mean"], pair["p_combined"]
        result.update(
            test=f"exact McNemar test, discordant pairs pooled over {len(pair['seeds'])} seed(s)",
            effect=effect,
            effect_ci=[pair["diff_ci_low"], pair["diff_ci_high"]],
            p_value=p,
            p_per_seed=pair["p_per_seed"],
            detail=f"{names[1]} right where {names[0]} wrong: {pair['b_only']}, "
            f"the reverse: {pair['a_only']}",
        )
    elif len(names) == 2:
        a, b = values[names[0]], values[names[1]]
        effect = summary[names[1]]["mean"] - summary[names[0]]["mean"]
        if min(len(a), len(b)) < 2:
            p, low, high = math.nan, math.nan, math.nan
            reason = "needs at least two seeds per variant"
        else:
            test = stats.ttest_ind(b, a, equal_var=False)
            p = float(test.pvalue)
            ci = test.confidence_interval(CONFIDENCE) if not pd.isna(p) else None
            low, high = (float(ci.low), float(ci.high)) if ci is not None else (math.nan,) * 2
            reason = "" if not pd.isna(p) else "no spread over seeds in either variant"
        result.update(
            test=f"Welch's t-test over seeds ({len(a)} vs {len(b)} runs)"
            + (f": {reason}" if reason else ""),
            effect=float(effect),
            effect_ci=[low, high],
            p_value=p,
        )
    else:
        x = [i for i, v in enumerate(names) for _ in values[v]]
        y = [value for v in names for value in values[v]]
        if len(set(y)) < 2 or len(y) < 3:
            rho, p = math.nan, math.nan
        else:
            test = stats.spearmanr(x, y)
            rho, p = float(test.statistic), float(test.pvalue)
        effect = rho
        result.update(
            test=f"Spearman rank correlation of {metric} with the position in the list "
            f"({len(y)} runs)",
            effect=effect,
            effect_ci=[math.nan, math.nan],
            p_value=p,
        )
    result["verdict"] = _verdict(result["p_value"], effect, expect, alpha)
    result["numbers"] = _numbers(result, described)
    return result


def _epochs(histories: Mapping, variant: str) -> list[int]:
    return [int(h["epoch"].max()) for (v, _), h in histories.items() if v == variant] or [0]


def _numbers(result: dict, described: str) -> str:
    metric = result["metric"]
    parts = [f"{metric}: {described}"]
    low, high = result.get("effect_ci", [math.nan, math.nan])
    if len(result["variants"]) == 2:
        diff = f"difference {metric_diff(metric, result['effect'])}"
        if not pd.isna(low):
            bounds = f"{metric_diff(metric, low)} to {metric_diff(metric, high)}"
            diff += f" ({CONFIDENCE:.0%} CI {bounds})"
        parts.append(diff)
    else:
        parts.append(
            f"Spearman rho {result['effect']:+.2f}"
            if not pd.isna(result["effect"])
            else "Spearman rho n/a (no variation)"
        )
    parts.append(
        f"p = {pval(result['p_value'], 'n/a')} ({result['test']}), alpha {result['alpha']:g}"
    )
    if "detail" in result:
        parts.append(result["detail"])
    return "; ".join(parts)


def _disagreement_verdict(claim: Claim, names: list[str], correct: Mapping | None) -> dict:
    if correct is None:
        raise ValueError("metric 'disagreements' needs the runs' test predictions")
    a, b = names
    seeds = sorted({s for v, s in correct if v == a} & {s for v, s in correct if v == b})
    if not seeds:
        raise ValueError(f"no seed has predictions for both {a!r} and {b!r}")
    a_right_b_wrong = [correct[(a, s)] & ~correct[(b, s)] for s in seeds]
    b_right_a_wrong = [~correct[(a, s)] & correct[(b, s)] for s in seeds]
    consistent = np.logical_and.reduce(a_right_b_wrong)
    reverse = np.logical_and.reduce(b_right_a_wrong)
    count = int(consistent.sum())
    min_count = claim.min_count
    verdict = "supported" if count >= min_count else "contradicted"
    per_seed = [int(x.sum()) for x in a_right_b_wrong]
    numbers = (
        f"{count} test images {a} gets right and {b} gets wrong in all {len(seeds)} seed(s) "
        f"(needed: {min_count}); per seed {per_seed}; the reverse in all seeds: "
        f"{int(reverse.sum())}"
    )
    return {
        "test": f"count of images {a} right and {b} wrong in every seed, against {min_count}",
        "effect": float(count),
        "effect_ci": [math.nan, math.nan],
        "p_value": math.nan,
        "per_seed": per_seed,
        "reverse": int(reverse.sum()),
        "indices": [int(i) for i in np.flatnonzero(consistent)],
        "verdict": verdict,
        "numbers": numbers,
    }


def evaluate_claims(
    claims: Mapping, runs: pd.DataFrame, histories: Mapping, correct: Mapping
) -> list[dict]:
    """Every claim of ``claims`` ({name: config entry}) judged on these runs."""
    return [evaluate_claim(n, c, runs, histories, correct) for n, c in claims.items()]


def claims_markdown(results: Sequence[dict]) -> str:
    """One line per claim: the verdict, the statement and its numbers (for notes and logs)."""
    counts = Counter(r["verdict"] for r in results)
    lines = [
        "# Claims",
        "",
        ", ".join(f"{counts.get(v, 0)} {v}" for v in VERDICTS),
        "",
    ]
    for r in results:
        lines.append(f"- **{r['verdict']}**: {r['statement']} ({r['name']}). {r['numbers']}")
    return "\n".join(lines) + "\n"


def _read_histories(run_keys, history_paths) -> dict:
    return {(v, int(s)): pd.read_csv(p) for (v, s), p in zip(run_keys, history_paths, strict=True)}


def write_claims(runs_csv, run_keys, history_paths, prediction_paths, claims, json_out, md_out):
    """Rule claims: one verdict per configured claim, as JSON and as a Markdown list."""
    runs = pd.read_csv(runs_csv)
    histories = _read_histories(run_keys, history_paths)
    correct = load_correct(run_keys, prediction_paths)
    results = evaluate_claims(claims or {}, runs, histories, correct)
    write_json(json_out, results)
    write_text(md_out, claims_markdown(results))
