"""Galleries of test images: each variant's misclassified digits, the hardest images across
models, the most confused label pairs and how much the error sets of variants overlap."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from mnist_study.data.cache import load_cache
from mnist_study.report.plots.drawing import class_names, label, noun, plt, save
from mnist_study.report.plots.image_grid import grid

# ----------------------------------------------------------------------------- galleries


def load_test_images(cache_path) -> np.ndarray:
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
    lines = max((c.count("\n") + 1 for c in captions), default=1)
    strip, size, pad = 10 * lines + 1, images.shape[-1] if len(images) else 28, 2
    if not len(images):
        fig, ax = plt.subplots(figsize=(6, 1))
        ax.axis("off")
        ax.text(0.5, 0.5, "no images to show", ha="center", va="center")
        ax.set_title(title)
        save(fig, out, layout="bbox")
        return
    # A blank strip on top of each image holds its caption without covering it.
    tall = np.ones((len(images), size + strip, size), dtype=np.float32)
    tall[:, strip:, :] = 1.0 - np.asarray(images, dtype=np.float32) / 255.0
    ncols = min(nrow, len(images))
    tiled = grid(tall, nrow=ncols, padding=pad, pad_value=1.0)
    rows = math.ceil(len(images) / ncols)
    # Taller caption strips make each row taller, never a column narrower.
    row_height = 1.05 * (size + strip + pad) / (size + 11 + pad)
    fig, ax = plt.subplots(figsize=(0.95 * ncols, row_height * rows + 0.4))
    ax.imshow(tiled, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
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
    save(fig, out, layout="bbox")


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
            f"{label(labels, variant)}, seed {seed}: {min(n, len(table))} most confident "
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
            f"{len(pair['b_wrong_a_right'])} images {label(labels, pair['a'])} gets right "
            f"and {label(labels, pair['b'])} gets wrong in all {len(pair['seeds'])} "
            f"seed(s) (true→{label(labels, pair['b'])}'s prediction, confidence)"
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
    save(fig, out)


def plot_overlap(errors: Mapping, out, labels=None) -> None:
    """Jaccard overlap of error sets; off the diagonal the same seed of two variants, on it
    two seeds of one variant (how reproducible its mistakes are)."""
    variants = errors["jaccard"]["variants"]
    matrix = np.array(
        [[math.nan if x is None else x for x in row] for row in errors["jaccard"]["matrix"]],
        dtype=float,
    )
    n = len(variants)
    size = max(4.0, 0.42 * n + 2)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    image = ax.imshow(matrix, cmap="viridis", vmin=0, vmax=1)
    names = [label(labels, v) for v in variants]
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
    save(fig, out, layout="bbox")
