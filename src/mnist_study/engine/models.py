"""The model zoo: linear, MLP and CNN specs as plain dicts, with their size and cost.

A spec is the single description of a model: config.yaml, checkpoints and the report all use it.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, fields
from functools import cache

from mnist_study.atomic import save_torch
from mnist_study.data.datasets import IMAGE_SIZE, N_CLASSES

ACTIVATIONS = ("relu", "tanh", "sigmoid", "gelu")
N_PIXELS = IMAGE_SIZE * IMAGE_SIZE
CHECKPOINT_FORMAT = 1

# FLOPs count 2 per multiply-add of the linear and convolution layers only: bias adds,
# activations, batch norm, pooling and the loss are elementwise and well under 1% here.


@dataclass(frozen=True)
class LinearSpec:
    """Softmax regression on the 784 pixels."""

    kind: str = "linear"

    def layer_sizes(self) -> list[int]:
        return [N_PIXELS, N_CLASSES]

    def num_params(self) -> int:
        return _dense_params(self.layer_sizes())

    def flops_per_sample(self) -> int:
        return 2 * _dense_macs(self.layer_sizes())

    def train_flops_per_sample(self) -> int:
        return _train_flops(_dense_layer_macs(self.layer_sizes()))

    def build(self):
        return _build_mlp([], "relu", 0.0, 0.0)

    def to_dict(self) -> dict:
        return _to_dict(self)


@dataclass(frozen=True)
class MLPSpec:
    """Fully connected hidden layers; an empty ``hidden`` is the linear model."""

    kind: str = "mlp"
    hidden: tuple[int, ...] = (256,)
    activation: str = "relu"
    dropout: float = 0.0  # after every hidden activation
    input_dropout: float = 0.0  # on the pixels

    def layer_sizes(self) -> list[int]:
        return [N_PIXELS, *self.hidden, N_CLASSES]

    def num_params(self) -> int:
        return _dense_params(self.layer_sizes())

    def flops_per_sample(self) -> int:
        return 2 * _dense_macs(self.layer_sizes())

    def train_flops_per_sample(self) -> int:
        return _train_flops(_dense_layer_macs(self.layer_sizes()))

    def build(self):
        return _build_mlp(list(self.hidden), self.activation, self.dropout, self.input_dropout)

    def to_dict(self) -> dict:
        return _to_dict(self)


@dataclass(frozen=True)
class CNNSpec:
    """Conv blocks (k x k conv, same padding, no bias -> 2x2 max pool -> BatchNorm -> ReLU),
    then an optional hidden fully connected layer, dropout, and the classifier.

    Pooling straight after the conv (as airbench does) gives batch norm and ReLU a quarter of
    the pixels; on the CPU those elementwise passes cost more than the convs (step 104 -> 65 ms).
    """

    kind: str = "cnn"
    channels: tuple[int, ...] = (32, 64)
    kernel_size: int = 3
    hidden: int = 0  # width of the fully connected layer after the convs; 0: none
    dropout: float = 0.0  # before the classifier

    def _maps(self) -> list[tuple[int, int, int]]:
        """(in channels, out channels, side length) of every conv, before its pooling."""
        maps, c_in, side = [], 1, IMAGE_SIZE
        for c_out in self.channels:
            maps.append((c_in, c_out, side))
            c_in, side = c_out, side // 2
        return maps

    def _flat(self) -> int:
        side = IMAGE_SIZE // 2 ** len(self.channels)
        return self.channels[-1] * side * side

    def _dense(self) -> list[int]:
        return [self._flat(), *([self.hidden] if self.hidden else []), N_CLASSES]

    def _layer_macs(self) -> list[int]:
        k2 = self.kernel_size**2
        convs = [c_in * c_out * k2 * side * side for c_in, c_out, side in self._maps()]
        return convs + _dense_layer_macs(self._dense())

    def num_params(self) -> int:
        k2 = self.kernel_size**2
        # A conv feeding batch norm needs no bias; batch norm brings a scale and a shift.
        convs = sum(c_in * c_out * k2 + 2 * c_out for c_in, c_out, _ in self._maps())
        return convs + _dense_params(self._dense())

    def flops_per_sample(self) -> int:
        return 2 * sum(self._layer_macs())

    def train_flops_per_sample(self) -> int:
        return _train_flops(self._layer_macs())

    def build(self):
        import torch  # torch only once a model is built: the Snakemake parse reads specs
        import torch.nn as nn

        # Flatten then unflatten: [N, 784] and [N, 1, 28, 28] both arrive as images (views only).
        layers, c_in = [nn.Flatten(), nn.Unflatten(1, (1, IMAGE_SIZE, IMAGE_SIZE))], 1
        for c_out in self.channels:
            layers += [
                nn.Conv2d(c_in, c_out, self.kernel_size, padding=self.kernel_size // 2, bias=False),
                nn.MaxPool2d(2),
                nn.BatchNorm2d(c_out),
                nn.ReLU(inplace=True),
            ]
            c_in = c_out
        layers.append(nn.Flatten())
        if self.hidden:
            layers += [nn.Linear(self._flat(), self.hidden), nn.ReLU(inplace=True)]
        layers += [dropout(self.dropout), nn.Linear(self._dense()[-2], N_CLASSES)]
        # Channels-last convolutions measured 1.6-2x faster on this CPU (oneDNN); the layout
        # follows the weights, and the 1-channel input is the same bytes either way.
        return nn.Sequential(*layers).to(memory_format=torch.channels_last)

    def to_dict(self) -> dict:
        return _to_dict(self)


ModelSpec = LinearSpec | MLPSpec | CNNSpec
SPECS = {"linear": LinearSpec, "mlp": MLPSpec, "cnn": CNNSpec}


def _dense_layer_macs(sizes: list[int]) -> list[int]:
    return [a * b for a, b in zip(sizes[:-1], sizes[1:], strict=True)]


def _dense_macs(sizes: list[int]) -> int:
    return sum(_dense_layer_macs(sizes))


def _dense_params(sizes: list[int]) -> int:
    return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:], strict=True))


def _train_flops(layer_macs: list[int]) -> int:
    """Forward, weight gradients, and input gradients for every layer but the first (the
    pixels need none): 2 FLOPs per multiply-add each."""
    return 2 * (2 * sum(layer_macs) + sum(layer_macs[1:]))


def _to_dict(spec) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(spec).items()}


def dropout(p: float):
    """A dropout layer: ``nn.Dropout``'s semantics (zero with probability ``p`` in train mode,
    scale the rest by 1/(1-p), identity in eval mode) with a cheaper mask. ``nn.Dropout`` draws
    its mask with ``bernoulli_``: forward and backward of a 256x512 batch take 3.7 ms on one thread
    here, against 2.1 ms with ``rand_like`` (a fifth of a dropout MLP's training time)."""
    return _dropout_class()(p)


@cache
def _dropout_class():
    import torch  # torch only once a model is built: the Snakemake parse reads specs
    import torch.nn as nn

    class Dropout(nn.Module):
        def __init__(self, p: float):
            super().__init__()
            self.p = float(p)

        def forward(self, x):
            if not self.training or self.p == 0:
                return x
            # In place: one float mask, already scaled, and one multiply that autograd records.
            mask = torch.rand_like(x).ge_(self.p).mul_(1 / (1 - self.p))
            return x * mask

        def extra_repr(self) -> str:
            return f"p={self.p}"

    return Dropout


def _build_mlp(hidden: list[int], activation: str, rate: float, input_rate: float):
    import torch.nn as nn  # torch only once a model is built: the Snakemake parse reads specs

    act = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "gelu": nn.GELU}[activation]
    layers = [nn.Flatten()]
    if input_rate:
        layers.append(dropout(input_rate))
    width = N_PIXELS
    for h in hidden:
        layers += [nn.Linear(width, h), act()]
        if rate:
            layers.append(dropout(rate))
        width = h
    layers.append(nn.Linear(width, N_CLASSES))
    return nn.Sequential(*layers)


