"""What augmentation does to the images a network learns from: a few fixed training images
beside random shifts and rotations of them, drawn by the training loop's own functions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from mnist_study.data.augment import blank_value, random_affine
from mnist_study.data.cache import load_cache, normalise
from mnist_study.data.datasets import IMAGE_SIZE
from mnist_study.data.subsets import training_indices
from mnist_study.report.plots.drawing import class_names, label, plt, save
from mnist_study.report.plots.image_grid import grid

ROWS = 6  # images shown: one of each of the first ROWS classes
DRAWS = 8  # augmented copies beside each image
# The draws' own seed: the figure is the same on every run (training draws from the run's seed).
GALLERY_SEED = 0
PAD = 2  # make_grid's padding between tiles, in pixels


def pick_images(cache: Mapping, train_size: int | None, classes: int = ROWS):
    """The first image (in the run's index order) of each of the first ``classes`` labels among
    the training images a run with ``train_size`` learns from; a class absent there is left
    out. Returns (uint8 images [k, 28, 28], their labels)."""
    idx = training_indices(cache["train_idx"], train_size)
    labels = cache["train_labels"][idx]
    first = [hits[0] for c in range(classes) if len(hits := torch.nonzero(labels == c).flatten())]
    if not first:
        raise ValueError(f"the cache's training images hold none of labels 0 to {classes - 1}")
    chosen = idx[torch.stack(first)]
    return cache["train_images"][chosen], cache["train_labels"][chosen]


def augmented_copies(images, shift: float, rotation: float, mean: float, std: float):
    """Each image followed by DRAWS random shifts (up to ``shift`` pixels) and rotations (up to
    ``rotation`` degrees) of it, from a generator seeded with GALLERY_SEED, in the pixel scale
    [0, 1]: [k * (DRAWS + 1), 28, 28], one image's row after another."""
    x = normalise(images, mean, std)
    generator = torch.Generator().manual_seed(GALLERY_SEED)
    # One batched call, as in training: the draws are per image, so repeats get their own.
    moved = random_affine(
        x.repeat_interleave(DRAWS, 0), shift, rotation, generator, blank_value(mean, std)
    )
    rows = torch.cat([x[:, None], moved.reshape(len(x), DRAWS, -1)], 1)
    return (rows * std + mean).clamp(0, 1).reshape(-1, IMAGE_SIZE, IMAGE_SIZE)


def gallery_grid(tiles) -> object:
    """The tiles as one image, DRAWS + 1 to a row, ink dark on white: [H, W] in [0, 1]."""
    return grid(1.0 - tiles.numpy(), nrow=DRAWS + 1, padding=PAD, pad_value=1.0)


def _centres(n: int) -> list[float]:
    """Where make_grid puts the middle of each of ``n`` tiles along a row or column."""
    return [PAD + k * (IMAGE_SIZE + PAD) + IMAGE_SIZE / 2 for k in range(n)]


def plot_augmentation_gallery(tiles, row_names: Sequence[str], title: str, out) -> None:
    """The grid with each row named by its image's class and each column by its draw."""
    tiled = gallery_grid(tiles)
    cols = DRAWS + 1
    fig, ax = plt.subplots(figsize=(0.62 * cols + 1.0, 0.62 * len(row_names) + 0.7))
    ax.imshow(tiled, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks(_centres(cols), ["as is", *(str(k) for k in range(1, cols))], fontsize=7)
    ax.set_yticks(_centres(len(row_names)), row_names, fontsize=7)
    ax.tick_params(length=0)
    ax.grid(False)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_xlabel("random draw", fontsize=7)
    ax.set_title(title, fontsize=8)
    save(fig, out, layout="bbox")


def plot_augmentation(
    cache_path, augmented: Mapping, outputs: Mapping, labels=None, dataset=None
) -> None:
    """Rule plot_augmentation: per augmenting variant (``augmented``: variant -> its training's
    augment_shift, augment_rotation and train_size), a gallery of its augmented images."""
    cache = load_cache(cache_path)
    mean, std = float(cache["mean"]), float(cache["std"])
    names = class_names(dataset)
    for variant, out in outputs.items():
        if variant not in augmented:
            raise ValueError(
                f"no augmentation given for variant {variant!r}; have {list(augmented)}"
            )
        setting = augmented[variant]
        shift, rotation = setting["augment_shift"], setting["augment_rotation"]
        images, classes = pick_images(cache, setting.get("train_size"))
        tiles = augmented_copies(images, shift, rotation, mean, std)
        title = (
            f"{label(labels, variant)}: shifts up to {shift:g} px, rotations up to "
            f"{rotation:g}° ({DRAWS} draws)"
        )
        plot_augmentation_gallery(tiles, [names[int(c)] for c in classes], title, out)
