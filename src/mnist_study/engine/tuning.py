"""Learning-rate sweeps: a tuned variant trains at each lr of its sweep on seeds of their own,
and its lr is chosen from their validation figures only (the smaller lr on a tie).

A best lr at either end of the sweep stops the workflow: the optimum may lie beyond it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mnist_study import StudyError

if TYPE_CHECKING:  # pandas is imported only where a history is read: config imports this
    import pandas as pd

# The claim's own metric, measured on validation: final validation accuracy, or epochs until
# validation accuracy first reaches a threshold (speed claims).
SWEEP_METRICS = ("val_acc", "epochs_to_val_acc")
MIN_VALUES = 3  # an interior best needs a value on each side of it


@dataclass(frozen=True)
class Sweep:
    """One tuned variant's sweep (config.yaml ``variants.<name>.tune_lr``)."""

    values: tuple[float, ...]  # the learning rates tried, ascending
    metric: str = "val_acc"
    threshold: float | None = None  # epochs_to_val_acc: the validation accuracy to reach

    @classmethod
    def from_dict(cls, d, where: str) -> Sweep:
        """Check a sweep; errors name the key path and what is valid."""
        if not isinstance(d, Mapping):
            raise ValueError(f"{where}: {d!r}; must be a mapping with `values`")
        unknown = sorted(set(d) - {"values", "metric", "threshold", "shares"})
        if unknown:
            raise ValueError(
                f"{where}: unknown key(s) {unknown}; valid: values, metric, threshold, shares"
            )
        values = d.get("values")
        numbers = isinstance(values, list) and all(_is_number(v) for v in values)
        if not numbers or len(values) < MIN_VALUES or any(v <= 0 for v in values):
            raise ValueError(
                f"{where}.values: {values!r}; need a list of at least {MIN_VALUES} positive "
                f"learning rates"
            )
        if len(set(values)) != len(values):
            raise ValueError(f"{where}.values: {values!r}; each learning rate once")
        metric = d.get("metric", "val_acc")
        if metric not in SWEEP_METRICS:
            raise ValueError(f"{where}.metric: {metric!r}; valid: {list(SWEEP_METRICS)}")
        threshold = d.get("threshold")
        if (metric == "epochs_to_val_acc") != (threshold is not None) or (
            threshold is not None and not (_is_number(threshold) and 0 < threshold <= 1)
        ):
            raise ValueError(
                f"{where}.threshold: {threshold!r}; metric 'epochs_to_val_acc' needs a validation "
                f"accuracy in (0, 1], and only it takes one"
            )
        return cls(tuple(sorted(float(v) for v in values)), metric, threshold)

    @property
    def higher_is_better(self) -> bool:
        return self.metric == "val_acc"

    def describe(self) -> str:
        if self.metric == "val_acc":
            return "final validation accuracy"
        return f"epochs to {self.threshold:.2%} validation accuracy"


def lr_name(lr: float) -> str:
    """A learning rate as it names a folder and a rule: short, exact for config's values."""
    return f"{lr:g}"


def sweep_seeds(config: Mapping) -> list[int]:
    """The sweep's seeds: ``tuning.seeds`` of them from ``tuning.seed_offset`` plus the study's
    ``seed_offset``, so that make replicate shifts them too and none is a claim's seed."""
    tuning = config["tuning"]
    first = int(tuning["seed_offset"]) + int(config.get("seed_offset", 0))
    return list(range(first, first + int(tuning["seeds"])))


# The claims' time-to metrics read it too (evidence.verdicts); it lives here so that choosing a
# learning rate needs nothing from the evidence stage.
def epochs_to(history: pd.DataFrame, column: str, threshold: float, chance: float = 0.1):
    """(epochs until ``column`` (an accuracy) first reaches ``threshold``, reached?). Linear
    interpolation between measurements (epoch 0 at chance; epochs not scored are skipped). A
    run that never reaches it is censored at its last epoch: (last epoch, False), never a
    made-up later time."""
    scored = history.dropna(subset=[column])
    epochs = [0.0, *scored["epoch"].astype(float)]
    accs = [chance, *scored[column].astype(float)]
    for i in range(1, len(epochs)):
        if accs[i] >= threshold:
            prev, cur = accs[i - 1], accs[i]
            frac = 1.0 if cur == prev else (threshold - prev) / (cur - prev)
            return epochs[i - 1] + min(max(frac, 0.0), 1.0) * (epochs[i] - epochs[i - 1]), True
    return float(history["epoch"].max()), False


