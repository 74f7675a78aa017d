"""The explorer's static figure: the same lines as report/explorer.js draws, as a PNG for readers
without JavaScript (rule plot_explorer), placed on the axes the explorer's data describes.
"""

from __future__ import annotations

import io
import math
import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib import cm, colors
from matplotlib.collections import LineCollection
from PIL import Image

from mnist_study.atomic import write_bytes
from mnist_study.report.plots.drawing import DPI, plt
from mnist_study.report.plots.explorer_data import read

# The top of viridis is a pale yellow that vanishes on white: the lines use the rest.
VIRIDIS_TOP = 0.85
PALETTE = 128  # colours of the static figure's PNG
MISSING = "#999999"  # a line without the colouring outcome (explorer.js draws it so too)


def _scale(axis: Mapping):
    """An axis's transform and its inverse: log, symlog (d3's, with its constant) or none."""
    scale, c = axis.get("scale", "linear"), axis.get("constant", 1.0)
    if scale == "log":
        return math.log10, lambda t: 10**t
    if scale == "symlog":
        return (
            lambda v: math.copysign(math.log1p(abs(v) / c), v),
            lambda t: math.copysign(c * math.expm1(abs(t)), t),
        )
    return (lambda v: v), (lambda t: t)


def position(axis: Mapping, values: Sequence, extent: tuple | None = None) -> list:
    """Values placed on an axis from 0 (bottom) to 1 (top), as the script's scales place them
    (None where a value is missing); ``extent``: the axis's lowest and highest value, by default
    those of ``values``."""
    if axis["kind"] == "category":
        domain = axis["domain"]
        return [(domain.index(v) + 0.5) / len(domain) if v in domain else None for v in values]
    forward, _ = _scale(axis)
    present = [v for v in values if v is not None]
    if not present:
        return [None] * len(values)
    low, high = (forward(v) for v in (extent or (min(present), max(present))))
    return [
        None if v is None else 0.5 if high == low else (forward(v) - low) / (high - low)
        for v in values
    ]


def value_text(axis: Mapping, value, exact: bool = False) -> str:
    """A value as an axis labels it: a category as it is; a percentage to 0.1; a number in
    full where it is one of the values set (``exact``), else to 3 significant digits."""
    if axis["kind"] == "category":
        return str(value)
    if axis.get("format") == "%":
        return f"{value:.1%}"
    if exact or abs(value) >= 1000:
        return f"{value:g}" if abs(value) < 1e6 else f"{value:.3g}"
    return f"{value:.3g}"


def _ticks(axis: Mapping, values: Sequence) -> list[tuple[float, str]]:
    """(position, label) of an axis's tick marks: each category, each value where there are
    few, else five evenly spaced along the axis."""
    if axis["kind"] == "category":
        return list(zip(position(axis, axis["domain"]), axis["domain"], strict=True))
    present = [v for v in values if v is not None]
    if not present:
        return []
    extent = (min(present), max(present))
    if "ticks" in axis:
        shown = axis["ticks"]
        placed = position(axis, shown, extent)
        return [(p, value_text(axis, v, exact=True)) for p, v in zip(placed, shown, strict=True)]
    forward, inverse = _scale(axis)
    low, high = (forward(v) for v in extent)
    steps = [i / 4 for i in range(5)] if high > low else [0.5]
    return [(p, value_text(axis, inverse(low + p * (high - low)))) for p in steps]


def colour_rank(values: Sequence) -> list:
    """Each value's place in the colour scale, from 0 (lowest) to 1 (highest), by rank (ties
    take their highest, as d3.scaleSequentialQuantile places them); None where missing. By rank,
    so that a few runs far from the rest (shuffled labels at chance) do not squeeze every other
    run into one end of the scale."""
    series = pd.Series([math.nan if v is None else v for v in values], dtype=float)
    ranks, n = series.rank(method="max"), series.count()
    return [None if r != r else 0.5 if n == 1 else (r - 1) / (n - 1) for r in ranks]


def plot(data: Mapping, out) -> None:
    """The explorer as a static parallel-coordinates figure, coloured by data["colour"]."""
    axes = data["axes"]
    column = {key: i for i, key in enumerate(data["columns"])}
    series = {a["key"]: [row[column[a["key"]]] for row in data["rows"]] for a in axes}
    placed = np.array(
        [[np.nan if p is None else p for p in position(a, series[a["key"]])] for a in axes],
        dtype=float,
    ).T
    fig, ax = plt.subplots(figsize=(max(8.0, 0.85 * len(axes) + 2.0), 5.0))
    cmap = colors.ListedColormap(cm.viridis(np.linspace(0, VIRIDIS_TOP, 256)))
    colour = next(a for a in axes if a["key"] == data["colour"])
    shade = series[colour["key"]]
    painted = [colors.to_rgba(MISSING) if t is None else cmap(t) for t in colour_rank(shade)]
    xs = np.arange(len(axes), dtype=float)
    # A missing value leaves its point out; the line joins the points on either side.
    lines = [np.column_stack([xs[ok], p[ok]]) for p in placed for ok in [np.isfinite(p)]]
    ax.add_collection(LineCollection(lines, colors=painted, linewidths=0.8, alpha=0.55))
    for x, a in zip(xs, axes, strict=True):
        ax.axvline(x, color="#333333", linewidth=0.8, zorder=3)
        for p, text in _ticks(a, series[a["key"]]):
            ax.text(x - 0.04, p, text, ha="right", va="center", fontsize=7, zorder=4)
    ax.set_xlim(-0.6, len(axes) - 0.6)
    ax.set_ylim(-0.04, 1.04)
    ax.set_xticks(xs, [a["label"].replace(" ", "\n", 1) for a in axes], fontsize=8)
    ax.xaxis.tick_top()
    for i, a in enumerate(axes):
        ax.get_xticklabels()[i].set_fontweight("bold" if a["outcome"] else "normal")
    ax.set_yticks([])
    ax.grid(False)
    for side in ("left", "bottom", "top", "right"):
        ax.spines[side].set_visible(False)
    bar = fig.colorbar(cm.ScalarMappable(cmap=cmap), ax=ax, fraction=0.025, pad=0.01)
    known = sorted(v for v in shade if v is not None)
    if known:
        # By rank: the bar's ticks are the quantiles' values.
        quantiles = [0, 0.25, 0.5, 0.75, 1]
        bar.set_ticks(
            quantiles,
            labels=[value_text(colour, known[round(q * (len(known) - 1))]) for q in quantiles],
        )
    bar.set_label(f"{colour['label']} (colour by rank)")
    _save_palette(fig, out)


def _save_palette(fig, out) -> None:
    """As drawing.save, then in PALETTE colours: hundreds of antialiased lines make a true-colour
    PNG three times the bytes (306 against 95 KB for 480 runs) for no difference one can see,
    and the report embeds it beside the interactive chart that replaces it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        fig.tight_layout()
    drawn, small = io.BytesIO(), io.BytesIO()
    fig.savefig(drawn, format="png", dpi=DPI)
    plt.close(fig)
    image = Image.open(drawn).convert("RGB")
    image.quantize(PALETTE, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
        small, format="png", optimize=True
    )
    write_bytes(out, small.getvalue())


def plot_files(runs_csv, run_keys: Sequence, info_paths: Sequence, out) -> None:
    """Rule plot_explorer: the static figure from runs.csv and the run records."""
    plot(read(runs_csv, run_keys, info_paths), out)


# ----------------------------------------------------------------------------- report
