"""The HTML report: one self-contained file (images as data URIs) rendered with jinja2.

A small builder per section turns the loaded Results into what the template shows.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from functools import cache
from pathlib import Path

from mnist_study.atomic import write_text
from mnist_study.evidence.effects import POWER
from mnist_study.evidence.stats import CONFIDENCE
from mnist_study.evidence.verdicts import RULE, shape
from mnist_study.formatting import (
    metric_diff,
    metric_size,
    metric_value,
    missing,
    num,
    pct,
    pm_pct,
    pp,
    pval,
    seconds,
)
from mnist_study.report.checkpoints import checkpoint_rows, checkpoints_claimed, reliability_figure
from mnist_study.report.gap import flat_gap, reason_sentence
from mnist_study.report.results import Results
from mnist_study.report.training_data import (
    augmentation_figures,
    chance_check,
    memorization_figures,
    training_data_files,
)
from mnist_study.report.tuning_figures import tuning_figures, tuning_files

FAMILIES = {"linear": "Linear", "mlp": "MLP", "cnn": "CNN"}
# Studies with more members than this list consecutive factor steps, not every pair.
ALL_PAIRS_UP_TO = 5


# ----------------------------------------------------------------------------- figures


@cache
def _caption_template(path: str):
    import jinja2

    text = Path(path).read_text(encoding="utf-8").strip()
    return jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(text)


class Captions:
    """Figure captions from report/captions/<name>.rst, the files `snakemake --report` shows
    too: one source, rendered here with the numbers of this study."""

    def __init__(self, paths: Sequence, **common):
        self.paths = {Path(p).stem: str(p) for p in paths}
        self.common = common  # values every caption may use (the dataset's noun)

    def __call__(self, name: str, **values) -> str:
        return _caption_template(self.paths[name]).render(**self.common, **values)


def data_uri(path) -> str:
    """A PNG or SVG file as a data URI, so the report needs no other file."""
    data = Path(path).read_bytes() if not isinstance(path, bytes) else path
    if data.startswith(b"\x89PNG"):
        kind = "image/png"
    elif data.lstrip().startswith(b"<?xml") or data.lstrip().startswith(b"<svg"):
        kind = "image/svg+xml"
    else:
        raise ValueError(f"{str(path)[:80]}: not a PNG or SVG; the report embeds only those")
    return f"data:{kind};base64," + base64.b64encode(data).decode("ascii")


def figure(source, caption: str, alt: str, fig_id: str) -> dict:
    if not caption or not alt:
        raise ValueError(f"figure {fig_id}: every figure needs a caption and alt text")
    return {"id": fig_id, "src": data_uri(source), "caption": caption, "alt": alt}


# ----------------------------------------------------------------------------- text


def nouns(r: Results) -> str:
    """What the images show, in the plural, for headings and alt texts ('digits')."""
    return f"{r.describe['noun']}s"


def seed_reference(r: Results, variant: str) -> float | None:
    """The seed notebook's test accuracy (%) for a variant on this study's dataset, if any:
    references are MNIST figures and never stand beside another dataset's rows."""
    return (r.variants[variant].get("seed_reference") or {}).get(r.describe["name"])


def named_classes(r: Results, rows: Sequence[Mapping]) -> list[dict]:
    """Rows with labels ('true', 'pred') shown by their class names."""
    names = r.describe["classes"]
    return [{**row, "true": names[row["true"]], "pred": names[row["pred"]]} for row in rows]


def describe_model(spec: Mapping) -> str:
    kind = spec.get("kind", "?")
    if kind == "linear":
        return "softmax regression"
    if kind == "mlp":
        hidden = spec.get("hidden") or []
        text = "784-" + "-".join(str(h) for h in hidden) + "-10" if hidden else "784-10"
        extras = [spec.get("activation", "relu")]
        if spec.get("dropout"):
            extras.append(f"dropout {spec['dropout']:g}")
        if spec.get("input_dropout"):
            extras.append(f"input dropout {spec['input_dropout']:g}")
        return f"MLP {text}, " + ", ".join(extras)
    if kind == "cnn":
        channels = "-".join(str(c) for c in spec.get("channels", []))
        return f"CNN, channels {channels}, kernel {spec.get('kernel_size', '?')}"
    return kind


