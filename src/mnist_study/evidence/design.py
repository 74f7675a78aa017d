"""The study's design from its pilot: every variant's seeds within the training budget, and
for every claim how often its verdict would repeat (mnist_study.evidence.forecast).

Run on a finished pilot (make design):
python -m mnist_study.evidence.design <pilot folder> <config ...> --out <design stem>
  [--budget TFLOP] [--study <results folder>]
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from mnist_study import StudyError
from mnist_study.atomic import write_text
from mnist_study.evidence import power
from mnist_study.evidence.allocation import (
    SEED_GRID,
    Allocation,
    Curve,
    allocate,
    curve,
    labels,
    to_reach,
)
from mnist_study.evidence.claim_effects import Evidence
from mnist_study.evidence.claims import Claim, base_variant
from mnist_study.evidence.forecast import SIMULATIONS, ClaimModel, Contrast, Forecast, Group
from mnist_study.evidence.forecast import forecast as forecast_family
from mnist_study.runrecord import read_run_record, run_flops
from mnist_study.seedplan import layout, variant_hash
from mnist_study.settings import load_study_config, resolve_dataset

DEFAULT_RATIO = 2.5  # wall time over the matmul limit where no earlier study measured it
# The design file's wall time is at this matmul figure, so that it is the same on every machine.
REFERENCE_MATMUL = 100e9


def contrast_weights(claim: Claim, a: str, b: str) -> dict[str, float]:
    """The weights of the variants in the effect a claim's test reads: B - A for a pair (and
    each comparison, and a trend's ends), the difference of differences of an interaction,
    (C - B) - share x (A - B) of a recovery, the variant itself for a level."""
    if claim.kind == "level":
        return {claim.variants[0]: 1.0}
    if claim.kind == "interaction":
        a1, b1, a2, b2 = claim.variants
        return {a1: 1.0, b1: -1.0, a2: -1.0, b2: 1.0}
    if claim.kind == "recovery":
        ref, loss, remedy = claim.variants
        return {ref: -claim.share, loss: claim.share - 1.0, remedy: 1.0}
    return {a: -1.0, b: 1.0}


def _run_sd(ev: Evidence, claim: Claim, variant: str) -> float:
    """The per-run spread of the claim's metric on a variant (its best-epoch name reads the
    variant's own runs); 1 where the pilot has fewer than two runs of it, or where the metric
    is no per-run value (a pair's disagreements)."""
    try:
        values = [v for v, _ in ev.values(claim, base_variant(variant)).values()]
    except ValueError:
        return 1.0
    values = [v for v in values if not math.isnan(v)]
    return float(np.std(values, ddof=1)) if len(values) > 1 else 1.0


def _loadings(ev: Evidence, claim: Claim, weights: Mapping[str, float]):
    """Each variant's share of the contrast's seed spread (unit norm): a variant whose runs
    spread more carries more of it."""
    raw = {v: w * _run_sd(ev, claim, v) for v, w in weights.items()}
    norm = math.sqrt(sum(x * x for x in raw.values())) or 1.0
    return tuple((f"{v}:{claim.metric}", x / norm) for v, x in raw.items())


def claim_model(claim: Claim, ev: Evidence, n_images: int) -> ClaimModel:
    """What the forecast needs of a claim, from the pilot's runs of its variants."""
    contrasts = []
    for a, b, effect in ev.comparison_effects(claim):
        contrasts.append(
            Contrast(
                effect=effect.estimate,
                seed_sd=effect.se_seed * math.sqrt(effect.n_seeds),
                se_image=effect.se_image,
                sources=_loadings(ev, claim, contrast_weights(claim, a, b)),
            )
        )
    groups = ()
    if claim.kind == "trend":
        groups = tuple(
            Group(float(np.mean(g)), float(np.std(g, ddof=1)), f"{v}:{claim.metric}")
            for v, g in zip(claim.variants, ev.groups(claim), strict=True)
        )
    runs = ev.runs["variant"]
    pilot_seeds = min(int((runs == base_variant(v)).sum()) for v in claim.variants)
    return ClaimModel(
        claim.name,
        claim.kind,
        claim.expect,
        claim.smallest_effect,
        tuple(contrasts),
        groups,
        pilot_seeds,
        n_images,
    )


@dataclass(frozen=True)
class ClaimDesign:
    """One claim's row of the design: its label, seeds and forecasts."""

    name: str
    label: tuple[str, ...]
    seeds_needed: int | None  # for F_same to reach the agreement; None: beyond the grid
    seeds_given: int
    at_pilot: Forecast
    at_smallest: Forecast
    tflop: float  # the claim's variants' training at the seeds given
    tflop_to_reach: float  # the whole study's, once the claim has the seeds it needs


@dataclass(frozen=True)
class Design:
    dataset: str
    budget_tflop: float
    agreement: float
    alpha: float
    allocation: Allocation
    run_tflop: dict[str, float]
    claims: tuple[ClaimDesign, ...]
    variant_hashes: dict[str, str]


def make_design(
    models: Mapping[str, ClaimModel],
    variants_of: Mapping[str, frozenset[str]],
    run_tflop: Mapping[str, float],
    settings: Mapping,
) -> tuple[Allocation, tuple[ClaimDesign, ...]]:
    """The allocation within ``settings['budget_tflop']``, then every claim's forecasts at
    it (the whole family, Holm-Shaffer), at the pilot's effects and at the smallest ones."""
    alpha, agreement = settings["alpha"], settings["agreement"]
    curves: dict[str, Curve] = {
        n: curve(m, variants_of[n], alpha, len(models)) for n, m in models.items()
    }
    plan = allocate(
        curves, run_tflop, settings["budget_tflop"], agreement, settings.get("pinned", {})
    )
    family = list(models.values())
    at_pilot = forecast_family(family, plan.seeds, alpha)
    at_smallest = forecast_family(family, plan.seeds, alpha, at_smallest=True)
    rows = []
    for name, cv in curves.items():
        need, reach_tflop = to_reach(cv, plan.seeds, run_tflop, agreement)
        given = min(plan.seeds[v] for v in cv.variants)
        rows.append(
            ClaimDesign(
                name=name,
                label=labels(at_pilot[name].same, at_pilot[name].new, agreement),
                seeds_needed=need,
                seeds_given=given,
                at_pilot=at_pilot[name],
                at_smallest=at_smallest[name],
                tflop=sum(plan.seeds[v] * run_tflop[v] for v in cv.variants),
                tflop_to_reach=reach_tflop,
            )
        )
    return plan, tuple(rows)


def read_pilot(folder: Path, config: Mapping) -> tuple[Evidence, dict[str, Claim], int]:
    """A finished pilot's evidence (mnist_study.evidence.power.read_pilot), the configured
    claims its runs cover, and the number of test images its runs were scored on."""
    evidence, claims = power.read_pilot(folder, config)
    n_images = int(next(iter(evidence.correct.values())).test.size) if evidence.correct else 0
    return evidence, {n: Claim.from_dict(n, c) for n, c in claims.items()}, n_images


def run_tflop(folder: Path, variants) -> dict[str, float]:
    """Each variant's training TFLOP per run, from its pilot runs' own records."""
    out = {}
    for v in variants:
        paths = sorted((folder / "results/runs" / v).glob("seed*/train.json"))
        if not paths:
            raise StudyError(
                f"{folder}/results/runs/{v}: no pilot run of variant {v!r}; run `make design` "
                "(it pilots every variant first)"
            )
        out[v] = float(np.mean([run_flops(read_run_record(p)) for p in paths])) / 1e12
    return out


def _sig(x: float) -> float:
    """Four significant digits: a figure of the design file, not of its arithmetic."""
    return float(f"{x:.4g}")


def _pct(x: float) -> str:
    return f"{x:.1%}"


def _seeds_text(n: int | None) -> str:
    return str(n) if n is not None else f"> {SEED_GRID[-1]}"


def _reach(c: ClaimDesign) -> float | None:
    """The study's TFLOP once a budget-limited claim has the seeds it needs (None: resolved,
    or not within the grid)."""
    if c.seeds_needed is None or "resolved" in c.label:
        return None
    return _sig(c.tflop_to_reach)


def design_record(design: Design, config: Mapping) -> dict:
    """The design file's content: every variant's seeds and config hash, and each claim's
    label and forecasts (rounded: the same pilot writes the same file)."""
    plan = design.allocation
    return {
        "dataset": design.dataset,
        "budget_tflop": design.budget_tflop,
        "agreement": design.agreement,
        "alpha": design.alpha,
        "simulations": SIMULATIONS,
        "training_tflop": _sig(plan.tflop),
        "reached": len(plan.reached),
        "lowest_f_same": round(plan.lowest, 3),
        "variants": {
            v: {
                "n_seeds": plan.seeds[v],
                "tflop_per_run": _sig(design.run_tflop[v]),
                "config": design.variant_hashes[v],
            }
            for v in design.run_tflop
        },
        "claims": {
            c.name: {
                "label": ", ".join(c.label),
                "seeds_needed": c.seeds_needed,
                "seeds_given": c.seeds_given,
                "likeliest": likeliest(c.at_pilot)[0],
                "likeliest_share": round(likeliest(c.at_pilot)[1], 3),
                "f_same": round(c.at_pilot.same, 3),
                "f_new": round(c.at_pilot.new, 3),
                "f_same_at_smallest": round(c.at_smallest.same, 3),
                "f_new_at_smallest": round(c.at_smallest.new, 3),
                "tflop": _sig(c.tflop),
                "tflop_to_reach": _reach(c),
                "variants": sorted(map(base_variant, config["claims"][c.name]["variants"])),
            }
            for c in design.claims
        },
    }


def likeliest(result: Forecast) -> tuple[str, float]:
    """The verdict a study of the design's seeds most likely gives, and how likely: two
    studies that agree by both staying inconclusive have not answered the claim."""
    word = max(sorted(result.shares), key=lambda w: result.shares[w])
    return word, result.shares[word]


def claims_table(design: Design) -> list[str]:
    lines = [
        "| claim | label | likeliest verdict | seeds needed | seeds given | F_same (pilot's "
        "effect) | F_new (pilot's effect) | F_same (smallest effect) | F_new (smallest effect) "
        "| TFLOP | TFLOP to reach |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for c in design.claims:
        reach = "" if _reach(c) is None else f"{c.tflop_to_reach:.1f}"
        word, share = likeliest(c.at_pilot)
        lines.append(
            f"| {c.name} | {', '.join(c.label)} | {word} ({_pct(share)}) | "
            f"{_seeds_text(c.seeds_needed)} | "
            f"{c.seeds_given} | {_pct(c.at_pilot.same)} | {_pct(c.at_pilot.new)} | "
            f"{_pct(c.at_smallest.same)} | {_pct(c.at_smallest.new)} | {c.tflop:.1f} | {reach} |"
        )
    return lines


def variants_table(design: Design) -> list[str]:
    lines = ["| variant | seeds | TFLOP per run | TFLOP |", "| --- | --- | --- | --- |"]
    for v, per_run in design.run_tflop.items():
        n = design.allocation.seeds[v]
        lines.append(f"| {v} | {n} | {per_run:.3f} | {n * per_run:.1f} |")
    return lines


def markdown(design: Design, layout: str) -> str:
    plan = design.allocation
    wall = plan.tflop * 1e12 / REFERENCE_MATMUL * DEFAULT_RATIO / 60
    head = [
        f"# Design: {design.dataset}",
        "",
        f"Written by `make design` from the pilot. Budget {design.budget_tflop:g} TFLOP of "
        f"training (pilots and sweeps aside); agreement {design.agreement:.0%}; alpha "
        f"{design.alpha:g} over {len(design.claims)} claims (Holm-Shaffer). {METHOD}",
        "",
        f"Total: {plan.tflop:.1f} TFLOP of training; {len(plan.reached)} of "
        f"{len(design.claims)} claims reach the agreement; the lowest F_same is "
        f"{_pct(plan.lowest)}. Forecast wall time: the TFLOP over the machine's `bench_matmul` "
        f"figure, times the ratio of the last study's efficiency.json ({DEFAULT_RATIO:g} where "
        f"there is none): {wall:.0f} min at {REFERENCE_MATMUL / 1e9:.0f} GFLOP/s; `make design` "
        f"prints this machine's, the report the study's.",
        "",
        layout,
        "",
        "## Claims",
        "",
    ]
    return (
        "\n".join(head + claims_table(design) + ["", "## Variants", ""] + variants_table(design))
        + "\n"
    )


METHOD = (
    f"F_same: the chance that a second study on disjoint seeds and the same test images gives "
    f"the same verdict; F_new: the same for a study on a fresh test set of the same size with "
    f"unlimited seeds (the image component alone). Both are predictive (Pawel & Held 2020): "
    f"{SIMULATIONS} simulated pairs of studies, each drawing the effect and the seed spread from "
    f"the pilot (chi-square on its degrees of freedom), each judging every claim at once; claims "
    f"that read the same runs share them. Seeds are chosen on a grid ({SEED_GRID[0]} to "
    f"{SEED_GRID[-1]}): first the most claims that reach the agreement within the budget, then "
    f"the highest lowest F_same."
)


def wall_seconds(tflop: float, folders: list[Path]) -> float | None:
    """The forecast wall time of ``tflop`` of training on this machine: over its matmul figure,
    times the ratio the last study measured (its efficiency.json), else DEFAULT_RATIO."""
    matmul, ratio = None, None
    for folder in folders:
        for name in ("efficiency.json", "matmul.json"):
            path = folder / "results/tables" / name
            if path.exists():
                figures = json.loads(path.read_text(encoding="utf-8"))
                matmul = matmul or figures.get("matmul_flops_per_s")
                if name == "efficiency.json" and ratio is None:
                    ratio = figures.get("ratio")
    if not matmul:
        return None
    return tflop * 1e12 / matmul * (ratio or DEFAULT_RATIO)


def retrain_tflop(old: Mapping | None, new: Mapping) -> tuple[float, list[str]]:
    """What moving from the committed design to this one retrains (TFLOP), and a line per
    variant that changes: added seeds train, removed seeds train nothing, and a variant whose
    config changed trains all its seeds again."""
    before = (old or {}).get("variants", {})
    total, lines = 0.0, []
    for v, now in new["variants"].items():
        was = before.get(v)
        if was is None or was["config"] != now["config"]:
            runs, why = now["n_seeds"], "new" if was is None else "config changed"
        else:
            runs, why = max(now["n_seeds"] - was["n_seeds"], 0), None
            if now["n_seeds"] == was["n_seeds"]:
                continue
        total += runs * now["tflop_per_run"]
        was_seeds = "-" if was is None else was["n_seeds"]
        lines.append(
            f"  {v}: {was_seeds} -> {now['n_seeds']} seeds"
            + (f" ({why})" if why else "")
            + f", {runs * now['tflop_per_run']:.2f} TFLOP to train"
        )
    return total, lines


def build(folder: Path, config: Mapping, budget: float | None = None) -> Design:
    """The design of ``config``'s study from its pilot in ``folder``."""
    pinned = {v: int(e["n_seeds"]) for v, e in config["variants"].items() if "n_seeds" in e}
    settings = {**config.get("design", {}), "alpha": config["alpha"], "pinned": pinned}
    settings.setdefault("budget_tflop", 215.0)
    settings.setdefault("agreement", 0.9)
    if budget is not None:
        settings["budget_tflop"] = budget
    ev, claims, n_images = read_pilot(folder, config)
    models = {n: claim_model(c, ev, n_images) for n, c in claims.items()}
    variants_of = {n: frozenset(map(base_variant, c.variants)) for n, c in claims.items()}
    tflop = run_tflop(folder, list(config["variants"]))
    plan, rows = make_design(models, variants_of, tflop, settings)
    return Design(
        dataset=config["data"]["dataset"],
        budget_tflop=float(settings["budget_tflop"]),
        agreement=float(settings["agreement"]),
        alpha=float(config["alpha"]),
        allocation=plan,
        run_tflop=tflop,
        claims=rows,
        variant_hashes={v: variant_hash(config, v) for v in config["variants"]},
    )


def seed_layout(design: Design, root: Path, tuning: Mapping) -> str:
    """Whether the most seeds a variant has keep the study, replicate, pilot and sweep seeds
    apart at the repository's seed offsets, and the offsets that would where they do not."""
    most = max(design.allocation.seeds, key=design.allocation.seeds.get)
    seeds = layout(root, design.allocation.seeds[most], tuning)
    text = f"Seeds: the most a variant trains is {seeds.runs} ({most}): {seeds.text()}"
    if not seeds.clash:
        return text + ", all apart at the present seed offsets."
    fix = seeds.fix
    return (
        text + f". These overlap: set workflow/replicate.yaml seed_offset: {fix['replicate']}, "
        f"config.yaml tuning.seed_offset: {fix['tuning']}, workflow/pilot.yaml seed_offset: "
        f"{fix['pilot']} (the study stops at `snakemake -n` until they are)."
    )


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    config = load_study_config(args.config)
    config.setdefault("data", {}).setdefault("dataset", "mnist")
    resolve_dataset(config)
    design = build(Path(args.pilot), config, args.budget)
    record = design_record(design, config)
    study = [Path(args.study)] if args.study else []
    wall = wall_seconds(design.allocation.tflop, [*study, Path(args.pilot)])
    text = markdown(design, seed_layout(design, Path(args.root), config["tuning"]))
    stem = Path(args.out)
    committed = stem.with_suffix(".yaml")
    old = yaml.safe_load(committed.read_text(encoding="utf-8")) if committed.exists() else None
    retrain, lines = retrain_tflop(old, record)
    print(text)
    print(
        "Forecast wall time on this machine: "
        + (
            "unknown (no bench_matmul figure in the pilot or the study)"
            if wall is None
            else f"{wall / 60:.0f} min"
        )
    )
    print(f"Against {committed}: " + ("no change" if not lines else "\n" + "\n".join(lines)))
    minutes = wall_seconds(retrain, [*study, Path(args.pilot)])
    print(
        f"The change retrains {retrain:.2f} TFLOP"
        + ("" if minutes is None else f", about {minutes / 60:.0f} min on this machine")
    )
    if args.budget is None:
        write_text(committed, HEADER + yaml.safe_dump(record, sort_keys=False, width=100))
        write_text(stem.with_suffix(".md"), text)
    return 0


HEADER = (
    "# Written by `make design` from the pilot: the study reads every variant's n_seeds here.\n"
    "# Do not edit by hand; after a change to a claim or a variant, run `make design` again.\n"
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pilot", help="the pilot's folder (results/pilot/<dataset>)")
    parser.add_argument("config", nargs="+", help="the study's config files, in order")
    parser.add_argument("--out", required=True, help="the design's stem: <stem>.yaml, <stem>.md")
    parser.add_argument("--budget", type=float, help="explore this TFLOP budget; write nothing")
    parser.add_argument("--study", help="the study's folder, for its measured speed")
    parser.add_argument("--root", default=".", help="the repository, for its seed offsets")
    return parser


if __name__ == "__main__":
    raise SystemExit(main())
