"""Figures of the study: learning curves, per-study factor plots, confusion, weights, galleries.

Each public ``plot_*`` function writes PNG files (atomically) that the report embeds.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from mnist_study.atomic import atomic_path
from mnist_study.evidence.stats import CONFIDENCE

DPI = 100
FEATURE_UNITS = 64  # first-layer units drawn for an MLP (the report's caption reads it here)
# (history column prefix, legend label, line style) of the three curves per variant.
CURVES = (
    ("train", "train (train mode)", ":"),
    ("train_eval", "train (eval mode)", "--"),
    ("val", "validation", "-"),
)


def _plt():
    """pyplot on the Agg backend: jobs have no display, and import costs only when plotting."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update(
        {
            "figure.dpi": DPI,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "font.size": 9,
        }
    )
    return plt


def _save(fig, path, layout: str = "tight_layout") -> None:
    """``layout``: "tight_layout" (cheap, the default: the study has a figure or more per
    variant), "bbox" (crop to the drawn content, an extra draw; image grids, colour bars) or
    "fixed" (the figure placed its axes itself)."""
    plt = _plt()
    if layout == "tight_layout":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            fig.tight_layout()
    with atomic_path(path) as tmp:
        # The temporary name ends in .tmp, so the format must be given.
        fig.savefig(tmp, format="png", dpi=DPI, bbox_inches="tight" if layout == "bbox" else None)
    plt.close(fig)


def _log_y(ax) -> None:
    """Log scale with plain tick labels: mathtext labels and minor ticks triple drawing time."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator

    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_locator(NullLocator())


def _epochs_axis(ax) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def class_names(dataset: Mapping | None) -> list[str]:
    """The dataset's class names in label order (mnist_study.config.describe_dataset)."""
    return list((dataset or {}).get("classes") or [str(c) for c in range(10)])


def noun(dataset: Mapping | None) -> str:
    """What one image shows, in the plural, for titles: 'digits', 'articles', 'images'."""
    return f"{(dataset or {}).get('noun') or 'image'}s"


def _label(labels: Mapping | None, variant: str) -> str:
    return (labels or {}).get(variant) or variant


def read_histories(run_keys, history_paths) -> dict[str, list[pd.DataFrame]]:
    """{variant: [history per seed]} in run order."""
    out: dict[str, list[pd.DataFrame]] = {}
    for (variant, _), path in zip(run_keys, history_paths, strict=True):
        out.setdefault(variant, []).append(pd.read_csv(path))
    return out


def _band(frames: Sequence[pd.DataFrame], column: str):
    """Epochs, mean over seeds and the min-max range (seeds may differ in length). Epochs no
    seed scored (NaN: validation every k-th epoch) are left out, so the line joins the scored
    ones instead of breaking at every gap."""
    table = pd.concat([f.set_index("epoch")[column] for f in frames], axis=1)
    table = table[table.notna().any(axis=1)]
    return table.index.to_numpy(), table.mean(axis=1), table.min(axis=1), table.max(axis=1)


def _plot_band(ax, frames, column, label, color, style="-"):
    x, mean, low, high = _band(frames, column)
    ax.plot(x, mean, style, color=color, label=label, lw=1.5)
    if len(frames) > 1:
        ax.fill_between(x, low, high, color=color, alpha=0.2, lw=0)
    return x, mean


# ----------------------------------------------------------------------------- learning curves


def plot_variant_curves(frames: Sequence[pd.DataFrame], title: str, out) -> None:
    """Loss and accuracy per epoch: train mode, eval mode on training images, validation."""
    plt = _plt()
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(8, 3))
    colors = ("tab:orange", "tab:blue", "tab:green")
    for (prefix, name, style), color in zip(CURVES, colors, strict=True):
        _plot_band(ax_loss, frames, f"{prefix}_loss", name, color, style)
        _plot_band(ax_acc, frames, f"{prefix}_acc", name, color, style)
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy loss")
    _log_y(ax_loss)
    for ax in (ax_loss, ax_acc):
        _epochs_axis(ax)
    ax_acc.set(xlabel="epoch", ylabel="accuracy")
    ax_acc.legend(loc="lower right", fontsize=8)
    seeds = f"{len(frames)} seed" + ("s, band: range over seeds" if len(frames) > 1 else "")
    fig.suptitle(f"{title} ({seeds})")
    _save(fig, out)


