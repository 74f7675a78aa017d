"""The training loop: plain PyTorch over tensors that already sit on the device.

Deterministic on the CPU (per thread count), resumable after a kill, fast: no DataLoader or syncs.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from .models import as_spec, normalise, save_checkpoint

logger = logging.getLogger(__name__)

OPTIMIZERS = ("sgd", "sgd_momentum", "adam", "adamw")
SCHEDULES = ("constant", "cosine", "onecycle")
DEVICES = ("auto", "cpu", "cuda")
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
RESUME_FORMAT = 2  # 2: wall times left history rows for their own list
EVAL_BATCH = 1000  # images per forward pass when evaluating: memory, not speed, sets it
ONECYCLE_WARMUP = 0.25  # fraction of the steps spent ramping up to the peak learning rate
ONECYCLE_START = 1 / 25  # the ramp starts at this fraction of the peak (as torch's OneCycleLR)
# The subset for the eval-mode training metrics is the same for every run and seed.
EVAL_TRAIN_SEED = 0
TRAIN_SUBSET_SEED = 1  # draws the fixed training subset of runs with a train_size


@dataclass(frozen=True)
class TrainConfig:
    optimizer: str = "adamw"
    lr: float = 5e-3  # the peak for onecycle, the start for cosine
    schedule: str = "onecycle"
    weight_decay: float = 0.0  # decoupled for adamw, L2 in the gradient otherwise
    momentum: float = 0.9  # sgd_momentum only
    batch_size: int = 256
    epochs: int = 10
    seed: int = 0
    device: str = "auto"
    threads: int | None = None  # torch.set_num_threads; None keeps torch's default
    eval_train_size: int = 10000
    train_size: int | None = None  # a fixed subset of the training split; None: all of it

    @classmethod
    def from_dict(cls, d: dict, where: str = "training") -> TrainConfig:
        """Validate a training dict (config.yaml's form); errors name the key and what is valid."""
        if not isinstance(d, dict):
            raise ValueError(f"{where or 'training'}: {d!r}; must be a mapping")
        at = (lambda key: f"{where}.{key}") if where else (lambda key: key)
        names = [f.name for f in fields(cls)]
        unknown = sorted(set(d) - set(names))
        if unknown:
            raise ValueError(f"{where or 'training'}: unknown key(s) {unknown}; valid: {names}")
        for key, valid in (
            ("optimizer", OPTIMIZERS),
            ("schedule", SCHEDULES),
            ("device", DEVICES),
        ):
            if key in d and d[key] not in valid:
                raise ValueError(f"{at(key)}: {d[key]!r}; valid: {list(valid)}")
        values = dict(d)
        for key, low, high, closed in (
            ("lr", 0, math.inf, False),
            ("weight_decay", 0, math.inf, True),
            ("momentum", 0, 1, True),
        ):
            if key in d:
                v = d[key]
                ok = isinstance(v, int | float) and not isinstance(v, bool)
                ok = ok and (low <= v if closed else low < v) and v < high
                if not ok:
                    bounds = f"{'[' if closed else '('}{low}, {high})"
                    raise ValueError(f"{at(key)}: {v!r}; must be a number in {bounds}")
                values[key] = float(v)
        for key, minimum in (("batch_size", 1), ("epochs", 1), ("seed", 0), ("eval_train_size", 1)):
            if key in d and (not _is_int(d[key]) or d[key] < minimum):
                raise ValueError(f"{at(key)}: {d[key]!r}; must be an integer >= {minimum}")
        size = d.get("train_size")
        if size is not None and (not _is_int(size) or size < 1):
            raise ValueError(f"{at('train_size')}: {size!r}; must be a positive integer or null")
        threads = d.get("threads")
        if threads is not None and (not _is_int(threads) or threads < 1):
            raise ValueError(f"{at('threads')}: {threads!r}; must be a positive integer or null")
        return cls(**values)

    def to_dict(self) -> dict:
        return asdict(self)


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def resolve_device(name: str) -> str:
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("device: 'cuda' requested but torch sees no CUDA device; use auto or cpu")
    return name


def lr_at(config: TrainConfig, step: int, total_steps: int) -> float:
    """The learning rate of optimizer step ``step`` (0-based): a pure function, so resuming
    needs only the step count, not a scheduler object."""
    if config.schedule == "constant":
        return config.lr
    frac = step / total_steps
    if config.schedule == "cosine":
        return config.lr * 0.5 * (1 + math.cos(math.pi * frac))
    if frac < ONECYCLE_WARMUP:
        return config.lr * (ONECYCLE_START + (1 - ONECYCLE_START) * frac / ONECYCLE_WARMUP)
    down = (frac - ONECYCLE_WARMUP) / (1 - ONECYCLE_WARMUP)
    return config.lr * 0.5 * (1 + math.cos(math.pi * down))


class Optimizer:
    """SGD (plain or with momentum), Adam and AdamW, stepped by torch's fused kernels.

    The same kernels as ``torch.optim``'s ``fused=True`` classes (a test checks the weights
    match), called through the functional API: the classes import torch._dynamo on first use
    (``Optimizer.add_param_group`` is wrapped by ``torch._disable_dynamo``), measured at
    1.1-1.3 s per process with torch 2.14.1 on the 2-core reference machine (``import torch``
    alone 1.3 s; ``AdamW(fused=True)`` and one step 2.6 s; this functional path 1.3 s), a large
    share of a short training job. Keep the functional call while that holds. The functional
    ``adam``'s ``decoupled_weight_decay`` (AdamW) needs torch >= 2.7.
    """

    def __init__(self, params, config: TrainConfig):
        import torch

        self.params = list(params)
        self.kind = config.optimizer
        self.weight_decay = config.weight_decay
        self.momentum = config.momentum if self.kind == "sgd_momentum" else 0.0
        zeros = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.params]
        if self.kind in ("adam", "adamw"):
            self.state = {
                "exp_avg": zeros,
                "exp_avg_sq": [torch.zeros_like(z) for z in zeros],
                # Fused kernels keep the step count as a float32 tensor on the parameter's device.
                "step": [torch.zeros((), device=p.device) for p in self.params],
            }
        else:
            self.state = {"momentum_buffer": zeros if self.momentum else []}

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def step(self, lr: float) -> None:
        from torch.optim.adam import adam
        from torch.optim.sgd import sgd

        grads = [p.grad for p in self.params]
        if self.kind in ("adam", "adamw"):
            s = self.state
            adam(
                self.params,
                grads,
                s["exp_avg"],
                s["exp_avg_sq"],
                [],
                s["step"],
                fused=True,
                decoupled_weight_decay=self.kind == "adamw",
                amsgrad=False,
                beta1=0.9,
                beta2=0.999,
                lr=lr,
                weight_decay=self.weight_decay,
                eps=1e-8,
                maximize=False,
            )
        else:
            sgd(
                self.params,
                grads,
                self.state["momentum_buffer"] or [None] * len(grads),
                fused=True,
                weight_decay=self.weight_decay,
                momentum=self.momentum,
                lr=lr,
                dampening=0.0,
                nesterov=False,
                maximize=False,
            )

    def state_dict(self) -> dict:
        return {k: [t.clone() for t in v] for k, v in self.state.items()}

    def load_state_dict(self, state: dict) -> None:
        for key, tensors in self.state.items():
            for mine, saved in zip(tensors, state[key], strict=True):
                mine.copy_(saved)


