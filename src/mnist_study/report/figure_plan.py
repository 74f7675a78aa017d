"""What Snakemake reads at parse time to plan the figures: the rule files import this module
while they load, so its imports stay free of numpy, pandas, matplotlib and torch."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from mnist_study.evidence.claims import base_variant


def train_levels(claims: Iterable[Mapping], variants: Iterable[str]) -> list[float]:
    """The training-accuracy levels named by the claims on ``variants`` alone (config entries
    or verdict records): the threshold of an epochs_to_train_acc claim, the level of a level
    claim on train_acc. Distinct, ascending; empty where no such claim is."""
    members = set(variants)
    levels = set()
    for claim in claims:
        if not {base_variant(v) for v in claim["variants"]} <= members:
            continue
        if claim["metric"] == "epochs_to_train_acc" and claim.get("threshold") is not None:
            levels.add(float(claim["threshold"]))
        if claim["metric"] == "train_acc" and claim.get("compare") == "level":
            levels.add(float(claim["level"]))
    return sorted(levels)
