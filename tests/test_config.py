"""The config checks Snakemake runs at every parse: light imports, one message per fault."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml
from helpers import REPO

from mnist_study import config as study_config

SCHEMA = REPO / "workflow/schemas/config.schema.yaml"


def test_parse_time_modules_import_no_heavy_package():
    code = (
        "import sys, mnist_study.config, mnist_study.codehash, mnist_study.data;"
        "print(sorted({'torch', 'pandas', 'numpy', 'scipy', 'matplotlib'} & set(sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_the_study_config_passes_every_check():
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    study_config.check_structure(config, SCHEMA)
    study_config.check_meaning(config)
    assert set(study_config.claims_of(config)) == set(config["claims"])


def test_all_structural_errors_are_listed_by_key_path():
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["typo"] = 1
    config["studies"]["depth"]["question"] = 3
    with pytest.raises(study_config.ConfigError) as info:
        study_config.check_structure(config, SCHEMA)
    message = str(info.value)
    assert "(top level): unknown key(s) ['typo']" in message
    assert "studies.depth.question: 3 is not of type 'string'" in message
