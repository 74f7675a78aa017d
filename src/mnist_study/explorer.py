"""The explorer over every run: one line per run across the hyperparameters that vary between
runs and the outcomes, as data that report/explorer.js draws (brushable parallel coordinates)
and as a static figure for readers without JavaScript.

A run's hyperparameters come from its record (train.json: the model spec and the training
settings as trained, defaults filled in, and the images it trained on); its outcomes, and the
optimizer, batch and peak learning rate as trained, from runs.csv.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Axis:
    key: str
    label: str
    category: bool = False
    # Values that span a decade or more are drawn on a log scale (symlog where 0 is among
    # them): widths, rates and sizes are chosen by factors, and a linear axis would crowd all
    # but the largest into its bottom tenth.
    log: bool = False
    percent: bool = False
    outcome: bool = False


HYPERPARAMETERS = (
    Axis("model", "Model", category=True),
    Axis("width", "Width", log=True),
    Axis("depth", "Hidden layers"),
    Axis("activation", "Activation", category=True),
    Axis("dropout", "Dropout"),
    Axis("input_dropout", "Input dropout"),
    Axis("weight_decay", "Weight decay", log=True),
    Axis("augmentation", "Augmentation", category=True),
    Axis("labels", "Labels", category=True),
    Axis("train_images", "Training images", log=True),
    Axis("optimizer", "Optimizer", category=True),
    Axis("batch_size", "Batch", log=True),
    Axis("lr", "Learning rate", log=True),
)
OUTCOMES = (
    Axis("test_acc", "Test accuracy", percent=True, outcome=True),
    Axis("gap", "Gap", percent=True, outcome=True),
    Axis("ece", "ECE", percent=True, outcome=True),
    Axis("train_seconds", "Seconds / run", log=True, outcome=True),
)
COLOUR = "test_acc"  # the outcome that colours the lines first
DECADE = 10.0
# Few enough distinct values to label each one on its axis; more get evenly spaced ticks.
TICK_VALUES = 8
SIGNIFICANT = 6  # digits kept in the embedded data: far below what the axes resolve
# The top of viridis is a pale yellow that vanishes on white: the lines use the rest.
VIRIDIS_TOP = 0.85
PALETTE = 128  # colours of the static figure's PNG
MISSING = "#999999"  # a line without the colouring outcome (explorer.js draws it so too)


# ----------------------------------------------------------------------------- data


def run_settings(record: Mapping) -> dict:
    """The hyperparameters of one run from its record (train.json)."""
    spec, training = record["spec"], record.get("train_config", {})
    kind = spec.get("kind", "?")
    hidden = spec.get("hidden") or []
    if kind == "cnn":
        # The CNN's hidden layers: its convolution blocks and its fully connected layer, if any.
        dense = [hidden] if isinstance(hidden, int) and hidden else []
        width, depth = max(dense, default=0), len(spec.get("channels", [])) + len(dense)
        activation = "relu"
    else:
        width, depth = max(hidden, default=0), len(hidden)
        activation = spec.get("activation", "relu") if hidden else "none"
    return {
        "model": kind,
        "width": width,
        "depth": depth,
        "activation": activation,
        "dropout": spec.get("dropout", 0.0),
        "input_dropout": spec.get("input_dropout", 0.0),
        "weight_decay": training.get("weight_decay", 0.0),
        "augmentation": augmentation_text(
            training.get("augment_shift", 0.0), training.get("augment_rotation", 0.0)
        ),
        "labels": "random" if training.get("random_labels") else "real",
        "train_images": record["train_images"],
    }


def augmentation_text(shift: float, rotation: float) -> str:
    parts = [f"±{shift:g} px" if shift else "", f"±{rotation:g}°" if rotation else ""]
    return ", ".join(p for p in parts if p) or "none"


def _value(value, category: bool):
    """A JSON value: categories as text, numbers to SIGNIFICANT digits, missing as null."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if category:
        return str(value)
    value = float(value)
    if not math.isfinite(value):
        return None
    if value.is_integer() and abs(value) < 2**53:
        return int(value)
    return float(f"{value:.{SIGNIFICANT}g}")


def axis_entry(axis: Axis, values: Sequence) -> dict:
    """What the script and the static figure need to draw one axis."""
    entry = {"key": axis.key, "label": axis.label, "outcome": axis.outcome}
    if axis.category:
        return {**entry, "kind": "category", "domain": list(dict.fromkeys(v for v in values if v))}
    entry.update(kind="number", format="%" if axis.percent else "", scale="linear")
    present = sorted({v for v in values if v is not None})
    positive = [v for v in present if v > 0]
    if axis.log and positive and present[0] >= 0 and present[-1] / positive[0] >= DECADE:
        if present[0] > 0:
            entry["scale"] = "log"
        else:
            entry.update(scale="symlog", constant=positive[0])
    if not axis.outcome and len(present) <= TICK_VALUES:
        entry["ticks"] = present
    return entry


