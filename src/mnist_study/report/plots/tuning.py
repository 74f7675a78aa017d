"""Learning-rate figures: per study with tuned variants, each sweep's validation figure against
the lr (censored points marked, the choice ringed), and the isolation plot beside it.

The isolation plot (Google's Deep Learning Tuning Playbook) shows, for each value of the study's
factor, the best validation figure its own sweep found: the factor's effect with the lr removed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from mnist_study.report.plots.drawing import label, plt, save
from mnist_study.runrecord import read_choices


def _criterion(choices: Mapping[str, Mapping], where: str) -> str:
    """The one validation criterion a figure's sweeps share (a y-axis has one unit)."""
    criteria = sorted({c["criterion"] for c in choices.values()})
    if len(criteria) != 1:
        raise ValueError(
            f"{where}: its tuned variants choose by different criteria {criteria}; one figure "
            f"shows one: tune them by the same metric"
        )
    return criteria[0]


def _sweep_line(ax, choice: Mapping, color, name: str) -> tuple[Mapping, float]:
    """One variant's sweep: its mean against the lr with standard errors, each point hollow
    where runs were censored (square where added past the grid), the chosen lr ringed. Returns
    the chosen point and its standard error."""
    points = choice["points"]
    lrs = [p["lr"] for p in points]
    errors = [0.0 if math.isnan(p["se"]) else p["se"] for p in points]
    ax.errorbar(
        lrs, [p["mean"] for p in points], yerr=errors, color=color, lw=1.2, capsize=2, label=name
    )
    extended = {e["lr"] for e in choice.get("extensions", [])}
    for p in points:
        censored = p["censored"] > 0
        ax.plot(
            p["lr"],
            p["mean"],
            "s" if p["lr"] in extended else "o",
            color=color,
            ms=5,
            markerfacecolor="white" if censored else color,
        )
    chosen = next(p for p in points if p["lr"] == choice["lr"])
    ax.plot(
        chosen["lr"],
        chosen["mean"],
        "o",
        ms=12,
        markerfacecolor="none",
        markeredgecolor=color,
        markeredgewidth=1.5,
    )
    return chosen, errors[lrs.index(choice["lr"])]


def _isolated_point(iso, i: int, choice: Mapping, chosen: Mapping, error: float, color) -> None:
    """The variant at its own chosen lr, at position ``i`` of the isolation plot."""
    iso.errorbar([i], [chosen["mean"]], yerr=[error], fmt="o", color=color, capsize=3)
    iso.annotate(
        f"lr {choice['lr']:g}",
        (i, chosen["mean"]),
        textcoords="offset points",
        xytext=(6, 4),
        fontsize=7,
    )


def _label_panels(ax, iso, study: Mapping, tuned, extended: bool, criterion: str) -> None:
    """The legend's marker key, both panels' axes and the titles."""
    ax.plot([], [], "o", color="0.4", markerfacecolor="white", label="some runs censored")
    ax.plot([], [], "o", color="0.4", ms=12, markerfacecolor="none", label="chosen lr")
    if extended:
        ax.plot([], [], "s", color="0.4", ms=5, label="added past the grid's end")
    ax.set(xscale="log", xlabel="peak learning rate (log scale)", ylabel=criterion)
    ax.legend(fontsize=7, title=study["factor"]["label"], title_fontsize=7)
    iso.set_xticks(range(len(tuned)), [str(value) for _, value in tuned], fontsize=8)
    iso.set(xlim=(-0.5, len(tuned) - 0.5), ylabel=criterion, xlabel=study["factor"]["label"])
    iso.set_title("isolation: each at its own best lr", fontsize=8)
    ax.set_title(f"{study.get('title', '')}: the learning-rate sweeps", fontsize=9)


def plot_lr_curves(study: Mapping, choices: Mapping[str, Mapping], out, labels=None) -> None:
    """Left: mean validation figure (± one standard error over the sweep seeds) against the lr,
    one line per tuned variant; hollow points had censored runs; the chosen lr ringed. Right:
    the isolation plot, each factor value at its own chosen lr."""
    values = zip(study["variants"], study["factor"]["values"], strict=True)
    tuned = [(v, f) for v, f in values if v in choices]
    criterion = _criterion({v: choices[v] for v, _ in tuned}, f"studies.{study['title']}")
    fig, (ax, iso) = plt.subplots(1, 2, figsize=(9.6, 3.6), width_ratios=(3, 2))
    cmap = plt.get_cmap("tab10")
    for i, (variant, value) in enumerate(tuned):
        choice, color = choices[variant], cmap(i)
        name = f"{label(labels, variant)} ({value})"
        chosen, error = _sweep_line(ax, choice, color, name)
        _isolated_point(iso, i, choice, chosen, error, color)
    extended = any(choices[v].get("extensions") for v, _ in tuned)
    _label_panels(ax, iso, study, tuned, extended, criterion)
    save(fig, out)


def plot_tuning(studies: Mapping, variants, choice_paths, outputs: Mapping, labels=None) -> None:
    """Rule plot_tuning: one figure per study with tuned variants (``outputs``: study -> path;
    ``variants`` and ``choice_paths``: each tuned variant's choice.json)."""
    choices = read_choices(variants, choice_paths)
    for name, out in outputs.items():
        plot_lr_curves(studies[name], choices, out, labels)
