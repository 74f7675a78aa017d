"""The training loop: plain PyTorch over tensors that already sit on the device.

Deterministic on the CPU (per thread count), resumable after a kill, fast: no DataLoader or syncs.
"""

from __future__ import annotations

import functools
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

from mnist_study.atomic import write_csv, write_json
from mnist_study.data.augment import blank_value, random_affine
from mnist_study.data.cache import load_cache
from mnist_study.data.subsets import cache_fingerprint, prepare_data
from mnist_study.engine import runstore
from mnist_study.engine.models import as_spec, save_checkpoint
from mnist_study.engine.optim import Optimizer
from mnist_study.engine.resume import RunState, read_resume, resume_key
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
    on_end: Callable[[dict, bool], None] | None = None,
) -> dict:
    """Train one model with one seed and write its checkpoint, history.csv and train.json.

    ``best`` (default: ``model_best.pt`` beside the checkpoint) receives the weights of the epoch of
    lowest validation loss: early stopping's checkpoint, chosen on validation only. ``cache`` is the
    tensor cache path or its dict (``mnist_study.data.datasets.load_cache``). After every epoch the
    full training state goes atomically to ``resume`` (default: ``resume.pt`` beside the
    checkpoint); a later call with the same spec and config continues from it, and it is deleted
    once the outputs are written. The finished outputs are kept (``runstore``) under the same key
    plus ``key_extra``; a later call with that key puts them back instead of training.
    ``on_epoch_end(epoch, row)`` runs after the state is saved (tests raise from it to simulate a
    kill). ``prepared`` memoises the device data between the runs of one process. ``on_end(info,
    kept)`` follows the outputs, written or put back (kept). Returns the train.json dict.
    """
    log = log or logger.info
    spec = as_spec(spec)
    cfg = TrainConfig.from_dict(dict(config))
    if cfg.threads is not None:
        torch.set_num_threads(cfg.threads)
    device = resolve_device(cfg.device)
    outputs = _output_paths(checkpoint, best, history, info)
    resume = Path(resume) if resume is not None else outputs["checkpoint"].with_name("resume.pt")
    key = resume_key(spec, cfg, device, key_extra)
    # A finished run is kept with its thread count: on another one its sums differ in the last
    # bits, so a forced rerun with --set-threads trains anew.
    kept_key = {**key, "threads": torch.get_num_threads()}
    if runstore.restore(outputs, kept_key):
        log(f"seed {cfg.seed}: finished before under the same key; kept outputs put back")
        return _ended(on_end, json.loads(Path(info).read_text(encoding="utf-8")), kept=True)

    cache = cache if isinstance(cache, dict) else load_cache(cache)
    data = _device_data(cache, cfg, device, prepared)
    model, optimizer, order = _seeded_start(spec, cfg, device)
    augment, augment_rng = _augmentation(cfg, data, device)
    run = RunState(model, optimizer, order, augment_rng, device)
    start_epoch = _resume_from(resume, key, run, cfg, log)
    _train_epochs(run, data, cfg, augment, spec, log, on_epoch_end, lambda: run.save(resume, key))
    summary = _summary(cache, spec, cfg, run, len(data.train_x), start_epoch)
    _write_outputs(outputs, run, spec, cfg, data, summary)
    runstore.keep(outputs, kept_key)
    resume.unlink(missing_ok=True)
    log(
        f"done: val_acc {run.rows[-1]['val_acc']:.4f}, {summary['train_seconds']:.1f} s; "
        f"wrote {outputs['checkpoint']}, {history}, {info}"
    )
    return _ended(on_end, summary, kept=False)


def _ended(on_end: Callable[[dict, bool], None] | None, info: dict, kept: bool) -> dict:
    """A run's train.json dict, once ``on_end`` has seen it."""
    if on_end is not None:
        on_end(info, kept)
    return info


def _output_paths(checkpoint, lowest_val_loss_checkpoint, history, info) -> dict:
    """The run's files by runstore's names; "best" is early stopping's checkpoint (the lowest
    validation loss), ``model_best.pt`` beside the last weights unless given."""
    checkpoint = Path(checkpoint)
    if lowest_val_loss_checkpoint is None:
        lowest_val_loss_checkpoint = checkpoint.with_name("model_best.pt")
    return {
        "checkpoint": checkpoint,
        "best": Path(lowest_val_loss_checkpoint),
        "history": history,
        "info": info,
    }


