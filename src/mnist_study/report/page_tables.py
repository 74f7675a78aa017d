"""The Markdown tables that README.md and docs/ quote from kept studies (docs/records): their
timings, claims, results, studies and the configuration keys, each written by one function.
"""

from __future__ import annotations

import csv
import json
import math
import re
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from mnist_study.data.datasets import dataset_info
from mnist_study.formatting import metric_diff, metric_size, pval
from mnist_study.report.plots.forest import claim_group

RECORDS = Path("docs") / "records"
SCHEMA = Path("workflow") / "schemas" / "config.schema.yaml"
# A kept study's files, as `keep` writes them (no weights, no predictions).
RECORD_FILES = ("claims.json", "summary.csv", "efficiency.json", "provenance.json", "config.json")
# The machines a reader may have: a time is quoted only for one that a kept study ran on.
MACHINE_KINDS = ("2 cores", "8 cores", "a GPU")
VERDICTS = ("supported", "contradicted", "inconclusive")
# The pages' line width (README: at most 100 characters a line).
WIDTH = 100


@dataclass(frozen=True)
class Kept:
    """One kept study: its folder and what it recorded."""

    folder: Path
    claims: list[dict]
    summary: list[dict]
    efficiency: dict
    provenance: dict
    config: dict

    @property
    def name(self) -> str:
        return f"{self.folder.parent.name}/{self.folder.name}"

    @property
    def labels(self) -> dict[str, str]:
        return {v: e.get("label", v) for v, e in self.config.get("variants", {}).items()}


def read_kept(folder: Path) -> Kept:
    """A kept study from its folder; a missing file names the folder and what `keep` writes."""
    missing = [name for name in RECORD_FILES if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"{folder}: {', '.join(missing)} missing; a kept study holds {', '.join(RECORD_FILES)}"
            " (python -m mnist_study.report.pages keep <study folder> writes them)"
        )
    with open(folder / "summary.csv", encoding="utf-8", newline="") as handle:
        summary = list(csv.DictReader(handle))
    read = lambda name: json.loads((folder / name).read_text(encoding="utf-8"))  # noqa: E731
    return Kept(
        folder,
        read("claims.json"),
        summary,
        read("efficiency.json"),
        read("provenance.json"),
        read("config.json"),
    )


def kept_studies(root: Path, study: str | None = None) -> list[Path]:
    """Kept studies' folders, oldest first (a record id starts with its UTC date-time); only
    those of one study (``mnist``, ``mnist-replicate``, ``quick``, ...) when it is named."""
    base = root / RECORDS
    names = [study] if study else sorted(p.name for p in base.iterdir() if p.is_dir())
    found = [f for name in names for f in sorted((base / name).glob("*/")) if f.is_dir()]
    return sorted(found, key=lambda f: f.name)


def minutes(seconds: float) -> str:
    whole = round(seconds)
    return f"{whole // 60} min {whole % 60} s" if whole >= 60 else f"{whole} s"


def machine_kind(provenance: Mapping) -> str:
    """Which of MACHINE_KINDS a kept study ran on (its CPU text names the logical CPUs)."""
    machine = provenance.get("machine", {})
    if machine.get("gpu") not in (None, "", "none"):
        return "a GPU"
    cpu = str(machine.get("cpu", ""))
    cores = next((int(w) for w in cpu.replace("(", " ").split() if w.isdigit()), None)
    return f"{cores} cores" if cores else cpu


def timings(kept: Sequence[Kept]) -> str:
    """Every kept study's times, with the machine and its matmul figure, then the machines
    no kept study ran on."""
    lines = []
    for k in kept:
        e, p = k.efficiency, k.provenance
        partial = " (partial: it stood idle between invocations)" if e.get("partial") else ""
        lines.append(
            f"`{k.folder.parent.name}` ({p['date'][:10]}, commit {p['runs_commit'][:7]}) on "
            f"{p['machine']['cpu']}, matmul {e['matmul_flops_per_s'] / 1e9:.1f} GFLOP/s: "
            f"{e['runs_in_study']} runs, {e['train_flops'] / 1e12:.1f} TFLOP, workflow "
            f"{minutes(e['wall_seconds'])}{partial}, {e['ratio']:.2f} times its compute limit "
            f"of {minutes(e['limit_seconds'])}, {100 * e['outside_epoch_share']:.1f}% of job "
            "time outside the epochs."
        )
    seen = {machine_kind(k.provenance) for k in kept}
    unmeasured = [kind for kind in MACHINE_KINDS if kind not in seen]
    if unmeasured:
        text = ", ".join(unmeasured)
        lines.append(f"{text[0].upper()}{text[1:]}: not measured.")
    return "\n".join(wrap_item(line) for line in lines)


