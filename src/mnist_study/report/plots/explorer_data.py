"""The explorer over every run: one line per run across the hyperparameters that vary between
runs and the outcomes, as data that report/explorer.js draws (brushable parallel coordinates,
embedded by report.page.explorer); explorer_figure.py draws the same lines as a static figure
for readers without JavaScript.

A run's hyperparameters come from its record (train.json: the model spec and the training
settings as trained, defaults filled in, and the images it trained on); its outcomes, and the
optimizer, batch and peak learning rate as trained, from runs.csv.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from mnist_study.runrecord import read_run_record


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


def read(runs_csv, run_keys: Sequence, info_paths: Sequence, labels=None) -> dict:
    records = {
        (v, int(s)): read_run_record(p) for (v, s), p in zip(run_keys, info_paths, strict=True)
    }
    return build(pd.read_csv(runs_csv), records, labels)
