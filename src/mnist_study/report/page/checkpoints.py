"""The report's pieces for calibration and early stopping: each study's reliability diagram and
its table of last-epoch against best-epoch (lowest validation loss) checkpoints."""

from __future__ import annotations

from collections.abc import Mapping

from mnist_study.evidence.claims import base_variant, is_best
from mnist_study.formatting import num, pct, pp
from mnist_study.report.page.figures import figure
from mnist_study.report.page.results import Results


def reliability_figure(r: Results, captions, name: str, path) -> dict:
    study = r.studies[name]
    worst = max(study["variants"], key=lambda v: r.stat(v, "ece") or 0.0)
    return figure(
        path,
        captions("reliability", title=study["title"]),
        f"Reliability diagram of {r.labels(study['variants'])}: accuracy against confidence in "
        f"15 bins; the largest mean ECE is {r.label(worst)}'s, {pct(r.stat(worst, 'ece'))}.",
        f"reliability-{name}",
    )


def _mean(r: Results, variant: str, column: str):
    """A runs.csv column's mean over the variant's seeds (None where it is missing)."""
    if column not in r.runs.columns:
        return None
    values = r.runs.loc[r.runs["variant"] == variant, column].dropna()
    return float(values.mean()) if len(values) else None


def checkpoint_rows(r: Results, study: Mapping) -> list[dict]:
    """Per variant: early stopping's epoch and what its checkpoint scores beside the last."""
    rows = []
    for v in study["variants"]:
        last_loss, best_loss = _mean(r, v, "test_loss"), _mean(r, v, "test_loss_best")
        last_acc, best_acc = _mean(r, v, "test_acc"), _mean(r, v, "test_acc_best")
        if best_loss is None:
            continue
        rows.append(
            {
                "label": r.label(v),
                "stop_epoch": num(r.stat(v, "stop_epoch"), 2),
                "epochs": num(r.stat(v, "epochs")),
                "loss": f"{last_loss:.4f} → {best_loss:.4f}",
                "loss_change": f"{best_loss - last_loss:+.4f}",
                "acc": f"{pct(last_acc)} → {pct(best_acc)}",
                "acc_change": pp(best_acc - last_acc),
                "ece": f"{pct(_mean(r, v, 'ece'))} → {pct(_mean(r, v, 'ece_best'))}",
            }
        )
    return rows


def checkpoints_claimed(r: Results, study: Mapping) -> bool:
    """Whether a claim reads a best-epoch checkpoint of this study's variants (its table is
    then shown open)."""
    members = set(study["variants"])
    return any(is_best(v) and base_variant(v) in members for c in r.claims for v in c["variants"])
