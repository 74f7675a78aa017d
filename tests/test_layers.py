"""The package's layers: the import contracts hold and fail when broken, no import cycles, imports
at the top of modules, no private name used across modules, and the rules' parse stays light."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest
from helpers import REPO

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: import-linter brings tomli there
    import tomli as tomllib

PACKAGE = REPO / "src" / "mnist_study"
VENV = Path(sys.executable).parent.parent
# The only packages a function body may import, and only in a module the Snakemake parse loads:
# each costs a parse that never needs it.
HEAVY = {"torch", "torchvision", "matplotlib", "scipy", "pandas", "jsonschema", "yaml"}
MAX_BODY_IMPORTS = 40


def _contract(name: str) -> dict:
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    return next(c for c in contracts if c["type"] == name)


def _layers() -> list[list[str]]:
    return [re.split(r"\s*[|:]\s*", layer.strip()) for layer in _contract("layers")["layers"]]


def _modules() -> dict[str, Path]:
    """Every module of the package by dotted name."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _body_imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            found += [n for n in ast.walk(node) if isinstance(n, ast.Import | ast.ImportFrom)]
    return found


def _imported_top(node: ast.Import | ast.ImportFrom) -> str:
    return (node.module if isinstance(node, ast.ImportFrom) else node.names[0].name).split(".")[0]


# --------------------------------------------------------------------------- the contracts