def _device_data(cache: dict, cfg: TrainConfig, device: str, prepared: dict | None):
    """The run's tensors on the device, memoised in ``prepared`` by what selects them."""
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
    return prepared[sizes]


def _seeded_start(spec, cfg: TrainConfig, device: str):
    """The seeded model, its optimizer and the data order's generator."""
    # Init and dropout draw from torch's default generators, seeded here for every run: a run
    # is the same whichever runs shared its process before it.
    torch.manual_seed(cfg.seed)
    model = spec.build().to(device)
    optimizer = Optimizer(model.parameters(), cfg)
    # Data order has its own generator: it does not depend on what the init consumed.
    order = torch.Generator().manual_seed(cfg.seed)
    return model, optimizer, order


def _augmentation(cfg: TrainConfig, data, device: str):
    """(augment, its generator): the per-batch random affine, or (None, None) without one."""
    if not (cfg.augment_shift or cfg.augment_rotation):
        return None, None
    # On the device: the draws never leave it. Their own generator, so a seed gives the same
    # images whatever else drew numbers before.
    augment_rng = torch.Generator(device=device).manual_seed(cfg.seed + AUGMENT_STREAM)
    blank = blank_value(data.mean, data.std)

    def augment(x):
        return random_affine(x, cfg.augment_shift, cfg.augment_rotation, augment_rng, blank)

    return augment, augment_rng


def _resume_from(resume: Path, key: dict, run: RunState, cfg: TrainConfig, log) -> int:
    """Load the resume state into ``run`` where one matches; returns the epochs done."""
    state = read_resume(resume, key, log)
    if state is not None:
        run.load(state)
        log(f"resume: continuing after epoch {len(run.rows)} of {cfg.epochs} from {resume}")
    return len(run.rows)


def _train_epochs(run: RunState, data, cfg: TrainConfig, augment, spec, log, on_epoch_end, save):
    """The epochs left: each trains, scores, keeps the lowest validation loss's weights and,
    before the last, saves the resume state (``save``) before ``on_epoch_end``."""
    n_train = len(data.train_x)
    steps_per_epoch = math.ceil(n_train / cfg.batch_size)
    log(
        f"{spec.to_dict()} seed {cfg.seed} on {run.device} ({torch.get_num_threads()} threads): "
        f"{n_train} images, {spec.num_params()} params, {cfg.epochs} epochs of "
        f"{steps_per_epoch} steps"
    )
    for epoch in range(len(run.rows) + 1, cfg.epochs + 1):
        t0 = time.perf_counter()
        row = _epoch(run, data, cfg, augment, epoch, steps_per_epoch)
        run.rows.append(row)
        run.note_val_loss(epoch, row["val_loss"])
        run.epoch_seconds.append(time.perf_counter() - t0)
        log(
            f"epoch {epoch}/{cfg.epochs}: train {row['train_loss']:.4f} {row['train_acc']:.4f}"
            f" | train eval {row['train_eval_loss']:.4f} {row['train_eval_acc']:.4f}"
            f" | val {row['val_loss']:.4f} {row['val_acc']:.4f} | lr {row['lr']:.3g}"
            f" | {run.epoch_seconds[-1]:.1f} s"
        )
        if epoch != cfg.epochs:  # the last epoch's state is the outputs themselves, kept later
            save()
        if on_epoch_end is not None:
            on_epoch_end(epoch, row)


