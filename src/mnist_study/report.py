"""The HTML report: one self-contained file (images as data URIs) rendered with jinja2.

Collects tables, claim verdicts, figures and provenance; the numbers in its text come from them.
"""

from __future__ import annotations

import base64
import csv
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import pandas as pd

from .atomic import write_text

PACKAGES = (
    "torch",
    "torchvision",
    "numpy",
    "pandas",
    "scipy",
    "matplotlib",
    "jinja2",
    "snakemake",
)
FAMILIES = {"linear": "Linear", "mlp": "MLP", "cnn": "CNN"}
ALPHA = 0.05


# ----------------------------------------------------------------------------- formatting


def pct(x, digits: int = 2) -> str:
    return "–" if x is None or pd.isna(x) else f"{100 * x:.{digits}f}%"


def pp(x, digits: int = 2) -> str:
    return "–" if x is None or pd.isna(x) else f"{100 * x:+.{digits}f} pp"


def pm_pct(mean, std, digits: int = 2) -> str:
    if mean is None or pd.isna(mean):
        return "–"
    if std is None or pd.isna(std):
        return pct(mean, digits)
    return f"{100 * mean:.{digits}f} ± {100 * std:.{digits}f}%"


def num(x, digits: int = 3) -> str:
    if x is None or pd.isna(x):
        return "–"
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.{digits}g}"


def pval(p) -> str:
    if p is None or pd.isna(p):
        return "–"
    return f"{p:.2g}" if p >= 1e-4 else f"{p:.1e}"


def seconds(s) -> str:
    if s is None or pd.isna(s):
        return "–"
    if s >= 3600:
        return f"{s / 3600:.1f} h"
    if s >= 60:
        return f"{s / 60:.1f} min"
    return f"{s:.1f} s" if s >= 10 else f"{s:.2g} s"


# ----------------------------------------------------------------------------- figures


def data_uri(path) -> str:
    """A PNG as a data URI, so the report needs no other file."""
    data = Path(path).read_bytes()
    if not data.startswith(b"\x89PNG"):
        raise ValueError(f"{path}: not a PNG file; the report embeds PNG figures only")
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def figure(path, caption: str, alt: str, fig_id: str) -> dict:
    if not caption or not alt:
        raise ValueError(f"figure {fig_id} ({path}): every figure needs a caption and alt text")
    return {"id": fig_id, "src": data_uri(path), "caption": caption, "alt": alt}


# ----------------------------------------------------------------------------- provenance


def git_state(repo) -> dict:
    """Commit and whether the working tree differs from it ('not a git checkout' otherwise)."""

    def git(*args):
        done = subprocess.run(
            ["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=30
        )
        return done.stdout.strip() if done.returncode == 0 else None

    try:
        commit = git("rev-parse", "HEAD")
        status = git("status", "--porcelain", "--untracked-files=no") if commit else None
    except (OSError, subprocess.SubprocessError):
        commit = status = None
    if not commit:
        return {"commit": "not a git checkout", "dirty": False}
    return {"commit": commit, "dirty": bool(status)}


def package_versions(names: Sequence[str] = PACKAGES) -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()} ({os.cpu_count()} logical CPUs)"
    except OSError:
        pass
    return f"{platform.processor() or platform.machine()} ({os.cpu_count()} logical CPUs)"


def gpu_model() -> str:
    try:
        import torch

        if torch.cuda.is_available():
            return ", ".join(
                torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())
            )
    except Exception as err:  # a broken CUDA setup should not stop the report
        return f"unavailable ({err})"
    return "none"


def benchmark_times(paths: Sequence) -> pd.DataFrame:
    """Per rule: jobs, total, mean and max wall seconds from Snakemake benchmark files
    (``benchmarks/<rule>/...tsv`` or ``benchmarks/<rule>.tsv``, column ``s``)."""
    rows = []
    for path in paths:
        parts = Path(path).parts
        after = parts[parts.index("benchmarks") + 1 :] if "benchmarks" in parts else parts[-1:]
        rule = Path(after[0]).stem if len(after) == 1 else after[0]
        with open(path, encoding="utf-8") as f:
            records = list(csv.DictReader(f, delimiter="\t"))
        if not records or "s" not in records[0]:
            raise ValueError(f"{path}: benchmark file without the column 's'")
        rows.extend({"rule": rule, "s": float(r["s"])} for r in records)
    if not rows:
        return pd.DataFrame(columns=["rule", "jobs", "total_s", "mean_s", "max_s"])
    frame = pd.DataFrame(rows).groupby("rule", sort=True)["s"]
    return pd.DataFrame(
        {"jobs": frame.size(), "total_s": frame.sum(), "mean_s": frame.mean(), "max_s": frame.max()}
    ).reset_index()