def _study_pairs(r: Results, name: str):
    return r.pairs[r.pairs["study"] == name] if len(r.pairs) else r.pairs


def _range_sentence(r: Results, study: Mapping) -> str | None:
    members = study["variants"]
    values = dict(zip(members, study["factor"]["values"], strict=True))
    known = {v: a for v in members if not missing(a := r.stat(v, "test_acc"))}
    if not known:
        return None
    best, worst = max(known, key=known.get), min(known, key=known.get)
    factor = study["factor"]["label"].lower()

    def who(v):
        # Categorical factor values mostly repeat the label; numbers add information.
        value = values[v]
        numeric = isinstance(value, int | float) and not isinstance(value, bool)
        return f"{r.label(v)}, {factor} {value}" if numeric else r.label(v)

    return (
        f"Test accuracy ranges from {pct(known[worst])} ({who(worst)}) to {pct(known[best])} "
        f"({who(best)})."
    )


def _gap_sentence(r: Results, study: Mapping) -> str | None:
    members = study["variants"]
    gaps = [r.stat(v, "gap") for v in members]
    first, last = r.label(members[0]), r.label(members[-1])
    if len(members) > 2 and not any(missing(g) for g in gaps):
        values = [str(v) for v in study["factor"]["values"]]
        return (
            f"Along the {study['factor']['label'].lower()} axis the mean train–test gap "
            f"{shape(gaps, values, flat_gap(r, study))} ({pp(gaps[0])} for {first}, "
            f"{pp(gaps[-1])} for {last})."
        )
    if len(members) == 2 and all(g is not None for g in gaps):
        return f"The train–test gap is {pp(gaps[0])} for {first} and {pp(gaps[1])} for {last}."
    return None


def _pairs_sentences(r: Results, name: str) -> list[str]:
    mine = _study_pairs(r, name)
    if not len(mine):
        return []
    significant = mine[mine["p_holm"] < r.alpha]
    text = [
        f"{len(significant)} of {len(mine)} pairwise accuracy differences are significant "
        f"(seeds and test images as two sources of variance, Holm over the study's pairs, "
        f"α = {r.alpha:g})."
    ]
    if len(significant):
        top = significant.loc[significant["diff_mean"].abs().idxmax()]
        text.append(
            f"The largest: {r.label(top['b'])} − {r.label(top['a'])} = "
            f"{pp(top['diff_mean'])} (p = {pval(top['p_holm'])} after Holm)."
        )
    return text


def _peak_sentence(r: Results, members: Sequence[str]) -> str | None:
    peaked = []
    for v in members:
        best_epoch, epochs = r.stat(v, "best_epoch"), r.stat(v, "epochs")
        if best_epoch is not None and epochs and best_epoch < epochs - 1:
            peaked.append(f"{r.label(v)} at epoch {best_epoch:.3g} of {epochs:.0f}")
    if not peaked:
        return None
    return "Validation accuracy peaked before the last epoch for " + "; ".join(peaked) + "."


def _time_sentence(r: Results, members: Sequence[str]) -> str | None:
    times = {v: r.stat(v, "train_seconds") for v in members}
    if any(missing(t) for t in times.values()):
        return None
    fast, slow = min(times, key=times.get), max(times, key=times.get)
    return (
        f"Training took {seconds(times[fast])} ({r.label(fast)}) to "
        f"{seconds(times[slow])} ({r.label(slow)}) per run."
    )


def study_paragraph(r: Results, name: str) -> str:
    """A few sentences whose every number comes from the results."""
    study = r.studies[name]
    members = study["variants"]
    first = _range_sentence(r, study)
    if first is None:
        return "No results yet for this study."
    related = [c for c in r.claims if set(c["variants"]) <= set(members)]
    parts = [
        first,
        _gap_sentence(r, study),
        reason_sentence(r, study),
        *_pairs_sentences(r, name),
        _peak_sentence(r, members),
        _time_sentence(r, members),
        *(f"Claim “{c['statement'].rstrip('.')}”: {c['verdict']}." for c in related),
    ]
    return " ".join(p for p in parts if p)