def test_the_import_contracts_hold():
    done = subprocess.run(
        [str(VENV / "bin" / "lint-imports"), "--no-cache"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def test_make_lint_runs_the_import_contracts():
    done = subprocess.run(
        ["make", "-n", "lint", f"VENV={VENV}", "-o", str(VENV / ".installed-stamp")],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "lint-imports" in done.stdout


BREAKS = {
    "a data module imports an engine module": (
        "data/augment.py",
        "from mnist_study.engine import optim",
        "Stages import downward only",
    ),
    "an evidence module imports engine": (
        "evidence/tables.py",
        "from mnist_study.engine import tuning",
        "Evidence reads run records, never training code",
    ),
    "a base module imports a stage": (
        "formatting.py",
        "from mnist_study.evidence import claims",
        "Stages import downward only",
    ),
    "a drawing module imports the page": (
        "report/plots/curves.py",
        "from mnist_study.report.page import html",
        "Drawing never imports the page",
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", list(BREAKS), ids=list(BREAKS))
def test_make_lint_fails_when_a_contract_is_broken(case, tmp_path):
    module, line, contract = BREAKS[case]
    shutil.copytree(PACKAGE, tmp_path / "src" / "mnist_study")
    for name in ("pyproject.toml", "Makefile"):
        shutil.copy(REPO / name, tmp_path / name)
    # Inside a function: the contracts count those imports too.
    target = tmp_path / "src" / "mnist_study" / module
    target.write_text(target.read_text() + f"\n\ndef _broken():\n    {line}\n")
    done = subprocess.run(
        ["make", "lint-imports", f"VENV={VENV}", "-o", str(VENV / ".installed-stamp")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tmp_path / "src")},
    )
    assert done.returncode != 0, done.stdout
    assert f"{contract} BROKEN" in done.stdout
    assert "1 broken" in done.stdout


def test_every_module_of_the_package_sits_in_a_layer():
    placed = {f"mnist_study.{m}" for layer in _layers() for m in layer}
    tops = {name for name in _modules() if name.count(".") == 1}
    assert _contract("layers")["exhaustive"] is True
    assert tops == placed


def test_each_subpackage_says_its_layer_in_one_line():
    for layer in _layers():
        for name in layer:
            init = PACKAGE / name / "__init__.py"
            if init.exists():
                doc = ast.get_docstring(ast.parse(init.read_text()))
                assert doc and "\n" not in doc and doc.lower().startswith(f"{name} layer"), name


def test_the_readme_lists_the_layers_of_the_contract():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = text.split("The package `src/mnist_study/` is layered", 1)[1].split("\n\n", 2)[1]
    # One item a layer; a long item wraps onto indented lines.
    items = [" ".join(item.split()) for item in re.split(r"\n(?=- )", block)]
    listed = [re.findall(r"`([a-z_]+)`", item.split(":", 1)[0]) for item in items]
    listed[-1] = re.findall(r"`([a-z_]+)`", items[-1])
    assert listed == _layers()


# --------------------------------------------------------------------------- the graph


def _cycles(graph) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iteratively)."""
    edges = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    index, low, on_stack, stack, found = {}, {}, set(), [], []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(edges[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(edges[child])))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_cycle_finder_finds_a_cycle():
    class Graph:
        modules = {"a", "b", "c", "d"}
        imports = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}

        def find_modules_directly_imported_by(self, module):
            return self.imports[module]

    assert _cycles(Graph()) == [["a", "b", "c"]]


def test_the_package_has_no_import_cycle():
    # Every import counts: inside functions and under TYPE_CHECKING too.
    graph = grimp.build_graph("mnist_study", cache_dir=None, exclude_type_checking_imports=False)
    assert _cycles(graph) == []


# --------------------------------------------------------------------------- where imports are

PARSE_CODE = """
import sys
for line in sys.argv[1:]:
    exec(line)
heavy = sorted(m for m in ("torch", "matplotlib", "numpy", "pandas", "scipy") if m in sys.modules)
print(heavy)
print(sorted(m for m in sys.modules if m.split(".")[0] == "mnist_study"))
"""


def _rules_imports() -> list[str]:
    """The rules' imports of the package, as statements (a parenthesised list joined)."""
    text = "\n".join(p.read_text() for p in sorted((REPO / "rules").glob("*.smk")))
    text += (REPO / "Snakefile").read_text()
    pattern = r"^(from mnist_study[\w.]* import (?:\([^)]*\)|.*)|import mnist_study.*)$"
    return [" ".join(m.split()) for m in re.findall(pattern, text, flags=re.M)]


def _parse_loaded() -> tuple[list[str], set[str]]:
    done = subprocess.run(
        [sys.executable, "-c", PARSE_CODE, *_rules_imports()],
        capture_output=True,
        text=True,
        check=True,
    )
    heavy, modules = done.stdout.strip().splitlines()
    return ast.literal_eval(heavy), set(ast.literal_eval(modules))


def test_what_the_snakefile_loads_imports_no_torch_or_matplotlib():
    heavy, modules = _parse_loaded()
    assert "mnist_study.config" in modules
    assert heavy == []


def test_the_rules_import_only_the_checker_codehash_and_the_figure_plan():
    allowed = {"mnist_study.config", "mnist_study.codehash", "mnist_study.report.figure_plan"}
    imported = set()
    for statement in _rules_imports():
        node = ast.parse(statement.replace("( ", "(")).body[0]
        if isinstance(node, ast.ImportFrom) and node.module == "mnist_study":
            imported |= {f"mnist_study.{a.name}" for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module)
        else:
            imported |= {a.name for a in node.names}
    assert imported and imported <= allowed, sorted(imported - allowed)


def test_function_bodies_import_only_heavy_packages_in_parse_loaded_modules():
    _, parse_loaded = _parse_loaded()
    count, wrong = 0, []
    for name, path in _modules().items():
        lines = path.read_text(encoding="utf-8").splitlines()
        for node in _body_imports(ast.parse("\n".join(lines))):
            count += 1
            where = f"{path.relative_to(REPO)}:{node.lineno}"
            if _imported_top(node) not in HEAVY:
                wrong.append(f"{where}: a function body imports {_imported_top(node)}")
            elif name not in parse_loaded:
                wrong.append(f"{where}: the parse never loads {name}; import at its top")
            elif "#" not in lines[node.lineno - 1] and "#" not in lines[node.lineno - 2]:
                wrong.append(f"{where}: say in a comment why this import waits")
    assert wrong == []
    assert count <= MAX_BODY_IMPORTS


# --------------------------------------------------------------------------- private names


def _private_uses(path: Path, own: str | None) -> list[str]:
    """Names with a leading underscore that ``path`` takes from another package module: by
    ``from ... import _x``, or as ``module._x`` of a module it imported."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    modules, found = set(), []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("mnist_study"):
            for alias in node.names:
                if alias.name.startswith("_") and node.module != own:
                    found.append(f"{node.module}.{alias.name}")
                modules.add(alias.asname or alias.name)
        elif isinstance(node, ast.Import):
            modules |= {a.asname or a.name for a in node.names if a.name.startswith("mnist_study")}
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in modules
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
        ):
            found.append(f"{node.value.id}.{node.attr}")
    return found


def test_no_private_name_crosses_a_module():
    wrong = {}
    for name, path in _modules().items():
        if _private_uses(path, name):
            wrong[str(path.relative_to(REPO))] = _private_uses(path, name)
    assert wrong == {}


def test_the_private_name_check_sees_both_forms(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from mnist_study.report.plots import _plt, DPI\n"
        "from mnist_study.evidence import effects\n"
        "effects._t_quantile(0.9, 3)\n"
    )
    assert _private_uses(sample, None) == ["mnist_study.report.plots._plt", "effects._t_quantile"]


def test_the_workflow_scripts_import_only_public_names_of_the_package():
    modules = _modules()
    for script in sorted((REPO / "workflow" / "scripts").glob("*.py")):
        assert _private_uses(script, None) == [], script.name
        for node in ast.walk(ast.parse(script.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("mnist_study"):
                assert node.module in modules, f"{script.name}: no module {node.module}"


def test_figures_that_show_no_images_import_no_torch():
    # Only the image figures (galleries, weights, augmentation) tile images with torchvision.
    code = (
        "import sys\n"
        "import mnist_study.report.plots.curves, mnist_study.report.plots.confusion\n"
        "import mnist_study.report.plots.reliability, mnist_study.report.plots.forest\n"
        "print('torch' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
