"""Which findings carry over between two datasets: each claim's effect on both, judged by the
difference of the effects with its interval, never by comparing verdicts (Gelman & Stern 2006).

python -m mnist_study.record.crossdata FIRST SECOND [--names A B] [--out FILE] reads two studies'
results folders (results/analysis/claims.json, results/tables/summary.csv) and prints Markdown.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from mnist_study import StudyError
from mnist_study.atomic import write_text
from mnist_study.evidence.claims import record_kind
from mnist_study.evidence.effects import Effect, holm, image_set_id
from mnist_study.evidence.stats import CONFIDENCE
from mnist_study.formatting import metric_diff, metric_size, pm_pct, pp, pval

JUDGEMENTS = {
    "carries over": "the effects differ by less than the smallest effect of interest",
    "same direction, different size": "both effects point the same way; their sizes differ",
    "differs": "the effects differ beyond chance, and not merely in size",
    "unresolved": "the difference is neither shown nor excluded",
}
RULE = (
    "For each claim, the effect on the second dataset minus the effect on the first (for a "
    "trend claim, its last variant minus its first; for a claim of several comparisons, the "
    "comparison that decided it on the first dataset, on both), with the "
    "two studies' uncertainties added (independent runs and test sets; Welch-Satterthwaite "
    "degrees of freedom). The difference is tested against zero and, for equivalence, against "
    "the claim's smallest effect of interest; Holm's method adjusts all these p-values together "
    "(Shaffer's refinement, as for the claims). Differs: the difference is shown; if each "
    "dataset's own interval also excludes zero on the same side, the finding carries over in "
    "direction but not in size. Carries over: the difference is shown to be smaller than the "
    "smallest effect of interest. Unresolved: neither. Verdicts are never compared directly: "
    "'supported here, inconclusive there' is not itself a difference."
)


class CrossDataError(StudyError, ValueError):
    """A results folder lacks what the comparison needs; the message says what to run."""


def claim_effect(record: Mapping) -> Effect:
    """A claim's effect as the verdicts rule computed it (claims.json)."""
    if "df" not in record:
        raise CrossDataError(
            f"claim {record.get('name')!r} has no 'df': claims.json predates the cross-dataset "
            "view; rerun `make report` for that study (only the analysis reruns)"
        )
    return Effect(
        estimate=float(record["effect"]),
        se_seed=float(record["se_seed"]),
        se_image=float(record["se_image"]),
        df=float(record["df"]),
        n_seeds=int(record["n_seeds"]),
    )


def comparison_effect(record: Mapping, pair: Sequence[str]) -> Effect:
    """One comparison (A, B) of a claim of several (compare: each), from claims.json."""
    for c in record["comparisons"]:
        if [c["a"], c["b"]] == list(pair):
            return claim_effect({"name": record["name"], **c})
    raise CrossDataError(
        f"claim {record['name']!r} has no comparison {list(pair)}; both studies must compare "
        "the same variants"
    )


def difference(first: Effect, second: Effect, test_sets: Sequence[str]) -> Effect:
    """second − first, from two independent studies: variances add, Welch-Satterthwaite df.

    The terms are independent only because the two studies' runs and test sets are: two
    studies on one test set (``test_sets``, their image_set_ids, equal) share their images,
    and their difference must be taken per image (record.compare), never here."""
    if len(test_sets) != 2 or test_sets[0] == test_sets[1]:
        raise CrossDataError(
            f"both studies score the same test set ({test_sets[0]}): their effects share "
            "images and do not add as independent; compare them with `make compare`"
        )
    var_a, var_b = first.se**2, second.se**2
    if not (first.df and second.df):
        df = 0.0
    elif var_a + var_b == 0:
        df = min(first.df, second.df)
    else:
        df = (var_a + var_b) ** 2 / (var_a**2 / first.df + var_b**2 / second.df)
    return Effect(
        estimate=second.estimate - first.estimate,
        se_seed=math.hypot(first.se_seed, second.se_seed),
        se_image=math.hypot(first.se_image, second.se_image),
        df=df,
        n_seeds=min(first.n_seeds, second.n_seeds),
    )


