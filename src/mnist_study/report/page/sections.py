"""The report's sections about the whole study: summary, results table, claims and forest plot,
what changed since an earlier study, and provenance."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path

from mnist_study.evidence.claims import record_kind
from mnist_study.evidence.effects import POWER, least_seeds
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
from mnist_study.machine import machine
from mnist_study.record.compare import row_text, seeds_text, value_text
from mnist_study.record.provenance import git_state, package_versions
from mnist_study.report.page.design import claim_design
from mnist_study.report.page.figures import Captions, figure
from mnist_study.report.page.results import Results
from mnist_study.report.page.rulegraph import INSTALL_HINT, draw
from mnist_study.report.page.text import describe_model, seed_reference

FAMILIES = {"linear": "Linear", "mlp": "MLP", "cnn": "CNN"}


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


def claims_section(r: Results, outcomes: Mapping[str, Mapping] | None = None) -> list[dict]:
    """Per claim: verdict, effect with interval, smallest effect of interest, p before and after
    Holm, the detectable effect where inconclusive, the observed shape of trends; its design
    label and, with ``outcomes`` (the replication's, by claim), the replicate's outcome."""
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
                    else f"needs {least_seeds(metric)} seeds or more"
                    if c["verdict"] == "inconclusive"
                    else ""
                ),
                "shape": c.get("shape", ""),
                "tau": (
                    f"{c['tau']:+.2f}"
                    if record_kind(c) == "trend" and not missing(c["tau"])
                    else "n/a"
                ),
                "numbers": c["numbers"],
                "test": c.get("test", ""),
                # A claim the design does not cover ran on its variants' pinned or default seeds.
                "not_designed": c.get("design", {}).get("designed") is False,
                **claim_design(c, (outcomes or {}).get(c["name"])),
            }
        )
    return rows


def forest_section(r: Results, captions: Captions, path) -> dict | None:
    """The forest plot (rule plot_forest) inline, so that its marks are part of the page."""
    if not r.claims:
        return None
    trends = [c["name"] for c in r.claims if record_kind(c) == "trend"]
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


def changes_section(r: Results, path) -> dict:
    """What changed since the earlier study the rule changes compared with (changes.json)."""
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
    svg = draw(dot_text)
    return {
        "git": git_state(params["repo"]),
        "config_hash": params["config_hash"],
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