# --- validation ------------------------------------------------------------------------------


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _positive_int(where: str, v) -> int:
    if not _is_int(v) or v <= 0:
        raise ValueError(f"{where}: {v!r}; must be a positive integer")
    return v


def _rate(where: str, v) -> float:
    if not isinstance(v, int | float) or isinstance(v, bool) or not 0 <= v < 1:
        raise ValueError(f"{where}: {v!r}; must be a number in [0, 1)")
    return float(v)


def _widths(where: str, v, allow_empty: bool) -> tuple[int, ...]:
    if not isinstance(v, list | tuple) or (not v and not allow_empty):
        need = "a list of positive integers" + ("" if allow_empty else " (at least one)")
        raise ValueError(f"{where}: {v!r}; must be {need}")
    return tuple(_positive_int(f"{where}[{i}]", w) for i, w in enumerate(v))


def spec_from_dict(d: dict, where: str = "model") -> ModelSpec:
    """Validate a spec dict (from config.yaml or a checkpoint) and return its dataclass.

    Errors name the field (prefixed by ``where``) and what would be valid.
    """
    if not isinstance(d, dict):
        raise ValueError(f"{where}: {d!r}; must be a mapping with a 'kind'")
    kind = d.get("kind")
    if kind not in SPECS:
        raise ValueError(f"{where}.kind: {kind!r}; valid: {sorted(SPECS)}")
    cls = SPECS[kind]
    names = [f.name for f in fields(cls)]
    unknown = sorted(set(d) - set(names))
    if unknown:
        raise ValueError(f"{where}: unknown field(s) {unknown} for kind {kind!r}; valid: {names}")
    values = dict(d)
    if kind == "mlp":
        if "hidden" in values:
            values["hidden"] = _widths(f"{where}.hidden", values["hidden"], allow_empty=True)
        act = values.get("activation", "relu")
        if act not in ACTIVATIONS:
            raise ValueError(f"{where}.activation: {act!r}; valid: {list(ACTIVATIONS)}")
        for name in ("dropout", "input_dropout"):
            if name in values:
                values[name] = _rate(f"{where}.{name}", values[name])
    elif kind == "cnn":
        if "channels" in values:
            values["channels"] = _widths(f"{where}.channels", values["channels"], False)
        max_blocks = IMAGE_SIZE.bit_length() - 1  # each block halves the side: 28 -> 1 after 4
        if len(values.get("channels", cls.channels)) > max_blocks:
            raise ValueError(
                f"{where}.channels: {len(values['channels'])} blocks; at most {max_blocks} "
                f"(each halves the {IMAGE_SIZE}x{IMAGE_SIZE} image)"
            )
        k = values.get("kernel_size", cls.kernel_size)
        if not _is_int(k) or k <= 0 or k % 2 == 0:
            raise ValueError(
                f"{where}.kernel_size: {k!r}; must be a positive odd integer (same padding)"
            )
        h = values.get("hidden", 0)
        if not _is_int(h) or h < 0:
            raise ValueError(f"{where}.hidden: {h!r}; must be 0 (no hidden layer) or positive")
        if "dropout" in values:
            values["dropout"] = _rate(f"{where}.dropout", values["dropout"])
    return cls(**values)


