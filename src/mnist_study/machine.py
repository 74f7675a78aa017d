"""The machine a result was made on, as every run record and the report describe it.

Base layer: the training engine records it, the record and report layers show it.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()} ({os.cpu_count()} logical CPUs)"
    except OSError:
        pass
    return f"{platform.processor() or platform.machine()} ({os.cpu_count()} logical CPUs)"


def gpu_model() -> str:
    try:
        import torch  # the Snakemake parse loads this module (cpu_model); torch only when asked

        if torch.cuda.is_available():
            return ", ".join(
                torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())
            )
    except Exception as err:  # a broken CUDA setup should not stop the record
        return f"unavailable ({err})"
    return "none"


def machine() -> dict:
    """This host as a run record keeps it: name, CPU, GPU, Python and torch versions."""
    import torch  # the Snakemake parse loads this module (cpu_model); torch only when asked

    return {
        "host": platform.node() or "?",
        "cpu": cpu_model(),
        "gpu": gpu_model(),
        "python": platform.python_version(),
        "torch": torch.__version__,
    }
