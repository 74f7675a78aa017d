"""Reliability diagrams: each variant's accuracy against its confidence, per study, from the
calibration bins every run's metrics.json holds (pooled over seeds by image counts)."""

from __future__ import annotations

import json
from collections.abc import Mapping

import numpy as np

from mnist_study.report.plots.drawing import label, plt, save


def pool_bins(run_keys, metrics_paths) -> dict[str, dict]:
    """{variant: {count, confidence, accuracy, ece}}: the runs' bins summed over seeds (the
    images of every seed), and the mean of the runs' ECE."""
    pooled: dict[str, dict] = {}
    for (variant, _), path in zip(run_keys, metrics_paths, strict=True):
        with open(path, encoding="utf-8") as f:
            metrics = json.load(f)
        bins = metrics["reliability"]
        count = np.asarray(bins["count"], dtype=float)
        # Empty bins hold null (no mean); they weigh nothing.
        conf = np.nan_to_num(np.asarray(bins["confidence"], dtype=float)) * count
        hits = np.nan_to_num(np.asarray(bins["accuracy"], dtype=float)) * count
        slot = pooled.setdefault(variant, {"count": 0.0, "conf": 0.0, "hits": 0.0, "ece": []})
        slot["count"] = slot["count"] + count
        slot["conf"] = slot["conf"] + conf
        slot["hits"] = slot["hits"] + hits
        slot["ece"].append(float(metrics["ece"]))
    out = {}
    for variant, slot in pooled.items():
        count = slot["count"]
        with np.errstate(invalid="ignore", divide="ignore"):
            out[variant] = {
                "count": count,
                "confidence": np.where(count > 0, slot["conf"] / count, np.nan),
                "accuracy": np.where(count > 0, slot["hits"] / count, np.nan),
                "ece": float(np.mean(slot["ece"])),
            }
    return out


def plot_reliability_diagram(pooled: Mapping, variants, title: str, out, labels=None) -> None:
    """Accuracy against mean confidence per bin, one line per variant; the diagonal is perfect
    calibration, and a line below it is overconfident. Bins under 0.1% of the images are left
    out (their accuracy is noise). Below: each bin's share of the images, on a log scale."""
    fig, (ax, share) = plt.subplots(
        2, 1, figsize=(5.2, 5.6), sharex=True, gridspec_kw={"height_ratios": [3, 1]}
    )
    ax.plot([0, 1], [0, 1], color="0.5", linestyle=":", label="perfect calibration")
    for variant in variants:
        bins = pooled.get(variant)
        if bins is None:
            continue
        total = bins["count"].sum()
        keep = bins["count"] >= max(1.0, 0.001 * total)
        name = f"{label(labels, variant)} (ECE {100 * bins['ece']:.2f}%)"
        (line,) = ax.plot(bins["confidence"][keep], bins["accuracy"][keep], marker="o", ms=3)
        line.set_label(name)
        share.plot(
            bins["confidence"][keep],
            bins["count"][keep] / total,
            marker="o",
            ms=3,
            color=line.get_color(),
        )
    ax.set_ylabel("accuracy in the bin")
    ax.set_title(title)
    ax.legend(fontsize=7, loc="upper left")
    share.set_yscale("log")
    share.set_ylabel("share of images")
    share.set_xlabel("confidence (predicted class's probability), 15 equal-width bins")
    save(fig, out)


def plot_reliability(studies: Mapping, run_keys, metrics_paths, outputs, labels=None) -> None:
    """Rule plot_reliability: one reliability diagram per study."""
    pooled = pool_bins(run_keys, metrics_paths)
    for name, study in studies.items():
        plot_reliability_diagram(
            pooled, study["variants"], study.get("title", name), outputs[name], labels
        )
