"""Logging for Snakemake jobs: stderr and the package's log records go to the rule's log file.

Every thin script in workflow/scripts calls ``to_file(snakemake.log[0])`` first.
"""

from __future__ import annotations

import logging
import os
import sys


def to_file(path: str | os.PathLike) -> None:
    """Redirect stderr (warnings, tracebacks) and ``logging`` to ``path`` for this process."""
    stream = open(path, "a", buffering=1, encoding="utf-8")  # noqa: SIM115 - lives as long as the job
    sys.stderr = stream
    logging.basicConfig(
        stream=stream,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
