"""Figures of the study: learning curves, per-study factor plots, confusion, weights, galleries.

Each public ``plot_*`` function writes PNG files (atomically) that the report embeds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator

from mnist_study.evidence.stats import CONFIDENCE
from mnist_study.report.plots.drawing import (
    epochs_axis,
    label,
    plot_band,
    plt,
    read_histories,
    save,
)

# (history column prefix, legend label, line style) of the three curves per variant.
CURVES = (
    ("train", "train (train mode)", ":"),
    ("train_eval", "train (eval mode)", "--"),
    ("val", "validation", "-"),
)


def _log_y(ax) -> None:
    """Log scale with plain tick labels: mathtext labels and minor ticks triple drawing time."""
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_locator(NullLocator())


# ----------------------------------------------------------------------------- learning curves


def plot_variant_curves(frames: Sequence[pd.DataFrame], title: str, out) -> None:
    """Loss and accuracy per epoch: train mode, eval mode on training images, validation."""
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(8, 3))
    colors = ("tab:orange", "tab:blue", "tab:green")
    for (prefix, name, style), color in zip(CURVES, colors, strict=True):
        plot_band(ax_loss, frames, f"{prefix}_loss", name, color, style)
        plot_band(ax_acc, frames, f"{prefix}_acc", name, color, style)
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy loss")
    _log_y(ax_loss)
    for ax in (ax_loss, ax_acc):
        epochs_axis(ax)
    ax_acc.set(xlabel="epoch", ylabel="accuracy")
    ax_acc.legend(loc="lower right", fontsize=8)
    seeds = f"{len(frames)} seed" + ("s, band: range over seeds" if len(frames) > 1 else "")
    fig.suptitle(f"{title} ({seeds})")
    save(fig, out)


def plot_curves(run_keys, history_paths, outputs: Mapping[str, str], labels=None) -> None:
    """Rule plot_curves: one learning-curve figure per variant (``outputs``: variant -> path)."""
    histories = read_histories(run_keys, history_paths)
    for variant, out in outputs.items():
        if variant not in histories:
            raise ValueError(f"no history for variant {variant!r}; have {list(histories)}")
        plot_variant_curves(histories[variant], label(labels, variant), out)


def plot_study_curves(study: Mapping, histories: Mapping, out, labels=None) -> None:
    """Overlay of a study's variants: validation accuracy, and validation (solid) against
    eval-mode training loss (dashed); a dot marks each variant's lowest validation loss."""
    fig, (ax_acc, ax_loss) = plt.subplots(1, 2, figsize=(9, 3.4))
    cmap = plt.get_cmap("viridis" if len(study["variants"]) > 6 else "tab10")
    n = len(study["variants"])
    for i, (variant, value) in enumerate(
        zip(study["variants"], study["factor"]["values"], strict=True)
    ):
        color = cmap(i / max(n - 1, 1)) if n > 6 else cmap(i)
        frames = histories[variant]
        name = f"{label(labels, variant)} ({value})"
        plot_band(ax_acc, frames, "val_acc", name, color)
        x, mean = plot_band(ax_loss, frames, "val_loss", None, color)
        plot_band(ax_loss, frames, "train_eval_loss", None, color, "--")
        best = int(np.argmin(mean.to_numpy()))
        ax_loss.plot(x[best], mean.iloc[best], "o", color=color, ms=4)
    ax_acc.set(xlabel="epoch", ylabel="validation accuracy")
    ax_loss.set(xlabel="epoch", ylabel="loss (solid: validation, dashed: train)")
    _log_y(ax_loss)
    for ax in (ax_loss, ax_acc):
        epochs_axis(ax)
    ax_acc.legend(fontsize=7, title=study["factor"]["label"], title_fontsize=7)
    fig.suptitle(study.get("title", ""))
    save(fig, out)


def _factor_axis(ax, study: Mapping):
    """Numeric factor values on a (log) axis; anything else as evenly spaced categories."""
    values = study["factor"]["values"]
    numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
    if numeric:
        x = np.asarray(values, dtype=float)
        if study["factor"].get("log"):
            ax.set_xscale(
                "log", base=2 if all(v > 0 and math.log2(v).is_integer() for v in x) else 10
            )
        ax.set_xticks(x, [f"{v:g}" for v in x])
        ax.minorticks_off()
    else:
        x = np.arange(len(values), dtype=float)
        ax.set_xticks(x, [str(v) for v in values])
        ax.tick_params(axis="x", labelrotation=15 if len(values) > 3 else 0)
    ax.set_xlabel(study["factor"]["label"])
    return x


def _series(study: Mapping) -> list[tuple[str | None, list[int]]]:
    """The study's lines: its factor's named series (each a list of its variants, in the order
    of the x-axis), else one line through every variant."""
    named = study["factor"].get("series")
    if not named:
        return [(None, list(range(len(study["variants"]))))]
    return [
        (label, [study["variants"].index(v) for v in members]) for label, members in named.items()
    ]


SERIES_STYLES = ("-", "--", ":", "-.")


