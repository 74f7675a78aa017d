"""config.yaml as data: its layers merged, its structure checked against the JSON schema, the
values a rule reads (seeds, a variant's settings), and the hash that names a study. Base layer.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path

from mnist_study import StudyError
from mnist_study.atomic import json_safe


class ConfigError(StudyError, ValueError):
    """config.yaml is not valid; the message names the key path and what would be valid."""


def _path(parts: Iterable) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


BOUNDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")


def _range(schema: Mapping) -> str:
    """A schema's numeric bounds in words: 'in (0, 1)', 'in [0, 1)', '> 0', '>= 1'."""
    low = ("(", schema["exclusiveMinimum"]) if "exclusiveMinimum" in schema else None
    low = ("[", schema["minimum"]) if low is None and "minimum" in schema else low
    high = (")", schema["exclusiveMaximum"]) if "exclusiveMaximum" in schema else None
    high = ("]", schema["maximum"]) if high is None and "maximum" in schema else high
    if low and high:
        return f"in {low[0]}{low[1]:g}, {high[1]:g}{high[0]}"
    if low:
        return f"{'>' if low[0] == '(' else '>='} {low[1]:g}"
    return f"{'<' if high[0] == ')' else '<='} {high[1]:g}"


def _describe(error) -> str:
    """One jsonschema error as 'key.path: what is wrong; what is valid'."""
    where, value, schema = _path(error.absolute_path), error.instance, error.schema
    kind = error.validator
    if kind == "additionalProperties":
        allowed = sorted(schema.get("properties", {}))
        unknown = sorted(set(value) - set(allowed))
        return f"{where}: unknown key(s) {unknown}; valid: {allowed}"
    if kind == "required":
        return f"{where}: {error.message}; required: {schema['required']}"
    if kind == "enum":
        return f"{where}: {value!r}; valid: {schema['enum']}"
    if kind == "propertyNames":
        return f"{where}: {error.message}"
    if kind in BOUNDS:
        return f"{where}: {value!r}; valid: a number {_range(schema)}"
    description = schema.get("description")
    return f"{where}: {error.message}" + (f" (expected: {description})" if description else "")


def schema_errors(config: Mapping, schema: Mapping) -> list[str]:
    """Every structural error of ``config`` against ``schema``, by key path."""
    import jsonschema  # a light parse: Snakemake loads this module, jsonschema only to check

    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: [str(p) for p in e.absolute_path])
    return [_describe(e) for e in errors]


def check_structure(config: Mapping, schema_path: str | Path) -> None:
    import yaml  # only when the config is checked, once per Snakemake parse

    schema = yaml.safe_load(Path(schema_path).read_text(encoding="utf-8"))
    errors = schema_errors(config, schema)
    if errors:
        raise ConfigError("config.yaml:\n  " + "\n  ".join(errors))


# Claim keys that may differ between datasets: a number, or a mapping dataset -> number.
PER_DATASET_CLAIM_KEYS = ("threshold", "smallest_effect", "epoch", "level")


def _for_dataset(value, dataset: str, where: str):
    if not isinstance(value, Mapping):
        return value
    if dataset not in value:
        raise ConfigError(
            f"config.yaml: {where} gives values for {sorted(value)} but not for the dataset "
            f"under study, {dataset!r}; add `{dataset}: <value>` (fixed before any run)"
        )
    return value[dataset]


def resolve_dataset(config: dict) -> None:
    """Settle every per-dataset claim value to the dataset under study, before the checks:
    thresholds and the like become numbers. The result still passes the schema (the rule graph
    job hands it to a nested Snakemake). Seed references stay per dataset: the report shows a
    variant's reference only in the study of the dataset it names."""
    dataset = config["data"]["dataset"]
    for name, claim in config.get("claims", {}).items():
        if not isinstance(claim, dict):
            continue
        for key in PER_DATASET_CLAIM_KEYS:
            if key in claim:
                claim[key] = _for_dataset(claim[key], dataset, f"claims.{name}.{key}")
    for name, entry in config.get("variants", {}).items():
        sweep = entry.get("tune_lr") if isinstance(entry, dict) else None
        if isinstance(sweep, dict) and "threshold" in sweep:
            where = f"variants.{name}.tune_lr.threshold"
            sweep["threshold"] = _for_dataset(sweep["threshold"], dataset, where)


def load_study_config(paths: list[str]) -> dict:
    """config.yaml and its layers, merged key by key as Snakemake merges --configfile."""
    import yaml  # only here: the rules get config.yaml from Snakemake, already parsed

    merged: dict = {}
    for path in paths:
        _deep_update(merged, yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {})
    return merged


def _deep_update(into: dict, layer: Mapping) -> None:
    for key, value in layer.items():
        if isinstance(value, Mapping) and isinstance(into.get(key), dict):
            _deep_update(into[key], value)
        else:
            into[key] = value


def sweep_owner(config: Mapping, variant: str) -> str:
    """The variant whose sweep runs a tuned variant chooses from: its own, or the one it
    ``shares`` (the same runs, chosen by another metric)."""
    return config["variants"][variant]["tune_lr"].get("shares", variant)


