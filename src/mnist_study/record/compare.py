"""What changed between two studies, judged against seed-to-seed noise: the config keys, every
variant whose results moved (paired by seed and test image, Holm over all), claims, variants.

Feeds the report's "What changed" section (rule changes) and `make compare` (exit 1 when a
named metric got worse beyond noise).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from mnist_study import StudyError
from mnist_study.atomic import write_json
from mnist_study.evidence.effects import Effect, holm, seed_effect, t_quantile, two_way_effect
from mnist_study.evidence.stats import CONFIDENCE, image_blocks, paired_seeds
from mnist_study.formatting import metric_diff, metric_size, pct, pval
from mnist_study.record.history import Record, latest_other, read_record, resolve
from mnist_study.settings import INVOCATION_KEYS

# The metrics compared per variant, and which way is worse.
METRICS = {"test_acc": -1, "gap": +1}
REAL, NOISE, NO_SPREAD = "real", "within seed noise", "no spread to judge (one seed)"
RULE = (
    "Each moved variant's change (new − old) is paired by seed and by test image and judged "
    "like the claims: seeds and test images as two sources of variance, Student's t, Holm's "
    "method over every variant and metric compared (family-wise error rate α). Real: the "
    "Holm-adjusted p is below α. Within seed noise: it is not. The noise threshold is the "
    "smallest change that Holm's step for this change would call real: the t quantile at "
    "1 − α/(2k) times the change's standard error, where k counts the changes whose p is at least "
    "this one's (all m of them for the smallest p)."
)


# ----------------------------------------------------------------------------- config


def flatten(mapping: Mapping, prefix: str = "") -> dict:
    """{dotted.key.path: value}; lists stay whole (a list is one value)."""
    flat = {}
    for key, value in mapping.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, path))
        else:
            flat[path] = value
    return flat


def config_diff(old: Mapping, new: Mapping) -> list[dict]:
    """The keys whose value differs, sorted by path; absent keys show as None with a flag."""
    skip = {k: None for k in INVOCATION_KEYS}
    a = flatten({**old, **skip})
    b = flatten({**new, **skip})
    rows = []
    for key in sorted(set(a) | set(b)):
        if key in a and key in b and _same(a[key], b[key]):
            continue
        rows.append(
            {
                "key": key,
                "old": a.get(key),
                "new": b.get(key),
                "change": "added" if key not in a else "removed" if key not in b else "changed",
            }
        )
    return rows


def _same(x, y) -> bool:
    return json.dumps(x, sort_keys=True, default=str) == json.dumps(y, sort_keys=True, default=str)


# ----------------------------------------------------------------------------- variants


def moved(a: Record, b: Record, variant: str) -> bool:
    """Whether a run of the variant that both studies have predicts differently (or none is
    common and the runs differ): the same runs plus new seeds did not move."""
    common = sorted(set(a.seeds(variant)) & set(b.seeds(variant)))
    if not common:
        return a.seeds(variant) != b.seeds(variant)
    for seed in common:
        for x, y in zip(a.predictions(variant, seed), b.predictions(variant, seed), strict=True):
            if x.shape != y.shape or not np.array_equal(x, y):
                return True
    return False


def seed_changes(a: Record, b: Record) -> list[dict]:
    """Variants in both studies whose seeds differ: {variant, added, removed}."""
    rows = []
    for variant in (v for v in b.variants if v in a.variants):
        old, new = set(a.seeds(variant)), set(b.seeds(variant))
        if old != new:
            rows.append(
                {"variant": variant, "added": sorted(new - old), "removed": sorted(old - new)}
            )
    return rows


def effect(a: Record, b: Record, variant: str, metric: str) -> Effect:
    """B − A of one variant's metric over their common seeds, paired by seed and test image
    (the claims' two-way test); without a common seed, the runs' values unpaired (Welch)."""
    common = sorted(set(a.seeds(variant)) & set(b.seeds(variant)))
    if not common:
        return seed_effect(
            [r[metric] for r in a.meta["runs"] if r["variant"] == variant],
            [r[metric] for r in b.meta["runs"] if r["variant"] == variant],
            paired=False,
        )
    correct = {("old", s): a.correct(variant, s) for s in common}
    correct.update({("new", s): b.correct(variant, s) for s in common})
    seeds = paired_seeds(correct, "old", "new")
    if any(correct[("old", s)].test_set != correct[("new", s)].test_set for s in seeds):
        raise StudyError(f"{variant}: the two studies' test sets differ; compare one dataset")
    if metric == "gap" and any(
        correct[("old", s)].train_set != correct[("new", s)].train_set for s in seeds
    ):
        # Another training subset (train_size changed) overlaps this one: its images neither
        # pair nor sample apart, so the runs' gaps are compared, paired by seed.
        return seed_effect(
            [a.run(variant, s)["gap"] for s in seeds],
            [b.run(variant, s)["gap"] for s in seeds],
            paired=True,
        )
    # One test set (and training subset): image_blocks pairs the two studies' runs per image.
    return two_way_effect(image_blocks(correct, "old", "new", metric, seeds))


def _mean(record: Record, variant: str, metric: str, seeds) -> float:
    """The variant's mean over the seeds compared (all of its seeds when none is common)."""
    runs = [r for r in record.meta["runs"] if r["variant"] == variant]
    values = [float(r[metric]) for r in runs if int(r["seed"]) in seeds] or [
        float(r[metric]) for r in runs
    ]
    return float(np.mean(values)) if values else math.nan


def noise_threshold(e: Effect, alpha: float, m: int) -> float:
    """The smallest change Holm's step with ``m`` hypotheses left calls real: t(1 − α/2m) × se
    (the first step, all hypotheses, for the change with the smallest p)."""
    if not e.df or not e.se or m < 1:
        return math.nan
    return t_quantile(1 - alpha / (2 * m), e.df) * e.se


def variant_rows(a: Record, b: Record, alpha: float) -> list[dict]:
    """One row per moved variant and metric, with Holm over all of them."""
    rows = []
    for variant in [v for v in b.variants if v in a.variants and moved(a, b, v)]:
        for metric in METRICS:
            e = effect(a, b, variant, metric)
            rows.append({"variant": variant, "metric": metric, "effect": e})
    judged = [r for r in rows if r["effect"].df]
    p_values = [r["effect"].p_value() for r in judged]
    for r, p, p_holm in zip(judged, p_values, holm(p_values), strict=True):
        # Holm's step for this change: the hypotheses whose p is at least its own.
        r["p_holm"], r["step"] = p_holm, sum(q >= p for q in p_values)
    return [_row(r, a, b, alpha, r.get("step", len(judged))) for r in rows]


def _row(r: Mapping, a: Record, b: Record, alpha: float, m: int) -> dict:
    e, variant, metric = r["effect"], r["variant"], r["metric"]
    low, high = e.interval(CONFIDENCE)
    p_holm = r.get("p_holm", math.nan)
    verdict = NO_SPREAD if not e.df else REAL if p_holm < alpha else NOISE
    change = e.estimate
    common = set(a.seeds(variant)) & set(b.seeds(variant))
    return {
        "variant": variant,
        "metric": metric,
        "old": _mean(a, variant, metric, common),
        "new": _mean(b, variant, metric, common),
        "seeds": e.n_seeds,
        "paired": bool(common),
        "change": change,
        "ci": [low, high],
        "p": e.p_value(),
        "p_holm": p_holm,
        "threshold": noise_threshold(e, alpha, m),
        "verdict": verdict,
        "worse": verdict == REAL and change * METRICS[metric] > 0,
    }


def claim_changes(a: Record, b: Record) -> list[dict]:
    """Claims whose verdict differs, or that only one of the studies has."""
    old = {c["name"]: c["verdict"] for c in a.meta["claims"]}
    new = {c["name"]: c["verdict"] for c in b.meta["claims"]}
    return [
        {"name": n, "old": old.get(n), "new": new.get(n)}
        for n in [*new, *(n for n in old if n not in new)]
        if old.get(n) != new.get(n)
    ]


# ----------------------------------------------------------------------------- comparison


def compare(a: Record, b: Record, alpha: float | None = None) -> dict:
    """Everything that changed from A (old) to B (new), as JSON-ready data."""
    if a.meta["dataset"] != b.meta["dataset"]:
        raise StudyError(
            f"{a.id} is {a.meta['dataset']}, {b.id} is {b.meta['dataset']}: compare two studies "
            "of one dataset"
        )
    alpha = float(alpha if alpha is not None else b.config.get("alpha", 0.05))
    changes = {
        "old": _identity(a),
        "new": _identity(b),
        "alpha": alpha,
        "rule": RULE,
        "config": config_diff(a.config, b.config),
        "variants": variant_rows(a, b, alpha),
        "seeds": seed_changes(a, b),
        "added": [v for v in b.variants if v not in a.variants],
        "removed": [v for v in a.variants if v not in b.variants],
        "claims": claim_changes(a, b),
    }
    keys = ("config", "variants", "seeds", "added", "removed", "claims")
    changes["nothing_changed"] = not any(changes[k] for k in keys)
    return changes


def _identity(r: Record) -> dict:
    return {k: r.meta.get(k) for k in ("id", "date", "commit", "content_hash")} | {"id": r.id}


def worse(changes: Mapping, metric: str) -> list[str]:
    """The variants whose ``metric`` got worse beyond seed noise."""
    return [r["variant"] for r in changes["variants"] if r["metric"] == metric and r["worse"]]


def value_text(value) -> str:
    return json.dumps(value, default=str) if value is not None else "(absent)"


def row_text(r: Mapping, named: bool = True) -> str:
    """One variant's change in one metric, in words (``named``: led by variant and metric)."""
    metric = r["metric"]
    text = f"{r['variant']} {metric}: " if named else ""
    text += f"{pct(r['old'])} → {pct(r['new'])}, change {metric_diff(metric, r['change'])}"
    low, high = r["ci"]
    if not math.isnan(low):
        text += f" ({CONFIDENCE:.0%} CI {metric_diff(metric, low)} to {metric_diff(metric, high)})"
    text += f", p = {pval(r['p'], 'n/a')} (Holm {pval(r['p_holm'], 'n/a')}): {r['verdict']}"
    if r["verdict"] in (REAL, NOISE):
        text += f"; noise threshold ±{metric_size(metric, r['threshold'])}"
    if not r["paired"]:
        return text + " [no seed in common: the runs compared unpaired]"
    return text + f" [{r['seeds']} paired seeds, means over them]"


def _ranges(values: Sequence[int]) -> str:
    """Integers as runs: [0, 1, 2, 5] -> '0–2, 5'."""
    runs: list[list[int]] = []
    for v in sorted(values):
        if runs and v == runs[-1][-1] + 1:
            runs[-1].append(v)
        else:
            runs.append([v])
    return ", ".join(f"{r[0]}–{r[-1]}" if len(r) > 2 else ", ".join(map(str, r)) for r in runs)


def seeds_text(r: Mapping) -> str:
    parts = [f"{kind} {_ranges(r[kind])}" for kind in ("added", "removed") if r[kind]]
    return f"{r['variant']}: seeds " + "; ".join(parts)


def _count(n: int, what: str) -> str:
    return f"{n} {what}" if n == 1 else f"{n} {what}s"


def summary_line(changes: Mapping) -> str:
    old = changes["old"]
    since = f"{old['id']}" + (f" (commit {old['commit'][:12]})" if old.get("commit") else "")
    if changes["nothing_changed"]:
        return f"Nothing changed since {since}: no config key, prediction or claim verdict differs."
    rows = changes["variants"]
    real = sum(r["verdict"] == REAL for r in rows)
    parts = [
        changes["config"] and f"{_count(len(changes['config']), 'config key')} changed",
        rows
        and f"{_count(len({r['variant'] for r in rows}), 'variant')} moved ({real} of "
        f"{len(rows)} changes real"
        + (", the rest within seed noise or not judged)" if real < len(rows) else ")"),
        changes["seeds"] and f"seeds changed for {_count(len(changes['seeds']), 'variant')}",
        changes["claims"] and f"{_count(len(changes['claims']), 'claim verdict')} changed",
        changes["added"] and f"{_count(len(changes['added']), 'variant')} added",
        changes["removed"] and f"{_count(len(changes['removed']), 'variant')} removed",
    ]
    return f"Since {since}: " + "; ".join(p for p in parts if p) + "."


def text(changes: Mapping) -> str:
    """The comparison as plain text (make compare, logs)."""
    lines = [summary_line(changes)]
    if changes["nothing_changed"]:
        return lines[0] + "\n"
    if changes["config"]:
        lines += ["", "Config:"]
        lines += [
            f"  {c['key']}: {value_text(c['old'])} → {value_text(c['new'])}"
            for c in changes["config"]
        ]
    if changes["variants"]:
        lines += ["", f"Variants whose results moved (α = {changes['alpha']:g}):"]
        lines += [f"  {row_text(r)}" for r in changes["variants"]]
    if changes["claims"]:
        lines += ["", "Claims whose verdict changed:"]
        lines += [
            f"  {c['name']}: {c['old'] or '(absent)'} → {c['new'] or '(absent)'}"
            for c in changes["claims"]
        ]
    if changes["seeds"]:
        lines += ["", "Seeds changed (the runs both studies share are compared):"]
        lines += [f"  {seeds_text(r)}" for r in changes["seeds"]]
    for kind in ("added", "removed"):
        if changes[kind]:
            lines += ["", f"Variants {kind}: {', '.join(changes[kind])}"]
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- entry points


def write_changes(snapshot_dir, since, history, out) -> None:
    """Rule changes: the current study against ``since`` (or the latest record that differs).
    The history folder is read here, not declared as input: a new record reruns nothing."""
    current = read_record(snapshot_dir)
    dataset = current.meta["dataset"]
    result = {"history": str(history), "since": since, "dataset": dataset}
    if since:
        previous = resolve(str(since), history, dataset)
    else:
        folder = latest_other(history, dataset, current.content_hash)
        previous = read_record(folder) if folder else None
    if previous is None:
        result["changes"] = None
        result["summary"] = (
            f"No earlier study of {dataset} is recorded in {history}/ yet; the next report will "
            "show what changed since this one."
        )
    else:
        result["changes"] = compare(previous, current)
        result["summary"] = summary_line(result["changes"])
    write_json(out, result)


def main(argv: Sequence[str]) -> int:
    """python -m mnist_study.record.compare [A] [B] [--metric test_acc] [--history history]:
    what changed from A to B. A and B: a record id, git commit, record folder or study folder;
    A defaults to the latest record that differs from B, B to the study in this folder.
    Exit 1 when ``--metric`` got worse beyond seed noise for any variant, 2 on bad input."""
    parser = argparse.ArgumentParser(
        prog="python -m mnist_study.record.compare", description=main.__doc__
    )
    parser.add_argument("a", nargs="?", default="previous", help="old study (default: previous)")
    parser.add_argument("b", nargs="?", default=".", help="new study (default: this folder)")
    parser.add_argument("--metric", default="test_acc", choices=list(METRICS))
    parser.add_argument("--history", default="history", help="the history folder")
    args = parser.parse_args(argv)
    try:
        changes = _compare_references(args.a, args.b, Path(args.history))
    except StudyError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(text(changes), end="")
    bad = worse(changes, args.metric)
    if bad:
        print(f"{args.metric} got worse beyond seed noise: {', '.join(bad)}")
        return 1
    return 0


def _compare_references(a: str, b: str, history: Path) -> dict:
    new = resolve(b, history, _dataset_hint(b, history))
    if a == "previous":
        folder = latest_other(history, new.meta["dataset"], new.content_hash)
        if folder is None:
            raise StudyError(f"no earlier record of {new.meta['dataset']} in {history}/ to compare")
        old = read_record(folder)
    else:
        old = resolve(a, history, new.meta["dataset"])
    return compare(old, new)


def _dataset_hint(reference: str, history: Path) -> str:
    """The dataset folder to look a record id up in: the only one there, else mnist."""
    folders = sorted(p.name for p in history.glob("*") if p.is_dir()) if history.is_dir() else []
    if len(folders) == 1:
        return folders[0]
    for name in folders:
        if any(p.name.startswith(reference) for p in (history / name).iterdir()):
            return name
    return "mnist"


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
