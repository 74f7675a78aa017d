"""Shared fixtures: the smoke study (synthetic data, the real Snakefile) run once per session."""

from __future__ import annotations

import pytest
from helpers import SmokeStudy, make_smoke_study


@pytest.fixture(scope="session")
def smoke_study(tmp_path_factory) -> SmokeStudy:
    """A fresh, not yet run smoke study in its own working directory."""
    return make_smoke_study(tmp_path_factory.mktemp("smoke"))


@pytest.fixture(scope="session")
def smoke_run(smoke_study) -> SmokeStudy:
    """The smoke study after one complete Snakemake run (shared by the tests that read results)."""
    smoke_study.snakemake(check=True)
    return smoke_study