# ----------------------------------------------------------------------------- sections


def summary_section(r: Results) -> dict:
    best = {}
    for name, entry in r.variants.items():
        family = FAMILIES.get(entry.get("model", {}).get("kind"), "other")
        acc = r.stat(name, "test_acc")
        if acc is not None and (family not in best or acc > best[family]["acc"]):
            best[family] = {"acc": acc, "variant": name}
    families = [
        {
            "family": family,
            "label": r.label(b["variant"]),
            "test": pm_pct(b["acc"], r.stat(b["variant"], "test_acc", "std")),
        }
        for family, b in sorted(best.items(), key=lambda kv: -kv[1]["acc"])
    ]
    runs, bench = r.runs, r.bench
    return {
        "families": families,
        "n_variants": len(r.variants),
        "n_runs": len(runs),
        "seeds": r.seeds,
        "seeds_each": _count_range(runs.groupby("variant").size()) if len(runs) else "0",
        "train_time": seconds(runs["train_seconds"].sum()) if len(runs) else "–",
        "job_time": seconds(bench["total_s"].sum()) if bench is not None and len(bench) else "–",
        "verdicts": {
            v: sum(c["verdict"] == v for c in r.claims)
            for v in ("supported", "contradicted", "inconclusive")
        },
        "n_claims": len(r.claims),
    }


def _count_range(counts) -> str:
    low, high = int(min(counts)), int(max(counts))
    return str(low) if low == high else f"{low}–{high}"


def results_section(r: Results) -> list[dict]:
    """One row per variant for the results table, in config order."""
    rows = []
    for name, entry in r.variants.items():
        s = lambda m, k="mean", n=name: r.stat(n, m, k)  # noqa: E731
        reference = seed_reference(r, name)
        rows.append(
            {
                "name": name,
                "label": r.label(name),
                "model": describe_model(entry.get("model", {})),
                "params": num(s("params")),
                "n": int(s("test_acc", "n") or 0),
                "test": pm_pct(s("test_acc"), s("test_acc", "std")),
                "test_ci": (
                    f"{pct(s('test_acc', 'ci_low'))} – {pct(s('test_acc', 'ci_high'))}"
                    if not missing(s("test_acc", "ci_low"))
                    else "–"
                ),
                "seed_reference": f"{reference:.1f}%" if reference is not None else "",
                "seed_delta": (
                    pp(s("test_acc") - reference / 100, 2)
                    if reference is not None and s("test_acc") is not None
                    else ""
                ),
                "train": pm_pct(s("train_acc"), s("train_acc", "std")),
                "val": pm_pct(s("val_acc"), s("val_acc", "std")),
                "gap": pm_pct(s("gap"), s("gap", "std")),
                "ece": pct(s("ece")),
                "epochs": num(s("epochs")),
                "best_epoch": num(s("best_epoch"), 2),
                "time": seconds(s("train_seconds")),
                "studies": ", ".join(
                    study["title"] for study in r.studies.values() if name in study["variants"]
                ),
                # Figures for sorting where the text is not one: a time in minutes, a count
                # with thousands separators.
                "sort": {"params": s("params"), "time": s("train_seconds")},
            }
        )
    return rows


