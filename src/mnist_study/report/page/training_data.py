"""The report's pieces for studies that change what a network learns from: galleries of augmented
training images, memorization curves, and random labels' test accuracy beside chance."""

from __future__ import annotations

from collections.abc import Mapping

from mnist_study.formatting import DASH, missing, pct, pm_pct, pp
from mnist_study.report.figure_plan import FigurePlan, train_levels
from mnist_study.report.page.figures import aligned, figure
from mnist_study.report.page.results import Results
from mnist_study.report.plots.augment_gallery import DRAWS, ROWS


def training_data_files(inputs: Mapping, plan: FigurePlan) -> dict:
    """The report rule's augmentation and memorization figures by variant and by study, and the
    names and settings they belong to (all empty where no variant augments or shuffles)."""
    return {
        "augmentation": aligned(list(plan.augmented), inputs["augmentation"], "augmentation"),
        "memorization": aligned(plan.memorization, inputs["memorization"], "memorization"),
        "augmented": dict(plan.augmented),
        "random_labels": list(plan.random_labels),
    }


def augmentation_figures(r: Results, captions, name: str, files: Mapping) -> list[dict]:
    """The galleries of the study's variants that augment, in the study's order."""
    figures = []
    for v in r.studies[name]["variants"]:
        if v not in files["augmentation"]:
            continue
        setting = files["augmented"][v]
        shift, rotation = setting["augment_shift"], setting["augment_rotation"]
        figures.append(
            figure(
                files["augmentation"][v],
                captions(
                    "augmentation",
                    label=r.label(v),
                    shift=f"{shift:g}",
                    rotation=f"{rotation:g}",
                    rows=ROWS,
                    draws=DRAWS,
                ),
                f"Grid of training {r.describe['noun']}s of {r.label(v)}: each row one image as "
                f"it is, then {DRAWS} copies shifted by up to {shift:g} pixels and turned by up "
                f"to {rotation:g} degrees.",
                f"augmentation-{name}-{v}",
            )
        )
    return figures


def memorization_figures(r: Results, captions, name: str, files: Mapping) -> list[dict]:
    """The study's memorization curves, where it has a random-label variant (else none)."""
    if name not in files["memorization"]:
        return []
    study = r.studies[name]
    levels = train_levels(r.claims, study["variants"])
    return [
        figure(
            files["memorization"][name],
            captions(
                "memorization",
                title=study["title"],
                band=r.band,
                levels=" and ".join(pct(level, 0) for level in levels),
            ),
            f"Line chart of training accuracy against epoch for {r.labels(study['variants'])}"
            + (f", with a dashed line at {pct(levels[0], 0)}." if levels else "."),
            f"memorization-{name}",
        )
    ]


def chance_check(r: Results, name: str, files: Mapping) -> dict | None:
    """The study's random-label variants' test accuracy (mean over seeds) beside chance, one
    over the number of classes; None where the study has no such variant."""
    shuffled = [v for v in r.studies[name]["variants"] if v in files["random_labels"]]
    if not shuffled:
        return None
    chance = 1 / len(r.describe["classes"])
    rows = []
    for v in shuffled:
        acc = r.stat(v, "test_acc")
        rows.append(
            {
                "label": r.label(v),
                "train": pct(r.stat(v, "train_acc")),
                "test": pm_pct(acc, r.stat(v, "test_acc", "std")),
                "diff": DASH if missing(acc) else pp(acc - chance),
            }
        )
    return {
        "chance": pct(chance),
        "classes": len(r.describe["classes"]),
        "rows": rows,
        "note": (
            "Labels shuffled among the training images say nothing about a test image, so a "
            f"network that learned them can only guess: chance is 1 in {len(r.describe['classes'])}"
            f" classes, {pct(chance)}. This holds by construction; it checks that the shuffle "
            "reached training and that test labels stayed real, and it is not a claim."
        ),
    }
