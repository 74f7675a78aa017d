"""A claim's kind picks its test: every kind has one, and each claim's kind follows from what
config.yaml states (its compare and expectation), never from the keys a result holds."""

import pytest

from mnist_study.evidence import claim_tests
from mnist_study.evidence.claims import KINDS, Claim, record_kind

BASE = {"statement": "S.", "metric": "test_acc", "expect": "increase", "smallest_effect": 0.01}


def test_every_kind_has_its_test():
    assert set(claim_tests.KIND_TESTS) == set(KINDS)


CASES = [
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
]


@pytest.mark.parametrize(("extra", "kind"), CASES)
def test_a_claims_kind_follows_its_entry(extra, kind):
    assert Claim.from_dict("c", BASE | extra).kind == kind


@pytest.mark.parametrize("extra", [case[0] for case in CASES])
def test_a_records_kind_is_its_claims(extra):
    """The report and the cross-dataset comparison read the kind off the verdict record (its
    header states compare only where it is not the default): the same kind as the claim's."""
    claim = Claim.from_dict("c", BASE | extra)
    assert record_kind(claim.header()) == record_kind(BASE | extra) == claim.kind
