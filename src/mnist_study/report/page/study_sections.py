"""The report's per-study sections and the figures that stand with them: each study's table,
pairs and curves, the error figures, galleries and first-layer weights."""

from __future__ import annotations

from collections.abc import Mapping

from mnist_study.evidence.stats import CONFIDENCE
from mnist_study.formatting import missing, num, pct, pm_pct, pp, pval, seconds
from mnist_study.report.page.checkpoints import (
    checkpoint_rows,
    checkpoints_claimed,
    reliability_figure,
)
from mnist_study.report.page.figures import Captions, figure
from mnist_study.report.page.results import Results
from mnist_study.report.page.text import nouns, study_pairs, study_paragraph
from mnist_study.report.page.training_data import (
    augmentation_figures,
    chance_check,
    memorization_figures,
)
from mnist_study.report.page.tuning import tuning_figures

# Studies with more members than this list consecutive factor steps, not every pair.
ALL_PAIRS_UP_TO = 5


def study_table(r: Results, study: Mapping) -> list[dict]:
    return [
        {
            "factor": value,
            "label": r.label(v),
            "name": v,
            "params": num(r.stat(v, "params")),
            "test": pm_pct(r.stat(v, "test_acc"), r.stat(v, "test_acc", "std")),
            "train": pct(r.stat(v, "train_acc")),
            "val": pct(r.stat(v, "val_acc")),
            "gap": pp(r.stat(v, "gap")),
            "best_epoch": num(r.stat(v, "best_epoch"), 2),
            "time": seconds(r.stat(v, "train_seconds")),
            "sort": {"params": r.stat(v, "params"), "time": r.stat(v, "train_seconds")},
        }
        for v, value in zip(study["variants"], study["factor"]["values"], strict=True)
    ]


def pair_rows(r: Results, name: str) -> list[dict]:
    """All pairs for small studies; consecutive factor steps for larger ones."""
    mine = study_pairs(r, name)
    members = r.studies[name]["variants"]
    if len(members) > ALL_PAIRS_UP_TO:
        steps = set(zip(members[:-1], members[1:], strict=True))
        mine = mine[[(a, b) in steps for a, b in zip(mine["a"], mine["b"], strict=True)]]
    return [
        {
            "a": r.label(p["a"]),
            "b": r.label(p["b"]),
            "diff": pp(p["diff_mean"]),
            "ci": (
                f"{pp(p['diff_ci_low'])} to {pp(p['diff_ci_high'])}"
                if not missing(p["diff_ci_low"])
                else "–"
            ),
            "discordant": f"{p['b_only']} / {p['a_only']}",
            "p": pval(p["p"]),
            "p_holm": pval(p["p_holm"]),
            "p_seeds": str(p["p_per_seed"]).replace(";", "; "),
            "significant": p["p_holm"] < r.alpha,
        }
        for p in mine.to_dict("records")
    ]


def curves_figure(r: Results, captions: Captions, variant: str, path) -> dict:
    label = r.label(variant)
    return figure(
        path,
        captions("curves", label=label, band=r.band),
        f"Two line charts for {label}: cross-entropy loss and accuracy against epoch; final "
        f"validation accuracy {pct(r.stat(variant, 'val_acc'))}.",
        f"curves-{variant}",
    )


def per_variant_curves(r: Results, captions: Captions, name: str, files: Mapping) -> list[dict]:
    """Each variant's learning curves in the study it belongs to (its home study); elsewhere a
    pointer to that study."""
    home = r.home_study()
    return [
        {"label": r.label(v), "figure": curves_figure(r, captions, v, files["curves"][v])}
        if home[v] == name
        else {
            "label": r.label(v),
            "figure": None,
            "see": home[v],
            "see_title": r.studies[home[v]]["title"],
        }
        for v in r.studies[name]["variants"]
    ]