@dataclass
class Data:
    """Normalised float images [N, 784] and int64 labels, already on the device."""

    train_x: object
    train_y: object
    train_eval_x: object
    train_eval_y: object
    val_x: object
    val_y: object
    mean: float
    std: float


def _fixed_subset(indices, size: int, seed: int):
    import torch

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


def train_eval_indices(train_idx, size: int):
    """The fixed subset of training images on which every run is also scored in eval mode
    (the train side of the generalization gap): the same for every variant and seed."""
    return _fixed_subset(train_idx, min(size, len(train_idx)), EVAL_TRAIN_SEED)


def prepare_data(
    cache, device: str, eval_train_size: int = 10000, train_size: int | None = None
) -> Data:
    """Move the split's images to the device once (as uint8, 4x less to copy), then normalise
    them there once: per-batch conversion would redo that work every epoch, and the float
    copy (160 MB for MNIST) fits easily."""

    if not isinstance(cache, dict):
        from .data import load_cache

        cache = load_cache(cache)
    mean, std = float(cache["mean"]), float(cache["std"])
    images = cache["train_images"].to(device)
    labels = cache["train_labels"].to(device)
    train_idx = training_indices(cache["train_idx"], train_size).to(device)
    val_idx = cache["val_idx"].to(device)
    eval_idx = train_eval_indices(train_idx, eval_train_size)
    return Data(
        train_x=normalise(images[train_idx], mean, std),
        train_y=labels[train_idx],
        train_eval_x=normalise(images[eval_idx], mean, std),
        train_eval_y=labels[eval_idx],
        val_x=normalise(images[val_idx], mean, std),
        val_y=labels[val_idx],
        mean=mean,
        std=std,
    )


