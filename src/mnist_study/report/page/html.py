"""The HTML report: one self-contained file (images as data URIs) rendered with jinja2.

A small builder per section (page/sections.py, page/study_sections.py) turns the loaded
Results into what the template shows; this module gathers them and renders the page.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path

import jinja2
from markupsafe import Markup, escape

from mnist_study.atomic import write_json, write_text
from mnist_study.evidence.stats import CONFIDENCE
from mnist_study.evidence.verdicts import RULE
from mnist_study.formatting import missing, pct, pp, seconds
from mnist_study.logs import process_start
from mnist_study.record.efficiency import figures_from_files
from mnist_study.report.figure_plan import FigurePlan
from mnist_study.report.page.design import design_section, replication_section
from mnist_study.report.page.explorer import section as explorer_section
from mnist_study.report.page.figures import Captions, aligned, figure
from mnist_study.report.page.results import Results
from mnist_study.report.page.sections import (
    changes_section,
    claims_section,
    forest_section,
    provenance_section,
    results_section,
    summary_section,
)
from mnist_study.report.page.study_sections import (
    curves_figure,
    error_figures,
    gallery_section,
    study_section,
    weights_section,
)
from mnist_study.report.page.text import named_classes, nouns, seed_reference
from mnist_study.report.page.training_data import training_data_files
from mnist_study.report.page.tuning import tuning_files
from mnist_study.report.plots.weights import FEATURE_UNITS
from mnist_study.runrecord import read_run_record

# ----------------------------------------------------------------------------- render


def figure_files(inputs: Mapping, params: Mapping, plan: FigurePlan) -> dict:
    """The rule's figure inputs by name: per variant, per study, or single."""
    variants, studies = list(params["variants"]), list(params["studies"])
    weights = list(inputs["weights"])
    return {
        "curves": aligned(variants, inputs["curves"], "curves"),
        "galleries": aligned(variants, inputs["galleries"], "galleries"),
        "study_curves": aligned(studies, inputs["study_curves"], "study_curves"),
        "study_factor": aligned(studies, inputs["study_factor"], "study_factor"),
        "confusion": aligned(studies, inputs["confusion"], "confusion"),
        "reliability": aligned(studies, inputs["reliability"], "reliability"),
        **{k: inputs[k] for k in ("hardest", "confused", "overlap", "disagreements")},
        "templates": weights[0] if weights else None,
        "features": weights[1] if len(weights) > 1 else None,
        "linear_variant": plan.linear,
        "mlp_variant": plan.mlp,
        **training_data_files(inputs, plan),
        **tuning_files(inputs, plan),
    }


def page_context(r: Results, inputs: Mapping) -> dict:
    """The page's frame: its title, wording, style sheet and scripts."""
    return {
        "title": f"{r.dataset_title} study: why models behave as they do",
        "dataset": r.describe,
        "nouns": nouns(r),
        "has_reference": any(seed_reference(r, v) is not None for v in r.variants),
        "alpha": r.alpha,
        "rule": RULE.replace("α", f"α = {r.alpha:g}"),
        "confidence": f"{CONFIDENCE:.0%}",
        "css": Path(inputs["css"]).read_text(encoding="utf-8"),
        "scripts": [inline_script(path) for path in inputs["scripts"]],
    }


def errors_context(r: Results, captions: Captions, files: Mapping) -> dict:
    """The error analysis across models: its figures, the pair compared, the hardest classes and
    the most confused pairs of classes."""
    pair = r.errors.get("pair")
    return {
        "errors": r.errors,
        "error_figures": error_figures(r, captions, files),
        "pair": pair,
        "pair_labels": {"a": r.label(pair["a"]), "b": r.label(pair["b"])} if pair else {},
        "hardest_rows": named_classes(r, r.errors["hardest"][:10]),
        "confused_rows": named_classes(r, r.errors["confused_pairs"][:10]),
    }


def build_context(inputs: Mapping, params: Mapping) -> dict:
    """Everything the template shows, from the rule's named inputs and params."""
    plan = FigurePlan(**params["plan"])
    r = Results.load(
        inputs,
        params["variants"],
        params["studies"],
        params["alpha"],
        params["run_keys"],
        params["dataset"],
        params["flat_gap"],
    )
    captions = Captions(inputs["captions"], noun=r.describe["noun"])
    files = figure_files(inputs, params, plan)
    home = r.home_study()
    dot_text = Path(inputs["rulegraph_dot"]).read_text(encoding="utf-8")
    replication = read_replication(inputs.get("replication"))
    labels = {v: r.label(v) for v in r.variants}
    context = {
        **page_context(r, inputs),
        "summary": summary_section(r),
        "changes": changes_section(r, inputs["changes"]),
        "results": results_section(r),
        "claims": claims_section(r, outcomes_by_claim(replication)),
        "forest": forest_section(r, captions, inputs["forest"]),
        # Every run at once.
        "explorer": explorer_section(r.runs, r.records, labels, inputs, captions, figure),
        "studies": [study_section(r, captions, s, files) for s in r.studies],
        # Variants that no study lists still get their learning curves shown.
        "orphans": [
            curves_figure(r, captions, v, files["curves"][v]) for v in r.variants if v not in home
        ],
        **errors_context(r, captions, files),
        "galleries": gallery_section(r, captions, files),
        "weights": weights_section(r, captions, files, FEATURE_UNITS),
        "provenance": provenance_section(
            r, captions, dot_text, params, str(inputs["rulegraph_dot"])
        ),
    }
    # Last: the figures count this job's own time up to here (rendering follows, under 1 s).
    figures = efficiency_figures(inputs, params, r.records)
    context["provenance"]["efficiency"] = efficiency_section(figures)
    context["efficiency"] = figures
    context["design"] = design_section(params.get("design"), figures)
    context["replication"] = replication_section(replication)
    return context


