"""The training loop: plain PyTorch over tensors that already sit on the device.

Deterministic on the CPU (per thread count), resumable after a kill, fast: no DataLoader or syncs.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import torch
import torch.nn.functional as F

from mnist_study.atomic import save_torch, write_csv, write_json
from mnist_study.data.augment import blank_value, random_affine
from mnist_study.data.cache import load_cache
from mnist_study.data.subsets import cache_fingerprint, prepare_data
from mnist_study.engine import runstore
from mnist_study.engine.models import as_spec, save_checkpoint
from mnist_study.engine.optim import Optimizer
from mnist_study.engine.train_config import TrainConfig, lr_at, resolve_device
from mnist_study.machine import machine
from mnist_study.runrecord import RUN_FORMAT

logger = logging.getLogger(__name__)

HISTORY_COLUMNS = (
    "epoch",
    "train_loss",
    "train_acc",
    "train_eval_loss",
    "train_eval_acc",
    "val_loss",
    "val_acc",
    "lr",
)
# Wall time per epoch goes to train.json, not history.csv: the history repeats bit for bit.
FINAL_KEYS = HISTORY_COLUMNS[1:7]
# 2: wall times left history rows for their own list; 3: the lowest-loss weights; 4: the
# augmentation generator
RESUME_FORMAT = 4
AUGMENT_STREAM = 7919  # added to the seed for the augmentation draws: a stream of their own
EVAL_BATCH = 1000  # images per forward pass when evaluating: memory, not speed, sets it


def train_epoch(model, optimizer, x, y, perm, batch_size: int, lrs: list[float], augment=None):
    """One pass in train mode; returns (summed loss, number correct) as device tensors, so the
    loop never waits for the device. ``lrs`` holds each step's learning rate; ``augment``, where
    given, transforms each batch's images (a fresh draw per step)."""
    model.train()
    loss_sum = torch.zeros((), device=x.device)
    predictions = torch.empty_like(perm)
    for i, start in enumerate(range(0, len(perm), batch_size)):
        idx = perm[start : start + batch_size]
        # index_select gathers rows ~4x faster than x[idx] here (13 vs 60 us at batch 64), and
        # beats a permuted copy of the whole set per epoch (120-200 ms).
        inputs, targets = x.index_select(0, idx), y.index_select(0, idx)
        if augment is not None:
            inputs = augment(inputs)
        logits = model(inputs)
        loss = F.cross_entropy(logits, targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step(lrs[i])
        loss_sum.add_(loss.detach(), alpha=len(idx))
        # One op per step; the comparison with the labels waits for the end of the epoch.
        torch.argmax(logits.detach(), 1, out=predictions[start : start + batch_size])
    return loss_sum, (predictions == y[perm]).sum()


def evaluate(model, x, y, batch_size: int = EVAL_BATCH) -> tuple[float, float]:
    """Mean cross-entropy and accuracy in eval mode."""
    model.eval()
    loss_sum = torch.zeros((), device=x.device)
    correct = torch.zeros((), dtype=torch.long, device=x.device)
    with torch.inference_mode():
        for start in range(0, len(x), batch_size):
            logits = model(x[start : start + batch_size])
            targets = y[start : start + batch_size]
            loss_sum += F.cross_entropy(logits, targets, reduction="sum")
            correct += (logits.argmax(1) == targets).sum()
    return loss_sum.item() / len(x), correct.item() / len(x)


def _resume_key(spec, config: TrainConfig, device: str, extra: dict | None = None) -> dict:
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


def _load_resume(path: Path | None, key: dict, log) -> dict | None:
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


def train_run(
    cache,
    spec: dict,
    config: dict,
    checkpoint: str | os.PathLike,
    history: str | os.PathLike,
    info: str | os.PathLike,
    best: str | os.PathLike | None = None,
    resume: str | os.PathLike | None = None,
    log: Callable[[str], None] | None = None,
    on_epoch_end: Callable[[int, dict], None] | None = None,
    key_extra: dict | None = None,
    prepared: dict | None = None,
) -> dict:
    """Train one model with one seed and write its checkpoint, history.csv and train.json.

    ``best`` (default: ``model_best.pt`` beside the checkpoint) receives the weights of the
    epoch of lowest validation loss: early stopping's checkpoint, chosen on validation only.
    ``cache`` is the tensor cache path or its dict (``mnist_study.data.datasets.load_cache``).
    After every epoch the full training state goes atomically to ``resume`` (default:
    ``resume.pt`` beside the checkpoint); a later call with the same spec and config continues
    from it, and it is deleted once the outputs are written. The finished outputs are kept
    (``runstore``) under the same key plus ``key_extra``; a later call with that key puts them
    back instead of training. ``on_epoch_end(epoch, row)`` runs after the state is saved (tests
    raise from it to simulate a kill). ``prepared`` memoises the device data between the runs of
    one process.
    Returns the train.json dict.
    """
    log = log or logger.info
    spec = as_spec(spec)
    cfg = TrainConfig.from_dict(dict(config))
    if cfg.threads is not None:
        torch.set_num_threads(cfg.threads)
    device = resolve_device(cfg.device)
    checkpoint = Path(checkpoint)
    resume = Path(resume) if resume is not None else checkpoint.with_name("resume.pt")
    best = Path(best) if best is not None else checkpoint.with_name("model_best.pt")
    outputs = {"checkpoint": checkpoint, "best": best, "history": history, "info": info}
    key = _resume_key(spec, cfg, device, key_extra)
    # A finished run is kept with its thread count: on another one its sums differ in the last
    # bits, so a forced rerun with --set-threads trains anew.
    kept_key = {**key, "threads": torch.get_num_threads()}
    if runstore.restore(outputs, kept_key):
        log(f"seed {cfg.seed}: finished before under the same key; kept outputs put back")
        return json.loads(Path(info).read_text(encoding="utf-8"))

    if not isinstance(cache, dict):
        cache = load_cache(cache)
    sizes = (
        device,
        cfg.eval_train_size,
        cfg.train_size,
        cfg.eval_train_epoch_size,
        cfg.random_labels,
    )
    prepared = {} if prepared is None else prepared
    if sizes not in prepared:
        prepared[sizes] = prepare_data(cache, *sizes)
    data = prepared[sizes]
    n_train = len(data.train_x)
    steps_per_epoch = math.ceil(n_train / cfg.batch_size)
    total_steps = steps_per_epoch * cfg.epochs

    # Init and dropout draw from torch's default generators, seeded here for every run: a run
    # is the same whichever runs shared its process before it.
    torch.manual_seed(cfg.seed)
    model = spec.build().to(device)
    optimizer = Optimizer(model.parameters(), cfg)
    # Data order has its own generator: it does not depend on what the init consumed.
    order = torch.Generator().manual_seed(cfg.seed)
    augment, augment_rng = None, None
    if cfg.augment_shift or cfg.augment_rotation:
        # On the device: the draws never leave it. Their own generator, so a seed gives the
        # same images whatever else drew numbers before.
        augment_rng = torch.Generator(device=device).manual_seed(cfg.seed + AUGMENT_STREAM)
        blank = blank_value(data.mean, data.std)

        def augment(x):
            return random_affine(x, cfg.augment_shift, cfg.augment_rotation, augment_rng, blank)

    rows: list[dict] = []
    epoch_seconds: list[float] = []
    # The weights of the lowest validation loss so far, on the CPU (a copy per improvement).
    lowest: dict = {"epoch": None, "loss": math.inf, "state": None}

    state = _load_resume(resume, key, log)
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        order.set_state(state["order_rng"])
        if augment_rng is not None:
            augment_rng.set_state(state["augment_rng"])
        torch.set_rng_state(state["cpu_rng"])
        if device == "cuda":
            torch.cuda.set_rng_state(state["cuda_rng"])
        rows = list(state["history"])
        epoch_seconds = list(state["epoch_seconds"])
        lowest = dict(state["lowest"])
        log(f"resume: continuing after epoch {len(rows)} of {cfg.epochs} from {resume}")
    start_epoch = len(rows)

    log(
        f"{spec.to_dict()} seed {cfg.seed} on {device} ({torch.get_num_threads()} threads): "
        f"{n_train} images, {spec.num_params()} params, {cfg.epochs} epochs of "
        f"{steps_per_epoch} steps"
    )
    for epoch in range(start_epoch + 1, cfg.epochs + 1):
        t0 = time.perf_counter()
        first = (epoch - 1) * steps_per_epoch
        lrs = [lr_at(cfg, s, total_steps) for s in range(first, first + steps_per_epoch)]
        perm = torch.randperm(n_train, generator=order).to(device, non_blocking=True)
        loss_sum, correct = train_epoch(
            model, optimizer, data.train_x, data.train_y, perm, cfg.batch_size, lrs, augment
        )
        # The gap's train side is read from the last row only: the whole fixed subset there,
        # a fixed part of it before (the curves), which costs a tenth as much on 5,000 images.
        last = epoch == cfg.epochs
        train_eval_loss, train_eval_acc = evaluate(
            model,
            data.train_eval_x if last else data.epoch_eval_x,
            data.train_eval_y if last else data.epoch_eval_y,
        )
        # Epochs between validation passes get NaN: no row pretends to a figure not measured.
        scored = last or epoch % cfg.val_every == 0
        val_loss, val_acc = (
            evaluate(model, data.val_x, data.val_y) if scored else (math.nan, math.nan)
        )
        row = {
            "epoch": epoch,
            "train_loss": loss_sum.item() / n_train,
            "train_acc": correct.item() / n_train,
            "train_eval_loss": train_eval_loss,
            "train_eval_acc": train_eval_acc,
            "val_loss": val_loss,
            "val_acc": val_acc,
            "lr": lrs[-1],
        }
        rows.append(row)
        if val_loss < lowest["loss"]:
            state_now = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
            lowest = {"epoch": epoch, "loss": val_loss, "state": state_now}
        epoch_seconds.append(time.perf_counter() - t0)
        log(
            f"epoch {epoch}/{cfg.epochs}: train {row['train_loss']:.4f} {row['train_acc']:.4f}"
            f" | train eval {train_eval_loss:.4f} {train_eval_acc:.4f}"
            f" | val {val_loss:.4f} {val_acc:.4f} | lr {row['lr']:.3g} | {epoch_seconds[-1]:.1f} s"
        )
        if not last:  # the last epoch's state is the outputs themselves, kept below
            save_torch(
                resume,
                {
                    "format": RESUME_FORMAT,
                    "key": key,
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "order_rng": order.get_state(),
                    "augment_rng": None if augment_rng is None else augment_rng.get_state(),
                    "cpu_rng": torch.get_rng_state(),
                    "cuda_rng": torch.cuda.get_rng_state() if device == "cuda" else None,
                    "history": rows,
                    "epoch_seconds": epoch_seconds,
                    "lowest": lowest,
                },
            )
        if on_epoch_end is not None:
            on_epoch_end(epoch, row)

    frame = pd.DataFrame(rows, columns=list(HISTORY_COLUMNS))
    best_acc_epoch = int(frame.loc[frame["val_acc"].idxmax(), "epoch"])
    summary = {
        "format": RUN_FORMAT,
        "dataset": cache.get("dataset", "?"),
        "machine": machine(),
        "params": spec.num_params(),
        "flops_per_sample": spec.flops_per_sample(),
        "train_flops_per_sample": spec.train_flops_per_sample(),
        "train_images": n_train,
        "train_seconds": float(sum(epoch_seconds)),
        "epoch_seconds": epoch_seconds,
        # When this run's training ended (Unix time): which invocation of the study trained it.
        "finished_at": time.time(),
        "device": device,
        "device_name": torch.cuda.get_device_name() if device == "cuda" else "cpu",
        "threads": torch.get_num_threads(),
        "epochs": cfg.epochs,
        "resumed_after_epoch": start_epoch,
        "final": {k: rows[-1][k] for k in FINAL_KEYS},
        "best_epoch": best_acc_epoch,
        # Early stopping's epoch: the lowest validation loss (its weights: the best checkpoint).
        "stop_epoch": lowest["epoch"],
        "spec": spec.to_dict(),
        "train_config": cfg.to_dict(),
        # The schedule's peak as trained (after any scaling with the batch): what tables state.
        "peak_lr": cfg.peak_lr,
    }
    save_checkpoint(checkpoint, model, spec, cfg.to_dict(), data.mean, data.std, cfg.epochs)
    save_checkpoint(
        best, model, spec, cfg.to_dict(), data.mean, data.std, lowest["epoch"], lowest["state"]
    )
    write_csv(history, frame)
    write_json(info, summary)
    runstore.keep(outputs, kept_key)
    resume.unlink(missing_ok=True)
    log(
        f"done: val_acc {rows[-1]['val_acc']:.4f}, {summary['train_seconds']:.1f} s; "
        f"wrote {checkpoint}, {history}, {info}"
    )
    return summary


def train_block(
    cache,
    spec: dict,
    training: dict,
    seeds: list[int],
    outputs: list[dict],
    code: str | None = None,
    log: Callable[[str], None] | None = None,
    on_epoch_end: Callable[[int, dict], None] | None = None,
) -> list[dict]:
    """Train one variant's runs, one seed after another, in this process (one job).

    ``outputs`` holds each seed's ``checkpoint``, ``best``, ``history`` and ``info`` paths. The
    cache and the device data are loaded once for all of them; each run keeps its own generators,
    so its numbers do not depend on the others. ``code`` (the rule's code hash) joins each run's
    key: a finished run is kept until its spec, training, data or code change.
    """
    if len(seeds) != len(outputs):
        raise ValueError(f"{len(seeds)} seeds but {len(outputs)} output sets; they must match")
    if not isinstance(cache, dict):
        cache = load_cache(cache)
    extra = {"code": code, "data": cache_fingerprint(cache)}
    prepared: dict = {}
    return [
        train_run(
            cache,
            spec,
            {**training, "seed": int(seed)},
            **paths,
            log=log,
            on_epoch_end=on_epoch_end,
            key_extra=extra,
            prepared=prepared,
        )
        for seed, paths in zip(seeds, outputs, strict=True)
    ]