def _excludes_zero(effect: Effect) -> int:
    """+1 or -1 where the effect's own interval lies above or below zero, else 0."""
    low, high = effect.interval(CONFIDENCE)
    return 1 if low > 0 else -1 if high < 0 else 0


def judge(first: Effect, second: Effect, p_diff: float, p_equiv: float, alpha: float) -> str:
    """One label of JUDGEMENTS from the Holm-adjusted p-values of the difference."""
    if p_diff < alpha:
        side = _excludes_zero(first)
        return (
            "same direction, different size"
            if side and side == _excludes_zero(second)
            else ("differs")
        )
    if p_equiv < alpha:
        return "carries over"
    return "unresolved"


def _tau(record: Mapping) -> float | None:
    """A trend's rank correlation over its variants; other kinds state none."""
    return record["tau"] if record_kind(record) == "trend" else None


def compare_claims(
    first: Sequence[Mapping], second: Sequence[Mapping], alpha: float, test_sets: Sequence[str]
) -> list:
    """Per claim in both studies: each effect, their difference with interval and p-values
    (Holm over all claims), and the judgement. ``test_sets``: the two studies' test-set ids."""
    other = {c["name"]: c for c in second}
    shared = [c for c in first if c["name"] in other]
    rows = []
    for a in shared:
        b = other[a["name"]]
        ea, eb = claim_effect(a), claim_effect(b)
        if record_kind(a) == record_kind(b) == "each":
            # The same comparison on both: the one that decided the claim on the first.
            ea, eb = (comparison_effect(x, a["binding"]) for x in (a, b))
        diff = difference(ea, eb, test_sets)
        margin = max(a["smallest_effect"], b["smallest_effect"])
        rows.append(
            {
                "name": a["name"],
                "statement": a["statement"],
                "metric": a["metric"],
                "smallest_effect": margin,
                "first": {"effect": ea, "verdict": a["verdict"], "tau": _tau(a)},
                "second": {"effect": eb, "verdict": b["verdict"], "tau": _tau(b)},
                "difference": diff,
                "p_difference": diff.p_value(),
                "p_equivalence": diff.p_equivalence(margin),
                # A tuned claim compares each side at its own best rate on each dataset: the
                # rates may differ between them, and the reader should see them.
                "learning_rates": (
                    (a.get("learning_rates", {}), b.get("learning_rates", {}))
                    if "tuning" in a or "tuning" in b
                    else None
                ),
            }
        )
    adjusted = holm(
        [r["p_difference"] for r in rows] + [r["p_equivalence"] for r in rows],
        max_true=len(rows),
    )
    for i, r in enumerate(rows):
        r["p_difference_holm"], r["p_equivalence_holm"] = adjusted[i], adjusted[len(rows) + i]
        r["judgement"] = judge(
            r["first"]["effect"],
            r["second"]["effect"],
            _or_one(r["p_difference_holm"]),
            _or_one(r["p_equivalence_holm"]),
            alpha,
        )
    return rows


def _or_one(p: float) -> float:
    return 1.0 if math.isnan(p) else p


def _effect_text(metric: str, effect: Effect) -> str:
    low, high = effect.interval(CONFIDENCE)
    text = metric_diff(metric, effect.estimate)
    if not math.isnan(low):
        text += f" ({metric_diff(metric, low)} to {metric_diff(metric, high)})"
    return text


