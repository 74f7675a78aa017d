"""A training run's state between epochs, and its resume file: what it must match to be used,
its save after every epoch and its load after a kill."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import torch

from mnist_study.atomic import save_torch
from mnist_study.engine.optim import Optimizer
from mnist_study.engine.train_config import TrainConfig

# 2: wall times left history rows for their own list; 3: the lowest-loss weights; 4: the
# augmentation generator
RESUME_FORMAT = 4


def resume_key(spec, config: TrainConfig, device: str, extra: dict | None = None) -> dict:
    """What a resume state (or a kept finished run) must match to be used. Threads are left
    out: a rerun with another thread count continues the same training (only the last bits of
    its sums differ, as between two whole runs with different thread counts). ``extra`` holds
    what else made the run: the training code's hash and the data's fingerprint."""
    return {
        "spec": spec.to_dict(),
        "config": {k: v for k, v in config.to_dict().items() if k != "threads"},
        "device": device,
        **(extra or {}),
    }


def read_resume(path: Path | None, key: dict, log) -> dict | None:
    """The resume state at ``path`` if it is readable and made under ``key``, else None."""
    if path is None or not path.exists():
        return None
    try:
        # On the CPU: RNG states must be CPU tensors; weights are copied to the device on load.
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - an unreadable state means a fresh start
        log(f"resume: {path} unreadable ({exc}); starting fresh")
        return None
    if state.get("format") != RESUME_FORMAT or state.get("key") != key:
        log(f"resume: {path} belongs to another spec, config or device; starting fresh")
        return None
    return state


def _no_checkpoint_yet() -> dict:
    return {"epoch": None, "loss": math.inf, "state": None}


@dataclass
class RunState:
    """What a run carries from one epoch to the next, so all that its resume file holds: the
    model, the optimizer, the generators, the history so far and the weights of the lowest
    validation loss so far (on the CPU: early stopping's checkpoint)."""

    model: torch.nn.Module
    optimizer: Optimizer
    order: torch.Generator  # the data order's: independent of what the init consumed
    augment_rng: torch.Generator | None  # on the device; None without augmentation
    device: str
    rows: list[dict] = field(default_factory=list)
    epoch_seconds: list[float] = field(default_factory=list)
    lowest_val_loss_checkpoint: dict = field(default_factory=_no_checkpoint_yet)

    def note_val_loss(self, epoch: int, val_loss: float) -> None:
        """Keep a CPU copy of the weights where ``val_loss`` is the lowest so far."""
        if val_loss < self.lowest_val_loss_checkpoint["loss"]:
            weights = self.model.state_dict().items()
            state = {k: v.detach().to("cpu", copy=True) for k, v in weights}
            self.lowest_val_loss_checkpoint = {"epoch": epoch, "loss": val_loss, "state": state}

    def load(self, state: dict) -> None:
        """Continue from a resume state (``read_resume``): weights, generators and history."""
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.order.set_state(state["order_rng"])
        if self.augment_rng is not None:
            self.augment_rng.set_state(state["augment_rng"])
        torch.set_rng_state(state["cpu_rng"])
        if self.device == "cuda":
            torch.cuda.set_rng_state(state["cuda_rng"])
        self.rows = list(state["history"])
        self.epoch_seconds = list(state["epoch_seconds"])
        self.lowest_val_loss_checkpoint = dict(state["lowest"])

    def save(self, path: Path, key: dict) -> None:
        """Write the resume state atomically, under ``key``."""
        augment_rng = None if self.augment_rng is None else self.augment_rng.get_state()
        save_torch(
            path,
            {
                "format": RESUME_FORMAT,
                "key": key,
                "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "order_rng": self.order.get_state(),
                "augment_rng": augment_rng,
                "cpu_rng": torch.get_rng_state(),
                "cuda_rng": torch.cuda.get_rng_state() if self.device == "cuda" else None,
                "history": self.rows,
                "epoch_seconds": self.epoch_seconds,
                "lowest": self.lowest_val_loss_checkpoint,
            },
        )