def claims_section(r: Results) -> list[dict]:
    """Per claim: verdict, effect with interval, smallest effect of interest, p before and after
    Holm, the detectable effect where inconclusive, the observed shape of trends."""
    rows = []
    for c in r.claims:
        extra = ""
        if c.get("threshold") is not None:
            extra = f" (threshold {c['threshold']:g})"
        if c.get("epoch") is not None:
            extra = f" (epoch {c['epoch']})"
        metric = c["metric"]
        low, high = c["effect_ci"]
        rows.append(
            {
                "name": c["name"],
                "statement": c["statement"],
                "verdict": c["verdict"],
                "metric": f"{c['metric']}{extra}",
                "compared": compared_text(r, c),
                "expect": c["expect"],
                "effect": metric_diff(metric, c["effect"], "–"),
                "ci": "–"
                if missing(low)
                else f"{metric_diff(metric, low)} to {metric_diff(metric, high)}",
                "sesoi": f"±{metric_size(metric, c['smallest_effect'])}",
                "p": f"{pval(c['p_value'])} → Holm {pval(c['p_holm'])}",
                "p_equivalence": (
                    f"{pval(c['p_equivalence'])} → Holm {pval(c['p_equivalence_holm'])}"
                ),
                "p_holm": pval(c["p_holm"]),
                "sort": {"effect": c["effect"], "p_holm": c["p_holm"]},
                "detectable": (
                    f"±{metric_size(metric, c['detectable'])} with "
                    f"{c.get('power', POWER):.0%} power"
                    if c["verdict"] == "inconclusive" and not missing(c["detectable"])
                    else "needs two seeds or more"
                    if c["verdict"] == "inconclusive"
                    else ""
                ),
                "shape": c.get("shape", ""),
                "tau": "n/a" if missing(c.get("tau")) else f"{c['tau']:+.2f}",
                "numbers": c["numbers"],
                "test": c.get("test", ""),
            }
        )
    return rows


def forest_section(r: Results, captions: Captions, path) -> dict | None:
    """The forest plot (rule plot_forest) inline, so that its marks are part of the page."""
    if not path or not r.claims:
        return None
    trends = [c["name"] for c in r.claims if "tau" in c]
    return {
        "svg": Path(path).read_text(encoding="utf-8"),
        "caption": captions(
            "forest",
            levels=f"1 − {r.alpha:g} × p / Holm p; two-sided, or one-sided for an equivalence "
            "or non-inferiority test",
            trends=(
                f"A trend claim ({', '.join(trends)}) is decided by a rank test over all its "
                "variants; its bar is the first-to-last contrast's t interval at the same level, "
                "so it can disagree with the verdict. "
                if trends
                else ""
            ),
        ),
    }


def compared_text(r: Results, c: Mapping) -> str:
    """What a claim compares, in the words of its ``compare``: the last against each of the
    others, one variant against a level, a difference of differences, or a sequence."""
    labels = [r.label(v) for v in c["variants"]]
    compare = c.get("compare")
    if compare == "each":
        return f"{labels[-1]} against each of " + ", ".join(labels[:-1])
    if compare == "level":
        return f"{labels[0]} against {metric_value(c['metric'], c['level'])}"
    if compare == "interaction":
        a1, b1, a2, b2 = labels
        return f"({b2} − {a2}) − ({b1} − {a1})"
    if compare == "recovery":
        a, b, remedy = labels
        return f"({remedy} − {b}) − {c['share']:g} × ({a} − {b})"
    return " → ".join(labels)


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
    mine = _study_pairs(r, name)
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