def wrap_item(text: str) -> str:
    """A Markdown list item within the pages' line width."""
    lines = textwrap.wrap(
        text, WIDTH, initial_indent="- ", subsequent_indent="  ", break_on_hyphens=False
    )
    return "\n".join(lines)


def findings(k: Kept) -> str:
    """What the latest kept study found, in one paragraph: the count of each verdict and the
    claims that were not supported."""
    by = {v: [c["name"] for c in k.claims if c["verdict"] == v] for v in VERDICTS}
    text = (
        f"On {_title(k)} (kept study "
        f"`{k.name}`), {len(by['supported'])} of {len(k.claims)} claims are supported"
    )
    for verdict in VERDICTS[1:]:
        if by[verdict]:
            text += f"; {verdict}: " + ", ".join(f"`{n}`" for n in by[verdict])
    return textwrap.fill(text + ".", WIDTH)


def _effect(claim: Mapping) -> str:
    metric, (low, high) = claim["metric"], claim["effect_ci"]
    text = (
        f"{metric_diff(metric, claim['effect'])} ({metric_diff(metric, _nan(low))} to "
        f"{metric_diff(metric, _nan(high))})"
    )
    return f"τ {claim['tau']:+.2f}; end to end {text}" if claim.get("tau") is not None else text


def _nan(x):
    return math.nan if x is None else x


def _seeds(claim: Mapping) -> str:
    counts = sorted({len(s) for s in (claim.get("seeds") or {}).values()})
    if not counts:
        return "–"
    return str(counts[0]) if counts[0] == counts[-1] else f"{counts[0]}–{counts[-1]}"


def _forecast(claim: Mapping) -> tuple[str, str, str]:
    row = (claim.get("design") or {}).get("forecast") or {}
    if not row:
        return "not designed", "–", "–"
    return row.get("label", "–"), f"{row['f_same']:.2f}", f"{row['f_new']:.2f}"


def _title(k: Kept) -> str:
    data = k.config.get("data", {})
    return data.get("title") or dataset_info(data.get("dataset", k.provenance["dataset"])).title


