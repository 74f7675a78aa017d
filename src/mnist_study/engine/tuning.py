"""Learning-rate sweeps: a tuned variant trains at each lr of its sweep on seeds of their own,
and its lr is chosen from their validation figures only (the smaller lr on a tie).

A best lr at an end of the sweep with no other lr tied to it extends the sweep one point past
that end, up to tuning.max_extensions times; only then does it stop the workflow (or, for a
sweep no claim reads, warn).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mnist_study import StudyError
from mnist_study.atomic import write_json
from mnist_study.metrics import epochs_to

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
def run_score(sweep: Sweep, history) -> tuple[float, bool]:
    """One sweep run's figure from its history (validation columns only), and whether it was
    observed: a run that never reaches the threshold counts at its budget (censored)."""
    if sweep.metric == "val_acc":
        scored = history.dropna(subset=["val_acc"])
        return float(scored["val_acc"].iloc[-1]), True
    return epochs_to(history, "val_acc", float(sweep.threshold))


SIDES = ("lower", "upper")


def summarise(values: Sequence[float], scores: Mapping[float, Sequence[tuple[float, bool]]]):
    """Per lr: the mean figure over the sweep's seeds, its standard error, runs and censored."""
    points = []
    for lr in sorted(values):
        runs = scores.get(lr, ())
        figures = [v for v, _ in runs]
        n = len(figures)
        mean = sum(figures) / n if n else math.nan
        sd = math.sqrt(sum((v - mean) ** 2 for v in figures) / (n - 1)) if n > 1 else math.nan
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


@dataclass(frozen=True)
class Standing:
    """Where a sweep's figures stand: its points, the best, the lrs tied with it (within the
    best's standard error) and the end the best sits at alone, if any."""

    points: list[dict]
    best: int
    band: float
    tied: list[dict]

    @property
    def edge(self) -> str | None:
        """'lower' or 'upper' where the best is at that end and no other lr is tied with it:
        only then may the optimum lie beyond; a tie at the end chooses inside the grid."""
        if len(self.tied) > 1:
            return None
        return {0: "lower", len(self.points) - 1: "upper"}.get(self.best)


def standing(sweep: Sweep, scores, values: Sequence[float], where: str) -> Standing:
    """The best mean of ``values`` by the sweep's metric, and the lrs within its tie band."""
    points = summarise(values, scores)
    missing = [p["lr"] for p in points if not p["runs"]]
    if missing:
        raise StudyError(f"{where}: no sweep runs for lr {missing}")
    sign = 1 if sweep.higher_is_better else -1
    best = max(range(len(points)), key=lambda i: (sign * points[i]["mean"], -i))
    band = points[best]["se"] if not math.isnan(points[best]["se"]) else 0.0
    tied = [p for p in points if sign * (points[best]["mean"] - p["mean"]) <= band]
    return Standing(points, best, band, tied)


def extension_lr(values: Sequence[float], side: str) -> float:
    """One point past an end of the sweep: end x (end / its neighbour), the grid's own step,
    to the six significant digits lr_name spells."""
    grid = sorted(values)
    end, neighbour = (grid[0], grid[1]) if side == "lower" else (grid[-1], grid[-2])
    return float(f"{end * end / neighbour:.6g}")


def extension_candidates(values: Sequence[float], max_extensions: int) -> list[float]:
    """Every lr that extensions could add to a sweep of ``values``, on either side: the rule
    files declare their runs, which train only where a round asks for them."""
    candidates = []
    for side in SIDES:
        grid = list(values)
        for _ in range(max_extensions):
            grid.append(extension_lr(grid, side))
            candidates.append(grid[-1])
    return candidates


def choose(
    sweep: Sweep,
    scores: Mapping[float, Sequence[tuple[float, bool]]],
    where: str,
    values: Sequence[float] | None = None,
    extensions: Sequence[Mapping] = (),
    read_by_claim: bool = True,
) -> dict:
    """The chosen lr from the sweep's validation figures: the best mean, then the smallest lr
    within one standard error of it (a tie goes to the smaller lr). ``values``: the sweep's
    lrs with its extensions (``extensions``, as the rounds recorded them). A best mean alone at
    an end, once the extensions are spent, stops (StudyError) naming ``where`` and the values;
    for a sweep no claim reads (``read_by_claim`` False) it is chosen with a warning."""
    values = sorted(values or sweep.values)
    stand = standing(sweep, scores, values, where)
    warning = None
    if stand.edge is not None:
        end = "smallest" if stand.edge == "lower" else "largest"
        warning = (
            f"{where}: the best lr by {sweep.describe()} on validation is "
            f"{lr_name(stand.points[stand.best]['lr'])}, the {end} of the sweep "
            f"{[lr_name(v) for v in values]}; the optimum may lie beyond it: extend "
            f"{where}.values past it (after {len(extensions)} extension(s), "
            f"tuning.max_extensions)"
        )
        if read_by_claim:
            raise StudyError(warning)
    chosen = min(stand.tied, key=lambda p: p["lr"])
    return {
        "lr": chosen["lr"],
        "best_lr": stand.points[stand.best]["lr"],
        "metric": sweep.metric,
        "threshold": sweep.threshold,
        "criterion": sweep.describe(),
        "tie_band": stand.band,
        "points": stand.points,
        "extensions": list(extensions),
        **({"warning": warning} if warning else {}),
    }


