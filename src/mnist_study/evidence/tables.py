"""Aggregate run outputs into tables: one row per run, then one per variant over seeds.

Every later analysis (plots, claims, the report) reads these two CSV files.
"""

from __future__ import annotations

import json

import pandas as pd

from mnist_study.atomic import write_csv

SUMMARY_METRICS = (
    "test_acc",
    "val_acc",
    "train_acc",
    "gap",
    "ece",
    "overconfidence",
    "train_seconds",
    "best_epoch",
    "stop_epoch",
)


def run_row(variant: str, seed: int, info: dict, history: pd.DataFrame, metrics: dict) -> dict:
    final = history.iloc[-1]
    training = info["train_config"]
    return {
        "variant": variant,
        "seed": int(seed),
        "params": int(info["params"]),
        "flops_per_sample": int(info["flops_per_sample"]),
        "test_acc": float(metrics["test_acc"]),
        "test_loss": float(metrics["test_loss"]),
        "val_acc": float(final["val_acc"]),
        "val_loss": float(final["val_loss"]),
        # Eval mode on the fixed training subset: the honest side of the generalization gap,
        # from the same integer predictions the tests read.
        "train_acc": float(metrics["train_acc"]),
        "train_loss": float(final["train_eval_loss"]),
        "gap": float(metrics["train_acc"]) - float(metrics["test_acc"]),
        "ece": float(metrics["ece"]),
        "overconfidence": float(metrics["overconfidence"]),
        "best_epoch": int(history["epoch"][history["val_acc"].idxmax()]),
        # Early stopping: the epoch of lowest validation loss, and its checkpoint's test figures.
        "stop_epoch": int(history["epoch"][history["val_loss"].idxmin()]),
        **{f"{k}_best": float(v) for k, v in _best(metrics).items()},
        "epochs": int(final["epoch"]),
        "train_seconds": float(info["train_seconds"]),
        # How it was trained: the claims state each side's learning rate (a tuned variant's is
        # its sweep's choice), as the schedule's peak after any scaling with the batch.
        "optimizer": training["optimizer"],
        "batch_size": int(training["batch_size"]),
        "lr": float(info["peak_lr"]),
        "lr_base": float(training["lr"]),  # before scaling with the batch (lr_scaling)
    }


def _best(metrics: dict) -> dict:
    best = metrics.get("best_checkpoint", {})
    return {k: best[k] for k in ("test_acc", "test_loss", "ece") if k in best}


def runs_table(keys, info_paths, history_paths, metrics_paths) -> pd.DataFrame:
    if not len(keys) == len(info_paths) == len(history_paths) == len(metrics_paths):
        raise ValueError("runs_table: one (variant, seed) key is needed per run file")
    rows = []
    for (variant, seed), info, history, metrics in zip(
        keys, info_paths, history_paths, metrics_paths, strict=True
    ):
        with open(info) as f_info, open(metrics) as f_metrics:
            rows.append(
                run_row(
                    variant, seed, json.load(f_info), pd.read_csv(history), json.load(f_metrics)
                )
            )
    return pd.DataFrame(rows)


def summary_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean and sample std over seeds (std is NaN with one seed: there is no spread to show)."""
    grouped = runs.groupby("variant", sort=False)
    summary = grouped[["params", "flops_per_sample"]].first()
    summary["n_seeds"] = grouped.size()
    for metric in SUMMARY_METRICS:
        summary[f"{metric}_mean"] = grouped[metric].mean()
        summary[f"{metric}_std"] = grouped[metric].std(ddof=1)
    return summary.reset_index()


def write_tables(keys, info_paths, history_paths, metrics_paths, runs, summary) -> None:
    table = runs_table(keys, info_paths, history_paths, metrics_paths)
    write_csv(runs, table)
    write_csv(summary, summary_table(table))
