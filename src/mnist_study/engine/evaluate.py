"""Test-set evaluation of one trained run (its misclassified images: engine/misclassified.py).

One forward pass gives one logits tensor; every metric and the saved probabilities derive from it.
"""

from __future__ import annotations

import os

import numpy as np
import torch
import torch.nn.functional as F

from mnist_study.atomic import atomic_path, write_json
from mnist_study.data.cache import load_cache, normalise
from mnist_study.data.subsets import train_eval_indices, trained_labels, training_indices
from mnist_study.engine.models import load_checkpoint
from mnist_study.engine.train_config import TrainConfig, resolve_device

N_CLASSES = 10
ECE_BINS = 15  # equal-width confidence bins of the expected calibration error (Guo et al. 2017)


def test_logits(model, images, mean: float, std: float, batch_size: int = 1000):
    """Logits [N, 10] for uint8 images [N, 28, 28], computed in eval mode on the model's device."""
    device = next(model.parameters()).device
    model.eval()
    with torch.inference_mode():
        x = normalise(images.to(device), mean, std)
        return torch.cat([model(x[i : i + batch_size]) for i in range(0, len(x), batch_size)])


def metrics_from_logits(logits, labels) -> dict:
    """Test loss and accuracy, per-class accuracy, confusion matrix (rows true, columns pred)."""
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
        **calibration(torch.softmax(logits, 1).max(1).values, pred == labels),
    }


def calibration(confidence, correct, bins: int = ECE_BINS) -> dict:
    """How far the predicted class's probability is from being right, from one run's test
    predictions. ``overconfidence``: the mean over images of confidence minus correctness (1 if
    right, 0 if not), a signed per-image quantity. ``ece``: the expected calibration error,
    |accuracy - mean confidence| per equal-width confidence bin weighted by the bin's share of
    images (Guo et al. 2017); unsigned, and with no per-image variance. ``reliability``: the
    bins (count, mean confidence, accuracy) of the reliability diagram."""
    conf = torch.as_tensor(confidence).double().flatten()
    hit = torch.as_tensor(correct).double().flatten()
    if conf.shape != hit.shape or not len(conf):
        raise ValueError(f"confidence {tuple(conf.shape)} and correct {tuple(hit.shape)}")
    # Bin k holds confidences in (k/bins, (k+1)/bins]; a confidence of exactly 0 joins bin 0.
    index = (torch.ceil(conf * bins).long() - 1).clamp(0, bins - 1)
    count = torch.bincount(index, minlength=bins).double()
    conf_sum = torch.bincount(index, weights=conf, minlength=bins)
    hit_sum = torch.bincount(index, weights=hit, minlength=bins)
    filled = count > 0
    ece = ((conf_sum - hit_sum).abs()[filled].sum() / len(conf)).item()
    safe = count.clamp(min=1)

    def per_bin(sums):  # an empty bin has no mean: None, as JSON writes it
        means = (sums / safe).tolist()
        return [v if full else None for v, full in zip(means, filled.tolist(), strict=True)]

    return {
        "ece": ece,
        "overconfidence": (conf - hit).mean().item(),
        "reliability": {
            "count": count.long().tolist(),
            "confidence": per_bin(conf_sum),
            "accuracy": per_bin(hit_sum),
        },
    }


