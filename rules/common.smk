# Config validation, wildcard constraints and the helpers every rule file uses.
# Kept free of heavy imports: Snakemake parses this on every invocation.
import hashlib
import json
import re
from pathlib import Path

from snakemake.utils import validate

from mnist_study.data import FILES, raw_paths

validate(config, schema="../workflow/schemas/config.schema.yaml")


def _check_names(key, names, valid, kind):
    """Stop when ``key`` names something that is not among ``valid`` (the ``kind``)."""
    unknown = [n for n in names if n not in valid]
    if unknown:
        raise ValueError(
            f"config.yaml: {key} names {unknown}, which are not {kind}; valid: {sorted(valid)}"
        )


def _check_config():
    """What a schema cannot say: names that must refer to each other."""
    variants = config["variants"]
    for study, entry in config["studies"].items():
        _check_names(f"studies.{study}.variants", entry["variants"], variants, "variants")
        values = entry["factor"]["values"]
        if len(values) != len(entry["variants"]):
            raise ValueError(
                f"config.yaml: studies.{study}.factor.values has {len(values)} values "
                f"for {len(entry['variants'])} variants; give one value per variant"
            )
    for name, claim in config.get("claims", {}).items():
        _check_names(f"claims.{name}.variants", claim["variants"], variants, "variants")
    _check_names("only_studies", config["only_studies"], config["studies"], "studies")


_check_config()


def _select_studies():
    """With only_studies set, the rest of the workflow sees just those studies, their variants
    and the claims about them: fewer jobs through the same rules (make quick)."""
    chosen = config["only_studies"]
    if not chosen:
        return
    config["studies"] = {s: e for s, e in config["studies"].items() if s in chosen}
    kept = {v for e in config["studies"].values() for v in e["variants"]}
    config["variants"] = {v: e for v, e in config["variants"].items() if v in kept}
    config["claims"] = {c: e for c, e in config["claims"].items() if set(e["variants"]) <= kept}


_select_studies()

VARIANTS = list(config["variants"])
SEEDS = [int(s) for s in config["seeds"]]
DATASET = config["data"]["dataset"]
DATA_CACHE = f"results/data/{DATASET}.pt"
RUN = "results/runs/{variant}/seed{seed}"
PKG = Path(workflow.basedir) / "src" / "mnist_study"
ENV = "../workflow/envs/study.yaml"
# Named after the files they hold; the paths follow torchvision's layout under data.root.
RAW = dict(
    zip(
        ("train_images", "train_labels", "test_images", "test_labels"),
        (str(raw_paths(config["data"]["root"], DATASET)[name]) for name in FILES),
    )
)


wildcard_constraints:
    variant="|".join(re.escape(v) for v in VARIANTS),
    seed=r"\d+",


def src(*modules):
    """The package modules a rule's script imports: editing one reruns exactly those rules."""
    return [str(PKG / f"{m}.py") for m in ("atomic", "logs", *modules)]


def resources_of(family):
    return config["resources"][family]


def variant_model(variant):
    return config["variants"][variant]["model"]


def variant_training(variant, seed):
    """Defaults, then the variant's overrides, then the global override (quick runs)."""
    return {
        **config["training"],
        **config["variants"][variant].get("training", {}),
        **config.get("training_override", {}),
        "seed": int(seed),
        "device": config["device"],
    }


def runs(pattern):
    """One path per (variant, seed) for a run file name, e.g. runs('metrics.json')."""
    return [f"results/runs/{v}/seed{s}/{pattern}" for v, s in run_keys()]


def run_keys():
    return [(v, s) for v in VARIANTS for s in SEEDS]


def config_hash():
    """Short hash of the resolved config, for the report's provenance."""
    text = json.dumps(config, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def all_targets():
    return [
        DATA_CACHE,
        *runs("misclassified.csv"),
        "results/tables/runs.csv",
        "results/tables/summary.csv",
        "results/report.html",
    ]