def sweep_dict(config: Mapping, variant: str) -> dict:
    """A tuned variant's sweep as its choice reads it: a shared sweep's values are its owner's.
    Raises ValueError naming the key path where the two variants would not train alike."""
    entry = dict(config["variants"][variant]["tune_lr"])
    owner = entry.pop("shares", None)
    if owner is None:
        return entry
    where = f"variants.{variant}.tune_lr.shares"
    own = config["variants"].get(owner, {}).get("tune_lr")
    if not isinstance(own, Mapping) or "shares" in own or owner == variant:
        valid = sorted(
            v
            for v, e in config["variants"].items()
            if v != variant and "tune_lr" in e and "shares" not in e["tune_lr"]
        )
        raise ValueError(
            f"{where}: {owner!r} is no variant with a sweep of its own; valid: {valid}"
        )
    if "values" in entry:
        raise ValueError(
            f"{where[: -len('.shares')]}.values: a shared sweep takes {owner}'s values"
        )
    differ = [
        key
        for key, mine, theirs in (
            ("model", variant_model(config, variant), variant_model(config, owner)),
            ("training", _but_lr(config, variant), _but_lr(config, owner)),
        )
        if mine != theirs
    ]
    if differ:
        raise ValueError(
            f"{where}: {owner!r} trains otherwise ({', '.join(differ)} differ): a shared sweep's "
            f"runs must be the ones this variant would train"
        )
    return {**entry, "values": list(own["values"])}


def _but_lr(config: Mapping, variant: str) -> dict:
    return {k: v for k, v in variant_training(config, variant, 0).items() if k != "lr"}


def lr_source(config: Mapping, variant: str) -> str | None:
    """The tuned variant whose chosen lr this variant trains at: itself when tuned, the one its
    ``lr_from`` names, else None (it trains at its configured lr)."""
    entry = config["variants"][variant]
    if "tune_lr" in entry:
        return variant
    return entry.get("lr_from")


def select_studies(config: dict) -> None:
    """With only_studies set, keep just those studies, their variants and the claims about
    them: fewer jobs through the same rules (make quick)."""
    chosen = config["only_studies"]
    if not chosen:
        return
    config["studies"] = {s: e for s, e in config["studies"].items() if s in chosen}
    kept = {v for e in config["studies"].values() for v in e["variants"]}
    # What a kept variant reads from another (a shared sweep, a chosen lr) stays with it.
    for v in list(kept):
        entry = config["variants"].get(v, {})
        kept |= {entry.get("lr_from"), entry.get("tune_lr", {}).get("shares")} - {None}
    config["variants"] = {v: e for v, e in config["variants"].items() if v in kept}
    config["claims"] = {
        c: e for c, e in config.get("claims", {}).items() if set(e["variants"]) <= kept
    }


def seeds_of(config: Mapping, variant: str) -> list[int]:
    """The seeds that train a variant: its first n_seeds (the design's or its pin, which
    rules/common.smk set) of ``seeds``, on past the list's end where it has fewer, each plus
    seed_offset. With design.use false (the pilot, make quick) all of ``seeds``."""
    seeds = [int(s) for s in config["seeds"]]
    n = len(seeds)
    if config.get("design", {}).get("use", True):
        n = int(config["variants"][variant].get("n_seeds", n))
    more = range(max(seeds) + 1, max(seeds) + 1 + max(n - len(seeds), 0))
    offset = int(config.get("seed_offset", 0))
    return [s + offset for s in [*seeds, *more][:n]]


def canonical(value):
    """Mappings with sorted keys, all the way down: Snakemake records a rule's params in the
    order given, so without this, reordering keys in config.yaml would rerun the jobs."""
    if isinstance(value, Mapping):
        return {k: canonical(value[k]) for k in sorted(value)}
    if isinstance(value, list | tuple):
        return [canonical(v) for v in value]
    return value


def variant_model(config: Mapping, variant: str) -> dict:
    return canonical(config["variants"][variant]["model"])


def variant_training(config: Mapping, variant: str, seed: int) -> dict:
    """Defaults, then the variant's overrides, then the global override (quick runs)."""
    return canonical(
        {
            **config["training"],
            **config["variants"][variant].get("training", {}),
            **config.get("training_override", {}),
            "seed": int(seed),
            "device": config["device"],
        }
    )


# Keys that say how a report is made, not what the study is: they never make a study differ.
INVOCATION_KEYS = ("since", "history")
HASH_LENGTH = 12


def recorded_config(config: Mapping) -> dict:
    """The resolved config as it identifies a study: without the invocation keys, keys sorted."""
    kept = {k: v for k, v in config.items() if k not in INVOCATION_KEYS}
    return json.loads(json.dumps(json_safe(kept), sort_keys=True, default=str))


def config_hash(config: Mapping) -> str:
    """Short hash of the resolved config: the report's provenance and the history record."""
    text = json.dumps(recorded_config(config), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:HASH_LENGTH]


def labels(config: Mapping) -> dict[str, str]:
    """Display name of every variant (its key where no label is given)."""
    return {name: entry.get("label", name) for name, entry in config["variants"].items()}
