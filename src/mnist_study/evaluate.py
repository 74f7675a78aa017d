"""Test-set evaluation of one trained run, and its table of misclassified images.

One forward pass gives one logits tensor; every metric and the saved probabilities derive from it.
"""

from __future__ import annotations

import os

import numpy as np

N_CLASSES = 10
MISCLASSIFIED_COLUMNS = ("index", "true", "pred", "confidence", "runner_up", "runner_up_prob")


def test_logits(model, images, mean: float, std: float, batch_size: int = 1000):
    """Logits [N, 10] for uint8 images [N, 28, 28], computed in eval mode on the model's device."""
    import torch

    from .models import normalise

    device = next(model.parameters()).device
    model.eval()
    with torch.inference_mode():
        x = normalise(images.to(device), mean, std)
        return torch.cat([model(x[i : i + batch_size]) for i in range(0, len(x), batch_size)])


def metrics_from_logits(logits, labels) -> dict:
    """Test loss and accuracy, per-class accuracy, confusion matrix (rows true, columns pred)."""
    import torch
    import torch.nn.functional as F

    logits, labels = logits.float().cpu(), labels.cpu()
    pred = logits.argmax(1)
    confusion = torch.bincount(labels * N_CLASSES + pred, minlength=N_CLASSES**2).reshape(
        N_CLASSES, N_CLASSES
    )
    per_class = confusion.diag().double() / confusion.sum(1).clamp(min=1).double()
    return {
        "test_loss": F.cross_entropy(logits, labels).item(),
        "test_acc": (pred == labels).double().mean().item(),
        "n_test": len(labels),
        "per_class_acc": per_class.tolist(),
        "confusion": confusion.tolist(),
    }


def evaluate_run(
    cache,
    checkpoint: str | os.PathLike,
    metrics: str | os.PathLike,
    predictions: str | os.PathLike,
    device: str = "auto",
    threads: int | None = None,
) -> dict:
    """Write metrics.json and predictions.npz for one checkpoint; returns the metrics dict.

    predictions.npz holds the integer predictions every later step reads (``pred`` and
    ``labels`` on the test set, ``train_pred`` and ``train_labels`` on the fixed training subset
    of the generalization gap) and float16 softmax ``probs`` for confidences only.
    """
    import torch

    from .atomic import atomic_path, write_json
    from .models import load_checkpoint
    from .subsets import train_eval_indices, training_indices
    from .train import TrainConfig, resolve_device

    if threads is not None:
        torch.set_num_threads(threads)
    if not isinstance(cache, dict):
        from .data import load_cache

        cache = load_cache(cache)
    device = resolve_device(device)
    model, ckpt = load_checkpoint(checkpoint, map_location=device)
    labels = cache["test_labels"]
    logits = test_logits(model, cache["test_images"], ckpt["mean"], ckpt["std"])
    result = metrics_from_logits(logits, labels)
    config = ckpt["train_config"]
    used = training_indices(cache["train_idx"], config.get("train_size"))
    subset = train_eval_indices(used, config.get("eval_train_size", TrainConfig.eval_train_size))
    train_labels = cache["train_labels"][subset]
    train_logits = test_logits(model, cache["train_images"][subset], ckpt["mean"], ckpt["std"])
    arrays = {
        "pred": logits.argmax(1).cpu().numpy().astype(np.int16),
        "labels": labels.numpy().astype(np.int16),
        "train_pred": train_logits.argmax(1).cpu().numpy().astype(np.int16),
        "train_labels": train_labels.numpy().astype(np.int16),
        "probs": torch.softmax(logits.float(), 1).cpu().numpy().astype(np.float16),
    }
    result["train_acc"] = float(np.mean(arrays["train_pred"] == arrays["train_labels"]))
    with atomic_path(predictions) as tmp:
        # A file object: np.savez would otherwise append ".npz" to the temporary name.
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)
    write_json(metrics, result)
    return result


def misclassified_table(pred: np.ndarray, probs: np.ndarray, labels: np.ndarray):
    """One row per misclassified image, most confident mistakes first: the prediction is the
    run's integer ``pred``; ``probs`` only give its confidence and the runner-up."""
    import pandas as pd

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
    from .atomic import write_csv

    with np.load(predictions_npz) as npz:
        table = misclassified_table(npz["pred"], npz["probs"], npz["labels"])
    write_csv(out_csv, table)
    return table


def evaluate_runs(
    cache,
    checkpoints: list,
    metrics: list,
    predictions: list,
    device: str = "auto",
    threads: int | None = None,
) -> list[dict]:
    """evaluate_run for each of one variant's runs in this process (one job): the cache is
    loaded once, and each run's files are written as soon as it is scored."""
    if not len(checkpoints) == len(metrics) == len(predictions):
        raise ValueError(
            f"{len(checkpoints)} checkpoints, {len(metrics)} metrics and {len(predictions)} "
            "predictions files; one of each per run"
        )
    if not isinstance(cache, dict):
        from .data import load_cache

        cache = load_cache(cache)
    return [
        evaluate_run(cache, *paths, device=device, threads=threads)
        for paths in zip(checkpoints, metrics, predictions, strict=True)
    ]


def write_all_misclassified(predictions: list, tables: list) -> None:
    """write_misclassified for each run of a variant, in one process."""
    if len(predictions) != len(tables):
        raise ValueError(f"{len(predictions)} predictions files but {len(tables)} tables")
    for npz, csv in zip(predictions, tables, strict=True):
        write_misclassified(npz, csv)