def _epoch(run: RunState, data, cfg: TrainConfig, augment, epoch: int, steps_per_epoch: int):
    """Train one epoch and score it; returns its history row."""
    n_train = len(data.train_x)
    first = (epoch - 1) * steps_per_epoch
    total_steps = steps_per_epoch * cfg.epochs
    lrs = [lr_at(cfg, s, total_steps) for s in range(first, first + steps_per_epoch)]
    perm = torch.randperm(n_train, generator=run.order).to(run.device, non_blocking=True)
    loss_sum, correct = train_epoch(
        run.model, run.optimizer, data.train_x, data.train_y, perm, cfg.batch_size, lrs, augment
    )
    # The gap's train side is read from the last row only: the whole fixed subset there, a
    # fixed part of it before (the curves), which costs a tenth as much on 5,000 images.
    last = epoch == cfg.epochs
    train_eval_loss, train_eval_acc = evaluate(
        run.model,
        data.train_eval_x if last else data.epoch_eval_x,
        data.train_eval_y if last else data.epoch_eval_y,
    )
    # Epochs between validation passes get NaN: no row pretends to a figure not measured.
    scored = last or epoch % cfg.val_every == 0
    val_loss, val_acc = (
        evaluate(run.model, data.val_x, data.val_y) if scored else (math.nan, math.nan)
    )
    return {
        "epoch": epoch,
        "train_loss": loss_sum.item() / n_train,
        "train_acc": correct.item() / n_train,
        "train_eval_loss": train_eval_loss,
        "train_eval_acc": train_eval_acc,
        "val_loss": val_loss,
        "val_acc": val_acc,
        "lr": lrs[-1],
    }


def _summary(cache: dict, spec, cfg: TrainConfig, run: RunState, n_train: int, start_epoch: int):
    """The train.json dict of a finished run."""
    frame = pd.DataFrame(run.rows, columns=list(HISTORY_COLUMNS))
    best_val_acc_epoch = int(frame.loc[frame["val_acc"].idxmax(), "epoch"])
    return {
        "format": RUN_FORMAT,
        "dataset": cache.get("dataset", "?"),
        "machine": machine(),
        "params": spec.num_params(),
        "flops_per_sample": spec.flops_per_sample(),
        "train_flops_per_sample": spec.train_flops_per_sample(),
        "train_images": n_train,
        "train_seconds": float(sum(run.epoch_seconds)),
        "epoch_seconds": run.epoch_seconds,
        # When this run's training ended (Unix time): which invocation of the study trained it.
        "finished_at": time.time(),
        "device": run.device,
        "device_name": torch.cuda.get_device_name() if run.device == "cuda" else "cpu",
        "threads": torch.get_num_threads(),
        "epochs": cfg.epochs,
        "resumed_after_epoch": start_epoch,
        "final": {k: run.rows[-1][k] for k in FINAL_KEYS},
        # The recorded key says "best": the epoch of the highest validation accuracy.
        "best_epoch": best_val_acc_epoch,
        # Early stopping's epoch: the lowest validation loss (its weights: model_best.pt).
        "stop_epoch": run.lowest_val_loss_checkpoint["epoch"],
        "spec": spec.to_dict(),
        "train_config": cfg.to_dict(),
        # The schedule's peak as trained (after any scaling with the batch): what tables state.
        "peak_lr": cfg.peak_lr,
    }


def _write_outputs(outputs: dict, run: RunState, spec, cfg: TrainConfig, data, summary: dict):
    """The last weights, the lowest validation loss's weights, history.csv and train.json."""
    lowest = run.lowest_val_loss_checkpoint
    mean, std = data.mean, data.std
    save_checkpoint(outputs["checkpoint"], run.model, spec, cfg.to_dict(), mean, std, cfg.epochs)
    save_checkpoint(
        outputs["best"], run.model, spec, cfg.to_dict(), mean, std, lowest["epoch"], lowest["state"]
    )
    write_csv(outputs["history"], pd.DataFrame(run.rows, columns=list(HISTORY_COLUMNS)))
    write_json(outputs["info"], summary)


def train_block(
    cache,
    spec: dict,
    training: dict,
    seeds: list[int],
    outputs: list[dict],
    code: str | None = None,
    log: Callable[[str], None] | None = None,
    on_epoch_end: Callable[[int, dict], None] | None = None,
    on_run_end: Callable[[int, dict, bool], None] | None = None,
) -> list[dict]:
    """Train one variant's runs, one seed after another, in this process (one job).

    ``outputs`` holds each seed's ``checkpoint``, ``best``, ``history`` and ``info`` paths. The
    cache and the device data are loaded once for all of them; each run keeps its own generators,
    so its numbers do not depend on the others. ``code`` (the rule's code hash) joins each run's
    key: a finished run is kept until its spec, training, data or code change.
    ``on_run_end(seed_index, info, kept)`` follows each run, trained or put back (kept): it sees
    the outputs once written and changes none of them.
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
            on_end=None if on_run_end is None else functools.partial(on_run_end, index),
        )
        for index, (seed, paths) in enumerate(zip(seeds, outputs, strict=True))
    ]
