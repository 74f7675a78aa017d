"""Statistics over seeds, paired tests between variants, claim verdicts and error analysis.

Reads run outputs and tables; writes the CSV and JSON files that the plots and report use.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from itertools import combinations

import numpy as np
import pandas as pd

from .atomic import write_csv, write_json, write_text

# Per-run metrics of results/tables/runs.csv summarised per variant.
RUN_METRICS = (
    "test_acc",
    "test_loss",
    "val_acc",
    "val_loss",
    "train_acc",
    "train_loss",
    "gap",
    "best_epoch",
    "epochs",
    "train_seconds",
)
# Claim metrics: runs.csv columns, values derived from history.csv, and paired predictions.
TABLE_METRICS = RUN_METRICS + ("params", "flops_per_sample")
HISTORY_METRICS = ("epochs_to_val_acc", "val_acc_at_epoch", "val_loss_rise")
PAIR_METRICS = ("disagreements",)
CLAIM_METRICS = TABLE_METRICS + HISTORY_METRICS + PAIR_METRICS
EXPECTATIONS = ("increase", "decrease", "present")
VERDICTS = ("supported", "contradicted", "inconclusive")
CONFIDENCE = 0.95
DEFAULT_ALPHA = 0.05


# ----------------------------------------------------------------------------- per variant


def t_interval(values: Iterable[float], confidence: float = CONFIDENCE) -> dict:
    """Mean, sample std and the Student-t interval of the mean (NaN bounds below two values)."""
    from scipy import stats

    x = np.asarray([v for v in values if not pd.isna(v)], dtype=float)
    n = len(x)
    mean = float(x.mean()) if n else math.nan
    std = float(x.std(ddof=1)) if n > 1 else math.nan
    if n > 1:
        half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * std / math.sqrt(n)
        low, high = mean - half, mean + half
    else:
        low = high = math.nan
    return {"n": n, "mean": mean, "std": std, "ci_low": low, "ci_high": high}


def variant_stats(runs: pd.DataFrame, metrics: Sequence[str] = TABLE_METRICS) -> pd.DataFrame:
    """Long table: one row per variant and metric with n, mean, std and the 95% t-interval."""
    missing = [m for m in ("variant", *metrics) if m not in runs.columns]
    if missing:
        raise ValueError(f"runs table lacks columns {missing}; has {list(runs.columns)}")
    rows = []
    for variant, group in runs.groupby("variant", sort=False):
        for metric in metrics:
            rows.append({"variant": variant, "metric": metric, **t_interval(group[metric])})
    return pd.DataFrame(
        rows, columns=["variant", "metric", "n", "mean", "std", "ci_low", "ci_high"]
    )


def stats_lookup(stats: pd.DataFrame) -> dict[tuple[str, str], dict]:
    """{(variant, metric): row} for quick access by the report and plots."""
    return {(r["variant"], r["metric"]): r for r in stats.to_dict("records")}


# ----------------------------------------------------------------------------- paired tests


def load_correct(run_keys, prediction_paths) -> dict[tuple[str, int], np.ndarray]:
    """{(variant, seed): bool per test image, True where the run's top class is the label}."""
    correct = {}
    for (variant, seed), path in zip(run_keys, prediction_paths, strict=True):
        with np.load(path) as data:
            probs, labels = data["probs"], data["labels"]
        if probs.ndim != 2 or len(probs) != len(labels):
            raise ValueError(
                f"{path}: probs {probs.shape} and labels {labels.shape} must be [N,C] and [N]"
            )
        correct[(variant, int(seed))] = probs.argmax(axis=1) == labels
    return correct


def mcnemar_exact(a_correct, b_correct) -> dict:
    """Exact McNemar test of two classifiers on the same images (two-sided binomial test on the
    discordant pairs). ``a_only``: images only A gets right; ``b_only``: only B."""
    from scipy.stats import binomtest

    a = np.asarray(a_correct, dtype=bool)
    b = np.asarray(b_correct, dtype=bool)
    if a.shape != b.shape:
        raise ValueError(f"McNemar needs paired predictions; got shapes {a.shape} and {b.shape}")
    a_only = int(np.sum(a & ~b))
    b_only = int(np.sum(~a & b))
    n = a_only + b_only
    # No discordant image: the data say nothing against equal accuracy.
    p = float(binomtest(b_only, n, 0.5).pvalue) if n else 1.0
    return {"a_only": a_only, "b_only": b_only, "n": int(a.size), "p": p}


def compare_pair(correct: Mapping, a: str, b: str, confidence: float = CONFIDENCE) -> dict:
    """McNemar per seed and combined, plus the accuracy difference B - A with its interval.

    The combined p-value is an exact McNemar test on the discordant counts pooled over seeds
    (sums of ``a_only`` and ``b_only``): exact under the null that, in every seed, a discordant
    image is as likely to favour either model. The difference interval is a Student-t interval
    over the per-seed differences; with one seed it is the paired Wald interval from the
    discordant counts (test-set sampling only), and ``diff_ci_method`` says which.
    """
    from scipy import stats
    from scipy.stats import binomtest

    seeds = sorted({s for v, s in correct if v == a} & {s for v, s in correct if v == b})
    if not seeds:
        raise ValueError(f"no seed has predictions for both {a!r} and {b!r}")
    per_seed = []
    for seed in seeds:
        test = mcnemar_exact(correct[(a, seed)], correct[(b, seed)])
        diff = (test["b_only"] - test["a_only"]) / test["n"]
        per_seed.append({"seed": seed, **test, "diff": diff})
    a_only = sum(r["a_only"] for r in per_seed)
    b_only = sum(r["b_only"] for r in per_seed)
    pooled = float(binomtest(b_only, a_only + b_only, 0.5).pvalue) if a_only + b_only else 1.0
    diffs = np.array([r["diff"] for r in per_seed])
    if len(seeds) > 1:
        interval = t_interval(diffs, confidence)
        low, high, method = interval["ci_low"], interval["ci_high"], f"t over {len(seeds)} seeds"
    else:
        r = per_seed[0]
        n = r["n"]
        var = (r["a_only"] + r["b_only"] - (r["b_only"] - r["a_only"]) ** 2 / n) / n**2
        half = float(stats.norm.ppf(0.5 + confidence / 2)) * math.sqrt(max(var, 0.0))
        low, high, method = diffs[0] - half, diffs[0] + half, "paired Wald (one seed)"
    return {
        "a": a,
        "b": b,
        "seeds": seeds,
        "a_only": a_only,
        "b_only": b_only,
        "p_per_seed": [r["p"] for r in per_seed],
        "p_combined": pooled,
        "combine_method": "exact McNemar on discordant pairs pooled over seeds",
        "diff_mean": float(diffs.mean()),
        "diff_ci_low": float(low),
        "diff_ci_high": float(high),
        "diff_ci_method": method,
    }


def study_pairs(studies: Mapping, correct: Mapping) -> pd.DataFrame:
    """Every pair of variants inside every study (in the study's factor order)."""
    rows = []
    for study, entry in studies.items():
        for a, b in combinations(entry["variants"], 2):
            result = compare_pair(correct, a, b)
            rows.append(
                {
                    "study": study,
                    "a": a,
                    "b": b,
                    "n_seeds": len(result["seeds"]),
                    "a_only": result["a_only"],
                    "b_only": result["b_only"],
                    "diff_mean": result["diff_mean"],
                    "diff_ci_low": result["diff_ci_low"],
                    "diff_ci_high": result["diff_ci_high"],
                    "diff_ci_method": result["diff_ci_method"],
                    "p_combined": result["p_combined"],
                    "p_per_seed": ";".join(f"{p:.3g}" for p in result["p_per_seed"]),
                }
            )
    columns = [
        "study",
        "a",
        "b",
        "n_seeds",
        "a_only",
        "b_only",
        "diff_mean",
        "diff_ci_low",
        "diff_ci_high",
        "diff_ci_method",
        "p_combined",
        "p_per_seed",
    ]
    return pd.DataFrame(rows, columns=columns)


# ----------------------------------------------------------------------------- run metrics


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
    metric: str, run: Mapping, history: pd.DataFrame | None = None, claim: Mapping | None = None
) -> float:
    """One run's value of a claim metric (``run`` is its runs.csv row)."""
    claim = claim or {}
    if metric in TABLE_METRICS:
        return float(run[metric])
    if history is None:
        raise ValueError(f"metric {metric!r} needs the run's history.csv")
    if metric == "epochs_to_val_acc":
        return epochs_to_val_acc(history, float(claim["threshold"]))
    if metric == "val_acc_at_epoch":
        return val_acc_at_epoch(history, int(claim["epoch"]))
    if metric == "val_loss_rise":
        return val_loss_rise(history)
    raise ValueError(f"unknown metric {metric!r}; valid: {list(CLAIM_METRICS)}")


