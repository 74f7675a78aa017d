"""Each run's misclassified test images, most confident mistakes first, from its predictions.npz
alone: the misclassified rule imports no torch.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from mnist_study.atomic import write_csv

MISCLASSIFIED_COLUMNS = ("index", "true", "pred", "confidence", "runner_up", "runner_up_prob")


def misclassified_table(pred: np.ndarray, probs: np.ndarray, labels: np.ndarray):
    """One row per misclassified image, most confident mistakes first: the prediction is the
    run's integer ``pred``; ``probs`` only give its confidence and the runner-up."""
    pred = np.asarray(pred, dtype=np.int64)
    probs = np.asarray(probs, dtype=np.float32)
    labels = np.asarray(labels, dtype=np.int64)
    if probs.ndim != 2 or not len(probs) == len(labels) == len(pred):
        raise ValueError(
            f"pred {pred.shape}, probs {probs.shape}, labels {labels.shape}; "
            "need [N], [N, classes] and [N]"
        )
    rows = np.flatnonzero(pred != labels)
    others = probs[rows].copy()
    others[np.arange(len(rows)), pred[rows]] = -np.inf
    runner_up = np.argmax(others, axis=1)
    frame = pd.DataFrame(
        {
            "index": rows,
            "true": labels[rows],
            "pred": pred[rows],
            "confidence": probs[rows, pred[rows]],
            "runner_up": runner_up,
            "runner_up_prob": probs[rows, runner_up],
        },
        columns=list(MISCLASSIFIED_COLUMNS),
    )
    return frame.sort_values(
        ["confidence", "index"], ascending=[False, True], kind="stable"
    ).reset_index(drop=True)


def write_misclassified(predictions_npz: str | os.PathLike, out_csv: str | os.PathLike):
    """Read predictions.npz and write misclassified.csv; returns the table."""
    with np.load(predictions_npz) as npz:
        table = misclassified_table(npz["pred"], npz["probs"], npz["labels"])
    write_csv(out_csv, table)
    return table


def write_all_misclassified(predictions: list, tables: list) -> None:
    """write_misclassified for each run of a variant, in one process."""
    if len(predictions) != len(tables):
        raise ValueError(f"{len(predictions)} predictions files but {len(tables)} tables")
    for npz, csv in zip(predictions, tables, strict=True):
        write_misclassified(npz, csv)
