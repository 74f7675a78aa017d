"""Statistics over seeds and paired tests between variants on the same test images.

Per-variant intervals (results/analysis/variants.csv) and every in-study pair (pairs.csv).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from itertools import combinations

import numpy as np
import pandas as pd

from .atomic import write_csv
from .claims import TABLE_METRICS

CONFIDENCE = 0.95


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


def write_statistics(runs_csv, run_keys, prediction_paths, studies, variants_out, pairs_out):
    """Rule statistics: per-variant intervals and the paired tests inside every study."""
    runs = pd.read_csv(runs_csv)
    write_csv(variants_out, variant_stats(runs))
    correct = load_correct(run_keys, prediction_paths)
    write_csv(pairs_out, study_pairs(studies, correct))