def claims_markdown(rows: Sequence[Mapping], names: Sequence[str]) -> str:
    a, b = names
    lines = [
        f"| claim | {a} | {b} | {b} − {a} ({CONFIDENCE:.0%} CI) | smallest effect "
        "| p → Holm | equivalence p → Holm | judgement |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        m = r["metric"]
        cells = [
            f"{r['name']}",
            f"{_effect_text(m, r['first']['effect'])}, {r['first']['verdict']}",
            f"{_effect_text(m, r['second']['effect'])}, {r['second']['verdict']}",
            _effect_text(m, r["difference"]),
            f"±{metric_size(m, r['smallest_effect'])}",
            f"{pval(r['p_difference'])} → {pval(r['p_difference_holm'])}",
            f"{pval(r['p_equivalence'])} → {pval(r['p_equivalence_holm'])}",
            f"**{r['judgement']}**",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def rates_markdown(rows: Sequence[Mapping], names: Sequence[str]) -> str:
    """The learning rates each tuned claim's sides trained at, on both datasets."""
    tuned = [r for r in rows if r.get("learning_rates")]
    if not tuned:
        return ""
    a, b = names
    lines = [f"| claim | rates on {a} | rates on {b} |", "| --- | --- | --- |"]
    for r in tuned:
        cells = [
            ", ".join(f"{v} {lr:g}" for v, lr in rates.items()) or "–"
            for rates in r["learning_rates"]
        ]
        lines.append(f"| {r['name']} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines) + "\n"


def accuracy_markdown(first, second, names: Sequence[str]) -> str:
    """Test accuracy of every variant on both datasets (mean ± std over seeds)."""
    a, b = names
    rows = second.set_index("variant")
    lines = [
        f"| variant | {a} | {b} | {b} − {a} |",
        "| --- | --- | --- | --- |",
    ]
    for _, r in first.iterrows():
        if r["variant"] not in rows.index:
            continue
        s = rows.loc[r["variant"]]
        lines.append(
            f"| {r['variant']} | {pm_pct(r['test_acc_mean'], r['test_acc_std'])} "
            f"| {pm_pct(s['test_acc_mean'], s['test_acc_std'])} "
            f"| {pp(s['test_acc_mean'] - r['test_acc_mean'])} |"
        )
    return "\n".join(lines) + "\n"


def _load(folder: Path):
    claims, summary = folder / "analysis" / "claims.json", folder / "tables" / "summary.csv"
    for path in (claims, summary):
        if not path.is_file():
            raise CrossDataError(f"{path}: not found; run that dataset's study first")
    return json.loads(claims.read_text(encoding="utf-8")), pd.read_csv(summary)


def test_set_of(folder: Path) -> str:
    """The image_set_id of the test set a results folder's runs were scored on, from the test
    labels in one run's predictions file."""
    path = next(iter(sorted((folder / "runs").glob("*/seed*/predictions.npz"))), None)
    if path is None:
        raise CrossDataError(f"{folder / 'runs'}: no predictions.npz; run that study first")
    with np.load(path) as data:
        return image_set_id("test", data["labels"])


def cross_dataset(first: Path, second: Path, names: Sequence[str]) -> str:
    """The whole view as Markdown: claims judged by their difference, then accuracies."""
    claims_a, summary_a = _load(first)
    claims_b, summary_b = _load(second)
    alpha = float(claims_a[0]["alpha"]) if claims_a else 0.05
    rows = compare_claims(claims_a, claims_b, alpha, (test_set_of(first), test_set_of(second)))
    counts = {j: sum(r["judgement"] == j for r in rows) for j in JUDGEMENTS}
    rates = rates_markdown(rows, names)
    return "\n".join(
        [
            f"# Which findings carry over: {names[0]} → {names[1]}",
            "",
            f"{first} against {second}. " + RULE + f" α = {alpha:g}.",
            "",
            "; ".join(f"{k}: {v}" for k, v in counts.items()) + ".",
            "",
            claims_markdown(rows, names),
            *(["## Learning rates of the tuned claims", "", rates] if rates else []),
            "## Test accuracy",
            "",
            accuracy_markdown(summary_a, summary_b, names),
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mnist_study.record.crossdata", description=__doc__
    )
    parser.add_argument("first", type=Path, help="the first study's results folder")
    parser.add_argument("second", type=Path, help="the second study's results folder")
    parser.add_argument("--names", nargs=2, default=None, help="the two datasets' names")
    parser.add_argument("--out", type=Path, default=None, help="also write the Markdown here")
    args = parser.parse_args(argv)
    names = args.names or [str(args.first), str(args.second)]
    try:
        text = cross_dataset(args.first, args.second, names)
    except StudyError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.out:
        write_text(args.out, text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
