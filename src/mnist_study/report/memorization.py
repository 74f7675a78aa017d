"""Memorization curves: per study, eval-mode training accuracy per epoch of each variant, real
against random labels (Zhang et al. 2017, Figure 1a), with the level its claims hold them to."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from mnist_study.evidence.claims import base_variant

# Snakemake reads train_levels at parse time: this module's top stays free of numpy, pandas
# and matplotlib, which the plotting functions import when a job calls them.


def train_levels(claims: Iterable[Mapping], variants: Iterable[str]) -> list[float]:
    """The training-accuracy levels named by the claims on ``variants`` alone (config entries
    or verdict records): the threshold of an epochs_to_train_acc claim, the level of a level
    claim on train_acc. Distinct, ascending; empty where no such claim is."""
    members = set(variants)
    levels = set()
    for claim in claims:
        if not {base_variant(v) for v in claim["variants"]} <= members:
            continue
        if claim["metric"] == "epochs_to_train_acc" and claim.get("threshold") is not None:
            levels.add(float(claim["threshold"]))
        if claim["metric"] == "train_acc" and claim.get("compare") == "level":
            levels.add(float(claim["level"]))
    return sorted(levels)


def plot_memorization_curves(
    study: Mapping, histories: Mapping, out, labels=None, levels: Iterable[float] = ()
) -> None:
    """One line per variant: eval-mode training accuracy (against the labels it trained on)
    per epoch, mean over seeds with their range as a band; a dashed line at each level."""
    from mnist_study.report.plots import _epochs_axis, _label, _plot_band, _plt, _save

    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    cmap = plt.get_cmap("tab10")
    for i, (variant, value) in enumerate(
        zip(study["variants"], study["factor"]["values"], strict=True)
    ):
        if variant not in histories:
            raise ValueError(f"no history for variant {variant!r}; have {list(histories)}")
        name = f"{_label(labels, variant)} ({value})"
        _plot_band(ax, histories[variant], "train_eval_acc", name, cmap(i))
    for level in levels:
        ax.axhline(
            level, color="0.3", linestyle="--", lw=1, label=f"{100 * level:g}% (the claims' level)"
        )
    ax.set(xlabel="epoch", ylabel="training accuracy (eval mode, own labels)", ylim=(0, 1.02))
    _epochs_axis(ax)
    ax.legend(fontsize=7, loc="lower right", title=study["factor"]["label"], title_fontsize=7)
    ax.set_title(study.get("title", ""), fontsize=9)
    _save(fig, out)


def plot_memorization(
    studies: Mapping, run_keys, history_paths, outputs: Mapping, levels: Mapping, labels=None
) -> None:
    """Rule plot_memorization: one figure of memorization curves per study (``outputs`` and
    ``levels``: study -> path, study -> its claims' training-accuracy levels)."""
    from mnist_study.report.plots import read_histories

    histories = read_histories(run_keys, history_paths)
    for name, out in outputs.items():
        plot_memorization_curves(studies[name], histories, out, labels, levels.get(name, ()))
