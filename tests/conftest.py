"""Shared fixtures: the smoke study (synthetic data, the real Snakefile) run once per session."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from helpers import SmokeStudy, fashion_like_data, make_smoke_study


@pytest.fixture(scope="session")
def smoke_study(tmp_path_factory) -> SmokeStudy:
    """A fresh, not yet run smoke study in its own working directory."""
    return make_smoke_study(tmp_path_factory.mktemp("smoke"))


@pytest.fixture(scope="session")
def smoke_run(smoke_study) -> SmokeStudy:
    """The smoke study after one complete Snakemake run (shared by the tests that read results)."""
    smoke_study.console = smoke_study.snakemake(check=True).stdout
    return smoke_study


@pytest.fixture(scope="session")
def fashion_like_run(smoke_run) -> Path:
    """A second study beside the smoke run, on a dataset of one's own given by hand: the same
    synthetic files under another name, with fashion class names, title and noun, through the
    ``local`` source (as `make report DATASET=...` runs it: a config layer plus --directory).
    Returns its working directory."""
    config = smoke_run.read_config()
    layer = smoke_run.root / "tiny-fashion.yaml"
    layer.write_text(yaml.safe_dump({"data": fashion_like_data(config["data"])}))
    workdir = smoke_run.workdir / "results" / "tiny-fashion"
    smoke_run.snakemake(
        "--directory",
        str(workdir),
        "--configfile",
        str(smoke_run.configfile),
        str(layer),
        check=True,
    )
    return workdir
