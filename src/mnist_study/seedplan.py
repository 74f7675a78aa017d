"""How many seeds each variant trains: pinned in config.yaml, else the committed design's
(workflow/designs/<dataset>.yaml, written by make design), else a default. Base layer."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from mnist_study.settings import (
    HASH_LENGTH,
    ConfigError,
    canonical,
    variant_model,
    variant_training,
)

PINNED, DESIGNED, NOT_DESIGNED, ALL_SEEDS = "pinned", "designed", "not designed", "all seeds"
DESIGNS = "workflow/designs"  # the committed designs, one per dataset, under the repository


def variant_hash(config: Mapping, variant: str) -> str:
    """What a variant trains, hashed (model and training, no seed): a change since the
    design shows as another hash."""
    training = {
        k: v for k, v in variant_training(config, variant, 0).items() if k not in ("seed", "device")
    }
    entry = config["variants"][variant]
    text = json.dumps(
        canonical(
            {
                "model": variant_model(config, variant),
                "training": training,
                **{k: entry[k] for k in ("tune_lr", "lr_from") if k in entry},
            }
        ),
        sort_keys=True,
    )
    return hashlib.sha256(text.encode()).hexdigest()[:HASH_LENGTH]


def design_path(config: Mapping, root: str | Path) -> Path:
    """The design file this study reads: design.file, else workflow/designs/<dataset>.yaml;
    a relative path is taken from the repository ``root``."""
    given = config.get("design", {}).get("file")
    path = Path(given or f"{DESIGNS}/{config['data']['dataset']}.yaml")
    return path if path.is_absolute() else Path(root) / path


def read_design(path: Path) -> tuple[dict | None, str | None]:
    """The design record and the sha256 of its bytes; (None, None) where there is none."""
    import yaml  # only where a design is read, once per Snakemake parse

    if not path.exists():
        return None, None
    try:
        data = path.read_bytes()
        record = yaml.safe_load(data)
    except (OSError, yaml.YAMLError) as err:
        raise ConfigError(f"{path}: {err}") from None
    if not isinstance(record, Mapping) or not isinstance(record.get("variants"), Mapping):
        raise ConfigError(
            f"{path}: not a design (no `variants` mapping); write it with `make design`"
        )
    return dict(record), hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class SeedPlan:
    """Every variant's seed count and where it came from, and the claims the design misses."""

    counts: dict[str, int]
    source: dict[str, str]  # variant -> PINNED, DESIGNED, NOT_DESIGNED or ALL_SEEDS
    undesigned: tuple[str, ...]  # claims new since the design or whose variants changed
    design_file: str | None
    design_sha256: str | None
    design: dict | None = None  # the design record read, where there is one

    def warnings(self) -> list[str]:
        where = self.design_file or f"{DESIGNS}/<dataset>.yaml"
        why = (
            f"there is no design at {where}"
            if self.design_sha256 is None
            else f"it is new, or its variants changed since {where}"
        )
        return [
            f"claim {c!r} is not designed: {why}; it runs with its variants' pinned or default "
            f"seeds. Run `make design` to plan it."
            for c in self.undesigned
        ]


def _base(variant: str) -> str:
    return variant.split("@", 1)[0]


def plan_seeds(
    config: Mapping, design: Mapping | None, sha256: str | None = None, file: str | None = None
) -> SeedPlan:
    """Each variant's seeds: its pin (variants.<v>.n_seeds), else the design's where its
    config hash still matches, else design.undesigned_seeds (at most len(seeds)). With
    design.use false (the pilot, make quick) every variant trains all of ``seeds``."""
    settings = config.get("design", {})
    variants = config["variants"]
    if not settings.get("use", True):
        n = len(config["seeds"])
        return SeedPlan(
            dict.fromkeys(variants, n), dict.fromkeys(variants, ALL_SEEDS), (), None, None
        )
    planned = (design or {}).get("variants", {})
    default = min(int(settings.get("undesigned_seeds", 3)), len(config["seeds"]))
    counts, source = {}, {}
    for v, entry in variants.items():
        got = planned.get(v)
        if "n_seeds" in entry:
            counts[v], source[v] = int(entry["n_seeds"]), PINNED
        elif got is not None and got.get("config") == variant_hash(config, v):
            counts[v], source[v] = int(got["n_seeds"]), DESIGNED
        else:
            counts[v], source[v] = default, NOT_DESIGNED
    designed_claims = (design or {}).get("claims", {})
    undesigned = tuple(
        name
        for name, claim in config.get("claims", {}).items()
        if name not in designed_claims
        or any(source[_base(v)] == NOT_DESIGNED for v in claim["variants"])
    )
    return SeedPlan(counts, source, undesigned, file, sha256, dict(design) if design else None)


