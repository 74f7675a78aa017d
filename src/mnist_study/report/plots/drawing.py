"""The shared matplotlib helpers of every figure module: pyplot on the Agg backend in the
report's style, saving, labels and the bands of learning curves over seeds."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import matplotlib
import pandas as pd
from matplotlib.ticker import MaxNLocator

from mnist_study.atomic import atomic_path

# Jobs have no display: the backend is chosen before pyplot is first imported.
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (pyplot must follow matplotlib.use)

DPI = 100
# The look of every PNG figure (forest.py draws its SVG in its own).
STYLE = {
    "figure.dpi": DPI,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "font.size": 9,
}
plt.rcParams.update(STYLE)


def save(fig, path, layout: str = "tight_layout") -> None:
    """``layout``: "tight_layout" (cheap, the default: the study has a figure or more per
    variant), "bbox" (crop to the drawn content, an extra draw; image grids, colour bars) or
    "fixed" (the figure placed its axes itself)."""
    if layout == "tight_layout":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            fig.tight_layout()
    with atomic_path(path) as tmp:
        # The temporary name ends in .tmp, so the format must be given.
        fig.savefig(tmp, format="png", dpi=DPI, bbox_inches="tight" if layout == "bbox" else None)
    plt.close(fig)


def epochs_axis(ax) -> None:
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def class_names(dataset: Mapping | None) -> list[str]:
    """The dataset's class names in label order (mnist_study.config.describe_dataset)."""
    return list((dataset or {}).get("classes") or [str(c) for c in range(10)])


def noun(dataset: Mapping | None) -> str:
    """What one image shows, in the plural, for titles: 'digits', 'articles', 'images'."""
    return f"{(dataset or {}).get('noun') or 'image'}s"


def label(labels: Mapping | None, variant: str) -> str:
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


def plot_band(ax, frames, column, label, color, style="-"):
    x, mean, low, high = _band(frames, column)
    ax.plot(x, mean, style, color=color, label=label, lw=1.5)
    if len(frames) > 1:
        ax.fill_between(x, low, high, color=color, alpha=0.2, lw=0)
    return x, mean