def run_score(sweep: Sweep, history) -> tuple[float, bool]:
    """One sweep run's figure from its history (validation columns only), and whether it was
    observed: a run that never reaches the threshold counts at its budget (censored)."""
    if sweep.metric == "val_acc":
        scored = history.dropna(subset=["val_acc"])
        return float(scored["val_acc"].iloc[-1]), True
    return epochs_to(history, "val_acc", float(sweep.threshold))


def summarise(sweep: Sweep, scores: Mapping[float, Sequence[tuple[float, bool]]]) -> list[dict]:
    """Per lr: the mean figure over the sweep's seeds, its standard error, runs and censored."""
    points = []
    for lr in sweep.values:
        runs = scores.get(lr, ())
        values = [v for v, _ in runs]
        n = len(values)
        mean = sum(values) / n if n else math.nan
        sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else math.nan
        points.append(
            {
                "lr": lr,
                "mean": mean,
                "se": sd / math.sqrt(n) if n > 1 else math.nan,
                "runs": n,
                "censored": sum(not seen for _, seen in runs),
            }
        )
    return points


def choose(sweep: Sweep, scores: Mapping[float, Sequence[tuple[float, bool]]], where: str) -> dict:
    """The chosen lr from the sweep's validation figures: the best mean, then the smallest lr
    within one standard error of it (a tie goes to the smaller lr). Stops (StudyError) where
    the best mean sits at either end of the sweep, naming ``where`` and the values."""
    points = summarise(sweep, scores)
    missing = [p["lr"] for p in points if not p["runs"]]
    if missing:
        raise StudyError(f"{where}: no sweep runs for lr {missing}")
    sign = 1 if sweep.higher_is_better else -1
    best = max(range(len(points)), key=lambda i: (sign * points[i]["mean"], -i))
    if best in (0, len(points) - 1):
        end = "smallest" if best == 0 else "largest"
        raise StudyError(
            f"{where}: the best lr by {sweep.describe()} on validation is "
            f"{lr_name(points[best]['lr'])}, the {end} of the sweep "
            f"{[lr_name(v) for v in sweep.values]}; the optimum may lie beyond it: extend "
            f"{where}.values past it"
        )
    band = points[best]["se"] if not math.isnan(points[best]["se"]) else 0.0
    tied = [p for p in points if sign * (points[best]["mean"] - p["mean"]) <= band]
    chosen = min(tied, key=lambda p: p["lr"])
    return {
        "lr": chosen["lr"],
        "best_lr": points[best]["lr"],
        "metric": sweep.metric,
        "threshold": sweep.threshold,
        "criterion": sweep.describe(),
        "tie_band": band,
        "points": points,
    }


def _is_number(v) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def read_choices(variants, paths) -> dict[str, dict]:
    """The tuned variants' choice.json records, by variant."""
    import json
    from pathlib import Path

    return {
        v: json.loads(Path(p).read_text(encoding="utf-8"))
        for v, p in zip(variants, paths, strict=True)
    }


def write_choice(
    sweep: Mapping,
    where: str,
    keys: Sequence[tuple[float, int]],
    history_paths,
    out,
    lr_out=None,
) -> None:
    """Rule choose_lr: read the sweep's histories ((lr, seed) per path), choose, and write the
    choice with every figure behind it and the seeds it read; ``lr_out``, the lr alone."""
    import pandas as pd

    from mnist_study.atomic import write_json

    spec = Sweep.from_dict(dict(sweep), where)
    scores: dict[float, list[tuple[float, bool]]] = {}
    for (lr, _), path in zip(keys, history_paths, strict=True):
        scores.setdefault(float(lr), []).append(run_score(spec, pd.read_csv(path)))
    choice = choose(spec, scores, where)
    choice["sweep_seeds"] = sorted({int(seed) for _, seed in keys})
    write_json(out, choice)
    if lr_out is not None:
        write_json(lr_out, {"lr": choice["lr"]})