def score_checkpoint(cache, checkpoint, device: str) -> tuple[dict, dict]:
    """One checkpoint on the test set and the gap's training subset: (its metrics, the arrays of
    its predictions file), all from one logits tensor per image set."""
    model, ckpt = load_checkpoint(checkpoint, map_location=device)
    labels = cache["test_labels"]
    logits = test_logits(model, cache["test_images"], ckpt["mean"], ckpt["std"]).float().cpu()
    result = metrics_from_logits(logits, labels)
    config = ckpt["train_config"]
    used = training_indices(cache["train_idx"], config.get("train_size"))
    subset = train_eval_indices(used, config.get("eval_train_size", TrainConfig.eval_train_size))
    # Against the labels the run learned: random ones for a random-label run.
    learned = trained_labels(cache["train_labels"], used, config.get("random_labels", False))
    train_labels = learned[subset]
    train_logits = test_logits(model, cache["train_images"][subset], ckpt["mean"], ckpt["std"])
    probs = torch.softmax(logits, 1)
    arrays = {
        "pred": logits.argmax(1).numpy().astype(np.int16),
        "labels": labels.numpy().astype(np.int16),
        "train_pred": train_logits.argmax(1).cpu().numpy().astype(np.int16),
        "train_labels": train_labels.numpy().astype(np.int16),
        "probs": probs.numpy().astype(np.float16),
        # Per test image, for the claims on calibration and loss: the predicted class's
        # probability and the cross-entropy, exactly (float16 probs would round them).
        "confidence": probs.max(1).values.numpy().astype(np.float32),
        "nll": F.cross_entropy(logits, labels, reduction="none").numpy().astype(np.float32),
    }
    result["train_acc"] = float(np.mean(arrays["train_pred"] == arrays["train_labels"]))
    if ckpt.get("epoch") is not None:
        result["epoch"] = int(ckpt["epoch"])
    return result, arrays


def _save_predictions(path, arrays: dict) -> None:
    with atomic_path(path) as tmp:
        # A file object: np.savez would otherwise append ".npz" to the temporary name.
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)


# The best-epoch checkpoint's figures in metrics.json (its reliability bins stay out).
BEST_KEYS = ("epoch", "test_acc", "test_loss", "train_acc", "ece", "overconfidence")


def evaluate_run(
    cache,
    checkpoint: str | os.PathLike,
    metrics: str | os.PathLike,
    predictions: str | os.PathLike,
    device: str = "auto",
    threads: int | None = None,
    best_checkpoint: str | os.PathLike | None = None,
    best_predictions: str | os.PathLike | None = None,
) -> dict:
    """Write metrics.json and predictions.npz for one checkpoint; returns the metrics dict.

    predictions.npz holds the integer predictions every later step reads (``pred`` and
    ``labels`` on the test set, ``train_pred`` and ``train_labels`` on the fixed training subset
    of the generalization gap), float16 softmax ``probs`` for the misclassified table, and per
    test image the ``confidence`` and ``nll`` the calibration and loss claims read. With
    ``best_checkpoint`` (the epoch of lowest validation loss) it is scored the same way, into
    ``best_predictions`` and metrics.json's ``best_checkpoint``.
    """
    if threads is not None:
        torch.set_num_threads(threads)
    if not isinstance(cache, dict):
        cache = load_cache(cache)
    device = resolve_device(device)
    result, arrays = score_checkpoint(cache, checkpoint, device)
    if best_checkpoint is not None:
        best, best_arrays = score_checkpoint(cache, best_checkpoint, device)
        result["best_checkpoint"] = {k: best[k] for k in BEST_KEYS if k in best}
        _save_predictions(best_predictions, best_arrays)
    _save_predictions(predictions, arrays)
    write_json(metrics, result)
    return result


def evaluate_runs(
    cache,
    checkpoints: list,
    metrics: list,
    predictions: list,
    device: str = "auto",
    threads: int | None = None,
    best_checkpoints: list | None = None,
    best_predictions: list | None = None,
) -> list[dict]:
    """evaluate_run for each of one variant's runs in this process (one job): the cache is
    loaded once, and each run's files are written as soon as it is scored."""
    best_checkpoints = best_checkpoints or [None] * len(checkpoints)
    best_predictions = best_predictions or [None] * len(checkpoints)
    counts = [len(x) for x in (checkpoints, metrics, predictions)]
    counts += [len(best_checkpoints), len(best_predictions)]
    if len(set(counts)) != 1:
        raise ValueError(
            f"{counts[0]} checkpoints, {counts[1]} metrics, {counts[2]} predictions, "
            f"{counts[3]} best checkpoints and {counts[4]} best predictions files; one of each "
            "per run"
        )
    if not isinstance(cache, dict):
        cache = load_cache(cache)
    return [
        evaluate_run(
            cache, c, m, p, device=device, threads=threads, best_checkpoint=bc, best_predictions=bp
        )
        for c, m, p, bc, bp in zip(
            checkpoints, metrics, predictions, best_checkpoints, best_predictions, strict=True
        )
    ]
