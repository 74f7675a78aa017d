"""Confusion matrices: per study, each variant's test-set confusions summed over its seeds,
rows the true class, in one grid of panels."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping

import numpy as np

from mnist_study.report.plots.drawing import class_names, label, plt, save

# ----------------------------------------------------------------------------- confusion


def read_confusions(run_keys, metrics_paths) -> dict[str, np.ndarray]:
    """{variant: confusion summed over seeds} (rows true, columns predicted)."""
    out: dict[str, np.ndarray] = {}
    for (variant, _), path in zip(run_keys, metrics_paths, strict=True):
        with open(path, encoding="utf-8") as f:
            matrix = np.asarray(json.load(f)["confusion"], dtype=float)
        out[variant] = out.get(variant, 0) + matrix
    return out


def _panel_grid(n: int, names_in: float):
    """A grid of ``n`` square panels with fixed margins, in inches: (fig, axes, columns, frame),
    frame the figure's (width, height, right, top, bottom)."""
    cols = min(n, 4)
    rows = math.ceil(n / cols)
    # Fixed margins and shared, outer-only tick labels: tick text layout dominates drawing
    # time here, and a cropping second draw would double it.
    cell, left, right, top, bottom = 2.4, 0.45 + names_in, 1.0, 0.75, 0.4 + names_in
    width, height = left + cols * cell + right, top + rows * cell + bottom
    fig, axes = plt.subplots(
        rows, cols, figsize=(width, height), squeeze=False, sharex=True, sharey=True
    )
    fig.subplots_adjust(
        left=left / width,
        right=1 - right / width,
        top=1 - top / height,
        bottom=bottom / height,
        wspace=0.12,
        hspace=0.3,
    )
    return fig, axes, cols, (width, height, right, top, bottom)


def _confusion_panel(ax, rate: np.ndarray, vmax: float, names, names_in: float):
    """One variant's errors as a heatmap, its per-class accuracy printed on the diagonal."""
    off = np.ma.masked_where(np.eye(len(rate), dtype=bool), rate * 100)
    image = ax.imshow(off, cmap="Reds", vmin=0, vmax=vmax * 100)
    k = len(rate)
    for i in range(k):
        ax.text(
            i,
            i,
            f"{100 * rate[i, i]:.0f}",
            ha="center",
            va="center",
            fontsize=5.5,
            color="tab:blue",
        )
    ax.set_xticks(range(k), names[:k], rotation=90 if names_in > 0.1 else 0)
    ax.set_yticks(range(k), names[:k])
    ax.tick_params(labelsize=6, length=2)
    ax.grid(False)
    return image


def _colour_bar(fig, image, frame) -> None:
    width, height, right, top, bottom = frame
    bar_ax = fig.add_axes(
        (1 - (right - 0.2) / width, bottom / height, 0.12 / width, 1 - (top + bottom) / height)
    )
    bar = fig.colorbar(image, cax=bar_ax)
    bar.set_label("% of the true class (off-diagonal)", fontsize=7)
    bar.ax.tick_params(labelsize=6)


def plot_confusion_grid(
    confusions: Mapping, variants, title: str, out, labels=None, dataset=None
) -> None:
    """Row-normalised confusion per variant; the colour shows the errors only (the diagonal,
    near 100%, would otherwise wash out every mistake) and is printed as accuracy instead."""
    n = len(variants)
    names = class_names(dataset)
    # Room for the class names beside and below the outer axes (about 0.045 in a character).
    names_in = 0.045 * max(len(c) for c in names)
    fig, axes, cols, frame = _panel_grid(n, names_in)
    rates = {
        v: confusions[v] / np.maximum(confusions[v].sum(axis=1, keepdims=True), 1) for v in variants
    }
    vmax = max(max((r - np.diag(np.diag(r))).max() for r in rates.values()), 1e-3)
    image = None
    for k_ax, (ax, variant) in enumerate(zip(axes.flat, variants, strict=False)):
        image = _confusion_panel(ax, rates[variant], vmax, names, names_in)
        ax.set_title(label(labels, variant), fontsize=8)
        if k_ax % cols == 0:
            ax.set_ylabel("true", fontsize=7)
        if k_ax >= n - cols:
            ax.set_xlabel("predicted", fontsize=7)
            ax.xaxis.set_tick_params(labelbottom=True)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    if image is not None:
        _colour_bar(fig, image, frame)
    fig.suptitle(title, y=1 - 0.25 / frame[1])
    save(fig, out, layout="fixed")


def plot_confusion(
    studies: Mapping, run_keys, metrics_paths, outputs, labels=None, dataset=None
) -> None:
    """Rule plot_confusion: one grid of confusion heatmaps per study (summed over seeds)."""
    confusions = read_confusions(run_keys, metrics_paths)
    for name, study in studies.items():
        plot_confusion_grid(
            confusions, study["variants"], study.get("title", name), outputs[name], labels, dataset
        )
