"""Memorization curves: per study, eval-mode training accuracy per epoch of each variant, real
against random labels (Zhang et al. 2017, Figure 1a), with the level its claims hold them to."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from mnist_study.report.plots.drawing import (
    epochs_axis,
    label,
    plot_band,
    plt,
    read_histories,
    save,
)

# Re-exported beside the figure whose levels it names; its home is the light figure_plan, which
# Snakemake imports at parse time.


def plot_memorization_curves(
    study: Mapping, histories: Mapping, out, labels=None, levels: Iterable[float] = ()
) -> None:
    """One line per variant: eval-mode training accuracy (against the labels it trained on)
    per epoch, mean over seeds with their range as a band; a dashed line at each level."""
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    cmap = plt.get_cmap("tab10")
    for i, (variant, value) in enumerate(
        zip(study["variants"], study["factor"]["values"], strict=True)
    ):
        if variant not in histories:
            raise ValueError(f"no history for variant {variant!r}; have {list(histories)}")
        name = f"{label(labels, variant)} ({value})"
        plot_band(ax, histories[variant], "train_eval_acc", name, cmap(i))
    for level in levels:
        ax.axhline(
            level, color="0.3", linestyle="--", lw=1, label=f"{100 * level:g}% (the claims' level)"
        )
    ax.set(xlabel="epoch", ylabel="training accuracy (eval mode, own labels)", ylim=(0, 1.02))
    epochs_axis(ax)
    ax.legend(fontsize=7, loc="lower right", title=study["factor"]["label"], title_fontsize=7)
    ax.set_title(study.get("title", ""), fontsize=9)
    save(fig, out)


def plot_memorization(
    studies: Mapping, run_keys, history_paths, outputs: Mapping, levels: Mapping, labels=None
) -> None:
    """Rule plot_memorization: one figure of memorization curves per study (``outputs`` and
    ``levels``: study -> path, study -> its claims' training-accuracy levels)."""
    histories = read_histories(run_keys, history_paths)
    for name, out in outputs.items():
        plot_memorization_curves(studies[name], histories, out, labels, levels.get(name, ()))
