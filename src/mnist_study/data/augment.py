"""Data augmentation inside the training loop: a random shift and rotation per image and step,
drawn on the device from the run's own generator, one batched affine warp (no DataLoader).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from mnist_study.data.datasets import IMAGE_SIZE


def affine(x, angles_deg, shifts_px, background: float):
    """Rotate each image of ``x`` ([N, 784] or [N, 1, side, side], normalised) by its angle
    (degrees) about the centre, then shift it by (dx, dy) pixels (right, down). Pixels moved in
    from outside take ``background`` (a blank pixel's normalised value): a shift adds blank
    margin, as moving the digit on its page would. Returns x's shape."""
    n = len(x)
    images = x.reshape(n, 1, IMAGE_SIZE, IMAGE_SIZE)
    theta = torch.deg2rad(angles_deg.to(images.dtype))
    cos, sin = torch.cos(theta), torch.sin(theta)
    # affine_grid maps output to input coordinates in [-1, 1]; a pixel is 2 / side wide there
    # (align_corners=False), so a whole-pixel shift moves whole pixels and resamples nothing.
    step = 2.0 / IMAGE_SIZE
    dx, dy = shifts_px[:, 0].to(images.dtype) * step, shifts_px[:, 1].to(images.dtype) * step
    # Output pixel p samples input R (p - d): the image turns by the angle, then moves by d.
    row0 = torch.stack([cos, -sin, -(cos * dx - sin * dy)], 1)
    row1 = torch.stack([sin, cos, -(sin * dx + cos * dy)], 1)
    matrix = torch.stack([row0, row1], 1)
    grid = F.affine_grid(matrix, list(images.shape), align_corners=False)
    # zeros padding fills with 0: shift the background to 0 first and back after.
    warped = F.grid_sample(images - background, grid, align_corners=False, padding_mode="zeros")
    return (warped + background).reshape(x.shape)


def draw(n: int, shift: float, rotation: float, generator, device):
    """Per-image angles in [-rotation, rotation] degrees and (dx, dy) shifts in [-shift, shift]
    pixels, uniform, from ``generator`` (on ``device``): a seed gives the same draws."""
    u = torch.rand(n, 3, generator=generator, device=device) * 2 - 1
    return u[:, 0] * rotation, u[:, 1:] * shift


def random_affine(x, shift: float, rotation: float, generator, background: float):
    """``x`` with a fresh random shift and rotation per image (see ``draw`` and ``affine``)."""
    angles, shifts = draw(len(x), shift, rotation, generator, x.device)
    return affine(x, angles, shifts, background)


def blank_value(mean: float, std: float) -> float:
    """A blank (0) pixel in the normalised input scale."""
    return -mean / std
