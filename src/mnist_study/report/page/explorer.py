"""The report's explorer: the runs' data (report.plots.explorer_data) as JSON for
report/explorer.js, and the static figure for readers without JavaScript."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping

from mnist_study.atomic import json_safe
from mnist_study.report.plots.explorer_data import build


def to_json(data: Mapping) -> str:
    """Compact JSON that is safe inside a <script> element: no "</script>", "<!--" or "]]>"
    can close or comment it out (the parser reads \\u003c as "<")."""
    text = json.dumps(json_safe(data), separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(char, escaped)
    # Valid JSON, but line terminators in JavaScript source before ES2019.
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


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
    """The report's explorer: its data and the static figure (its library and script are
    inlined with the report's other scripts)."""
    data = build(runs, records, labels)
    names = [_in_sentence(a["label"]) for a in data["axes"]]
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
    }
