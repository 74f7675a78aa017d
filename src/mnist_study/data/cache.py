"""The tensor cache: the four verified IDX files read once into tensors, with the fixed
train/validation split and the normalisation every later rule applies.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np
import torch
import torchvision.datasets
from torchvision.datasets.mnist import read_sn3_pascalvincent_tensor

from mnist_study.atomic import save_torch
from mnist_study.data.datasets import (
    FILES,
    N_CLASSES,
    DataError,
    check_idx,
    dataset_info,
    expected_sha256,
    verify_file,
)


def write_idx(path: str | os.PathLike, array) -> None:
    """Write a uint8 array as an IDX file (the format torchvision reads); used to rebuild files."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    Path(path).write_bytes(header + array.tobytes())


def read_idx(path: str | os.PathLike):
    """Read a checked IDX file into a torch tensor (torchvision does the parsing)."""
    check_idx(path)
    tensor = read_sn3_pascalvincent_tensor(str(path), strict=False)
    return tensor.long() if tensor.ndim == 1 else tensor.to(torch.uint8)


def split_indices(n: int, val_size: int, seed: int):
    """A fixed, seeded split of the training file into train and validation indices."""
    if not 0 < val_size < n:
        raise DataError(f"data.val_size: {val_size}; must be between 1 and {n - 1}")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return perm[val_size:].sort().values, perm[:val_size].sort().values


def build_cache(
    files: dict[str, str | os.PathLike],
    out: str | os.PathLike,
    dataset: str,
    val_size: int,
    split_seed: int,
    sha256: dict | None = None,
) -> dict:
    """Read the four verified IDX files once into the tensor cache every later rule loads."""
    expected = expected_sha256(dataset, sha256)
    for name in FILES:
        verify_file(files[name], expected[name])
    train_images = read_idx(files["train-images-idx3-ubyte"])
    train_labels = read_idx(files["train-labels-idx1-ubyte"])
    test_images = read_idx(files["t10k-images-idx3-ubyte"])
    test_labels = read_idx(files["t10k-labels-idx1-ubyte"])
    for images, labels, split in (
        (train_images, train_labels, "train"),
        (test_images, test_labels, "t10k"),
    ):
        if len(images) != len(labels):
            raise DataError(
                f"{split}: {len(images)} images but {len(labels)} labels; they must match"
            )
        if len(labels) and int(labels.max()) >= N_CLASSES:
            raise DataError(
                f"{files[f'{split}-labels-idx1-ubyte']}: label {int(labels.max())}; the MNIST "
                f"format has {N_CLASSES} classes, labels 0 to {N_CLASSES - 1}"
            )
    train_idx, val_idx = split_indices(len(train_images), val_size, split_seed)
    pixels = train_images[train_idx].float().div_(255)
    cache = {
        "dataset": dataset,
        "train_images": train_images,
        "train_labels": train_labels,
        "test_images": test_images,
        "test_labels": test_labels,
        "train_idx": train_idx,
        "val_idx": val_idx,
        "split_seed": split_seed,
        # Normalisation from the training split only, so no test statistics leak in.
        "mean": pixels.mean().item(),
        "std": pixels.std().item(),
        "sha256": expected,
    }
    save_torch(out, cache)
    return cache


def load_cache(path: str | os.PathLike) -> dict:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise DataError(f"{path}: tensor cache not found; the data rules build it") from None


def torchvision_dataset(root: str | os.PathLike, dataset: str, train: bool, transform=None):
    """torchvision's own Dataset over the verified files (for the reference benchmark)."""
    cls = getattr(torchvision.datasets, dataset_info(dataset).folder)
    return cls(str(root), train=train, transform=transform, download=False)


def normalise(images, mean: float, std: float):
    """uint8 images [N, 28, 28] -> float32 [N, 784] in the model's input scale."""
    return images.reshape(len(images), -1).float().div_(255).sub_(mean).div_(std)
