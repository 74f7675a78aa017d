"""Parts that do one thing: no function of the package runs past its length limit, and the
measure itself counts what it should (nested functions in their parent, decorators aside)."""

from __future__ import annotations

import ast

from helpers import REPO

PACKAGE = REPO / "src" / "mnist_study"
# A function reads as one step when it fits a screen or so; past this it does several things.
MAX_FUNCTION_LINES = 80


def function_spans(source: str) -> list[tuple[str, int, int]]:
    """(qualified name, first line, line count) of every function in ``source``, nested ones too;
    the count is the node's own span, so a nested function counts toward its parent as well."""
    spans = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = f"{prefix}{child.name}"
                spans.append((name, child.lineno, child.end_lineno - child.lineno + 1))
                visit(child, f"{name}.")
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")
            else:
                visit(child, prefix)

    visit(ast.parse(source), "")
    return spans


def package_spans() -> list[tuple[str, int]]:
    """('path:line name', lines) of every function in the package, longest first."""
    rows = []
    for path in sorted(PACKAGE.rglob("*.py")):
        where = path.relative_to(REPO)
        for name, line, count in function_spans(path.read_text(encoding="utf-8")):
            rows.append((f"{where}:{line} {name}", count))
    return sorted(rows, key=lambda row: -row[1])


def test_no_function_of_the_package_runs_past_the_limit():
    rows = package_spans()
    assert len(rows) > 100  # the walk found the package's functions
    long = [f"{where}: {count} lines" for where, count in rows if count > MAX_FUNCTION_LINES]
    assert not long, f"over {MAX_FUNCTION_LINES} lines; split by responsibility:\n" + "\n".join(
        long
    )


def test_the_measure_counts_nested_functions_in_their_parent():
    inner = "\n".join(f"        x{i} = {i}" for i in range(5))
    source = f"def outer():\n    a = 1\n    def inner():\n{inner}\n    return inner\n"
    spans = {name: count for name, _, count in function_spans(source)}
    assert spans == {"outer": 9, "outer.inner": 6}


def test_the_measure_sees_methods_and_leaves_decorators_out():
    source = "class A:\n    @property\n    def b(self):\n        return 1\n"
    assert function_spans(source) == [("A.b", 3, 2)]


def test_the_measure_finds_an_over_long_function():
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    (counts,) = [c for _, _, c in function_spans(f"def too_long():\n{body}\n")]
    assert counts > MAX_FUNCTION_LINES