def dataset_checksums(cache_path) -> dict:
    """The dataset name and the sha256 of each raw file, verified when the cache was built."""
    from .data import load_cache

    cache = load_cache(cache_path)
    return {
        "dataset": cache.get("dataset", "?"),
        "sha256": dict(cache.get("sha256", {})),
        "n_train": int(len(cache["train_idx"])),
        "n_val": int(len(cache["val_idx"])),
        "n_test": int(len(cache["test_labels"])),
    }


def write_rulegraph(snakefile, workdir, config: Mapping, out) -> None:
    """Rule rulegraph: ask Snakemake for the workflow's rule graph (DOT) under this config.

    The resolved config goes in as a config file, so the graph matches however the outer run
    was configured (profile, extra config files, quick overrides).
    """
    with tempfile.TemporaryDirectory() as tmp:
        configfile = Path(tmp) / "config.json"
        configfile.write_text(json.dumps(config, default=str))
        cmd = [
            sys.executable,
            "-m",
            "snakemake",
            "--snakefile",
            str(snakefile),
            "--directory",
            str(workdir),
            "--configfile",
            str(configfile),
            "--rulegraph",
            "--nolock",
            "--quiet",
            "all",
        ]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    start = done.stdout.find("digraph")
    if done.returncode != 0 or start < 0:
        raise RuntimeError(
            f"snakemake --rulegraph failed (exit {done.returncode}):\n{done.stderr[-3000:]}"
        )
    write_text(out, done.stdout[start:])


# ----------------------------------------------------------------------------- content


def _stat(stats: dict, variant: str, metric: str, key: str = "mean"):
    row = stats.get((variant, metric))
    return None if row is None else row.get(key)


def _label(variants: Mapping, name: str) -> str:
    return (variants.get(name) or {}).get("label") or name


def _describe_model(spec: Mapping) -> str:
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


