"""The study's config.yaml, checked whole before the first job and resolved for the rules.

The JSON schema says the structure; the package's own constructors (model spec, training config,
claim, dataset) say what values mean. Light imports only: Snakemake runs this at every parse.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path

from mnist_study import StudyError
from mnist_study.data.datasets import (
    DATASETS,
    N_CLASSES,
    SOURCES,
    dataset_info,
    expected_sha256,
    train_split_size,
)
from mnist_study.engine.models import spec_from_dict
from mnist_study.engine.train_config import TrainConfig
from mnist_study.engine.tuning import Sweep, sweep_seeds
from mnist_study.evidence.claims import Claim


class ConfigError(StudyError, ValueError):
    """config.yaml is not valid; the message names the key path and what would be valid."""


def _path(parts: Iterable) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


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
    description = schema.get("description")
    return f"{where}: {error.message}" + (f" (expected: {description})" if description else "")


def schema_errors(config: Mapping, schema: Mapping) -> list[str]:
    """Every structural error of ``config`` against ``schema``, by key path."""
    import jsonschema

    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: [str(p) for p in e.absolute_path])
    return [_describe(e) for e in errors]


def check_structure(config: Mapping, schema_path: str | Path) -> None:
    import yaml

    schema = yaml.safe_load(Path(schema_path).read_text(encoding="utf-8"))
    errors = schema_errors(config, schema)
    if errors:
        raise ConfigError("config.yaml:\n  " + "\n  ".join(errors))


def _check_names(key: str, names: Iterable[str], valid: Iterable[str], kind: str) -> None:
    valid = list(valid)
    unknown = [n for n in names if n not in valid]
    if unknown:
        raise ConfigError(
            f"config.yaml: {key} names {unknown}, which are not {kind}; valid: {sorted(valid)}"
        )


def _check_data(data: Mapping) -> None:
    describe_dataset(data)
    expected_sha256(data["dataset"], data["sha256"])
    _check_names("data.sources", data["sources"], SOURCES, "sources")


def describe_dataset(data: Mapping) -> dict:
    """How the report speaks of the dataset: its name, title, the noun for one image and the
    class names in label order; a built-in dataset's own, unless config.yaml's data section
    gives them (it must, for a dataset of one's own)."""
    info = dataset_info(data["dataset"])
    classes = data.get("classes") or list(info.classes)
    if not classes:
        raise ConfigError(
            f"config.yaml: data.classes: {data['dataset']!r} is not a built-in dataset "
            f"{sorted(DATASETS)}; for a dataset of your own, name its {N_CLASSES} classes in "
            "label order (data.classes: [name0, ...])"
        )
    if len(classes) != N_CLASSES or len(set(map(str, classes))) != N_CLASSES:
        raise ConfigError(
            f"config.yaml: data.classes: {classes!r}; give {N_CLASSES} distinct names, "
            "one per label 0 to 9"
        )
    return {
        "name": info.name,
        "title": data.get("title") or info.title,
        "noun": data.get("noun") or info.noun,
        "classes": [str(c) for c in classes],
    }


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
    import yaml

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


def claims_of(config: Mapping) -> dict[str, Claim]:
    """The configured claims as checked Claim objects."""
    variants = list(config["variants"])
    claims = {
        name: Claim.from_dict(name, entry, variants)
        for name, entry in config.get("claims", {}).items()
    }
    studies = list(config.get("studies", {}))
    for claim in claims.values():
        _check_fixed_lr_claim(claim, claims)
        if claim.study is not None and claim.study not in studies:
            raise ValueError(f"claims.{claim.name}.study: {claim.study!r}; valid: {studies}")
    return claims


# What a claim and its fixed-lr twin must share: they state the same thing at other rates.
TWIN_KEYS = ("metric", "expect", "threshold", "epoch", "compare")


def _check_fixed_lr_claim(claim: Claim, claims: Mapping[str, Claim]) -> None:
    if claim.fixed_lr_claim is None:
        return
    where = f"claims.{claim.name}.fixed_lr_claim"
    twin = claims.get(claim.fixed_lr_claim)
    if twin is None or twin.name == claim.name:
        valid = sorted(n for n in claims if n != claim.name)
        raise ValueError(f"{where}: {claim.fixed_lr_claim!r} is no other claim; valid: {valid}")
    differ = [k for k in TWIN_KEYS if getattr(claim, k) != getattr(twin, k)]
    if differ or len(twin.variants) != 2:
        raise ValueError(
            f"{where}: {twin.name!r} must be the same comparison of two variants at fixed "
            f"learning rates; it differs in {differ or ['its number of variants']}"
        )


def check_meaning(config: Mapping) -> None:
    """What the values mean, by the constructors that later use them, and names that must
    refer to each other. Raises ConfigError naming the full key path and what is valid."""
    try:
        _check_data(config["data"])
        for i, seed in enumerate(config["seeds"]):
            TrainConfig.from_dict({"seed": seed}, where=f"seeds[{i}]")
        TrainConfig.from_dict({"device": config["device"]}, where="")
        TrainConfig.from_dict(config["training"], where="training")
        TrainConfig.from_dict(config.get("training_override", {}), where="training_override")
        for name, entry in config["variants"].items():
            spec_from_dict(entry["model"], where=f"variants.{name}.model")
            TrainConfig.from_dict(entry.get("training", {}), where=f"variants.{name}.training")
            if "tune_lr" in entry:
                Sweep.from_dict(sweep_dict(config, name), f"variants.{name}.tune_lr")
        claims_of(config)
    except (ValueError, StudyError) as err:
        raise ConfigError(f"config.yaml: {err}") from None
    _check_random_label_subsets(config)
    _check_batch_sizes(config)
    _check_sweep_seeds(config)
    _check_lr_sources(config)
    variants = config["variants"]
    for study, entry in config["studies"].items():
        _check_names(f"studies.{study}.variants", entry["variants"], variants, "variants")
        values = entry["factor"]["values"]
        if len(values) != len(entry["variants"]):
            raise ConfigError(
                f"config.yaml: studies.{study}.factor.values has {len(values)} values "
                f"for {len(entry['variants'])} variants; give one value per variant"
            )
        _check_series(study, entry)
    _check_names("only_studies", config["only_studies"], config["studies"], "studies")


def _check_series(study: str, entry: Mapping) -> None:
    """A factor's series draw the study's variants as lines: each names only the study's own
    variants, and together they draw every one."""
    series = entry["factor"].get("series")
    if not series:
        return
    where = f"studies.{study}.factor.series"
    for label, members in series.items():
        _check_names(f"{where}.{label}", members, entry["variants"], f"variants of {study}")
    missing = sorted(set(entry["variants"]) - {v for m in series.values() for v in m})
    if missing:
        raise ConfigError(f"config.yaml: {where}: no series draws {missing}; add each to one")


def _check_random_label_subsets(config: Mapping) -> None:
    """Random labels shuffle a fixed subset of the training split: one larger than the split
    would silently shuffle the whole split instead."""
    split = train_split_size(config["data"])
    for name in config["variants"]:
        training = variant_training(config, name, 0)
        size = training.get("train_size")
        if (
            training.get("random_labels")
            and split is not None
            and size is not None
            and size > split
        ):
            raise ConfigError(
                f"config.yaml: variants.{name}.training.train_size: {size}; its random labels "
                f"shuffle a subset of the training split, which has {split} images (data.val_size "
                f"held out): give at most {split}"
            )


def _check_batch_sizes(config: Mapping) -> None:
    """A batch larger than the images a run trains on would make every epoch one short batch:
    not the batch size the study names."""
    split = train_split_size(config["data"])
    for name in config["variants"]:
        training = variant_training(config, name, 0)
        images = training.get("train_size") or split
        if split is not None:
            images = min(images, split)
        batch = training.get("batch_size", TrainConfig.batch_size)
        if images is not None and batch > images:
            raise ConfigError(
                f"config.yaml: variants.{name}.training.batch_size: {batch}; the variant trains "
                f"on {images} images: give at most {images}"
            )


def _check_sweep_seeds(config: Mapping) -> None:
    """A sweep run on a claim's seed would choose the lr on the very runs that then decide a
    validation-metric claim."""
    if not any("tune_lr" in e for e in config["variants"].values()):
        return
    sweep = set(sweep_seeds(config))
    claim = {s for v in config["variants"] for s in seeds_of(config, v)}
    shared = sorted(sweep & claim)
    if shared:
        raise ConfigError(
            f"config.yaml: tuning.seed_offset: {config['tuning']['seed_offset']}; the sweep seeds "
            f"{sorted(sweep)} share {shared} with the claim runs' seeds: give an offset above "
            f"{max(claim) - config.get('seed_offset', 0)}"
        )


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


def _check_lr_sources(config: Mapping) -> None:
    """``lr_from`` must name a tuned variant of this config (its chosen lr is read)."""
    tuned = sorted(v for v, e in config["variants"].items() if "tune_lr" in e)
    for name, entry in config["variants"].items():
        source = entry.get("lr_from")
        if source is None:
            continue
        if "tune_lr" in entry or source not in tuned:
            why = "a tuned variant has its own lr" if "tune_lr" in entry else f"valid: {tuned}"
            raise ConfigError(f"config.yaml: variants.{name}.lr_from: {source!r}; {why}")


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
    """The seeds that train a variant: the first n_seeds of ``seeds`` (all of them by default,
    or where fewer are given, as in make quick). The power calculation sets n_seeds."""
    seeds = [int(s) + config.get("seed_offset", 0) for s in config["seeds"]]
    return seeds[: config["variants"][variant].get("n_seeds", len(seeds))]


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
    from mnist_study.atomic import json_safe

    kept = {k: v for k, v in config.items() if k not in INVOCATION_KEYS}
    return json.loads(json.dumps(json_safe(kept), sort_keys=True, default=str))


def config_hash(config: Mapping) -> str:
    """Short hash of the resolved config: the report's provenance and the history record."""
    text = json.dumps(recorded_config(config), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:HASH_LENGTH]


def labels(config: Mapping) -> dict[str, str]:
    """Display name of every variant (its key where no label is given)."""
    return {name: entry.get("label", name) for name, entry in config["variants"].items()}


def run_train_flops(config: Mapping, variant: str, full_size: int | None) -> float:
    """One run's training arithmetic: the model's train FLOPs per sample x images x epochs,
    the figure the study's compute limit is made of (scoring passes are not counted)."""
    training = variant_training(config, variant, 0)
    size = training.get("train_size")
    images = size if full_size is None else min(size or full_size, full_size)
    spec = spec_from_dict(variant_model(config, variant))
    return float(spec.train_flops_per_sample()) * (images or 0) * int(training["epochs"])


def study_train_flops(config: Mapping, full_size: int | None) -> float:
    """The whole study's training arithmetic: run_train_flops over every variant's seeds and,
    for a tuned variant, every run of its learning-rate sweep."""
    total = 0.0
    for v, entry in config["variants"].items():
        runs = len(seeds_of(config, v))
        if "tune_lr" in entry and sweep_owner(config, v) == v:
            runs += len(entry["tune_lr"]["values"]) * len(sweep_seeds(config))
        total += run_train_flops(config, v, full_size) * runs
    return total
