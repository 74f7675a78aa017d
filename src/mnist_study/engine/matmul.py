"""The machine's matmul figure: a 2048x2048 fp32 matmul's GFLOP/s, the yardstick of the study's
compute limit (rule bench_matmul) and of make bench. Imports no model or training code.
"""

from __future__ import annotations

import statistics
import time

import torch

from mnist_study.atomic import write_json
from mnist_study.machine import machine

MATMUL_N = 2048
WARM_UP_S = 1.0  # seconds of matmuls before the figures are taken


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def matmul_gflops(device: str, repeats: int = 10) -> float:
    a = torch.randn(MATMUL_N, MATMUL_N, device=device)
    b = torch.randn(MATMUL_N, MATMUL_N, device=device)
    for _ in range(2):
        a @ b
    sync(device)
    t0 = time.perf_counter()
    for _ in range(repeats):
        a @ b
    sync(device)
    return 2 * MATMUL_N**3 * repeats / (time.perf_counter() - t0) / 1e9


def write_matmul_figure(out, threads: int, repeats: int = 3, device: str = "cpu") -> dict:
    """The compute limit's denominator: median of ``repeats`` matmul figures on ``threads``
    threads, written as JSON with the machine it was measured on."""
    torch.set_num_threads(threads)
    # A job starts cold (thread pool, clocks) where make bench measures after its epochs: a
    # second of matmuls first, then make bench's own procedure (10 matmuls a figure).
    start = time.perf_counter()
    while time.perf_counter() - start < WARM_UP_S:
        matmul_gflops(device, repeats=1)
    figures = [matmul_gflops(device) for _ in range(repeats)]
    result = {
        "matmul_flops_per_s": statistics.median(figures) * 1e9,
        "repeats_gflops": figures,
        "threads": threads,
        "n": MATMUL_N,
        "device": device,
        "machine": machine(),
    }
    write_json(out, result)
    return result
