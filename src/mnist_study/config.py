"""The study's config.yaml checked whole before the first job: each stage's own constructors
(dataset, model spec, training config, sweep, claim) say what its values mean.

It sits above the stages, and the rules import it (with codehash and the figure plan) and nothing
else of the package: what they read of the stages comes through here, so its imports stay light.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from mnist_study import StudyError
from mnist_study.data.datasets import (
    DATASETS,
    FILES,
    N_CLASSES,
    SOURCES,
    dataset_info,
    expected_sha256,
    raw_paths,
    train_split_size,
    verify_present,
)
from mnist_study.engine import tuning
from mnist_study.engine.models import spec_from_dict
from mnist_study.engine.train_config import TrainConfig
from mnist_study.engine.tuning import Sweep, sweep_seeds
from mnist_study.evidence.claims import Claim, base_variant
from mnist_study.logs import stamp_path
from mnist_study.machine import cpu_model
from mnist_study.record import progress
from mnist_study.seedplan import (
    SeedPlan,
    apply,
    design_path,
    layout,
    plan_seeds,
    read_design,
    summary,
)
from mnist_study.settings import (
    ConfigError,
    canonical,
    check_structure,
    config_hash,
    labels,
    lr_source,
    recorded_config,
    resolve_dataset,
    seeds_of,
    select_studies,
    sweep_dict,
    sweep_owner,
    variant_model,
    variant_training,
)

# What the rules read through this module, besides its own checks.
__all__ = [
    "FILES",
    "ConfigError",
    "base_variant",
    "canonical",
    "check_meaning",
    "check_structure",
    "claims_of",
    "config_hash",
    "cpu_model",
    "describe_dataset",
    "labels",
    "lr_source",
    "plan_study_seeds",
    "progress",
    "summary",
    "raw_paths",
    "recorded_config",
    "resolve_dataset",
    "run_train_flops",
    "seeds_of",
    "select_studies",
    "stamp_path",
    "study_train_flops",
    "sweep_dict",
    "sweep_owner",
    "train_split_size",
    "tuning",
    "variant_model",
    "variant_training",
    "verify_present",
]


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


def plan_study_seeds(config: dict, root: str | Path) -> SeedPlan:
    """Every variant's seeds from its pin or the committed design (else the default), written
    into the config; then the checks that the seeds stay apart: from the sweeps', and, where
    the design gives many, from the replicate's and the pilot's (the layers under ``root``)."""
    path = design_path(config, root)
    design, sha256 = read_design(path)
    shown = str(path.relative_to(root)) if path.is_relative_to(root) else str(path)
    plan = plan_seeds(config, design, sha256, shown)
    apply(config, plan)
    _check_sweep_seeds(config)
    if config["design"].get("use", True):
        _check_study_seeds(config, plan, Path(root))
    return plan


def _check_study_seeds(config: Mapping, plan: SeedPlan, root: Path) -> None:
    """The study, replicate and pilot runs and their sweeps draw disjoint seeds for the most
    seeds any variant has; else stop with the seed offsets that would keep them apart."""
    seeds = layout(root, max(plan.counts.values(), default=0), config["tuning"])
    if seeds.clash:
        most = max(plan.counts, key=plan.counts.get)
        (a, b), fix = seeds.clash[0], seeds.fix
        raise ConfigError(
            f"seeds: {most} trains {seeds.runs} seeds, so {a} and {b} share seeds "
            f"({seeds.text()}); keep them apart with workflow/replicate.yaml seed_offset: "
            f"{fix['replicate']}, config.yaml tuning.seed_offset: {fix['tuning']} and "
            f"workflow/pilot.yaml seed_offset: {fix['pilot']}"
        )