def claims_table(k: Kept) -> str:
    """Every claim's verdict, effect, p before and after Holm, seeds and its design row."""
    counts = {v: sum(c["verdict"] == v for c in k.claims) for v in ("supported", "contradicted")}
    counts["inconclusive"] = len(k.claims) - sum(counts.values())
    lines = [
        f"{', '.join(f'{n} {v}' for v, n in counts.items())} of {len(k.claims)} claims "
        f"(record `{k.name}`).",
        "",
        "| claim | verdict | effect (95% CI) | smallest effect | p → Holm | seeds | design "
        "| F_same | F_new |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for c in k.claims:
        sign = "−" if c["expect"] == "not_worse" else "±"
        label, f_same, f_new = _forecast(c)
        lines.append(
            f"| {c['name']} | **{c['verdict']}** | {_effect(c)} "
            f"| {sign}{metric_size(c['metric'], c['smallest_effect'])} "
            f"| {pval(c['p_value'])} → {pval(c['p_holm'])} | {_seeds(c)} | {label} "
            f"| {f_same} | {f_new} |"
        )
    return "\n".join(lines)


def _pct(row: Mapping, key: str) -> str:
    return f"{100 * float(row[key]):.2f}"


def results_table(k: Kept) -> str:
    """Test accuracy, gap and ECE of every variant (mean ± std over its seeds), the seed
    notebook's figure beside the variants that have one."""
    dataset = k.provenance["dataset"]
    variants = k.config.get("variants", {})
    lines = [
        "| variant | seeds | test accuracy (%) | gap (pp) | ECE (%) | reference |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for row in k.summary:
        v = row["variant"]
        ref = (variants.get(v, {}).get("seed_reference") or {}).get(dataset)
        lines.append(
            f"| {k.labels.get(v, v)} | {row['n_seeds']} "
            f"| {_pct(row, 'test_acc_mean')} ± {_pct(row, 'test_acc_std')} "
            f"| {_pct(row, 'gap_mean')} | {_pct(row, 'ece_mean')} "
            f"| {'seed notebook ' + format(ref, 'g') if ref is not None else ''} |"
        )
    return "\n".join(lines)


def _ours(k: Kept, variants: Sequence[str]) -> str:
    rows = {r["variant"]: r for r in k.summary}
    return "; ".join(
        f"{k.labels.get(v, v)} {_pct(rows[v], 'test_acc_mean')}%" for v in variants if v in rows
    )


def studies_section(k: Kept) -> str:
    """Each study's question, its reference from the literature, ours beside it (test accuracy
    per variant and the verdicts of its claims), and what its design cannot show."""
    out, studies = [], k.config.get("studies", {})
    for name, study in studies.items():
        variants = list(study.get("variants", []))
        claims = [c for c in k.claims if claim_group(_with_study(k, c), studies) == study["title"]]
        verdicts = ", ".join(f"`{c['name']}` {c['verdict']}" for c in claims) or "no claim"
        out += [f"**{study['title']}** (`{name}`). {study['question']}", ""]
        if study.get("reference"):
            out += [f"- *Reference:* {study['reference']}"]
        out += [f"- *Ours* (test accuracy): {_ours(k, variants)}.", f"- *Claims:* {verdicts}."]
        if study.get("limits"):
            out += [f"- *Cannot show:* {study['limits']}"]
        out.append("")
    return "\n".join(out).rstrip()


def _with_study(k: Kept, claim: Mapping) -> dict:
    # A claim's `study:` key lives in the config, not in claims.json.
    study = k.config.get("claims", {}).get(claim["name"], {}).get("study")
    return {**claim, "study": study} if study else dict(claim)


def config_keys(root: Path) -> str:
    """config.yaml's top-level keys, from the schema: required or its default, and what it holds."""
    schema = yaml.safe_load((root / SCHEMA).read_text(encoding="utf-8"))
    required = set(schema.get("required", []))
    items = []
    for key, entry in schema["properties"].items():
        default = entry.get("default")
        if key in required:
            need = "required"
        elif isinstance(default, dict | list) and default:
            need = "has defaults"
        else:
            need = f"default `{json.dumps(default)}`"
        items.append(wrap_item(f"`{key}` ({need}): {entry.get('description', '')}"))
    return "\n".join(items)


def commands(root: Path) -> str:
    """`make help` as a list: each target's `## group: text` comment in the Makefile, under its
    group in the Makefile's HELP_GROUPS order, so the README and `make help` read one text."""
    text = (root / "Makefile").read_text(encoding="utf-8")
    order = re.search(r"^HELP_GROUPS := (.*)$", text, flags=re.MULTILINE)[1].split()
    groups: dict[str, list[str]] = {name: [] for name in order}
    for target, group, doc in re.findall(
        r"^([a-z][a-z0-9-]*):[^\n#]*## ([a-z]+): (.*)$", text, flags=re.MULTILINE
    ):
        groups.setdefault(group, []).append(wrap_item(f"`make {target}`: {doc.strip()}"))
    # The groups a reader starts with in full; the others by name (make help has them all).
    full = [f"*{g}*\n\n" + "\n".join(items) for g, items in groups.items() if g in order[:2]]
    names = [
        f"*{g}*: " + ", ".join(re.findall(r"`make ([a-z0-9-]+)`", " ".join(items)))
        for g, items in groups.items()
        if g not in order[:2] and items
    ]
    return "\n\n".join(full) + "\n\n" + "\n".join(wrap_item(n) for n in names)
