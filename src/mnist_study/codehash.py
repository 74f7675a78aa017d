"""Content hashes of the code a rule runs, so that Snakemake reruns follow meaning, not files.

Python code is hashed as its syntax tree without docstrings, Snakemake files as their token
stream without comments: a comment or whitespace edit, a touch or a moved checkout changes none.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import io
import tokenize
from collections.abc import Iterable
from functools import cache
from pathlib import Path

PACKAGE = "mnist_study"
# Modules that only tell a person how a job goes (the progress line), never shape its outputs:
# rewording them must not retrain a study. What they import counts where other modules import it.
REPORTING = frozenset({"record.progress"})


def package_dir() -> Path:
    """The folder of the package that job scripts import (an editable install's source, or
    whichever copy PYTHONPATH puts first): the code that really runs, not the one in view."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"{PACKAGE} is not importable; run `make setup` first")
    return Path(next(iter(spec.submodule_search_locations)))


def _strip_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                if isinstance(body[0].value.value, str):
                    node.body = body[1:] or [ast.Pass()]
    return tree


@cache
def _python_tree(path: Path) -> tuple[str, tuple[tuple[int, str, tuple[str, ...] | None], ...]]:
    """(normalised dump, imports as (level, module, names)) of one Python file; a plain
    `import a.b` has names None."""
    tree = _strip_docstrings(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
    imports = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            imports.append((node.level, node.module or "", tuple(a.name for a in node.names)))
        elif isinstance(node, ast.Import):
            imports.extend((0, alias.name, None) for alias in node.names)
    return ast.dump(tree), tuple(imports)


def module_file(module: str, folder: Path) -> Path | None:
    """The file of a package module named relative to the package (``engine.train``; a
    subpackage's name is its ``__init__.py``, "" the package's own), or None."""
    path = folder.joinpath(*module.split(".")) if module else folder
    if module and path.with_suffix(".py").is_file():
        return path.with_suffix(".py")
    return path / "__init__.py" if (path / "__init__.py").is_file() else None


def _imported(path: Path, module: str | None, folder: Path) -> set[str]:
    """Package modules that the file ``path`` imports. ``module`` is its own name in the
    package, which relative imports start from; None for a job script, which has none."""
    found = set()
    for level, name, names in _python_tree(path)[1]:
        if level:
            if module is None:
                continue
            # A package's __init__ is its own package; a plain module's is its parent.
            package = module if path.name == "__init__.py" else module.rpartition(".")[0]
            parts = package.split(".") if package else []
            if level - 1 > len(parts):
                continue  # above the package: not ours
            parts = parts[: len(parts) - (level - 1)]
            base = ".".join([*parts, *([name] if name else [])])
        elif name.split(".")[0] == PACKAGE:
            base = ".".join(name.split(".")[1:])
        else:
            continue
        found.add(base)
        # `from package import x`: x is a submodule, or a name the package itself defines.
        for alias in names or ():
            sub = f"{base}.{alias}" if base else alias
            if module_file(sub, folder):
                found.add(sub)
    return found


def _with_parents(module: str) -> list[str]:
    # Importing engine.train runs the package's and engine's __init__ first.
    parts = module.split(".") if module else []
    return [".".join(parts[:i]) for i in range(len(parts) + 1)]


def _closure(roots: Iterable[str], folder: Path) -> list[str]:
    """The package modules reachable from ``roots`` through imports (but REPORTING), sorted."""
    seen: set[str] = set()
    todo = [p for r in roots for p in _with_parents(r)]
    while todo:
        module = todo.pop()
        if module in seen or module in REPORTING:
            continue
        path = module_file(module, folder)
        if path is None:
            continue
        seen.add(module)
        todo.extend(
            p for m in _imported(path, module, folder) for p in _with_parents(m) if p not in seen
        )
    return sorted(seen)


def script_modules(script: str | Path, folder: Path | None = None) -> list[str]:
    """Package modules a job script runs, named relative to the package (``engine.train``; ""
    is the package's own __init__): its own imports and theirs."""
    folder = folder or package_dir()
    return _closure(_imported(Path(script), None, folder), folder)


def code_hash(script: str | Path, folder: Path | None = None) -> str:
    """Hash of a job script and every package module it imports, directly or not."""
    folder = folder or package_dir()
    digest = hashlib.sha256(_python_tree(Path(script))[0].encode())
    for module in script_modules(script, folder):
        digest.update(f"\0{module}\0".encode())
        digest.update(_python_tree(module_file(module, folder))[0].encode())
    return digest.hexdigest()[:16]


def tokens_hash(paths: Iterable[str | Path]) -> str:
    """Hash of Snakemake (or Python) files as token streams without comments or blank lines."""
    digest = hashlib.sha256()
    for path in paths:
        text = Path(path).read_text(encoding="utf-8")
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type in (tokenize.COMMENT, tokenize.NL):
                continue
            # An indent's width is layout; only that a block opens counts.
            text = "" if token.type == tokenize.INDENT else token.string
            digest.update(f"{token.type}:{text}\0".encode())
    return digest.hexdigest()[:16]
