"""The claims as one picture: a forest plot of every claim's effect in units of its smallest
effect of interest, with the interval at the level Holm's adjustment gave it (rule plot_forest).

Each claim's bar is drawn so that it agrees with the verdict: it excludes the null exactly when
the Holm-adjusted p-value is below α (see ``holm_interval``). The SVG is inlined in the report.
"""

from __future__ import annotations

import io
import json
import math
import re
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import matplotlib
from matplotlib.lines import Line2D

from mnist_study.atomic import write_text
from mnist_study.evidence.claims import base_variant, record_kind
from mnist_study.evidence.effects import t_quantile
from mnist_study.evidence.stats import CONFIDENCE
from mnist_study.report.plots.drawing import STYLE, plt

# How each verdict is drawn: by shape as well as colour (WCAG 1.4.1), with the report's colours.
MARKS = {
    "supported": {"marker": "o", "color": "#1f7a3a", "filled": True},
    "contradicted": {"marker": "X", "color": "#b3261e", "filled": True},
    "inconclusive": {"marker": "D", "color": "#8a6d00", "filled": False},
}
# Linear within ± this many smallest effects, logarithmic beyond: the band and the verdicts near
# it stay readable beside effects many times the smallest one.
LINEAR_WITHIN = 3.0
OTHER = "Other claims"
# Tick marks: every step near the band; beyond, a step per half decade so labels never crowd.
TICKS_NEAR = (-10, -5, -3, -2, -1, 0, 1, 2, 3, 5, 10)
TICKS_FAR = (-1000, -300, -100, -30, -10, -3, -1, 0, 1, 3, 10, 30, 100, 300, 1000)
# The SVG's own look: the PNG figures' style (drawing.STYLE) undone, matplotlib's as it started.
FOREST_STYLE = {
    **{key: matplotlib.rcParamsOrig[key] for key in STYLE},
    "svg.fonttype": "none",  # text stays text: searchable, and read by screen readers
    "svg.hashsalt": "forest",  # ids the same from run to run
    "font.size": 11,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


@dataclass(frozen=True)
class Row:
    """One claim as drawn: effect and interval in units of its smallest effect of interest,
    signed so that the expected direction is positive."""

    name: str
    statement: str
    group: str
    verdict: str
    effect: float | None  # None where the runs gave no estimate (too few seeds, say)
    low: float | None
    high: float | None


def holm_interval(claim: Mapping, alpha: float) -> tuple[float, float, float, str] | None:
    """The claim's interval at the level that agrees with its Holm-adjusted test, in the metric's
    units: (low, high, level, test), or None where it has no interval (no spread).

    With k = p_holm / p (Holm's multiplier, including its step-down maximum), a test at
    α / k rejects exactly when p_holm < α, and the (1 − α/k) interval excludes the null exactly
    then. A claim shown equivalent (contradicted by the two one-sided tests) gets the
    (1 − 2α/k) interval of those tests instead, which lies inside ±1 exactly then; so does a
    non-inferiority claim, whose test is one-sided."""
    low, high = claim.get("effect_ci") or (None, None)
    df = claim.get("df")
    if low is None or high is None or df is None or not high > low:
        return None
    spread = (high - low) / 2 / t_quantile(1 - (1 - CONFIDENCE) / 2, df)
    equivalent = (
        claim["verdict"] == "contradicted"
        and claim.get("p_equivalence_holm") is not None
        and claim["p_equivalence_holm"] < alpha
        and claim["expect"] != "not_worse"
    )
    p, p_holm = (
        (claim["p_equivalence"], claim["p_equivalence_holm"])
        if equivalent
        else (claim["p_value"], claim["p_holm"])
    )
    if not p or math.isnan(p) or not p_holm:
        return None
    one_sided = equivalent or claim["expect"] == "not_worse"
    tail = alpha * p / p_holm * (2 if one_sided else 1)
    half = t_quantile(1 - tail / 2, df) * spread
    trend = record_kind(claim) == "trend"
    test = "equivalence" if equivalent else "trend" if trend else "difference"
    return claim["effect"] - half, claim["effect"] + half, 1 - tail, test


def claim_group(claim: Mapping, studies: Mapping[str, Mapping]) -> str:
    """The claim's study (its ``study`` key), else the first study in config order whose
    variants hold all of the claim's (a checkpoint ``variant@best`` counting as its variant)."""
    if claim.get("study") in studies:
        return studies[claim["study"]]["title"]
    wanted = {base_variant(v) for v in claim["variants"]}
    for study in studies.values():
        if wanted <= set(study["variants"]):
            return study["title"]
    return OTHER


def forest_rows(claims: Sequence[Mapping], studies: Mapping[str, Mapping], alpha: float):
    """The claims as rows, grouped by study in the order the studies come, claims in theirs."""
    rows = []
    for c in claims:
        sign = -1 if c["expect"] == "decrease" else 1
        scale = sign / c["smallest_effect"]
        interval = holm_interval(c, alpha)
        low, high = (None, None) if interval is None else sorted(v * scale for v in interval[:2])
        rows.append(
            Row(
                name=c["name"],
                statement=c["statement"],
                group=claim_group(c, studies),
                verdict=c["verdict"],
                effect=None if c["effect"] is None else c["effect"] * scale,
                low=low,
                high=high,
            )
        )
    order = [s["title"] for s in studies.values()] + [OTHER]
    return sorted(rows, key=lambda r: order.index(r.group))


def draw(rows: Sequence[Row]):
    """The forest plot as a matplotlib figure; each claim's mark has the id forest-mark-<name>."""
    # Within FOREST_STYLE only, here and in svg_text: the PNG figures keep their style.
    with plt.rc_context(FOREST_STYLE):
        return _draw(rows)


def _draw(rows: Sequence[Row]):
    lines = _lines(rows)
    height = 0.42 * len(lines) + 1.8  # room for a statement wrapped onto two lines
    fig, ax = plt.subplots(figsize=(14, height))
    ax.axvspan(-1, 1, color="#dfe3ea", alpha=0.7, lw=0, zorder=0)
    ax.axvline(0, color="#5b6475", lw=1, zorder=1)
    for y, (_, row) in enumerate(lines):
        if row is not None:
            _draw_row(ax, y, row)
    _label_lines(ax, lines)
    _effect_axis(ax, rows)
    _verdict_legend(ax)
    fig.tight_layout()
    return fig


def _lines(rows: Sequence[Row]) -> list[tuple[str, Row | None]]:
    """The plot's lines from the top: each study's heading (row None), then its claims."""
    lines = []
    group = None
    for row in rows:
        if row.group != group:
            group = row.group
            lines.append((group, None))
        lines.append((row.statement, row))
    return lines


def _draw_row(ax, y: int, row: Row) -> None:
    """One claim's interval and its mark in its verdict's style, or "no estimate"."""
    style = MARKS.get(row.verdict, MARKS["inconclusive"])
    if row.effect is None:
        # Still a row, so the claim is not silently dropped from the picture.
        ax.text(0, y, " no estimate", va="center", ha="left", color=style["color"])
        return
    if row.low is not None:
        ax.plot([row.low, row.high], [y, y], color=style["color"], lw=2, zorder=2)
    (mark,) = ax.plot(
        [row.effect],
        [y],
        linestyle="none",
        marker=style["marker"],
        markersize=9,
        color=style["color"],
        markerfacecolor=style["color"] if style["filled"] else "white",
        markeredgewidth=1.8,
        zorder=3,
    )
    mark.set_gid(f"forest-mark-{row.name}")


def _label_lines(ax, lines: Sequence[tuple[str, Row | None]]) -> None:
    """The statements as y tick labels, wrapped, the study headings in bold, top down."""
    ax.set_yticks(range(len(lines)))
    ax.set_yticklabels([_wrap(label, 60) for label, _ in lines])
    for tick, (_, row) in zip(ax.get_yticklabels(), lines, strict=True):
        if row is None:
            tick.set_fontweight("bold")
    ax.set_ylim(len(lines) - 0.5, -0.5)


def _effect_axis(ax, rows: Sequence[Row]) -> None:
    """The effect axis: symlog, wide enough for every interval, at least ±2."""
    ax.set_xscale("symlog", linthresh=LINEAR_WITHIN, linscale=2)
    ends = [v for r in rows for v in (r.low, r.high, r.effect) if v is not None]
    left, right = min(-2.0, min(ends)), max(2.0, max(ends))
    ax.set_xlim(left * 1.15, right * 1.15)
    near = max(-left, right) <= 12
    ticks = [t for t in (TICKS_NEAR if near else TICKS_FAR) if left * 1.15 <= t <= right * 1.15]
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax.xaxis.set_minor_locator(plt.NullLocator())
    ax.set_xlabel(
        "effect ÷ smallest effect of interest, expected direction to the right\n"
        f"(shaded: within ±1; scale linear within ±{LINEAR_WITHIN:g}, logarithmic beyond)"
    )
    ax.grid(axis="x", alpha=0.3)


def _verdict_legend(ax) -> None:
    """One mark per verdict above the plot."""
    handles = [
        Line2D(
            [],
            [],
            linestyle="none",
            marker=s["marker"],
            color=s["color"],
            markerfacecolor=s["color"] if s["filled"] else "white",
            markeredgewidth=1.8,
            markersize=9,
            label=verdict,
        )
        for verdict, s in MARKS.items()
    ]
    ax.legend(handles=handles, loc="lower left", bbox_to_anchor=(0, 1.0), ncols=3, frameon=False)


def _wrap(text: str, width: int) -> str:
    return "\n".join(textwrap.wrap(text, width)) if len(text) > width else text


def svg_text(fig) -> str:
    """The figure as an <svg> element for inlining into HTML (no XML prologue or DOCTYPE)."""
    buffer = io.StringIO()
    with plt.rc_context(FOREST_STYLE):
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    # Matplotlib's RDF metadata is XML that HTML's SVG does not allow (the Nu validator flags it).
    text = re.sub(r"\s*<metadata>.*?</metadata>", "", text, flags=re.DOTALL)
    return text[text.index("<svg") :]


def forest_svg(claims: Sequence[Mapping], studies: Mapping[str, Mapping], alpha: float) -> str:
    """The forest plot of ``claims`` as an <svg> element (the report's, and the README's)."""
    text = svg_text(draw(forest_rows(claims, studies, alpha)))
    # The figure's role and name for assistive technology; its caption sits beside it.
    return re.sub(
        r"<svg ", '<svg role="img" aria-label="Forest plot of the claims" ', text, count=1
    )


def plot_forest(claims_path, studies: Mapping[str, Mapping], alpha: float, out_svg) -> None:
    claims = json.loads(open(claims_path, encoding="utf-8").read())
    write_text(out_svg, forest_svg(claims, studies, alpha))