# ----------------------------------------------------------------------------- claims


def check_claim(name: str, claim: Mapping, variants: Iterable[str]) -> None:
    """Raise ValueError naming the claim key at fault and what is valid."""
    where = f"claims.{name}"
    variants = list(variants)
    for key in ("statement", "metric", "variants", "expect"):
        if key not in claim:
            raise ValueError(f"{where}: missing key {key!r}")
    metric, expect, names = claim["metric"], claim["expect"], claim["variants"]
    if metric not in CLAIM_METRICS:
        raise ValueError(f"{where}.metric: {metric!r}; valid: {list(CLAIM_METRICS)}")
    if expect not in EXPECTATIONS:
        raise ValueError(f"{where}.expect: {expect!r}; valid: {list(EXPECTATIONS)}")
    if not isinstance(names, list) or len(names) < 2 or len(set(names)) != len(names):
        raise ValueError(f"{where}.variants: {names!r}; give at least two distinct variant names")
    unknown = [v for v in names if v not in variants]
    if unknown:
        raise ValueError(
            f"{where}.variants names {unknown}, which are not variants; valid: {variants}"
        )
    if (metric == "disagreements") != (expect == "present"):
        raise ValueError(
            f"{where}: metric 'disagreements' goes with expect 'present' and only with it; "
            f"got metric {metric!r}, expect {expect!r}"
        )
    if metric == "disagreements" and len(names) != 2:
        raise ValueError(f"{where}.variants: 'disagreements' compares exactly two variants")
    if metric == "epochs_to_val_acc" and not 0 < claim.get("threshold", -1) <= 1:
        raise ValueError(f"{where}.threshold: {claim.get('threshold')!r}; need a number in (0, 1]")
    if metric == "val_acc_at_epoch" and not (
        isinstance(claim.get("epoch"), int) and claim["epoch"] >= 1
    ):
        raise ValueError(f"{where}.epoch: {claim.get('epoch')!r}; need an integer >= 1")
    alpha = claim.get("alpha", DEFAULT_ALPHA)
    if not 0 < alpha < 1:
        raise ValueError(f"{where}.alpha: {alpha!r}; need a number in (0, 1)")


