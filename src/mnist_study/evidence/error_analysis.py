"""Error analysis across models: the hardest test images, confused label pairs, and how much
the error sets of variants and seeds overlap."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from itertools import combinations

import numpy as np
import pandas as pd

from mnist_study.atomic import write_json


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


def write_errors(run_keys, misclassified_paths, predictions_path, pair, json_out):
    """Rule errors: hardest images, confused pairs and error-set overlap across every run."""
    tables = {
        (v, int(s)): pd.read_csv(p) for (v, s), p in zip(run_keys, misclassified_paths, strict=True)
    }
    with np.load(predictions_path) as data:
        labels = data["labels"]
    write_json(json_out, error_analysis(tables, labels, pair))