def plot_curves(run_keys, history_paths, outputs: Mapping[str, str], labels=None) -> None:
    """Rule plot_curves: one learning-curve figure per variant (``outputs``: variant -> path)."""
    histories = read_histories(run_keys, history_paths)
    for variant, out in outputs.items():
        if variant not in histories:
            raise ValueError(f"no history for variant {variant!r}; have {list(histories)}")
        plot_variant_curves(histories[variant], _label(labels, variant), out)


def plot_study_curves(study: Mapping, histories: Mapping, out, labels=None) -> None:
    """Overlay of a study's variants: validation accuracy, and validation (solid) against
    eval-mode training loss (dashed); a dot marks each variant's lowest validation loss."""
    plt = _plt()
    fig, (ax_acc, ax_loss) = plt.subplots(1, 2, figsize=(9, 3.4))
    cmap = plt.get_cmap("viridis" if len(study["variants"]) > 6 else "tab10")
    n = len(study["variants"])
    for i, (variant, value) in enumerate(
        zip(study["variants"], study["factor"]["values"], strict=True)
    ):
        color = cmap(i / max(n - 1, 1)) if n > 6 else cmap(i)
        frames = histories[variant]
        name = f"{_label(labels, variant)} ({value})"
        _plot_band(ax_acc, frames, "val_acc", name, color)
        x, mean = _plot_band(ax_loss, frames, "val_loss", None, color)
        _plot_band(ax_loss, frames, "train_eval_loss", None, color, "--")
        best = int(np.argmin(mean.to_numpy()))
        ax_loss.plot(x[best], mean.iloc[best], "o", color=color, ms=4)
    ax_acc.set(xlabel="epoch", ylabel="validation accuracy")
    ax_loss.set(xlabel="epoch", ylabel="loss (solid: validation, dashed: train)")
    _log_y(ax_loss)
    for ax in (ax_loss, ax_acc):
        _epochs_axis(ax)
    ax_acc.legend(fontsize=7, title=study["factor"]["label"], title_fontsize=7)
    fig.suptitle(study.get("title", ""))
    _save(fig, out)


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


def plot_study_factor(study: Mapping, stats: pd.DataFrame, out) -> None:
    """The study's factor on the x-axis against accuracy (train, validation, test), the
    generalization gap with its 95% interval, and the cost (parameters, training time); a
    factor with series (as a batch size under two lr rules) draws one line style per series."""
    plt = _plt()
    lookup = {(r["variant"], r["metric"]): r for r in stats.to_dict("records")}
    variants = study["variants"]

    def series(metric):
        rows = [lookup.get((v, metric)) for v in variants]
        if any(r is None for r in rows):
            missing = [v for v, r in zip(variants, rows, strict=True) if r is None]
            raise ValueError(f"statistics lack {metric!r} for variants {missing}")
        return (
            np.array([r[k] for r in rows], dtype=float)
            for k in ("mean", "std", "ci_low", "ci_high")
        )

    lines = _series(study)
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.2))
    ax_acc, ax_gap, ax_cost = axes
    x = _factor_axis(ax_acc, study)
    for metric, name, color, marker in (
        ("train_acc", "train (eval mode)", "tab:blue", "s"),
        ("val_acc", "validation", "tab:green", "^"),
        ("test_acc", "test", "tab:red", "o"),
    ):
        mean, std, _, _ = series(metric)
        for (label, idx), style in zip(lines, SERIES_STYLES, strict=False):
            ax_acc.errorbar(
                x[idx],
                mean[idx],
                yerr=np.nan_to_num(std[idx]),
                color=color,
                marker=marker,
                ls=style,
                ms=4,
                capsize=3,
                label=name if label is None else f"{name}, {label}",
            )
    ax_acc.set_ylabel("accuracy (mean ± std over seeds)")
    ax_acc.legend(fontsize=7)
    x = _factor_axis(ax_gap, study)
    mean, _, low, high = series("gap")
    for (label, idx), style in zip(lines, SERIES_STYLES, strict=False):
        ax_gap.plot(x[idx], 100 * mean[idx], marker="o", ls=style, color="tab:purple", label=label)
        if not np.all(np.isnan(low[idx])):
            ax_gap.fill_between(
                x[idx], 100 * low[idx], 100 * high[idx], color="tab:purple", alpha=0.2, lw=0
            )
    if len(lines) > 1:
        ax_gap.legend(fontsize=7)
    ax_gap.axhline(0, color="gray", lw=0.8)
    ax_gap.set_ylabel(f"train − test accuracy (pp, {CONFIDENCE:.0%} CI)")
    x = _factor_axis(ax_cost, study)
    seconds, sec_std, _, _ = series("train_seconds")
    for (_, idx), style in zip(lines, SERIES_STYLES, strict=False):
        ax_cost.errorbar(
            x[idx],
            seconds[idx],
            yerr=np.nan_to_num(sec_std[idx]),
            color="tab:gray",
            marker="o",
            ls=style,
            ms=4,
            capsize=3,
        )
    ax_cost.set_ylabel("training time (s)")
    params = [lookup.get((v, "params"), {}).get("mean") for v in variants]
    if all(p is not None and not pd.isna(p) for p in params):
        for xi, yi, p in zip(x, seconds, params, strict=True):
            ax_cost.annotate(
                _human(p),
                (xi, yi),
                textcoords="offset points",
                xytext=(0, 6),
                ha="center",
                fontsize=7,
            )
    fig.suptitle(study.get("title", ""))
    _save(fig, out)


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


