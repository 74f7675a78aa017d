"""What a model's first layer learned: the linear model's ten class templates and an MLP's
first-layer features, drawn from a checkpoint's weights."""

from __future__ import annotations

import math

import numpy as np
import torch

from mnist_study.report.plots.drawing import class_names, plt, save
from mnist_study.report.plots.image_grid import grid

FEATURE_UNITS = 64  # first-layer units drawn for an MLP (the report's caption reads it here)


# ----------------------------------------------------------------------------- weights


def first_layer_weights(checkpoint) -> np.ndarray:
    """The first dense layer that reads the 784 pixels, as [units, 784]."""
    ckpt = torch.load(checkpoint, map_location="cpu", weights_only=True)
    for tensor in ckpt["state_dict"].values():
        if tensor.ndim == 2 and tensor.shape[1] == 28 * 28:
            return tensor.float().numpy()
    raise ValueError(f"{checkpoint}: no dense layer reads the 784 pixels; is it a CNN?")


def plot_linear_templates(checkpoint, out, classes=None) -> None:
    """The linear model's ten weight vectors as 28x28 templates (red: evidence for the class)."""
    weights = first_layer_weights(checkpoint)
    if weights.shape[0] != 10:
        raise ValueError(
            f"{checkpoint}: the linear model should have 10 units, not {weights.shape[0]}"
        )
    classes = classes or class_names(None)
    fig, axes = plt.subplots(1, 10, figsize=(12, 1.8))
    # A few border pixels carry extreme weights; a robust limit keeps the strokes visible.
    limit = float(np.percentile(np.abs(weights), 99.5)) or 1.0
    for ax, w, name in zip(axes, weights, classes, strict=True):
        image = ax.imshow(w.reshape(28, 28), cmap="RdBu_r", vmin=-limit, vmax=limit)
        ax.set_title(name, fontsize=9 if len(name) <= 8 else 7)
        ax.axis("off")
    fig.colorbar(image, ax=list(axes), shrink=0.8, label="weight")
    save(fig, out, layout="bbox")


def plot_mlp_features(checkpoint, out, n: int = FEATURE_UNITS, title: str = "") -> None:
    """The first hidden layer's receptive fields: the ``n`` units with the largest weight norm,
    each scaled to its own range (red positive, blue negative)."""
    weights = first_layer_weights(checkpoint)
    order = np.argsort(-np.linalg.norm(weights, axis=1))[:n]
    chosen = weights[order]
    scaled = chosen / np.maximum(np.abs(chosen).max(axis=1, keepdims=True), 1e-12)
    tiled = grid(
        (scaled.reshape(-1, 28, 28) + 1) / 2, nrow=int(math.ceil(math.sqrt(n))), pad_value=0.5
    )
    fig, ax = plt.subplots(figsize=(6, 6))
    ax.imshow(tiled, cmap="RdBu_r", vmin=0, vmax=1)
    ax.axis("off")
    ax.set_title(title or f"first-layer features: {len(order)} of {weights.shape[0]} units")
    save(fig, out, layout="bbox")


def plot_weights(
    linear_checkpoint,
    mlp_checkpoint,
    templates_out,
    features_out,
    mlp_label: str = "",
    dataset=None,
) -> None:
    """Rule plot_weights: linear templates and an MLP's first-layer features."""
    plot_linear_templates(linear_checkpoint, templates_out, class_names(dataset))
    label = f"{mlp_label}: " if mlp_label else ""
    plot_mlp_features(
        mlp_checkpoint,
        features_out,
        title=f"{label}first-layer features ({FEATURE_UNITS} units of largest norm)",
    )
