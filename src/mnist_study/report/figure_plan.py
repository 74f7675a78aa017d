"""Which figures the study draws, read off its config: the rule files build one plan while they
load, so this module's imports stay free of numpy, pandas, matplotlib and torch."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from mnist_study.evidence.claims import base_variant
from mnist_study.settings import variant_training

# What an augmentation gallery depends on: the augmentation and the training images it picks
# from (a change of these redraws the galleries alone).
AUGMENT_KEYS = ("augment_shift", "augment_rotation", "train_size")


@dataclass(frozen=True)
class FigurePlan:
    """The config's answers to "which figures, of what": names in the config's order. Lists and
    dicts, not tuples, so that a field given to a rule as a param reads as it always did."""

    studies: list[str]
    titles: dict[str, str]
    # The models whose weights are drawn: the first linear variant, and the first MLP with one
    # hidden layer and no dropout (the seed's MLP); None where the config has none.
    linear: str | None
    mlp: str | None
    # Variants that train on shifted and rotated images -> their AUGMENT_KEYS settings.
    augmented: dict[str, dict]
    # Variants that learn shuffled labels, the studies with one (memorization curves), those
    # studies' variants, and the training-accuracy levels their claims name (dashed lines).
    random_labels: list[str]
    memorization: list[str]
    memorized: list[str]
    levels: dict[str, list[float]]
    # Variants whose lr a sweep chooses, and the studies with one (the lr figures).
    tuned: list[str]
    tuned_studies: list[str]
    # The two models whose error sets the overlap figure compares (None: no study has two).
    overlap_pair: list[str] | None

    def fields(self) -> dict:
        """The plan as a plain dict, for a rule's params: Snakemake compares params by their
        repr, which a dataclass lacks, and ``FigurePlan(**fields)`` rebuilds it."""
        return dataclasses.asdict(self)


def figure_plan(config: Mapping) -> FigurePlan:
    """The figure plan of a checked, resolved config (its studies already selected)."""
    variants, studies = config["variants"], config["studies"]
    training = {v: variant_training(config, v, 0) for v in variants}
    random_labels = [v for v in variants if training[v].get("random_labels")]
    memorization = [s for s in studies if set(studies[s]["variants"]) & set(random_labels)]
    tuned = [v for v in variants if "tune_lr" in variants[v]]
    claims = config.get("claims", {}).values()
    return FigurePlan(
        studies=list(studies),
        titles={name: entry["title"] for name, entry in studies.items()},
        linear=next((n for n, e in variants.items() if e["model"]["kind"] == "linear"), None),
        mlp=next((n for n, e in variants.items() if _plain_mlp(e["model"])), None),
        augmented={
            v: {k: training[v].get(k) for k in AUGMENT_KEYS}
            for v in variants
            if training[v].get("augment_shift") or training[v].get("augment_rotation")
        },
        random_labels=random_labels,
        memorization=memorization,
        memorized=list(dict.fromkeys(v for s in memorization for v in studies[s]["variants"])),
        levels={s: train_levels(claims, studies[s]["variants"]) for s in memorization},
        tuned=tuned,
        tuned_studies=[s for s in studies if set(studies[s]["variants"]) & set(tuned)],
        overlap_pair=overlap_pair(config),
    )


def _plain_mlp(model: Mapping) -> bool:
    """An MLP with one hidden layer and no dropout."""
    return (
        model["kind"] == "mlp"
        and len(model.get("hidden", [])) == 1
        and not model.get("dropout")
        and not model.get("input_dropout")
    )


def overlap_pair(config: Mapping) -> list[str] | None:
    """A disagreements claim's pair, else the first two variants of the first study that has
    two."""
    return next(
        (
            list(c["variants"])
            for c in config.get("claims", {}).values()
            if c["metric"] == "disagreements"
        ),
        next(
            (list(e["variants"][:2]) for e in config["studies"].values() if len(e["variants"]) > 1),
            None,
        ),
    )


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