def _verdict(p: float, effect: float, expect: str, alpha: float) -> str:
    if pd.isna(p) or pd.isna(effect) or p >= alpha or effect == 0:
        return "inconclusive"
    rising = effect > 0
    return "supported" if rising == (expect == "increase") else "contradicted"


# Metrics that are fractions, shown as percentages and differences in percentage points.
FRACTION_METRICS = ("test_acc", "val_acc", "train_acc", "gap", "val_acc_at_epoch")


def _fmt(metric: str, value: float) -> str:
    if pd.isna(value):
        return "n/a"
    if metric in FRACTION_METRICS:
        return f"{100 * value:.2f}%"
    if metric in ("params", "flops_per_sample", "disagreements"):
        return f"{value:,.0f}"
    return f"{value:.3g}"


def _fmt_diff(metric: str, value: float) -> str:
    if pd.isna(value):
        return "n/a"
    if metric in FRACTION_METRICS:
        return f"{100 * value:+.2f} pp"
    return f"{value:+.3g}"


def _fmt_p(p: float) -> str:
    if pd.isna(p):
        return "n/a"
    return f"{p:.2g}" if p >= 1e-4 else f"{p:.1e}"


def evaluate_claim(
    name: str,
    claim: Mapping,
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

    check_claim(name, claim, list(dict.fromkeys(runs["variant"])))
    metric, expect, names = claim["metric"], claim["expect"], list(claim["variants"])
    alpha = float(claim.get("alpha", DEFAULT_ALPHA))
    histories = histories or {}
    result = {
        "name": name,
        "statement": claim["statement"],
        "metric": metric,
        "variants": names,
        "expect": expect,
        "alpha": alpha,
        **{k: claim[k] for k in ("threshold", "epoch", "min_count", "source") if k in claim},
    }
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
        f"{v} {_fmt(metric, s['mean'])}"
        + (f" ± {_fmt(metric, s['std'])}" if not pd.isna(s["std"]) else "")
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
        diff = f"difference {_fmt_diff(metric, result['effect'])}"
        if not pd.isna(low):
            diff += f" (95% CI {_fmt_diff(metric, low)} to {_fmt_diff(metric, high)})"
        parts.append(diff)
    else:
        parts.append(
            f"Spearman rho {result['effect']:+.2f}"
            if not pd.isna(result["effect"])
            else "Spearman rho n/a (no variation)"
        )
    parts.append(f"p = {_fmt_p(result['p_value'])} ({result['test']}), alpha {result['alpha']:g}")
    if "detail" in result:
        parts.append(result["detail"])
    return "; ".join(parts)


def _disagreement_verdict(claim: Mapping, names: list[str], correct: Mapping | None) -> dict:
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
    min_count = int(claim.get("min_count", 1))
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


# ----------------------------------------------------------------------------- errors


def error_analysis(
    tables: Mapping,
    labels: np.ndarray,
    pair: Sequence[str] | None = None,
    top: int = 40,
) -> dict:
    """Across models: hardest test digits, most confused label pairs, overlap of error sets.

    ``tables``: {(variant, seed): misclassified DataFrame (index, true, pred, ...)}.
    ``labels``: the true label of every test image (for per-class error rates).
    """
    labels = np.asarray(labels)
    n_test, n_runs = len(labels), len(tables)
    if not n_runs:
        raise ValueError("error_analysis needs at least one run's misclassified table")
    variants = list(dict.fromkeys(v for v, _ in tables))
    errors = {key: set(frame["index"].astype(int)) for key, frame in tables.items()}
    wrong_runs = np.zeros(n_test, dtype=int)
    wrong_preds: dict[int, Counter] = {}
    pairs = Counter()
    for frame in tables.values():
        idx = frame["index"].to_numpy(int)
        if len(idx) and (idx.max() >= n_test or idx.min() < 0):
            raise ValueError(f"misclassified index outside the {n_test} test images")
        wrong_runs[idx] += 1
        for i, t, p in zip(idx, frame["true"].astype(int), frame["pred"].astype(int), strict=True):
            wrong_preds.setdefault(int(i), Counter())[p] += 1
            pairs[(t, p)] += 1

    seeds_of = {v: sorted(s for w, s in tables if w == v) for v in variants}
    # A variant gets an image "wrong" when most of its seeds do.
    wrong_variants = np.zeros(n_test, dtype=int)
    for v in variants:
        votes = np.zeros(n_test, dtype=int)
        for s in seeds_of[v]:
            votes[list(errors[(v, s)])] += 1
        wrong_variants += votes * 2 > len(seeds_of[v])
    order = np.lexsort((np.arange(n_test), -wrong_variants, -wrong_runs))
    hardest = [
        {
            "index": int(i),
            "true": int(labels[i]),
            "pred": int(wrong_preds[int(i)].most_common(1)[0][0]),
            "runs_wrong": int(wrong_runs[i]),
            "variants_wrong": int(wrong_variants[i]),
        }
        for i in order[:top]
        if wrong_runs[i] > 0
    ]
    class_counts = np.bincount(labels, minlength=10)
    class_wrong = np.zeros_like(class_counts)
    for (t, _), c in pairs.items():
        class_wrong[t] += c
    class_error = [
        float(class_wrong[c] / (class_counts[c] * n_runs)) if class_counts[c] else math.nan
        for c in range(len(class_counts))
    ]
    confused = [
        {"true": t, "pred": p, "count": c, "per_run": c / n_runs}
        for (t, p), c in sorted(pairs.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    ]
    matrix = [[_mean_jaccard(errors, seeds_of, a, b) for b in variants] for a in variants]
    result = {
        "n_test": n_test,
        "n_runs": n_runs,
        "variants": variants,
        "error_rate": {
            v: float(np.mean([len(errors[(v, s)]) for s in seeds_of[v]]) / n_test) for v in variants
        },
        "all_wrong": int(np.sum(wrong_runs == n_runs)),
        "never_wrong": int(np.sum(wrong_runs == 0)),
        "hardest": hardest,
        "class_error": class_error,
        "confused_pairs": confused,
        "jaccard": {"variants": variants, "matrix": matrix},
    }
    if pair is not None:
        result["pair"] = _pair_overlap(tables, errors, seeds_of, *pair)
    return result


def jaccard(a: set, b: set) -> float:
    union = len(a | b)
    return len(a & b) / union if union else math.nan


def _mean_jaccard(errors, seeds_of, a: str, b: str) -> float:
    """Mean over matching seeds; on the diagonal, over pairs of different seeds (how stable a
    variant's errors are across seeds; NaN with one seed)."""
    if a == b:
        values = [jaccard(errors[(a, s)], errors[(a, t)]) for s, t in combinations(seeds_of[a], 2)]
    else:
        common = sorted(set(seeds_of[a]) & set(seeds_of[b]))
        values = [jaccard(errors[(a, s)], errors[(b, s)]) for s in common]
    values = [v for v in values if not pd.isna(v)]
    return float(np.mean(values)) if values else math.nan


def _pair_overlap(tables, errors, seeds_of, a: str, b: str) -> dict:
    for v in (a, b):
        if v not in seeds_of:
            raise ValueError(
                f"overlap pair names {v!r}, which has no runs; valid: {list(seeds_of)}"
            )
    common = sorted(set(seeds_of[a]) & set(seeds_of[b]))
    if not common:
        raise ValueError(f"no seed has misclassified tables for both {a!r} and {b!r}")
    per_seed = []
    for s in common:
        ea, eb = errors[(a, s)], errors[(b, s)]
        per_seed.append(
            {
                "seed": s,
                "both": len(ea & eb),
                "only_a": len(ea - eb),
                "only_b": len(eb - ea),
                "jaccard": jaccard(ea, eb),
            }
        )
    # Images B gets wrong in every seed while A gets them right in every seed.
    b_not_a = set.intersection(*(errors[(b, s)] - errors[(a, s)] for s in common))
    a_not_b = set.intersection(*(errors[(a, s)] - errors[(b, s)] for s in common))
    # B's own view of those images (first common seed), most confident mistakes first.
    frame = tables[(b, common[0])]
    detail = frame[frame["index"].isin(b_not_a)].sort_values("confidence", ascending=False)
    return {
        "a": a,
        "b": b,
        "seeds": common,
        "per_seed": per_seed,
        "jaccard": float(np.nanmean([r["jaccard"] for r in per_seed])),
        "b_wrong_a_right": sorted(int(i) for i in b_not_a),
        "a_wrong_b_right": sorted(int(i) for i in a_not_b),
        "b_wrong_a_right_detail": [
            {
                "index": int(r["index"]),
                "true": int(r["true"]),
                "pred": int(r["pred"]),
                "confidence": float(r["confidence"]),
            }
            for r in detail.to_dict("records")
        ],
    }


# ----------------------------------------------------------------------------- rule entry points


def _read_histories(run_keys, history_paths) -> dict:
    return {(v, int(s)): pd.read_csv(p) for (v, s), p in zip(run_keys, history_paths, strict=True)}


def write_statistics(runs_csv, run_keys, prediction_paths, studies, variants_out, pairs_out):
    """Rule statistics: per-variant intervals and the paired tests inside every study."""
    runs = pd.read_csv(runs_csv)
    write_csv(variants_out, variant_stats(runs))
    correct = load_correct(run_keys, prediction_paths)
    write_csv(pairs_out, study_pairs(studies, correct))


def write_claims(runs_csv, run_keys, history_paths, prediction_paths, claims, json_out, md_out):
    """Rule claims: one verdict per configured claim, as JSON and as a Markdown list."""
    runs = pd.read_csv(runs_csv)
    histories = _read_histories(run_keys, history_paths)
    correct = load_correct(run_keys, prediction_paths)
    results = evaluate_claims(claims or {}, runs, histories, correct)
    write_json(json_out, _clean(results))
    write_text(md_out, claims_markdown(results))


def write_errors(run_keys, misclassified_paths, predictions_path, pair, json_out):
    """Rule errors: hardest digits, confused pairs and error-set overlap across every run."""
    tables = {
        (v, int(s)): pd.read_csv(p) for (v, s), p in zip(run_keys, misclassified_paths, strict=True)
    }
    with np.load(predictions_path) as data:
        labels = data["labels"]
    write_json(json_out, _clean(error_analysis(tables, labels, pair)))


def _clean(obj):
    """JSON has no NaN: write null instead, so browsers and strict parsers can read it."""
    if isinstance(obj, float):
        return None if math.isnan(obj) or math.isinf(obj) else obj
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.generic):
        return _clean(obj.item())
    return obj


def read_json(path) -> dict | list:
    with open(path, encoding="utf-8") as f:
        return json.load(f)