def read_replication(path) -> dict | None:
    """The replication's outcomes (rule replication), where a replicate of this study exists."""
    if not path:
        return None
    return json.loads(Path(path).read_text(encoding="utf-8"))


def outcomes_by_claim(replication: Mapping | None) -> dict[str, Mapping]:
    return {c["name"]: c for c in (replication or {}).get("claims", [])}


# Where a narrow table cell may wrap: between a mean and its "± sd", a range's two ends; never
# between a number and its unit or sign, so that a wrapped figure still reads as one.
_TIES = (
    (" pp", "\u00a0pp"),
    ("± ", "±\u00a0"),
    (" – ", "\u00a0– "),
    (" min", "\u00a0min"),
    (" s", "\u00a0s"),
    (" h", "\u00a0h"),
)


def keep_together(text) -> str:
    text = str(text)
    for loose, tied in _TIES:
        text = text.replace(loose, tied)
    return text


def breakable(name) -> str:
    """A snake_case name that may wrap after its underscores (a long variant name would
    otherwise set a table column's least width)."""
    return Markup("_<wbr>").join(escape(part) for part in str(name).split("_"))


def inline_script(path) -> str:
    """A script file's text, safe inside <script> (a literal "</script" in it would end the
    element early), after its licence as a comment where a licence file lies beside it (a
    vendored library's: "/*! <folder>, <file>: <licence> */")."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    if "<!--" in text:
        # Inside <script>, "<!--" opens an escape that can swallow the rest of the page.
        raise ValueError(f"{path}: contains '<!--'; it cannot be inlined in the report")
    for name in ("LICENCE", "LICENSE"):
        if (licence := path.with_name(name)).exists():
            notice = licence.read_text(encoding="utf-8").strip().replace("*/", "* /")
            text = f"/*! {path.parent.name}, {path.name}: {notice} */\n{text}"
            break
    return text.replace("</script", "<\\/script")


def sort_key(value) -> str:
    """A cell's data-sort figure: the raw number, or empty where there is none."""
    return "" if missing(value) else repr(float(value))


def render(template_path, context: Mapping) -> str:
    template_path = Path(template_path)
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template_path.parent)),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pct"] = pct
    env.filters["pp"] = pp
    env.filters["keep"] = keep_together
    env.filters["sortkey"] = sort_key
    env.filters["breakable"] = breakable
    return env.get_template(template_path.name).render(**context)


def efficiency_figures(inputs: Mapping, params: Mapping, records: Mapping) -> dict:
    """This invocation's compute figures (mnist_study.record.efficiency), the report job's
    own time included up to now."""
    # The learning-rate sweeps' runs are the study's training too (their jobs are in its time).
    sweeps = {("sweep", i): read_run_record(path) for i, path in enumerate(inputs["sweep_info"])}
    return figures_from_files(
        {**records, **sweeps},
        params["jobs"],
        inputs["matmul"],
        params["report_stamp"],
        report_start=process_start(),
        report_end=time.time(),
    )


def efficiency_section(f: Mapping) -> dict:
    """The compute figures as the Provenance section words them."""
    share, ratio = f["outside_epoch_share"], f["ratio"]
    return {
        "partial": f["partial"],
        "rows": [
            (
                "Training arithmetic",
                f"{f['train_flops']:.4g} FLOP, {f['runs_trained']} of {f['runs_in_study']} runs "
                "(train FLOPs per sample x images x epochs; scoring passes not counted)",
            ),
            (
                "Matmul figure",
                f"{f['matmul_flops_per_s'] / 1e9:.1f} GFLOP/s (2048x2048 fp32 matmul on "
                f"{f['matmul_threads']} threads, median of 3)",
            ),
            ("Compute limit", f"{seconds(f['limit_seconds'])} (training FLOPs / matmul figure)"),
            (
                "Wall time",
                f"{seconds(f['wall_seconds'])} from the first job's start to this report "
                f"({f['jobs']} of {f['jobs_in_study']} jobs)",
            ),
            ("Wall time / limit", "–" if ratio is None else f"{ratio:.2f}"),
            (
                "Job time outside the epochs",
                "–"
                if share is None
                else f"{share:.1%} of {seconds(f['job_seconds'])} of job time "
                f"(epochs: {seconds(f['epoch_seconds'])})",
            ),
        ],
    }


def write_report(inputs: Mapping, params: Mapping, out, efficiency_out=None) -> None:
    """Rule report: render ``results/report.html`` from the rule's named inputs and params, and
    write the compute figures it shows to ``efficiency_out``."""
    context = build_context(inputs, params)
    html = render(inputs["template"], context)
    if efficiency_out is not None:
        write_json(efficiency_out, context["efficiency"])
    write_text(out, html)
