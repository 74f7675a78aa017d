"""The optimizers: SGD (plain or with momentum), Adam and AdamW on torch's fused kernels.

Called through torch's functional API, so a short job pays no torch._dynamo import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch.optim.adam import adam
from torch.optim.sgd import sgd

if TYPE_CHECKING:
    from mnist_study.engine.train_config import TrainConfig


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
        """The state's own tensors, not copies: torch.save writes them at once, and a copy
        would cost as much as the write (the resume state is saved after every epoch)."""
        return {k: list(v) for k, v in self.state.items()}

    def load_state_dict(self, state: dict) -> None:
        for key, tensors in self.state.items():
            for mine, saved in zip(tensors, state[key], strict=True):
                mine.copy_(saved)