# ----------------------------------------------------------------------------- confusion


def read_confusions(run_keys, metrics_paths) -> dict[str, np.ndarray]:
    """{variant: confusion summed over seeds} (rows true, columns predicted)."""
    out: dict[str, np.ndarray] = {}
    for (variant, _), path in zip(run_keys, metrics_paths, strict=True):
        with open(path, encoding="utf-8") as f:
            matrix = np.asarray(json.load(f)["confusion"], dtype=float)
        out[variant] = out.get(variant, 0) + matrix
    return out


def plot_confusion_grid(
    confusions: Mapping, variants, title: str, out, labels=None, dataset=None
) -> None:
    """Row-normalised confusion per variant; the colour shows the errors only (the diagonal,
    near 100%, would otherwise wash out every mistake) and is printed as accuracy instead."""
    plt = _plt()
    n = len(variants)
    cols = min(n, 4)
    rows = math.ceil(n / cols)
    names = class_names(dataset)
    # Room for the class names beside and below the outer axes (about 0.045 in a character).
    names_in = 0.045 * max(len(c) for c in names)
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
    rates = {
        v: confusions[v] / np.maximum(confusions[v].sum(axis=1, keepdims=True), 1) for v in variants
    }
    vmax = max(max((r - np.diag(np.diag(r))).max() for r in rates.values()), 1e-3)
    image = None
    for k_ax, (ax, variant) in enumerate(zip(axes.flat, variants, strict=False)):
        rate = rates[variant]
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
        ax.set_title(_label(labels, variant), fontsize=8)
        if k_ax % cols == 0:
            ax.set_ylabel("true", fontsize=7)
        if k_ax >= n - cols:
            ax.set_xlabel("predicted", fontsize=7)
            ax.xaxis.set_tick_params(labelbottom=True)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    if image is not None:
        bar_ax = fig.add_axes(
            (1 - (right - 0.2) / width, bottom / height, 0.12 / width, 1 - (top + bottom) / height)
        )
        bar = fig.colorbar(image, cax=bar_ax)
        bar.set_label("% of the true class (off-diagonal)", fontsize=7)
        bar.ax.tick_params(labelsize=6)
    fig.suptitle(title, y=1 - 0.25 / height)
    _save(fig, out, layout="fixed")


def plot_confusion(
    studies: Mapping, run_keys, metrics_paths, outputs, labels=None, dataset=None
) -> None:
    """Rule plot_confusion: one grid of confusion heatmaps per study (summed over seeds)."""
    confusions = read_confusions(run_keys, metrics_paths)
    for name, study in studies.items():
        plot_confusion_grid(
            confusions, study["variants"], study.get("title", name), outputs[name], labels, dataset
        )


