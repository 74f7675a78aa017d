"""The workflow's rule graph: Snakemake writes it as DOT, Graphviz's `dot` draws it.

Without `dot` there is no picture, only the DOT text and the command that draws it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

from mnist_study.atomic import write_text

INSTALL_HINT = "apt-get install graphviz, brew install graphviz or conda install graphviz"


def write_rulegraph(snakefile, workdir, config: Mapping, out) -> None:
    """Rule rulegraph: ask Snakemake for the workflow's rule graph (DOT) under this config.

    The resolved config goes in as a config file, so the graph matches however the outer run
    was configured (profile, extra config files, quick overrides).
    """
    with tempfile.TemporaryDirectory() as tmp:
        configfile = Path(tmp) / "config.json"
        configfile.write_text(json.dumps(config, default=str))
        cmd = [
            sys.executable,
            "-m",
            "snakemake",
            "--snakefile",
            str(snakefile),
            "--directory",
            str(workdir),
            "--configfile",
            str(configfile),
            "--rulegraph",
            "--nolock",
            "--quiet",
            "all",
        ]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    start = done.stdout.find("digraph")
    if done.returncode != 0 or start < 0:
        raise RuntimeError(
            f"snakemake --rulegraph failed (exit {done.returncode}):\n"
            f"{(done.stderr or done.stdout)[-3000:]}"
        )
    write_text(out, done.stdout[start:])


def draw(dot_text: str) -> bytes | None:
    """The graph as SVG drawn by Graphviz, or None where `dot` is not installed."""
    dot = shutil.which("dot")
    if dot is None:
        return None
    done = subprocess.run([dot, "-Tsvg"], input=dot_text.encode(), capture_output=True, timeout=60)
    if done.returncode != 0:
        raise RuntimeError(f"dot -Tsvg failed (exit {done.returncode}): {done.stderr[-2000:]!r}")
    return done.stdout
