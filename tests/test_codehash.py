"""Code hashes over a package with subpackages: which modules a job script reaches, and which
edits change its hash (mnist_study.codehash), on a small package of their own."""

from __future__ import annotations

import textwrap

import pytest

from mnist_study import codehash

PACKAGE = {
    "__init__.py": '"""The package."""\n',
    "atomic.py": "def write(x):\n    return x\n",
    "engine/__init__.py": '"""Training."""\n',
    "engine/helpers.py": "SCALE = 2\n",
    "engine/models.py": "from .helpers import SCALE\nfrom ..atomic import write\n",
    "engine/train.py": "from mnist_study.engine.models import SCALE\n",
    "report/__init__.py": '"""Presenting."""\n',
    "report/plots.py": "from mnist_study.engine import models\n",
    "report/tables.py": "import mnist_study.atomic\n",
}
SCRIPTS = {
    "plot.py": "from mnist_study.report.plots import models\n",
    "table.py": "from mnist_study.report import tables\n",
    "train.py": "import mnist_study.engine.train\n",
    "plain.py": "import json\n",
}


@pytest.fixture
def tree(tmp_path):
    folder = tmp_path / "mnist_study"
    for name, text in {**PACKAGE, **{f"../scripts/{k}": v for k, v in SCRIPTS.items()}}.items():
        path = (folder / name).resolve()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return folder, tmp_path / "scripts"


def hashes(folder, scripts):
    # Each case edits files in place; the parse cache must not keep the old text.
    codehash._python_tree.cache_clear()
    return {name: codehash.code_hash(scripts / name, folder) for name in SCRIPTS}


def test_nested_module_reached_indirectly(tree):
    folder, scripts = tree
    # plot -> report.plots -> engine.models -> engine.helpers (relative) and atomic (..).
    assert codehash.script_modules(scripts / "plot.py", folder) == [
        "",
        "atomic",
        "engine",
        "engine.helpers",
        "engine.models",
        "report",
        "report.plots",
    ]
    assert codehash.script_modules(scripts / "train.py", folder) == [
        "",
        "atomic",
        "engine",
        "engine.helpers",
        "engine.models",
        "engine.train",
    ]
    assert codehash.script_modules(scripts / "table.py", folder) == [
        "",
        "atomic",
        "report",
        "report.tables",
    ]
    assert codehash.script_modules(scripts / "plain.py", folder) == []


@pytest.mark.parametrize(
    "addition",
    ["\n\n   \n", "\n# a comment\n", '\n\ndef _f():\n    """Doc."""\n    return 1\n'],
    ids=["whitespace", "comment", "docstring"],
)
def test_layout_edit_changes_no_hash(tree, addition):
    folder, scripts = tree
    before = hashes(folder, scripts)
    path = folder / "engine/helpers.py"
    if "def" in addition:
        # The same function with and without its docstring.
        path.write_text(path.read_text() + "\n\ndef _f():\n    return 1\n")
        before = hashes(folder, scripts)
    path.write_text(path.read_text().split("\n\ndef _f")[0] + addition)
    assert hashes(folder, scripts) == before


@pytest.mark.parametrize(
    ("module", "changed"),
    [
        ("engine/helpers.py", {"plot.py", "train.py"}),
        ("engine/__init__.py", {"plot.py", "train.py"}),
        ("report/tables.py", {"table.py"}),
        ("atomic.py", {"plot.py", "train.py", "table.py"}),
        ("__init__.py", {"plot.py", "train.py", "table.py"}),
    ],
)
def test_code_edit_changes_only_the_scripts_that_reach_it(tree, module, changed):
    folder, scripts = tree
    before = hashes(folder, scripts)
    path = folder / module
    path.write_text(path.read_text() + "\nEDITED = 1\n")
    after = hashes(folder, scripts)
    assert {name for name in SCRIPTS if after[name] != before[name]} == changed


def test_the_real_package_resolves(tmp_path):
    script = tmp_path / "script.py"
    script.write_text(
        textwrap.dedent(
            """\
            from mnist_study.engine.train import train_run
            from mnist_study import codehash
            """
        )
    )
    modules = codehash.script_modules(script)
    assert {"", "codehash", "engine", "engine.train", "engine.models"} <= set(modules)
    assert not any(m.startswith(("report", "evidence")) for m in modules)


def test_an_edit_to_a_reporting_module_changes_no_hash(tmp_path):
    """The progress line's module reports on a train job and shapes none of its outputs: a
    rewording of it retrains nothing, while an edit to the training code still does."""
    folder = tmp_path / "mnist_study"
    files = {
        "__init__.py": "",
        "atomic.py": "def write(x):\n    return x\n",
        "engine/__init__.py": "",
        "engine/train.py": "from mnist_study.atomic import write\n",
        "record/__init__.py": "",
        "record/progress.py": "from mnist_study.atomic import write\nWORDS = 'done'\n",
    }
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    script = tmp_path / "train.py"
    script.write_text(
        "from mnist_study.engine import train\nfrom mnist_study.record import progress\n"
    )

    def code_hash():
        codehash._python_tree.cache_clear()
        return codehash.code_hash(script, folder)

    before = code_hash()
    assert "record.progress" not in codehash.script_modules(script, folder)
    (folder / "record/progress.py").write_text("WORDS = 'finished'\n")
    assert code_hash() == before
    (folder / "engine/train.py").write_text("EPOCHS = 2\n")
    assert code_hash() != before
    assert all(codehash.module_file(m, codehash.package_dir()) for m in codehash.REPORTING)