# ----------------------------------------------------------------------------- weights


def first_layer_weights(checkpoint) -> np.ndarray:
    """The first dense layer that reads the 784 pixels, as [units, 784]."""
    import torch

    ckpt = torch.load(checkpoint, map_location="cpu", weights_only=True)
    for tensor in ckpt["state_dict"].values():
        if tensor.ndim == 2 and tensor.shape[1] == 28 * 28:
            return tensor.float().numpy()
    raise ValueError(f"{checkpoint}: no dense layer reads the 784 pixels; is it a CNN?")


def _grid(images: np.ndarray, nrow: int, padding: int = 2, pad_value: float = 0.0) -> np.ndarray:
    """Tile [N,H,W] images with torchvision.utils.make_grid; returns [H', W']."""
    import torch
    from torchvision.utils import make_grid

    tensor = torch.as_tensor(np.asarray(images, dtype=np.float32))[:, None]
    return make_grid(tensor, nrow=nrow, padding=padding, pad_value=pad_value)[0].numpy()


def plot_linear_templates(checkpoint, out, classes=None) -> None:
    """The linear model's ten weight vectors as 28x28 templates (red: evidence for the class)."""
    plt = _plt()
    weights = first_layer_weights(checkpoint)
    if weights.shape[0] != 10:
        raise ValueError(
            f"{checkpoint}: the linear model should have 10 units, not {weights.shape[0]}"
        )
    classes = classes or class_names(None)
    fig, axes = plt.subplots(1, 10, figsize=(12, 1.8))
    # A few border pixels carry extreme weights; a robust limit keeps the strokes visible.
    limit = float(np.percentile(np.abs(weights), 99.5)) or 1.0
    for ax, w, name in zip(axes, weights, classes, strict=True):
        image = ax.imshow(w.reshape(28, 28), cmap="RdBu_r", vmin=-limit, vmax=limit)
        ax.set_title(name, fontsize=9 if len(name) <= 8 else 7)
        ax.axis("off")
    fig.colorbar(image, ax=list(axes), shrink=0.8, label="weight")
    _save(fig, out, layout="bbox")


def plot_mlp_features(checkpoint, out, n: int = FEATURE_UNITS, title: str = "") -> None:
    """The first hidden layer's receptive fields: the ``n`` units with the largest weight norm,
    each scaled to its own range (red positive, blue negative)."""
    plt = _plt()
    weights = first_layer_weights(checkpoint)
    order = np.argsort(-np.linalg.norm(weights, axis=1))[:n]
    chosen = weights[order]
    scaled = chosen / np.maximum(np.abs(chosen).max(axis=1, keepdims=True), 1e-12)
    grid = _grid(
        (scaled.reshape(-1, 28, 28) + 1) / 2, nrow=int(math.ceil(math.sqrt(n))), pad_value=0.5
    )
    fig, ax = plt.subplots(figsize=(6, 6))
    ax.imshow(grid, cmap="RdBu_r", vmin=0, vmax=1)
    ax.axis("off")
    ax.set_title(title or f"first-layer features: {len(order)} of {weights.shape[0]} units")
    _save(fig, out, layout="bbox")


def plot_weights(
    linear_checkpoint,
    mlp_checkpoint,
    templates_out,
    features_out,
    mlp_label: str = "",
    dataset=None,
) -> None:
    """Rule plot_weights: linear templates and an MLP's first-layer features."""
    plot_linear_templates(linear_checkpoint, templates_out, class_names(dataset))
    label = f"{mlp_label}: " if mlp_label else ""
    plot_mlp_features(
        mlp_checkpoint,
        features_out,
        title=f"{label}first-layer features ({FEATURE_UNITS} units of largest norm)",
    )


# ----------------------------------------------------------------------------- galleries


def load_test_images(cache_path) -> np.ndarray:
    from mnist_study.data.datasets import load_cache

    return load_cache(cache_path)["test_images"].numpy()


