"""The report's learning-rate figures: per study with tuned variants, its sweep figure (drawn by
report.plots.tuning) captioned with each variant's chosen lr and what it reached there."""

from __future__ import annotations

from collections.abc import Mapping

from mnist_study.formatting import pct
from mnist_study.report.figure_plan import FigurePlan
from mnist_study.report.page.figures import aligned, figure
from mnist_study.report.page.results import Results
from mnist_study.runrecord import read_choices


def tuning_files(inputs: Mapping, plan: FigurePlan) -> dict:
    """The report rule's lr figures by study and the tuned variants' choices (empty where no
    variant is tuned)."""
    return {
        "tuning": aligned(plan.tuned_studies, inputs["tuning"], "tuning"),
        "choices": read_choices(plan.tuned, inputs["choices"]),
    }


def tuning_figures(r: Results, captions, name: str, files: Mapping) -> list[dict]:
    """The study's lr figure, where it has a tuned variant (else none)."""
    if name not in files["tuning"]:
        return []
    study = r.studies[name]
    tuned = [v for v in study["variants"] if v in files["choices"]]
    choices = [files["choices"][v] for v in tuned]
    seeds = choices[0]["sweep_seeds"]
    chosen = "; ".join(
        f"{r.label(v)} {c['lr']:g} ({_figure_text(c)})" for v, c in zip(tuned, choices, strict=True)
    )
    return [
        figure(
            files["tuning"][name],
            captions(
                "tuning",
                title=study["title"],
                criterion=choices[0]["criterion"],
                seeds=f"{len(seeds)} sweep seeds ({seeds[0]}–{seeds[-1]})",
                chosen=chosen,
            ),
            f"Line chart of {choices[0]['criterion']} against the learning rate for "
            f"{r.labels(tuned)}, and beside it each at its chosen learning rate: {chosen}.",
            f"tuning-{name}",
        )
    ]


def _figure_text(choice: Mapping) -> str:
    point = next(p for p in choice["points"] if p["lr"] == choice["lr"])
    if choice["metric"] == "val_acc":
        text = f"{pct(point['mean'])} on validation"
    else:
        text = f"{point['mean']:.2f} epochs on validation"
    if added := len(choice.get("extensions", [])):
        text += f"; {added} rate{'s' if added > 1 else ''} added past the grid's end"
    if "warning" in choice:
        text += "; still best at the end of its extended sweep, so the optimum may lie beyond"
    return text
