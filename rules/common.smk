# Config checks, wildcard constraints and the helpers every rule file uses.
# Kept free of heavy imports: Snakemake parses this on every invocation.
import json
import re
from pathlib import Path

from snakemake.utils import validate

from mnist_study import codehash
from mnist_study import config as study_config
from mnist_study.data import FILES, raw_paths

SCHEMA = str(Path(workflow.basedir) / "workflow" / "schemas" / "config.schema.yaml")
# Every config error stops here, before any job: structure (key paths, types) by the schema,
# then what the values mean by the package's own constructors.
study_config.check_structure(config, SCHEMA)
validate(config, schema=SCHEMA)  # fills in the schema's defaults
study_config.resolve_dataset(config)
study_config.check_meaning(config)
study_config.select_studies(config)

VARIANTS = list(config["variants"])
SEEDS = [int(s) + config["seed_offset"] for s in config["seeds"]]
LABELS = study_config.labels(config)
DATASET = config["data"]["dataset"]
# Title, noun and class names: the report's and the plots' wording, from one place.
DATASET_INFO = study_config.describe_dataset(config["data"])
DATA_CACHE = f"results/data/{DATASET}.pt"
RUN = "results/runs/{variant}/seed{seed}"
ENV = "../workflow/envs/study.yaml"
CAPTIONS = "../report/captions"
SCRIPTS = Path(workflow.basedir) / "workflow" / "scripts"
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


def job_script(name):
    return f"../workflow/scripts/{name}.py"


def code(name):
    """The content hash of a job script and the package code it imports, as a param: editing
    that code reruns the rule; a comment, a touch or a moved checkout does not."""
    return codehash.code_hash(SCRIPTS / f"{name}.py")


def figure(path, name, category, subcategory=None, **labels):
    """An output for `snakemake --report`, captioned by report/captions/<name>.rst (the same
    caption the HTML report renders with its numbers)."""
    return report(
        path,
        caption=f"{CAPTIONS}/{name}.rst",
        category=category,
        subcategory=subcategory,
        labels=labels or None,
    )


def entries(key):
    """A named section of the config (variants, studies, claims) as a param: the names keep
    their order (it is the report's order), each entry's keys are sorted, so reordering keys
    inside an entry reruns nothing."""
    return {name: study_config.canonical(entry) for name, entry in config.get(key, {}).items()}


def resources_of(family):
    return config["resources"][family]


def variant_model(variant):
    return study_config.variant_model(config, variant)


def variant_training(variant, seed):
    return study_config.variant_training(config, variant, seed)


def runs(pattern):
    """One path per (variant, seed) for a run file name, e.g. runs('metrics.json')."""
    return [f"results/runs/{v}/seed{s}/{pattern}" for v, s in run_keys()]


def run_keys():
    return [(v, s) for v in VARIANTS for s in study_config.seeds_of(config, v)]


def config_hash():
    """Short hash of the resolved config (the history record's too), for the provenance."""
    return study_config.config_hash(config)


def benchmark_files():
    """Every benchmark file the workflow writes: from each rule's own benchmark directive."""
    files = []
    for r in workflow.rules:
        if r.benchmark is None:
            continue
        names = set(r.wildcard_names)
        if names == {"variant", "seed"}:
            files += [r.benchmark.apply_wildcards({"variant": v, "seed": s}) for v, s in run_keys()]
        elif not names:
            files.append(str(r.benchmark))
        else:
            raise ValueError(f"{r.name}: its benchmark wildcards {names} are not expanded")
    return files


def all_targets():
    return [
        DATA_CACHE,
        *runs("misclassified.csv"),
        "results/tables/runs.csv",
        "results/tables/summary.csv",
        "results/report.html",
    ]