def plot_gallery(
    images: np.ndarray,
    captions: Sequence[str],
    title: str,
    out,
    nrow: int = 10,
    colors: Sequence[str] | None = None,
) -> None:
    """Images tiled with make_grid, each with its caption (one or two lines) in a strip above
    it."""
    plt = _plt()
    lines = max((c.count("\n") + 1 for c in captions), default=1)
    strip, size, pad = 10 * lines + 1, images.shape[-1] if len(images) else 28, 2
    if not len(images):
        fig, ax = plt.subplots(figsize=(6, 1))
        ax.axis("off")
        ax.text(0.5, 0.5, "no images to show", ha="center", va="center")
        ax.set_title(title)
        _save(fig, out, layout="bbox")
        return
    # A blank strip on top of each image holds its caption without covering it.
    tall = np.ones((len(images), size + strip, size), dtype=np.float32)
    tall[:, strip:, :] = 1.0 - np.asarray(images, dtype=np.float32) / 255.0
    ncols = min(nrow, len(images))
    grid = _grid(tall, nrow=ncols, padding=pad, pad_value=1.0)
    rows = math.ceil(len(images) / ncols)
    # Taller caption strips make each row taller, never a column narrower.
    row_height = 1.05 * (size + strip + pad) / (size + 11 + pad)
    fig, ax = plt.subplots(figsize=(0.95 * ncols, row_height * rows + 0.4))
    ax.imshow(grid, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    for k, caption in enumerate(captions):
        r, c = divmod(k, ncols)
        x = pad + c * (size + pad) + size / 2
        y = pad + r * (size + strip + pad) + strip / 2
        ax.text(
            x,
            y,
            caption,
            ha="center",
            va="center",
            fontsize=6.5 if lines == 1 else 5.5,
            linespacing=1.0,
            color=(colors[k] if colors else "black"),
        )
    ax.axis("off")
    ax.set_title(title, fontsize=9)
    _save(fig, out, layout="bbox")


def mistake_caption(names: Sequence[str], true: int, pred: int, detail: str) -> str:
    """'true→pred detail' above an image; long class names take two lines ('true→' and
    'pred detail'), so that a caption stays within its image's width."""
    head = f"{names[int(true)]}→{names[int(pred)]}"
    if len(head) <= 5:
        return f"{head} {detail}"
    return f"{names[int(true)]}→\n{names[int(pred)]} {detail}"


def gallery_of_misclassified(
    table: pd.DataFrame, images: np.ndarray, title: str, out, n: int = 40, classes=None
) -> None:
    """A run's misclassified images, most confident mistakes first: true→pred and confidence."""
    shown = table.sort_values("confidence", ascending=False, kind="stable").head(n)
    names = classes or class_names(None)
    captions = [
        mistake_caption(names, t, p, f"{100 * c:.0f}%")
        for t, p, c in zip(shown["true"], shown["pred"], shown["confidence"], strict=True)
    ]
    plot_gallery(images[shown["index"].to_numpy(int)], captions, title, out)


def plot_galleries(
    cache,
    run_keys,
    misclassified_paths,
    outputs: Mapping[str, str],
    labels=None,
    n: int = 40,
    dataset=None,
) -> None:
    """Rule plot_galleries: per variant, its first seed's most confident mistakes."""
    images = load_test_images(cache)
    first = {}
    for (variant, seed), path in zip(run_keys, misclassified_paths, strict=True):
        if variant not in first or int(seed) < first[variant][0]:
            first[variant] = (int(seed), path)
    for variant, out in outputs.items():
        seed, path = first[variant]
        table = pd.read_csv(path)
        title = (
            f"{_label(labels, variant)}, seed {seed}: {min(n, len(table))} most confident "
            f"of {len(table)} mistakes (true→predicted, confidence)"
        )
        gallery_of_misclassified(table, images, title, out, n=n, classes=class_names(dataset))


def plot_errors(
    cache,
    errors_json,
    hardest_out,
    pairs_out,
    overlap_out,
    disagreements_out,
    labels=None,
    n: int = 40,
    dataset=None,
) -> None:
    """Rule plot_errors: hardest images, most confused pairs and per-class error, the overlap
    of error sets, and the images one model gets right and its partner wrong in every seed."""
    with open(errors_json, encoding="utf-8") as f:
        errors = json.load(f)
    images = load_test_images(cache)
    names = class_names(dataset)
    hardest = errors["hardest"][:n]
    plot_gallery(
        images[[h["index"] for h in hardest]] if hardest else images[:0],
        [
            mistake_caption(names, h["true"], h["pred"], f"{h['runs_wrong']}/{errors['n_runs']}")
            for h in hardest
        ],
        f"Hardest test {noun(dataset)}: wrong in most of the {errors['n_runs']} runs "
        "(true→most common prediction, runs wrong)",
        hardest_out,
    )
    plot_confused_pairs(errors, pairs_out, names=names)
    plot_overlap(errors, overlap_out, labels)
    pair = errors.get("pair")
    if pair:
        detail = pair["b_wrong_a_right_detail"][:n]
        title = (
            f"{len(pair['b_wrong_a_right'])} images {_label(labels, pair['a'])} gets right "
            f"and {_label(labels, pair['b'])} gets wrong in all {len(pair['seeds'])} "
            f"seed(s) (true→{_label(labels, pair['b'])}'s prediction, confidence)"
        )
        plot_gallery(
            images[[d["index"] for d in detail]] if detail else images[:0],
            [
                mistake_caption(names, d["true"], d["pred"], f"{100 * d['confidence']:.0f}%")
                for d in detail
            ],
            title,
            disagreements_out,
        )
    else:
        plot_gallery(images[:0], [], "no model pair configured", disagreements_out)


def plot_confused_pairs(errors: Mapping, out, top: int = 15, names=None) -> None:
    plt = _plt()
    names = names or class_names(None)
    fig, (ax_pairs, ax_class) = plt.subplots(
        1, 2, figsize=(9, 3.4), gridspec_kw={"width_ratios": [3, 2]}
    )
    pairs = errors["confused_pairs"][:top][::-1]
    ax_pairs.barh(
        [f"{names[p['true']]}→{names[p['pred']]}" for p in pairs],
        [p["per_run"] for p in pairs],
        color="tab:red",
    )
    ax_pairs.set_xlabel("test images per run (mean over all runs)")
    ax_pairs.set_title("Most confused pairs (true→predicted)", fontsize=9)
    rates = [100 * (r if r is not None else math.nan) for r in errors["class_error"]]
    ax_class.bar(names[: len(rates)], rates, color="tab:orange")
    if max(len(c) for c in names) > 2:
        ax_class.tick_params(axis="x", labelrotation=90, labelsize=7)
    ax_class.set_xlabel("true class")
    ax_class.set_ylabel("error rate (%, all runs)")
    ax_class.set_title("Error rate per class", fontsize=9)
    _save(fig, out)


def plot_overlap(errors: Mapping, out, labels=None) -> None:
    """Jaccard overlap of error sets; off the diagonal the same seed of two variants, on it
    two seeds of one variant (how reproducible its mistakes are)."""
    plt = _plt()
    variants = errors["jaccard"]["variants"]
    matrix = np.array(
        [[math.nan if x is None else x for x in row] for row in errors["jaccard"]["matrix"]],
        dtype=float,
    )
    n = len(variants)
    size = max(4.0, 0.42 * n + 2)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    image = ax.imshow(matrix, cmap="viridis", vmin=0, vmax=1)
    names = [_label(labels, v) for v in variants]
    ax.set_xticks(range(n), names, rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(n), names, fontsize=7)
    ax.grid(False)
    if n <= 24:
        for i in range(n):
            for j in range(n):
                if not np.isnan(matrix[i, j]):
                    ax.text(
                        j,
                        i,
                        f"{matrix[i, j]:.2f}",
                        ha="center",
                        va="center",
                        fontsize=5.5,
                        color="white" if matrix[i, j] < 0.6 else "black",
                    )
    fig.colorbar(image, ax=ax, shrink=0.8, label="Jaccard index of error sets")
    ax.set_title("Overlap of error sets (diagonal: across seeds of one variant)", fontsize=9)
    _save(fig, out, layout="bbox")