def results_rows(variants: Mapping, stats: dict) -> list[dict]:
    """One row per variant for the results table, in config order."""
    rows = []
    for name, entry in variants.items():
        s = lambda m, k="mean", n=name: _stat(stats, n, m, k)  # noqa: E731
        reference = entry.get("seed_reference")
        rows.append(
            {
                "name": name,
                "label": _label(variants, name),
                "model": _describe_model(entry.get("model", {})),
                "params": num(s("params")),
                "n": int(s("test_acc", "n") or 0),
                "test": pm_pct(s("test_acc"), s("test_acc", "std")),
                "test_ci": (
                    f"{pct(s('test_acc', 'ci_low'))} – {pct(s('test_acc', 'ci_high'))}"
                    if not pd.isna(s("test_acc", "ci_low") or math.nan)
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
                "epochs": num(s("epochs")),
                "best_epoch": num(s("best_epoch"), 2),
                "time": seconds(s("train_seconds")),
            }
        )
    return rows


def summary_block(
    variants: Mapping, stats: dict, claims: Sequence, runs: pd.DataFrame, bench: pd.DataFrame
) -> dict:
    best = {}
    for name, entry in variants.items():
        family = FAMILIES.get(entry.get("model", {}).get("kind"), "other")
        acc = _stat(stats, name, "test_acc")
        if acc is not None and (family not in best or acc > best[family]["acc"]):
            best[family] = {"acc": acc, "variant": name}
    families = [
        {
            "family": family,
            "label": _label(variants, b["variant"]),
            "test": pm_pct(b["acc"], _stat(stats, b["variant"], "test_acc", "std")),
        }
        for family, b in sorted(best.items(), key=lambda kv: -kv[1]["acc"])
    ]
    counts = {
        v: sum(c["verdict"] == v for c in claims)
        for v in ("supported", "contradicted", "inconclusive")
    }
    return {
        "families": families,
        "n_variants": len(variants),
        "n_runs": len(runs),
        "seeds": sorted({int(s) for s in runs["seed"]}) if len(runs) else [],
        "train_time": seconds(runs["train_seconds"].sum()) if len(runs) else "–",
        "job_time": seconds(bench["total_s"].sum()) if len(bench) else "–",
        "verdicts": counts,
        "n_claims": len(claims),
    }


def claim_rows(claims: Sequence, variants: Mapping) -> list[dict]:
    rows = []
    for c in claims:
        names = " → ".join(_label(variants, v) for v in c["variants"])
        extra = ""
        if c.get("threshold") is not None:
            extra = f" (threshold {c['threshold']:g})"
        if c.get("epoch") is not None:
            extra = f" (epoch {c['epoch']})"
        rows.append(
            {
                "name": c["name"],
                "statement": c["statement"],
                "verdict": c["verdict"],
                "metric": f"{c['metric']}{extra}",
                "compared": names,
                "expect": c["expect"],
                "numbers": c["numbers"],
                "test": c.get("test", ""),
            }
        )
    return rows


def study_paragraph(
    name: str, study: Mapping, variants: Mapping, stats: dict, pairs: pd.DataFrame, claims: Sequence
) -> str:
    """A few sentences whose every number comes from the results."""
    from scipy.stats import spearmanr

    members = study["variants"]
    values = dict(zip(members, study["factor"]["values"], strict=True))
    acc = {v: _stat(stats, v, "test_acc") for v in members}
    known = {v: a for v, a in acc.items() if a is not None and not pd.isna(a)}
    if not known:
        return "No results yet for this study."
    best = max(known, key=known.get)
    worst = min(known, key=known.get)
    factor = study["factor"]["label"]

    def who(v):
        # Categorical factor values mostly repeat the label; numbers add information.
        value = values[v]
        numeric = isinstance(value, int | float) and not isinstance(value, bool)
        return (
            f"{_label(variants, v)}, {factor.lower()} {value}" if numeric else _label(variants, v)
        )

    text = [
        f"Test accuracy ranges from {pct(known[worst])} ({who(worst)}) to {pct(known[best])} "
        f"({who(best)})."
    ]
    gaps = [_stat(stats, v, "gap") for v in members]
    if all(g is not None and not pd.isna(g) for g in gaps) and len(members) > 2:
        rho = spearmanr(range(len(gaps)), gaps).statistic
        trend = "rises" if rho > 0.5 else "falls" if rho < -0.5 else "shows no clear trend"
        text.append(
            f"Along the {factor.lower()} axis the train–test gap {trend} "
            f"({pp(gaps[0])} for {_label(variants, members[0])}, {pp(gaps[-1])} for "
            f"{_label(variants, members[-1])}; Spearman ρ = {rho:+.2f} over the means)."
        )
    elif len(members) == 2 and all(g is not None for g in gaps):
        text.append(
            f"The train–test gap is {pp(gaps[0])} for {_label(variants, members[0])} and "
            f"{pp(gaps[1])} for {_label(variants, members[1])}."
        )
    mine = pairs[pairs["study"] == name] if len(pairs) else pairs
    if len(mine):
        significant = mine[mine["p_combined"] < ALPHA]
        text.append(
            f"{len(significant)} of {len(mine)} pairwise accuracy differences are significant "
            f"(exact McNemar test on discordant pairs pooled over seeds, α = {ALPHA:g})."
        )
        if len(significant):
            top = significant.loc[significant["diff_mean"].abs().idxmax()]
            text.append(
                f"The largest: {_label(variants, top['b'])} − {_label(variants, top['a'])} = "
                f"{pp(top['diff_mean'])} (p = {pval(top['p_combined'])})."
            )
    peaked = []
    for v in members:
        best_epoch, epochs = _stat(stats, v, "best_epoch"), _stat(stats, v, "epochs")
        if best_epoch is not None and epochs and best_epoch < epochs - 1:
            peaked.append(f"{_label(variants, v)} at epoch {best_epoch:.3g} of {epochs:.0f}")
    if peaked:
        text.append(
            "Validation accuracy peaked before the last epoch for " + "; ".join(peaked) + "."
        )
    times = {v: _stat(stats, v, "train_seconds") for v in members}
    if all(t is not None and not pd.isna(t) for t in times.values()):
        fast, slow = min(times, key=times.get), max(times, key=times.get)
        text.append(
            f"Training took {seconds(times[fast])} ({_label(variants, fast)}) to "
            f"{seconds(times[slow])} ({_label(variants, slow)}) per run."
        )
    related = [c for c in claims if set(c["variants"]) <= set(members)]
    for c in related:
        text.append(f"Claim “{c['statement'].rstrip('.')}”: {c['verdict']}.")
    return " ".join(text)


def study_table(study: Mapping, variants: Mapping, stats: dict) -> list[dict]:
    rows = []
    for v, value in zip(study["variants"], study["factor"]["values"], strict=True):
        rows.append(
            {
                "factor": value,
                "label": _label(variants, v),
                "name": v,
                "params": num(_stat(stats, v, "params")),
                "test": pm_pct(_stat(stats, v, "test_acc"), _stat(stats, v, "test_acc", "std")),
                "train": pct(_stat(stats, v, "train_acc")),
                "val": pct(_stat(stats, v, "val_acc")),
                "gap": pp(_stat(stats, v, "gap")),
                "best_epoch": num(_stat(stats, v, "best_epoch"), 2),
                "time": seconds(_stat(stats, v, "train_seconds")),
            }
        )
    return rows


def pair_rows(name: str, study: Mapping, variants: Mapping, pairs: pd.DataFrame) -> list[dict]:
    """All pairs for small studies; consecutive factor steps for larger ones."""
    mine = pairs[pairs["study"] == name] if len(pairs) else pairs
    members = study["variants"]
    if len(members) > 5:
        steps = set(zip(members[:-1], members[1:], strict=True))
        mine = mine[[(a, b) in steps for a, b in zip(mine["a"], mine["b"], strict=True)]]
    return [
        {
            "a": _label(variants, r["a"]),
            "b": _label(variants, r["b"]),
            "diff": pp(r["diff_mean"]),
            "ci": (
                f"{pp(r['diff_ci_low'])} to {pp(r['diff_ci_high'])}"
                if not pd.isna(r["diff_ci_low"])
                else "–"
            ),
            "discordant": f"{r['b_only']} / {r['a_only']}",
            "p": pval(r["p_combined"]),
            "p_seeds": r["p_per_seed"],
            "significant": r["p_combined"] < ALPHA,
        }
        for r in mine.to_dict("records")
    ]


# ----------------------------------------------------------------------------- render


def _aligned(names: Sequence[str], paths, what: str) -> dict:
    paths = list(paths)
    if len(paths) != len(names):
        raise ValueError(f"report input {what!r}: {len(paths)} files for {len(names)} names")
    return dict(zip(names, paths, strict=True))


def build_context(inputs: Mapping, params: Mapping) -> dict:
    """Everything the template shows, from the rule's named inputs and params."""
    variants = params["variants"]
    studies = params["studies"]
    vnames, snames = list(variants), list(studies)
    runs = pd.read_csv(inputs["runs"])
    stats_frame = pd.read_csv(inputs["stats"])
    stats = {(r["variant"], r["metric"]): r for r in stats_frame.to_dict("records")}
    pairs = pd.read_csv(inputs["pairs"])
    claims = json.loads(Path(inputs["claims"]).read_text(encoding="utf-8"))
    errors = json.loads(Path(inputs["errors"]).read_text(encoding="utf-8"))
    bench = benchmark_times(list(inputs.get("benchmarks", [])))
    n_seeds = len({int(s) for s in runs["seed"]}) if len(runs) else 0
    band = "band: range over seeds" if n_seeds > 1 else "one seed, no band"

    curves = _aligned(vnames, inputs["curves"], "curves")
    galleries = _aligned(vnames, inputs["galleries"], "galleries")
    study_curves = _aligned(snames, inputs["study_curves"], "study_curves")
    study_factor = _aligned(snames, inputs["study_factor"], "study_factor")
    confusion = _aligned(snames, inputs["confusion"], "confusion")

    # Each per-variant figure is embedded once, in the first study that lists the variant.
    home = {}
    for s in snames:
        for v in studies[s]["variants"]:
            home.setdefault(v, s)
    sections = []
    for s in snames:
        study = studies[s]
        members = study["variants"]
        factor = study["factor"]["label"]
        per_variant = []
        for v in members:
            label = _label(variants, v)
            if home[v] == s:
                fig = figure(
                    curves[v],
                    f"Learning curves of {label}: loss (log scale) and accuracy per epoch in "
                    f"train mode, in eval mode on training images, and on validation ({band}).",
                    f"Two line charts for {label}: cross-entropy loss and accuracy against "
                    f"epoch; final validation accuracy "
                    f"{pct(_stat(stats, v, 'val_acc'))}.",
                    f"curves-{v}",
                )
                per_variant.append({"label": label, "figure": fig})
            else:
                per_variant.append(
                    {
                        "label": label,
                        "figure": None,
                        "see": home[v],
                        "see_title": studies[home[v]]["title"],
                    }
                )
        figures = [
            figure(
                study_curves[s],
                f"{study['title']}: validation accuracy (left) and loss (right; solid validation, "
                f"dashed eval-mode training) per epoch for each {factor.lower()} ({band}; a "
                "dot marks the lowest validation loss).",
                f"Overlaid learning curves of {len(members)} variants of the {study['title']} "
                f"study: " + ", ".join(_label(variants, v) for v in members) + ".",
                f"study-curves-{s}",
            ),
            figure(
                study_factor[s],
                f"{study['title']}: {factor.lower()} against train, validation and test "
                "accuracy (mean ± std over seeds), the train–test gap with its 95% t-interval, "
                "and the training time (labels: parameter counts).",
                f"Three charts with {factor.lower()} on the x-axis"
                + (" (log scale)" if study["factor"].get("log") else "")
                + ": accuracy, generalization gap and training time for "
                + ", ".join(f"{value}" for value in study["factor"]["values"])
                + ".",
                f"study-factor-{s}",
            ),
            figure(
                confusion[s],
                f"{study['title']}: confusion matrices summed over seeds, rows normalised; "
                "colour shows the share of each true digit predicted as another digit, the "
                "diagonal numbers are per-class accuracy (%).",
                "Confusion heatmaps (10 by 10) for "
                + ", ".join(_label(variants, v) for v in members)
                + ".",
                f"confusion-{s}",
            ),
        ]
        sections.append(
            {
                "id": s,
                "title": study["title"],
                "question": study["question"],
                "factor": factor,
                "figures": figures,
                "per_variant": per_variant,
                "table": study_table(study, variants, stats),
                "pairs": pair_rows(s, study, variants, pairs),
                "all_pairs": len(members) <= 5,
                "paragraph": study_paragraph(s, study, variants, stats, pairs, claims),
            }
        )
    # Variants that no study lists still get their learning curves shown.
    orphans = [
        figure(
            curves[v],
            f"Learning curves of {_label(variants, v)} ({band}).",
            f"Loss and accuracy per epoch for {_label(variants, v)}.",
            f"curves-{v}",
        )
        for v in vnames
        if v not in home
    ]

    pair = errors.get("pair")
    error_figures = {
        "hardest": figure(
            inputs["hardest"],
            f"The test digits most runs get wrong ({errors['n_runs']} runs in all): true label "
            "→ most common wrong prediction, and how many runs got it wrong.",
            "Gallery of the hardest handwritten test digits with their labels and predictions.",
            "hardest",
        ),
        "confused": figure(
            inputs["confused"],
            "Left: the most frequent confusions (true → predicted), test images per run. "
            "Right: error rate per true digit over all runs.",
            "Horizontal bar chart of the most confused digit pairs and a bar chart of the "
            "error rate of each digit.",
            "confused",
        ),
        "overlap": figure(
            inputs["overlap"],
            "How much the error sets of two models overlap: Jaccard index (shared mistakes / "
            "all mistakes of either) for the same seed; on the diagonal, between two seeds of "
            "one variant.",
            f"Heatmap of pairwise Jaccard indices of the error sets of {len(vnames)} variants.",
            "overlap",
        ),
    }
    if pair:
        error_figures["disagreements"] = figure(
            inputs["disagreements"],
            f"Test images that {_label(variants, pair['a'])} gets right and "
            f"{_label(variants, pair['b'])} gets wrong in every seed "
            f"({len(pair['b_wrong_a_right'])} images; the reverse: "
            f"{len(pair['a_wrong_b_right'])}), with {_label(variants, pair['b'])}'s "
            "prediction and confidence.",
            f"Gallery of digits on which {_label(variants, pair['b'])} fails while "
            f"{_label(variants, pair['a'])} succeeds.",
            "disagreements",
        )
    gallery_figures = [
        {
            "label": _label(variants, v),
            "figure": figure(
                galleries[v],
                f"{_label(variants, v)}: its most confident mistakes (first seed), ordered by "
                "confidence; each digit shows true → predicted and the predicted probability.",
                f"Gallery of misclassified test digits of {_label(variants, v)}.",
                f"gallery-{v}",
            ),
        }
        for v in vnames
    ]
    weights = []
    # Rule inputs give [templates, features] as "weights"; tests may name them one by one.
    weight_files = list(inputs.get("weights") or [])
    templates = inputs.get("templates") or (weight_files[0] if weight_files else None)
    features = inputs.get("features") or (weight_files[1] if len(weight_files) > 1 else None)
    if templates:
        weights.append(
            figure(
                templates,
                f"The linear model's ten weight templates "
                f"({_label(variants, params.get('linear_variant', ''))}, first seed) as 28×28 "
                "images: red pixels raise the class score, blue lower it.",
                "Ten 28 by 28 heatmaps, one per digit, showing the linear classifier's weights.",
                "templates",
            )
        )
    if features:
        weights.append(
            figure(
                features,
                f"First-layer features of {_label(variants, params.get('mlp_variant', ''))} "
                "(first seed): the 64 hidden units with the largest weight norm, each scaled to "
                "its own range.",
                "Grid of 64 small 28 by 28 weight images of the MLP's first hidden layer.",
                "features",
            )
        )

    checksums = dataset_checksums(inputs["cache"])
    devices = sorted(
        {json.loads(Path(p).read_text()).get("device", "?") for p in inputs.get("info", [])}
    )
    threads = sorted(
        {json.loads(Path(p).read_text()).get("threads", "?") for p in inputs.get("info", [])}
    )
    dot = Path(inputs["rulegraph_dot"]).read_text(encoding="utf-8")
    provenance = {
        "git": git_state(params.get("repo", ".")),
        "config_hash": params.get("config_hash", "?"),
        "packages": package_versions(),
        "cpu": cpu_model(),
        "gpu": gpu_model(),
        "devices": ", ".join(str(d) for d in devices) or "?",
        "threads": ", ".join(str(t) for t in threads) or "?",
        "dataset": checksums,
        "benchmarks": [
            {
                "rule": r["rule"],
                "jobs": int(r["jobs"]),
                "total": seconds(r["total_s"]),
                "mean": seconds(r["mean_s"]),
                "max": seconds(r["max_s"]),
            }
            for r in bench.to_dict("records")
        ],
        "rulegraph": figure(
            inputs["rulegraph_png"],
            "The workflow's rules and their dependencies (from snakemake --rulegraph).",
            "Diagram of the Snakemake rules from data download to this report.",
            "rulegraph",
        ),
        "rulegraph_dot": dot,
        "generated": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }
    return {
        "title": params.get("title", "MNIST study: why models behave as they do"),
        "css": Path(inputs["css"]).read_text(encoding="utf-8"),
        "summary": summary_block(variants, stats, claims, runs, bench),
        "results": results_rows(variants, stats),
        "claims": claim_rows(claims, variants),
        "studies": sections,
        "orphans": orphans,
        "errors": errors,
        "error_figures": error_figures,
        "pair": pair,
        "pair_labels": (
            {"a": _label(variants, pair["a"]), "b": _label(variants, pair["b"])} if pair else {}
        ),
        "hardest_rows": errors["hardest"][:10],
        "confused_rows": errors["confused_pairs"][:10],
        "galleries": gallery_figures,
        "weights": weights,
        "provenance": provenance,
    }


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
    return env.get_template(template_path.name).render(**context)


def write_report(inputs: Mapping, params: Mapping, out) -> None:
    """Rule report: render ``results/report.html`` from the rule's named inputs and params."""
    context = build_context(inputs, params)
    text = render(inputs["template"], context)
    write_text(out, text)
