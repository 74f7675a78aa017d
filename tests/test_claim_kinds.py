"""A claim's kind picks its test: every kind has one, and each claim's kind follows from what
config.yaml states (its compare and expectation), never from the keys a result holds."""

import ast
from pathlib import Path

import pytest

from mnist_study.evidence import claim_tests
from mnist_study.evidence.claims import KINDS, Claim

BASE = {"statement": "S.", "metric": "test_acc", "expect": "increase", "smallest_effect": 0.01}


def test_every_kind_has_its_test():
    assert set(claim_tests.KIND_TESTS) == set(KINDS)


@pytest.mark.parametrize(
    ("extra", "kind"),
    [
        ({"variants": ["a", "b"]}, "pair"),
        ({"variants": ["a", "b", "c"]}, "trend"),
        ({"variants": ["a", "b", "c"], "compare": "each"}, "each"),
        ({"variants": ["a", "b"], "expect": "not_worse"}, "not_worse"),
        ({"variants": ["a"], "compare": "level", "level": 0.9, "metric": "train_acc"}, "level"),
        (
            {"variants": ["a", "b", "c", "d"], "compare": "interaction", "metric": "train_acc"},
            "interaction",
        ),
        ({"variants": ["a", "b", "c"], "compare": "recovery", "share": 0.5}, "recovery"),
    ],
)
def test_a_claims_kind_follows_its_entry(extra, kind):
    assert Claim.from_dict("c", BASE | extra).kind == kind


def test_evidence_functions_stay_short():
    """Nested functions count toward their parent: a function's whole span."""
    root = Path(claim_tests.__file__).parent
    long = [
        f"{path.name}:{node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for path in sorted(root.glob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno - node.lineno + 1 > 80
    ]
    assert not long, long