def build(runs, records: Mapping, labels: Mapping[str, str] | None = None) -> dict:
    """The explorer's data: one row per run of ``runs`` (runs.csv's frame), its hyperparameters
    from ``records`` ({(variant, seed): train.json}); only the hyperparameters whose values
    differ between runs become axes, every outcome that runs.csv has does."""
    rows = []
    for run in runs.to_dict("records"):
        key = (run["variant"], int(run["seed"]))
        if key not in records:
            raise ValueError(f"explorer: no run record (train.json) for {key[0]} seed {key[1]}")
        rows.append({**run, **run_settings(records[key])})
    columns = {
        a: [_value(r.get(a.key), a.category) for r in rows]
        for a in (*HYPERPARAMETERS, *OUTCOMES)
        if rows and a.key in rows[0]
    }
    axes = [
        a
        for a, values in columns.items()
        if (len(set(values)) > 1 if not a.outcome else any(v is not None for v in values))
    ]
    outcomes = [a.key for a in axes if a.outcome]
    return {
        "axes": [axis_entry(a, columns[a]) for a in axes],
        "colour": COLOUR if COLOUR in outcomes else (outcomes[0] if outcomes else None),
        "labels": dict(labels or {}),
        "columns": ["variant", "seed", *(a.key for a in axes)],
        "rows": [
            [r["variant"], int(r["seed"]), *(columns[a][i] for a in axes)]
            for i, r in enumerate(rows)
        ],
    }


def to_json(data: Mapping) -> str:
    """Compact JSON that is safe inside a <script> element: no "</script>", "<!--" or "]]>"
    can close or comment it out (the parser reads \\u003c as "<")."""
    from .atomic import json_safe

    text = json.dumps(json_safe(data), separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(char, escaped)
    # Valid JSON, but line terminators in JavaScript source before ES2019.
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def read(runs_csv, run_keys: Sequence, info_paths: Sequence, labels=None) -> dict:
    import pandas as pd

    from .runrecord import read_run_record

    records = {
        (v, int(s)): read_run_record(p) for (v, s), p in zip(run_keys, info_paths, strict=True)
    }
    return build(pd.read_csv(runs_csv), records, labels)


# ----------------------------------------------------------------------------- static figure


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
    import pandas as pd

    series = pd.Series([math.nan if v is None else v for v in values], dtype=float)
    ranks, n = series.rank(method="max"), series.count()
    return [None if r != r else 0.5 if n == 1 else (r - 1) / (n - 1) for r in ranks]


def plot(data: Mapping, out) -> None:
    """The explorer as a static parallel-coordinates figure, coloured by data["colour"]."""
    import numpy as np
    from matplotlib import cm, colors
    from matplotlib.collections import LineCollection

    from .plots import _plt

    plt = _plt()
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
    """As plots._save, then in PALETTE colours: hundreds of antialiased lines make a true-colour
    PNG three times the bytes (306 against 95 KB for 480 runs) for no difference one can see,
    and the report embeds it beside the interactive chart that replaces it."""
    import io
    import warnings

    from PIL import Image

    from .atomic import write_bytes
    from .plots import DPI, _plt

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        fig.tight_layout()
    drawn, small = io.BytesIO(), io.BytesIO()
    fig.savefig(drawn, format="png", dpi=DPI)
    _plt().close(fig)
    image = Image.open(drawn).convert("RGB")
    image.quantize(PALETTE, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
        small, format="png", optimize=True
    )
    write_bytes(out, small.getvalue())


def plot_files(runs_csv, run_keys: Sequence, info_paths: Sequence, out) -> None:
    """Rule plot_explorer: the static figure from runs.csv and the run records."""
    plot(read(runs_csv, run_keys, info_paths), out)


# ----------------------------------------------------------------------------- report


def _script(path, name: str) -> str:
    text = Path(path).read_text(encoding="utf-8")
    # Inlined as it is: one of these would end the <script> element early or comment it out.
    for bad in ("</script", "<!--"):
        if bad in text.lower():
            raise ValueError(f"{path}: contains {bad!r}; {name} cannot be inlined in the report")
    return text


def _in_sentence(label: str) -> str:
    """An axis label inside a sentence: "Test accuracy" -> "test accuracy", "ECE" stays."""
    return label if label[:2].isupper() else label[:1].lower() + label[1:]


def section(
    runs,
    records: Mapping,
    labels: Mapping[str, str],
    inputs: Mapping,
    caption: Callable[..., str],
    figure: Callable[..., dict],
) -> dict:
    """The report's explorer: its data, the static figure, and the library and script that the
    template inlines once (the library's licence text as a comment before it)."""
    data = build(runs, records, labels)
    names = [_in_sentence(a["label"]) for a in data["axes"]]
    licence = Path(inputs["d3_license"]).read_text(encoding="utf-8").strip().replace("*/", "* /")
    colour = next(
        (_in_sentence(a["label"]) for a in data["axes"] if a["key"] == data["colour"]), "–"
    )
    return {
        "data": to_json(data),
        "runs": len(data["rows"]),
        "figure": figure(
            inputs["explorer"],
            caption("explorer", n_runs=len(data["rows"]), axes=", ".join(names), colour=colour),
            f"Parallel-coordinates chart of {len(data['rows'])} runs, one line each, over "
            f"{', '.join(names)}; coloured by {colour}.",
            "explorer",
        ),
        "library": f"/*! d3, {Path(inputs['d3']).name}: {licence} */\n"
        + _script(inputs["d3"], "d3"),
        "script": _script(inputs["explorer_js"], "the explorer"),
    }