def study_figures(r: Results, captions: Captions, name: str, files: Mapping) -> list[dict]:
    """The study's figures: overlaid curves, factor plot, confusion, calibration, then those of
    augmentation, memorization and lr tuning where it has them."""
    study = r.studies[name]
    members, factor, title = study["variants"], study["factor"]["label"], study["title"]
    values = ", ".join(f"{value}" for value in study["factor"]["values"])
    log = " (log scale)" if study["factor"].get("log") else ""
    return [
        figure(
            files["study_curves"][name],
            captions("study_curves", title=title, factor=factor.lower(), band=r.band),
            f"Overlaid learning curves of {len(members)} variants of the {title} study: "
            f"{r.labels(members)}.",
            f"study-curves-{name}",
        ),
        figure(
            files["study_factor"][name],
            captions(
                "study_factor", title=title, factor=factor.lower(), confidence=f"{CONFIDENCE:.0%}"
            ),
            f"Three charts with {factor.lower()} on the x-axis{log}: accuracy, generalization "
            f"gap and training time for {values}.",
            f"study-factor-{name}",
        ),
        figure(
            files["confusion"][name],
            captions("confusion", title=title),
            f"Confusion heatmaps (10 by 10) for {r.labels(members)}.",
            f"confusion-{name}",
        ),
        reliability_figure(r, captions, name, files["reliability"][name]),
        *augmentation_figures(r, captions, name, files),
        *memorization_figures(r, captions, name, files),
        *tuning_figures(r, captions, name, files),
    ]


def study_section(r: Results, captions: Captions, name: str, files: Mapping) -> dict:
    """One study: its paragraph, figures, table, paired tests and per-variant curves; where its
    variants augment or learn random labels, their galleries, curves and the chance check."""
    study = r.studies[name]
    per_variant = per_variant_curves(r, captions, name, files)
    return {
        "id": name,
        "title": study["title"],
        "question": study["question"],
        "reference": study.get("reference"),
        "limits": study.get("limits"),
        "checkpoints": checkpoint_rows(r, study),
        "checkpoints_open": checkpoints_claimed(r, study),
        "chance": chance_check(r, name, files),
        "factor": study["factor"]["label"],
        "figures": study_figures(r, captions, name, files),
        "per_variant": per_variant,
        "table": study_table(r, study),
        "pairs": pair_rows(r, name),
        "all_pairs": len(study["variants"]) <= ALL_PAIRS_UP_TO,
        "paragraph": study_paragraph(r, name),
    }


def error_figures(r: Results, captions: Captions, files: Mapping) -> dict:
    errors = r.errors
    figures = {
        "hardest": figure(
            files["hardest"],
            captions("hardest", n_runs=errors["n_runs"]),
            f"Gallery of the hardest test {nouns(r)} with their labels and predictions.",
            "hardest",
        ),
        "confused": figure(
            files["confused"],
            captions("confused"),
            "Horizontal bar chart of the most confused class pairs and a bar chart of the "
            "error rate of each class.",
            "confused",
        ),
        "overlap": figure(
            files["overlap"],
            captions("overlap"),
            f"Heatmap of pairwise Jaccard indices of the error sets of {len(r.variants)} variants.",
            "overlap",
        ),
    }
    pair = errors.get("pair")
    if pair:
        a, b = r.label(pair["a"]), r.label(pair["b"])
        figures["disagreements"] = figure(
            files["disagreements"],
            captions(
                "disagreements",
                a=a,
                b=b,
                n=len(pair["b_wrong_a_right"]),
                reverse=len(pair["a_wrong_b_right"]),
            ),
            f"Gallery of {nouns(r)} on which {b} fails while {a} succeeds.",
            "disagreements",
        )
    return figures


def gallery_section(r: Results, captions: Captions, files: Mapping) -> list[dict]:
    return [
        {
            "label": r.label(v),
            "figure": figure(
                files["galleries"][v],
                captions("gallery", label=r.label(v)),
                f"Gallery of misclassified test {nouns(r)} of {r.label(v)}.",
                f"gallery-{v}",
            ),
        }
        for v in r.variants
    ]


def weights_section(r: Results, captions: Captions, files: Mapping, units: int) -> list[dict]:
    """Linear templates and MLP features, where the study has both kinds of model."""
    if not files.get("templates"):
        return []
    return [
        figure(
            files["templates"],
            captions("templates", label=r.label(files["linear_variant"])),
            "Ten 28 by 28 heatmaps, one per class, showing the linear classifier's weights.",
            "templates",
        ),
        figure(
            files["features"],
            captions("features", label=r.label(files["mlp_variant"]), units=units),
            f"Grid of {units} small 28 by 28 weight images of the MLP's first hidden layer.",
            "features",
        ),
    ]
