"""What a training run is configured with: optimizer, schedule, batch and device, checked
when config.yaml is read, and the learning rate of each step that the schedule gives."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

from mnist_study.data.datasets import IMAGE_SIZE

OPTIMIZERS = ("sgd", "sgd_momentum", "adam", "adamw")
SCHEDULES = ("constant", "cosine", "onecycle")
# How the configured lr follows the batch size: kept as given, or scaled linearly with it
# (lr x batch / lr_reference_batch; Goyal et al. 2017), one-cycle's ramp being the warm-up.
LR_SCALINGS = ("none", "linear")
DEVICES = ("auto", "cpu", "cuda")
ONECYCLE_WARMUP = 0.25  # fraction of the steps spent ramping up to the peak learning rate
ONECYCLE_START = 1 / 25  # the ramp starts at this fraction of the peak (as torch's OneCycleLR)


@dataclass(frozen=True)
class TrainConfig:
    optimizer: str = "adamw"
    lr: float = 5e-3  # the peak for onecycle, the start for cosine
    schedule: str = "onecycle"
    weight_decay: float = 0.0  # decoupled for adamw, L2 in the gradient otherwise
    momentum: float = 0.9  # sgd_momentum only
    batch_size: int = 256
    lr_scaling: str = "none"
    lr_reference_batch: int = 256  # the batch at which a linearly scaled lr is the lr given
    epochs: int = 10
    seed: int = 0
    device: str = "auto"
    threads: int | None = None  # torch.set_num_threads; None keeps torch's default
    eval_train_size: int = 10000  # the fixed training subset of the gap, scored at the end
    # Scored every epoch before the last: a fixed part of that subset, for the curves only.
    eval_train_epoch_size: int = 1000
    train_size: int | None = None  # a fixed subset of the training split; None: all of it
    # Augmentation (mnist_study.data.augment): the largest shift (pixels) and rotation (degrees) of
    # a random affine drawn per image and step; both 0: the images as they are.
    augment_shift: float = 0.0
    augment_rotation: float = 0.0
    # Learn the training images' labels shuffled once (one fixed permutation for every variant
    # and seed): what the network memorizes when there is nothing to generalize.
    random_labels: bool = False
    # Score validation after every k-th epoch and the last: on a small training set a pass over
    # the validation split costs more than the epoch itself.
    val_every: int = 1

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
            ("lr_scaling", LR_SCALINGS),
        ):
            if key in d and d[key] not in valid:
                raise ValueError(f"{at(key)}: {d[key]!r}; valid: {list(valid)}")
        values = dict(d)
        for key, low, high, closed in (
            ("lr", 0, math.inf, False),
            ("weight_decay", 0, math.inf, True),
            ("momentum", 0, 1, True),
            ("augment_shift", 0, IMAGE_SIZE, True),  # pixels: less than the image's side
            ("augment_rotation", 0, 180, True),  # degrees: a magnitude, drawn symmetric
        ):
            if key in d:
                v = d[key]
                ok = isinstance(v, int | float) and not isinstance(v, bool)
                ok = ok and (low <= v if closed else low < v) and v < high
                if not ok:
                    bounds = f"{'[' if closed else '('}{low}, {high})"
                    raise ValueError(f"{at(key)}: {v!r}; must be a number in {bounds}")
                values[key] = float(v)
        for key, minimum in (
            ("batch_size", 1),
            ("lr_reference_batch", 1),
            ("epochs", 1),
            ("seed", 0),
            ("eval_train_size", 1),
            ("eval_train_epoch_size", 1),
            ("val_every", 1),
        ):
            if key in d and (not _is_int(d[key]) or d[key] < minimum):
                raise ValueError(f"{at(key)}: {d[key]!r}; must be an integer >= {minimum}")
        size = d.get("train_size")
        if size is not None and (not _is_int(size) or size < 1):
            raise ValueError(f"{at('train_size')}: {size!r}; must be a positive integer or null")
        if "random_labels" in d and not isinstance(d["random_labels"], bool):
            raise ValueError(
                f"{at('random_labels')}: {d['random_labels']!r}; must be true or false"
            )
        threads = d.get("threads")
        if threads is not None and (not _is_int(threads) or threads < 1):
            raise ValueError(f"{at('threads')}: {threads!r}; must be a positive integer or null")
        return cls(**values)

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def peak_lr(self) -> float:
        """The learning rate the schedule starts from: the lr given, or scaled with the batch."""
        if self.lr_scaling == "linear":
            return self.lr * self.batch_size / self.lr_reference_batch
        return self.lr


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def resolve_device(name: str) -> str:
    import torch  # only on a GPU question: the Snakemake parse loads this module

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("device: 'cuda' requested but torch sees no CUDA device; use auto or cpu")
    return name


def lr_at(config: TrainConfig, step: int, total_steps: int) -> float:
    """The learning rate of optimizer step ``step`` (0-based): a pure function, so resuming
    needs only the step count, not a scheduler object."""
    peak = config.peak_lr
    if config.schedule == "constant":
        return peak
    frac = step / total_steps
    if config.schedule == "cosine":
        return peak * 0.5 * (1 + math.cos(math.pi * frac))
    if frac < ONECYCLE_WARMUP:
        return peak * (ONECYCLE_START + (1 - ONECYCLE_START) * frac / ONECYCLE_WARMUP)
    down = (frac - ONECYCLE_WARMUP) / (1 - ONECYCLE_WARMUP)
    return peak * 0.5 * (1 + math.cos(math.pi * down))