def train_epoch(model, optimizer, x, y, perm, batch_size: int, lrs: list[float]):
    """One pass in train mode; returns (summed loss, number correct) as device tensors, so the
    loop never waits for the device. ``lrs`` holds each step's learning rate."""
    import torch
    import torch.nn.functional as F

    model.train()
    loss_sum = torch.zeros((), device=x.device)
    predictions = torch.empty_like(perm)
    for i, start in enumerate(range(0, len(perm), batch_size)):
        idx = perm[start : start + batch_size]
        # index_select gathers rows ~4x faster than x[idx] here (13 vs 60 us at batch 64), and
        # beats a permuted copy of the whole set per epoch (120-200 ms).
        inputs, targets = x.index_select(0, idx), y.index_select(0, idx)
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
    import torch
    import torch.nn.functional as F

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


def _resume_key(spec, config: TrainConfig, device: str) -> dict:
    """What a resume state must match to be continued. Threads are left out: a rerun with
    another thread count continues the same training (only the last bits of its sums differ,
    as they do between two whole runs with different thread counts)."""
    return {
        "spec": spec.to_dict(),
        "config": {k: v for k, v in config.to_dict().items() if k != "threads"},
        "device": device,
    }


def _load_resume(path: Path | None, key: dict, log) -> dict | None:
    import torch

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
    resume: str | os.PathLike | None = None,
    log: Callable[[str], None] | None = None,
    on_epoch_end: Callable[[int, dict], None] | None = None,
) -> dict:
    """Train one model with one seed and write its checkpoint, history.csv and train.json.

    ``cache`` is the tensor cache path or its dict (``mnist_study.data.load_cache``). After every
    epoch the full training state goes atomically to ``resume`` (default: ``resume.pt`` beside
    the checkpoint); a later call with the same spec and config continues from it, and it is
    deleted once the outputs are written. ``on_epoch_end(epoch, row)`` runs after that state is
    saved (tests raise from it to simulate a kill). Returns the train.json dict.
    """
    import pandas as pd
    import torch

    from .atomic import save_torch, write_csv, write_json
    from .provenance import machine
    from .runrecord import RUN_FORMAT

    log = log or logger.info
    spec = as_spec(spec)
    cfg = TrainConfig.from_dict(dict(config))
    if cfg.threads is not None:
        torch.set_num_threads(cfg.threads)
    device = resolve_device(cfg.device)
    checkpoint = Path(checkpoint)
    resume = Path(resume) if resume is not None else checkpoint.with_name("resume.pt")

    if not isinstance(cache, dict):
        from .data import load_cache

        cache = load_cache(cache)
    data = prepare_data(cache, device, cfg.eval_train_size, cfg.train_size)
    n_train = len(data.train_x)
    steps_per_epoch = math.ceil(n_train / cfg.batch_size)
    total_steps = steps_per_epoch * cfg.epochs

    torch.manual_seed(cfg.seed)  # init and dropout draw from torch's default generators
    model = spec.build().to(device)
    optimizer = Optimizer(model.parameters(), cfg)
    # Data order has its own generator: it does not depend on what the init consumed.
    order = torch.Generator().manual_seed(cfg.seed)
    rows: list[dict] = []
    epoch_seconds: list[float] = []

    key = _resume_key(spec, cfg, device)
    state = _load_resume(resume, key, log)
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        order.set_state(state["order_rng"])
        torch.set_rng_state(state["cpu_rng"])
        if device == "cuda":
            torch.cuda.set_rng_state(state["cuda_rng"])
        rows = list(state["history"])
        epoch_seconds = list(state["epoch_seconds"])
        log(f"resume: continuing after epoch {len(rows)} of {cfg.epochs} from {resume}")
    start_epoch = len(rows)

    log(
        f"{spec.to_dict()} on {device} ({torch.get_num_threads()} threads): {n_train} images, "
        f"{spec.num_params()} params, {cfg.epochs} epochs of {steps_per_epoch} steps"
    )
    for epoch in range(start_epoch + 1, cfg.epochs + 1):
        t0 = time.perf_counter()
        first = (epoch - 1) * steps_per_epoch
        lrs = [lr_at(cfg, s, total_steps) for s in range(first, first + steps_per_epoch)]
        perm = torch.randperm(n_train, generator=order).to(device, non_blocking=True)
        loss_sum, correct = train_epoch(
            model, optimizer, data.train_x, data.train_y, perm, cfg.batch_size, lrs
        )
        train_eval_loss, train_eval_acc = evaluate(model, data.train_eval_x, data.train_eval_y)
        val_loss, val_acc = evaluate(model, data.val_x, data.val_y)
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
        epoch_seconds.append(time.perf_counter() - t0)
        log(
            f"epoch {epoch}/{cfg.epochs}: train {row['train_loss']:.4f} {row['train_acc']:.4f}"
            f" | train eval {train_eval_loss:.4f} {train_eval_acc:.4f}"
            f" | val {val_loss:.4f} {val_acc:.4f} | lr {row['lr']:.3g} | {epoch_seconds[-1]:.1f} s"
        )
        save_torch(
            resume,
            {
                "format": RESUME_FORMAT,
                "key": key,
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "order_rng": order.get_state(),
                "cpu_rng": torch.get_rng_state(),
                "cuda_rng": torch.cuda.get_rng_state() if device == "cuda" else None,
                "history": rows,
                "epoch_seconds": epoch_seconds,
            },
        )
        if on_epoch_end is not None:
            on_epoch_end(epoch, row)

    frame = pd.DataFrame(rows, columns=list(HISTORY_COLUMNS))
    best = int(frame.loc[frame["val_acc"].idxmax(), "epoch"])
    summary = {
        "format": RUN_FORMAT,
        "dataset": cache.get("dataset", "?"),
        "machine": machine(),
        "params": spec.num_params(),
        "flops_per_sample": spec.flops_per_sample(),
        "train_flops_per_sample": spec.train_flops_per_sample(),
        "train_seconds": float(sum(epoch_seconds)),
        "epoch_seconds": epoch_seconds,
        "device": device,
        "device_name": torch.cuda.get_device_name() if device == "cuda" else "cpu",
        "threads": torch.get_num_threads(),
        "epochs": cfg.epochs,
        "resumed_after_epoch": start_epoch,
        "final": {k: rows[-1][k] for k in FINAL_KEYS},
        "best_epoch": best,
        "spec": spec.to_dict(),
        "train_config": cfg.to_dict(),
    }
    save_checkpoint(checkpoint, model, spec, cfg.to_dict(), data.mean, data.std)
    write_csv(history, frame)
    write_json(info, summary)
    resume.unlink(missing_ok=True)
    log(
        f"done: val_acc {rows[-1]['val_acc']:.4f}, {summary['train_seconds']:.1f} s; "
        f"wrote {checkpoint}, {history}, {info}"
    )
    return summary