def study_section(r: Results, captions: Captions, name: str, files: Mapping) -> dict:
    """One study: its paragraph, figures, table, paired tests and per-variant curves; where its
    variants augment or learn random labels, their galleries, curves and the chance check."""
    study = r.studies[name]
    members, factor, title = study["variants"], study["factor"]["label"], study["title"]
    home = r.home_study()
    per_variant = [
        {"label": r.label(v), "figure": curves_figure(r, captions, v, files["curves"][v])}
        if home[v] == name
        else {
            "label": r.label(v),
            "figure": None,
            "see": home[v],
            "see_title": r.studies[home[v]]["title"],
        }
        for v in members
    ]
    values = ", ".join(f"{value}" for value in study["factor"]["values"])
    log = " (log scale)" if study["factor"].get("log") else ""
    figures = [
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
    return {
        "id": name,
        "title": title,
        "question": study["question"],
        "reference": study.get("reference"),
        "limits": study.get("limits"),
        "checkpoints": checkpoint_rows(r, study),
        "checkpoints_open": checkpoints_claimed(r, study),
        "chance": chance_check(r, name, files),
        "factor": factor,
        "figures": figures,
        "per_variant": per_variant,
        "table": study_table(r, study),
        "pairs": pair_rows(r, name),
        "all_pairs": len(members) <= ALL_PAIRS_UP_TO,
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


def changes_section(r: Results, path) -> dict:
    """What changed since the earlier study the rule changes compared with (changes.json)."""
    import json

    from mnist_study.record.compare import row_text, seeds_text, value_text

    data = json.loads(Path(path).read_text(encoding="utf-8"))
    changes = data["changes"] or {}
    return {
        "summary": data["summary"],
        "config": [
            {"key": c["key"], "old": value_text(c["old"]), "new": value_text(c["new"])}
            for c in changes.get("config", [])
        ],
        "variants": [
            {
                "name": v["variant"],
                "label": r.label(v["variant"]),
                "metric": v["metric"],
                "text": row_text(v, named=False),
                "verdict": v["verdict"],
            }
            for v in changes.get("variants", [])
        ],
        "claims": changes.get("claims", []),
        "seeds": [seeds_text(s) for s in changes.get("seeds", [])],
        "added": [r.label(v) for v in changes.get("added", [])],
        "removed": changes.get("removed", []),
        "rule": changes.get("rule", "").replace("α", f"α = {changes.get('alpha', r.alpha):g}", 1),
    }


def _machines(r: Results) -> list[dict]:
    """The distinct machines that trained the runs, each with the runs it trained."""
    groups: dict[tuple, dict] = {}
    for record in r.records.values():
        m = record["machine"]
        key = (m["host"], m["cpu"], m["gpu"], m["torch"], record["device"], record["threads"])
        entry = groups.setdefault(
            key, {**m, "device": record["device"], "threads": record["threads"], "runs": 0}
        )
        entry["runs"] += 1
    return list(groups.values())


def provenance_section(
    r: Results, captions: Captions, dot_text: str, params: Mapping, dot_path: str
) -> dict:
    from mnist_study.record.provenance import git_state, machine, package_versions
    from mnist_study.report.rulegraph import INSTALL_HINT, draw

    svg = draw(dot_text)
    return {
        "git": git_state(params.get("repo", ".")),
        "config_hash": params.get("config_hash", "?"),
        "packages": package_versions(),
        "report_machine": machine(),
        "training_machines": _machines(r),
        "dataset": r.dataset,
        "benchmarks": [
            {
                "rule": b["rule"],
                "jobs": int(b["jobs"]),
                "total": seconds(b["total_s"]),
                "mean": seconds(b["mean_s"]),
                "max": seconds(b["max_s"]),
                "sort": {k: b[f"{k}_s"] for k in ("total", "mean", "max")},
            }
            for b in r.bench.to_dict("records")
        ],
        "rulegraph": (
            figure(
                svg,
                captions("rulegraph"),
                "Diagram of the Snakemake rules from data download to this report.",
                "rulegraph",
            )
            if svg
            else None
        ),
        "rulegraph_hint": (
            None
            if svg
            else f"Graphviz's dot is not installed here, so the graph is not drawn. Install it "
            f"({INSTALL_HINT}), then draw it with: dot -Tsvg {dot_path} -o rulegraph.svg"
        ),
        "rulegraph_dot": dot_text,
        "generated": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


# ----------------------------------------------------------------------------- render


def _aligned(names: Sequence[str], paths, what: str) -> dict:
    paths = list(paths)
    if len(paths) != len(names):
        raise ValueError(f"report input {what!r}: {len(paths)} files for {len(names)} names")
    return dict(zip(names, paths, strict=True))


def figure_files(inputs: Mapping, params: Mapping) -> dict:
    """The rule's figure inputs by name: per variant, per study, or single."""
    variants, studies = list(params["variants"]), list(params["studies"])
    weights = list(inputs.get("weights") or [])
    return {
        "curves": _aligned(variants, inputs["curves"], "curves"),
        "galleries": _aligned(variants, inputs["galleries"], "galleries"),
        "study_curves": _aligned(studies, inputs["study_curves"], "study_curves"),
        "study_factor": _aligned(studies, inputs["study_factor"], "study_factor"),
        "confusion": _aligned(studies, inputs["confusion"], "confusion"),
        "reliability": _aligned(studies, inputs["reliability"], "reliability"),
        **{k: inputs[k] for k in ("hardest", "confused", "overlap", "disagreements")},
        "templates": weights[0] if weights else None,
        "features": weights[1] if len(weights) > 1 else None,
        "linear_variant": params.get("linear_variant"),
        "mlp_variant": params.get("mlp_variant"),
        **training_data_files(inputs, params),
        **tuning_files(inputs, params),
    }


def build_context(inputs: Mapping, params: Mapping) -> dict:
    """Everything the template shows, from the rule's named inputs and params."""
    from mnist_study.report.explorer import section as explorer_section
    from mnist_study.report.plots import FEATURE_UNITS

    r = Results.load(
        inputs,
        params["variants"],
        params["studies"],
        params["alpha"],
        params.get("run_keys"),
        params.get("dataset"),
        params.get("flat_gap"),
    )
    captions = Captions(inputs["captions"], noun=r.describe["noun"])
    files = figure_files(inputs, params)
    home = r.home_study()
    pair = r.errors.get("pair")
    dot_text = Path(inputs["rulegraph_dot"]).read_text(encoding="utf-8")
    context = {
        "title": f"{r.dataset_title} study: why models behave as they do",
        "dataset": r.describe,
        "nouns": nouns(r),
        "has_reference": any(seed_reference(r, v) is not None for v in r.variants),
        "alpha": r.alpha,
        "rule": RULE.replace("α", f"α = {r.alpha:g}"),
        "confidence": f"{CONFIDENCE:.0%}",
        "css": Path(inputs["css"]).read_text(encoding="utf-8"),
        "scripts": [inline_script(path) for path in inputs.get("scripts", [])],
        "summary": summary_section(r),
        "changes": changes_section(r, inputs["changes"]) if "changes" in inputs else None,
        "results": results_section(r),
        "claims": claims_section(r),
        "forest": forest_section(r, captions, inputs.get("forest")),
        # Every run at once; absent where the rule gives no explorer figure (an older rule).
        "explorer": (
            explorer_section(
                r.runs, r.records, {v: r.label(v) for v in r.variants}, inputs, captions, figure
            )
            if "explorer" in inputs
            else None
        ),
        "studies": [study_section(r, captions, s, files) for s in r.studies],
        # Variants that no study lists still get their learning curves shown.
        "orphans": [
            curves_figure(r, captions, v, files["curves"][v]) for v in r.variants if v not in home
        ],
        "errors": r.errors,
        "error_figures": error_figures(r, captions, files),
        "pair": pair,
        "pair_labels": {"a": r.label(pair["a"]), "b": r.label(pair["b"])} if pair else {},
        "hardest_rows": named_classes(r, r.errors["hardest"][:10]),
        "confused_rows": named_classes(r, r.errors["confused_pairs"][:10]),
        "galleries": gallery_section(r, captions, files),
        "weights": weights_section(r, captions, files, FEATURE_UNITS),
        "provenance": provenance_section(
            r, captions, dot_text, params, str(inputs["rulegraph_dot"])
        ),
    }
    # Last: the figures count this job's own time up to here (rendering follows, under 1 s).
    figures = efficiency_figures(inputs, params, r.records) if "matmul" in inputs else None
    context["provenance"]["efficiency"] = figures and efficiency_section(figures)
    context["efficiency"] = figures
    return context


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
    from markupsafe import Markup, escape

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
    import jinja2

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
    """This invocation's compute figures (mnist_study.evidence.efficiency), the report job's
    own time included up to now."""
    import time

    from mnist_study.evidence.efficiency import figures_from_files
    from mnist_study.logs import process_start
    from mnist_study.record.runrecord import read_run_record

    # The learning-rate sweeps' runs are the study's training too (their jobs are in its time).
    sweeps = {
        ("sweep", i): read_run_record(path) for i, path in enumerate(inputs.get("sweep_info") or [])
    }
    return figures_from_files(
        {**records, **sweeps},
        params.get("jobs", []),
        inputs["matmul"],
        params.get("report_stamp"),
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
    from mnist_study.atomic import write_json

    context = build_context(inputs, params)
    html = render(inputs["template"], context)
    if efficiency_out is not None:
        write_json(efficiency_out, context["efficiency"])
    write_text(out, html)
