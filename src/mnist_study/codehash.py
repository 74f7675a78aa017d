"""Content hashes of the code a rule runs, so that Snakemake reruns follow meaning, not files.

Python code is hashed as its syntax tree without docstrings, Snakemake files as their token
stream without comments: a comment or whitespace edit, a touch or a moved checkout changes none.
"""

from __future__ import annotations

import ast
import hashlib
import io
import tokenize
from collections.abc import Iterable
from functools import cache
from pathlib import Path

PACKAGE = "mnist_study"


def package_dir() -> Path:
    """The folder of the package that job scripts import (an editable install's source, or
    whichever copy PYTHONPATH puts first): the code that really runs, not the one in view."""
    import importlib.util

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
def _python_tree(path: Path) -> tuple[str, frozenset[str]]:
    """(normalised dump, package modules it imports) of one Python file."""
    tree = _strip_docstrings(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:  # relative: `from .models import x` or `from . import models`
                base = [node.module] if node.module else [a.name for a in node.names]
            elif node.module and node.module.split(".")[0] == PACKAGE:
                rest = node.module.split(".")[1:]
                base = [".".join(rest)] if rest else [a.name for a in node.names]
            else:
                continue
            imported.update(b.split(".")[0] for b in base)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == PACKAGE and len(parts) > 1:
                    imported.add(parts[1])
    return ast.dump(tree), frozenset(imported)


def _closure(roots: Iterable[str], folder: Path) -> list[str]:
    """The package modules reachable from ``roots`` through imports, sorted."""
    seen: set[str] = set()
    todo = [r for r in roots if (folder / f"{r}.py").is_file()]
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        todo.extend(
            m
            for m in _python_tree(folder / f"{module}.py")[1]
            if m not in seen and (folder / f"{m}.py").is_file()
        )
    return sorted(seen)


def script_modules(script: str | Path, folder: Path | None = None) -> list[str]:
    """Package modules a job script runs: its own imports and theirs."""
    folder = folder or package_dir()
    return _closure(_python_tree(Path(script))[1], folder)


def code_hash(script: str | Path) -> str:
    """Hash of a job script and every package module it imports, directly or not."""
    folder = package_dir()
    digest = hashlib.sha256(_python_tree(Path(script))[0].encode())
    for module in script_modules(script, folder):
        digest.update(f"\0{module}\0".encode())
        digest.update(_python_tree(folder / f"{module}.py")[0].encode())
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