TOTALS = ("budget_tflop", "agreement", "simulations", "training_tflop", "reached", "lowest_f_same")


def summary(plan: SeedPlan) -> dict:
    """What the claims and the report show of the design: its file and hash, every variant's
    seeds and their source, the design's rows and totals, and the claims it does not cover."""
    record = plan.design or {}
    return canonical(
        {
            "file": plan.design_file,
            "sha256": plan.design_sha256,
            "undesigned": list(plan.undesigned),
            "seeds": {v: {"n": plan.counts[v], "source": plan.source[v]} for v in plan.counts},
            "claims": {
                c: row for c, row in record.get("claims", {}).items() if c not in plan.undesigned
            },
            "variants": record.get("variants", {}),
            "totals": {k: record[k] for k in TOTALS if k in record},
        }
    )


def apply(config: dict, plan: SeedPlan) -> None:
    """Write the plan's counts into the config (variants.<v>.n_seeds), where seeds_of and every
    job read them; pins stay as given."""
    if not config.get("design", {}).get("use", True):
        return
    for v, n in plan.counts.items():
        config["variants"][v]["n_seeds"] = n


def _span(start: int, n: int) -> range:
    return range(start, start + n)


def seed_sets(
    runs: int, sweep_runs: int, offsets: Mapping[str, int], tuning_offset: int, pilot_runs: int
) -> dict[str, range]:
    """The seeds each study draws (study, replicate, pilot) and their sweeps': a study's claim
    runs start at its seed_offset, its sweeps at that plus tuning.seed_offset."""
    sizes = {"study": runs, "replicate": runs, "pilot": pilot_runs}
    sets = {}
    for name, offset in offsets.items():
        sets[name] = _span(offset, sizes[name])
        sets[f"{name} sweeps"] = _span(offset + tuning_offset, sweep_runs)
    return sets


def overlaps(sets: Mapping[str, range]) -> list[tuple[str, str]]:
    names = list(sets)
    return [
        (a, b) for i, a in enumerate(names) for b in names[i + 1 :] if set(sets[a]) & set(sets[b])
    ]


def offsets_for(runs: int, pilot_runs: int, sweep_runs: int) -> dict[str, int]:
    """Seed offsets that keep every set apart for ``runs`` seeds a variant: the layout of
    config.yaml (replicate 100, sweeps 500 on, pilot 1000) in units of the hundreds it asks."""
    unit = 100 * -(-max(runs, pilot_runs, sweep_runs) // 100)
    return {"replicate": unit, "tuning": 5 * unit, "pilot": 10 * unit}


def describe(sets: Mapping[str, range]) -> str:
    return ", ".join(f"{name} {r.start}-{r.stop - 1}" for name, r in sets.items() if len(r))


@dataclass(frozen=True)
class Layout:
    """The seed sets at the repository's offsets for ``runs`` seeds a variant, the pairs that
    share seeds, and the offsets that would keep every set apart."""

    runs: int
    sets: dict[str, range]
    clash: list[tuple[str, str]]
    fix: dict[str, int]

    def text(self) -> str:
        return describe(self.sets)


def _layer(root: Path, name: str) -> dict:
    import yaml  # only for the seed offsets, once per parse or design

    path = root / name
    return (yaml.safe_load(path.read_text(encoding="utf-8")) or {}) if path.exists() else {}


def layout(root: str | Path, runs: int, tuning: Mapping) -> Layout:
    """The study's (config.yaml), replicate's and pilot's seeds (workflow/replicate.yaml,
    workflow/pilot.yaml under ``root``) and their sweeps' (``tuning``) for ``runs`` seeds."""
    root = Path(root)
    pilot = _layer(root, "workflow/pilot.yaml")
    offsets = {
        "study": int(_layer(root, "config.yaml").get("seed_offset", 0)),
        "replicate": int(_layer(root, "workflow/replicate.yaml").get("seed_offset", 0)),
        "pilot": int(pilot.get("seed_offset", 0)),
    }
    pilot_runs = len(pilot.get("seeds") or [0, 1, 2])
    sweep_runs = int(tuning["seeds"])
    sets = seed_sets(runs, sweep_runs, offsets, int(tuning["seed_offset"]), pilot_runs)
    return Layout(runs, sets, overlaps(sets), offsets_for(runs, pilot_runs, sweep_runs))
