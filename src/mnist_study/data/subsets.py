"""The images a run learns from and is scored on, moved to the device once per process: the
training split or a fixed part of it, the fixed scoring subsets, and the validation split.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import torch

from mnist_study.data.cache import load_cache, normalise

# The subset for the eval-mode training metrics is the same for every run and seed.
EVAL_TRAIN_SEED = 0
TRAIN_SUBSET_SEED = 1  # draws the fixed training subset of runs with a train_size
RANDOM_LABEL_SEED = 2  # the one shuffle of the labels of runs with random_labels


@dataclass
class Data:
    """Normalised float images [N, 784] and int64 labels, already on the device."""

    train_x: object
    train_y: object
    train_eval_x: object  # the fixed subset of the gap's train side, scored at the last epoch
    train_eval_y: object
    epoch_eval_x: object  # a fixed part of it, scored after every other epoch
    epoch_eval_y: object
    val_x: object
    val_y: object
    mean: float
    std: float


def _fixed_subset(indices, size: int, seed: int):
    pick = torch.randperm(len(indices), generator=torch.Generator().manual_seed(seed))
    return indices[pick[:size].sort().values.to(indices.device)]


def training_indices(train_idx, size: int | None):
    """The training images a run learns from: the whole split, or a fixed subset of ``size``
    (the same for every variant and seed, so training-set size is the only difference)."""
    return (
        train_idx
        if size is None or size >= len(train_idx)
        else _fixed_subset(train_idx, size, TRAIN_SUBSET_SEED)
    )


def trained_labels(labels, train_idx, random_labels: bool):
    """Every training-split image's label as a run learns it (and is scored against): the real
    one, or, with ``random_labels``, the run's training images' labels shuffled once among them
    by a fixed permutation: the same for every variant and seed, a permutation of the real
    labels (so the class counts stay), not a relabelling of classes (Zhang et al. 2017)."""
    if not random_labels:
        return labels
    pick = torch.randperm(
        len(train_idx), generator=torch.Generator().manual_seed(RANDOM_LABEL_SEED)
    )
    shuffled = labels.clone()
    shuffled[train_idx] = labels[train_idx[pick.to(train_idx.device)]]
    return shuffled


def train_eval_indices(train_idx, size: int):
    """The fixed subset of training images on which every run is also scored in eval mode
    (the train side of the generalization gap): the same for every variant and seed."""
    return _fixed_subset(train_idx, min(size, len(train_idx)), EVAL_TRAIN_SEED)


def prepare_data(
    cache,
    device: str,
    eval_train_size: int = 10000,
    train_size: int | None = None,
    eval_train_epoch_size: int | None = None,
    random_labels: bool = False,
) -> Data:
    """Move the split's images to the device once (as uint8, 4x less to copy), then normalise
    them there once: per-batch conversion would redo that work every epoch, and the float
    copy (160 MB for MNIST) fits easily."""

    if not isinstance(cache, dict):
        cache = load_cache(cache)
    mean, std = float(cache["mean"]), float(cache["std"])
    images = cache["train_images"].to(device)
    train_idx = training_indices(cache["train_idx"], train_size).to(device)
    labels = trained_labels(cache["train_labels"].to(device), train_idx, random_labels)
    val_idx = cache["val_idx"].to(device)
    eval_idx = train_eval_indices(train_idx, eval_train_size)
    epoch_idx = (
        eval_idx
        if eval_train_epoch_size is None
        else _fixed_subset(eval_idx, min(eval_train_epoch_size, len(eval_idx)), EVAL_TRAIN_SEED)
    )
    return Data(
        train_x=normalise(images[train_idx], mean, std),
        train_y=labels[train_idx],
        train_eval_x=normalise(images[eval_idx], mean, std),
        train_eval_y=labels[eval_idx],
        epoch_eval_x=normalise(images[epoch_idx], mean, std),
        epoch_eval_y=labels[epoch_idx],
        val_x=normalise(images[val_idx], mean, std),
        val_y=labels[val_idx],
        mean=mean,
        std=std,
    )


def cache_fingerprint(cache: dict) -> str:
    """A short hash of what a run learns from: the raw files' checksums and the split. A cache
    rebuilt from the same files is the same data, so its kept runs are still valid."""
    digest = hashlib.sha256(json.dumps(dict(cache.get("sha256", {})), sort_keys=True).encode())
    for name in ("train_idx", "val_idx"):
        digest.update(cache[name].numpy().tobytes())
    return digest.hexdigest()[:16]
