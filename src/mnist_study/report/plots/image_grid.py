"""Images tiled into one grid for the figures that show images (galleries, weights, augmentation):
a module of its own, so that the other figure jobs never import torch."""

from __future__ import annotations

import numpy as np
import torch
from torchvision.utils import make_grid


def grid(images: np.ndarray, nrow: int, padding: int = 2, pad_value: float = 0.0) -> np.ndarray:
    """Tile [N,H,W] images with torchvision.utils.make_grid; returns [H', W']."""
    tensor = torch.as_tensor(np.asarray(images, dtype=np.float32))[:, None]
    return make_grid(tensor, nrow=nrow, padding=padding, pad_value=pad_value)[0].numpy()