def _metric_columns(lookup: Mapping, variants: Sequence[str], metric: str):
    """(mean, std, ci_low, ci_high) of one metric, each an array in the order of ``variants``."""
    rows = [lookup.get((v, metric)) for v in variants]
    if any(r is None for r in rows):
        missing = [v for v, r in zip(variants, rows, strict=True) if r is None]
        raise ValueError(f"statistics lack {metric!r} for variants {missing}")
    return (
        np.array([r[k] for r in rows], dtype=float) for k in ("mean", "std", "ci_low", "ci_high")
    )


# (metric, legend label, colour, marker) of the accuracy panel's three lines.
ACCURACIES = (
    ("train_acc", "train (eval mode)", "tab:blue", "s"),
    ("val_acc", "validation", "tab:green", "^"),
    ("test_acc", "test", "tab:red", "o"),
)


def _accuracy_panel(ax, study: Mapping, lines, lookup: Mapping) -> None:
    """Train, validation and test accuracy (mean ± std over seeds) along the factor."""
    x = _factor_axis(ax, study)
    for metric, name, color, marker in ACCURACIES:
        mean, std, _, _ = _metric_columns(lookup, study["variants"], metric)
        for (series_name, idx), style in zip(lines, SERIES_STYLES, strict=False):
            ax.errorbar(
                x[idx],
                mean[idx],
                yerr=np.nan_to_num(std[idx]),
                color=color,
                marker=marker,
                ls=style,
                ms=4,
                capsize=3,
                label=name if series_name is None else f"{name}, {series_name}",
            )
    ax.set_ylabel("accuracy (mean ± std over seeds)")
    ax.legend(fontsize=7)


def _gap_panel(ax, study: Mapping, lines, lookup: Mapping) -> None:
    """The generalization gap in pp along the factor, with its interval as a band."""
    x = _factor_axis(ax, study)
    mean, _, low, high = _metric_columns(lookup, study["variants"], "gap")
    for (series_name, idx), style in zip(lines, SERIES_STYLES, strict=False):
        ax.plot(
            x[idx], 100 * mean[idx], marker="o", ls=style, color="tab:purple", label=series_name
        )
        if not np.all(np.isnan(low[idx])):
            ax.fill_between(
                x[idx], 100 * low[idx], 100 * high[idx], color="tab:purple", alpha=0.2, lw=0
            )
    if len(lines) > 1:
        ax.legend(fontsize=7)
    ax.axhline(0, color="gray", lw=0.8)
    ax.set_ylabel(f"train − test accuracy (pp, {CONFIDENCE:.0%} CI)")


def _cost_panel(ax, study: Mapping, lines, lookup: Mapping) -> None:
    """Training time along the factor, each point labelled with its parameter count (where
    every variant has one)."""
    x = _factor_axis(ax, study)
    seconds, sec_std, _, _ = _metric_columns(lookup, study["variants"], "train_seconds")
    for (_, idx), style in zip(lines, SERIES_STYLES, strict=False):
        ax.errorbar(
            x[idx],
            seconds[idx],
            yerr=np.nan_to_num(sec_std[idx]),
            color="tab:gray",
            marker="o",
            ls=style,
            ms=4,
            capsize=3,
        )
    ax.set_ylabel("training time (s)")
    params = [lookup.get((v, "params"), {}).get("mean") for v in study["variants"]]
    if all(p is not None and not pd.isna(p) for p in params):
        for xi, yi, p in zip(x, seconds, params, strict=True):
            ax.annotate(
                _human(p),
                (xi, yi),
                textcoords="offset points",
                xytext=(0, 6),
                ha="center",
                fontsize=7,
            )


def plot_study_factor(study: Mapping, stats: pd.DataFrame, out) -> None:
    """The study's factor on the x-axis against accuracy (train, validation, test), the
    generalization gap with its 95% interval, and the cost (parameters, training time); a
    factor with series (as a batch size under two lr rules) draws one line style per series."""
    lookup = {(r["variant"], r["metric"]): r for r in stats.to_dict("records")}
    lines = _series(study)
    fig, (ax_acc, ax_gap, ax_cost) = plt.subplots(1, 3, figsize=(11, 3.2))
    _accuracy_panel(ax_acc, study, lines, lookup)
    _gap_panel(ax_gap, study, lines, lookup)
    _cost_panel(ax_cost, study, lines, lookup)
    fig.suptitle(study.get("title", ""))
    save(fig, out)


def _human(n: float) -> str:
    for unit, size in (("M", 1e6), ("k", 1e3)):
        if n >= size:
            return f"{n / size:.3g}{unit}"
    return f"{n:.0f}"


def plot_studies(
    studies: Mapping,
    run_keys,
    history_paths,
    stats_csv,
    curve_outputs: Mapping[str, str],
    factor_outputs: Mapping[str, str],
    labels=None,
) -> None:
    """Rule plot_studies: per study, the overlaid learning curves and the factor plot."""
    histories = read_histories(run_keys, history_paths)
    stats = pd.read_csv(stats_csv)
    for name, study in studies.items():
        plot_study_curves(study, histories, curve_outputs[name], labels)
        plot_study_factor(study, stats, factor_outputs[name])