def as_spec(spec: ModelSpec | dict) -> ModelSpec:
    return spec if isinstance(spec, LinearSpec | MLPSpec | CNNSpec) else spec_from_dict(spec)


# --- checkpoints -----------------------------------------------------------------------------


def save_checkpoint(
    path: str | os.PathLike,
    model,
    spec: ModelSpec | dict,
    train_config: dict,
    mean: float,
    std: float,
    epoch: int | None = None,
    state_dict: dict | None = None,
) -> None:
    """Weights plus everything needed to rebuild and feed the model, written atomically.
    ``state_dict`` replaces the model's current weights (an earlier epoch's, kept aside);
    ``epoch`` says after which epoch they were taken."""
    weights = model.state_dict() if state_dict is None else state_dict
    save_torch(
        path,
        {
            "format": CHECKPOINT_FORMAT,
            "spec": as_spec(spec).to_dict(),
            "train_config": dict(train_config),
            "state_dict": {k: v.detach().cpu() for k, v in weights.items()},
            "mean": float(mean),
            "std": float(std),
            "epoch": epoch,
        },
    )


def load_checkpoint(path: str | os.PathLike, map_location="cpu"):
    """Rebuild a checkpoint's model alone: returns (model in eval mode, checkpoint dict)."""
    import torch  # torch only once a model is built: the Snakemake parse reads specs

    ckpt = torch.load(path, map_location=map_location, weights_only=True)
    if ckpt.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(
            f"{path}: checkpoint format {ckpt.get('format')!r}; this code reads {CHECKPOINT_FORMAT}"
        )
    model = spec_from_dict(ckpt["spec"], where=f"{path}: spec").build()
    model.load_state_dict(ckpt["state_dict"])
    return model.to(map_location).eval(), ckpt