def _is_number(v) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _read_json(path):
    return json.loads(Path(path).read_text(encoding="utf-8"))


def write_choice(
    sweep: Mapping,
    where: str,
    history_paths,
    info_paths,
    out,
    lr_out=None,
    final_round=None,
    read_by_claim: bool = True,
) -> None:
    """Rule choose_lr: read the sweep's runs (each lr and seed from its train.json), choose, and
    write the choice with every figure behind it, the seeds it read and the extensions the
    last round (``final_round``) records; ``lr_out``, the lr alone."""
    spec = Sweep.from_dict(dict(sweep), where)
    runs = read_runs(history_paths, info_paths)
    last = _read_json(final_round) if final_round else None
    values = sorted({lr for lr, _, _ in runs})
    if last is not None and values != sorted(last["values"]):
        raise StudyError(
            f"{where}: the runs read train at {values}, the sweep's last round at "
            f"{sorted(last['values'])}; rerun its rounds"
        )
    extensions = last["extensions"] if last else []
    choice = choose(spec, _scores(spec, runs), where, values, extensions, read_by_claim)
    if "warning" in choice:
        # Both the job's log and the console: a successful job's log is not shown.
        message = f"warning: {choice['warning']}; no claim reads it, so the study goes on"
        logging.getLogger(__name__).warning(message)
        print(message, flush=True)
    choice["sweep_seeds"] = sorted({seed for _, seed, _ in runs})
    write_json(out, choice)
    if lr_out is not None:
        write_json(lr_out, {"lr": choice["lr"]})


def read_runs(history_paths, info_paths) -> list[tuple[float, int, pd.DataFrame]]:
    """(lr, seed, history) of each sweep run, the lr (the sweep's value) and seed from its own
    train.json (the run's record of its configuration), never from its path."""
    import pandas as pd  # only where a history is read: the Snakemake parse loads this module

    runs = []
    for history, info in zip(history_paths, info_paths, strict=True):
        trained = _read_json(info)["train_config"]
        runs.append((float(trained["lr"]), int(trained["seed"]), pd.read_csv(history)))
    return runs


def _scores(spec: Sweep, runs) -> dict[float, list[tuple[float, bool]]]:
    scores: dict[float, list[tuple[float, bool]]] = {}
    for lr, _, history in runs:
        scores.setdefault(lr, []).append(run_score(spec, history))
    return scores


def decide_round(
    readers: Mapping[str, Sweep], runs, round_index: int, max_extensions: int, previous=None
) -> dict:
    """One round of a sweep's extensions: every reader's standing on the runs so far, and the
    point past each end that some reader's best sits at alone (none once ``max_extensions``
    rounds have added). ``previous``: the round before's record."""
    values = sorted({lr for lr, _, _ in runs})
    edges = {
        name: standing(spec, _scores(spec, runs), values, f"variants.{name}.tune_lr").edge
        for name, spec in readers.items()
    }
    added = []
    if round_index < max_extensions:
        for side in SIDES:
            asked = sorted(name for name, edge in edges.items() if edge == side)
            if asked:
                lr = extension_lr(values, side)
                added.append({"round": round_index, "side": side, "lr": lr, "asked_by": asked})
    done = list(previous["extensions"]) + list(previous["added"]) if previous else []
    return {
        "round": round_index,
        "max_extensions": max_extensions,
        "values": values,
        "edges": edges,
        "extensions": done,
        "added": added,
    }


def write_round(readers, round_index, max_extensions, history_paths, info_paths, out, previous):
    """Rule sweep_round: decide_round on the sweep's runs so far, into ``out``."""
    specs = {
        name: Sweep.from_dict(dict(sweep), f"variants.{name}.tune_lr")
        for name, sweep in readers.items()
    }
    before = _read_json(previous) if previous else None
    runs = read_runs(history_paths, info_paths)
    write_json(out, decide_round(specs, runs, round_index, max_extensions, before))
