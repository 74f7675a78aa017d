# Config checks, wildcard constraints and the helpers every rule file uses.
# Kept free of heavy imports: Snakemake parses this on every invocation.
import json
import os
import sys
from pathlib import Path

from snakemake.utils import validate

from mnist_study import codehash
from mnist_study import config as study_config
from mnist_study.config import (
    FILES,
    base_variant,
    cpu_model,
    progress,
    raw_paths,
    stamp_path,
    train_split_size,
    tuning,
    verify_present,
)
from mnist_study.report.figure_plan import figure_plan

SCHEMA = str(Path(workflow.basedir) / "workflow" / "schemas" / "config.schema.yaml")
# Every config error stops here, before any job: structure (key paths, types) by the schema,
# then what the values mean by the package's own constructors.
study_config.check_structure(config, SCHEMA)
validate(config, schema=SCHEMA)  # fills in the schema's defaults
study_config.resolve_dataset(config)
study_config.check_meaning(config)
study_config.select_studies(config)
# Every variant's seeds: its pin, else the committed design's (make design), else the default;
# a claim the design does not cover is named here, at every invocation (snakemake -n too).
SEED_PLAN = study_config.plan_study_seeds(config, workflow.basedir)
for line in SEED_PLAN.warnings():
    print(f"Warning: {line}", file=sys.stderr)
# What the claims and the report show of the design (its hash, rows and every variant's seeds).
DESIGN = study_config.summary(SEED_PLAN)
# Data files already on disk are verified here, before any job: a corrupt one stops the run
# with its name, both checksums and the remedy, and no job's output is deleted for it.
verify_present(config["data"])

VARIANTS = list(config["variants"])
SEEDS = [int(s) + config["seed_offset"] for s in config["seeds"]]
LABELS = study_config.labels(config)
DATASET = config["data"]["dataset"]
# Title, noun and class names: the report's and the plots' wording, from one place.
DATASET_INFO = study_config.describe_dataset(config["data"])
# Training images of a full-data run, for the train jobs' order (None: not known before the data).
TRAIN_IMAGES = train_split_size(config["data"])
DATA_CACHE = f"results/data/{DATASET}.pt"
# Where the figures and the analysis files go.
FIG = "results/figures"
ANALYSIS = "results/analysis"
# Which figures the study draws (and which rules exist for them), read off the config once:
# the rule files read its fields, so the order they are included in does not matter.
PLAN = figure_plan(config)
ENV = "../workflow/envs/study.yaml"


def given_cores():
    """The cores this invocation was given (--cores); where none are (a rule graph or a cluster
    run, which Snakemake refuses to ask), the machine's."""
    try:
        cores = workflow.cores
    except Exception:  # WorkflowError: no total number of cores was set
        cores = None
    return cores if isinstance(cores, int) else os.cpu_count()


CORES = given_cores()
CAPTIONS = "../report/captions"
SCRIPTS = Path(workflow.basedir) / "workflow" / "scripts"
# Named after the files they hold; the paths follow torchvision's layout under data.root.
RAW = dict(
    zip(
        ("train_images", "train_labels", "test_images", "test_labels"),
        (str(raw_paths(config["data"]["root"], DATASET)[name]) for name in FILES),
    )
)


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


def partition_of(family):
    """The family's SLURM partition as a resource, where config.yaml names one (the rules are
    per variant, so --set-resources would have to name each of them)."""
    partition = resources_of(family)["partition"]
    return {"slurm_partition": partition} if partition else {}


def variant_model(variant):
    return study_config.variant_model(config, variant)


def variant_training(variant, seed):
    return study_config.variant_training(config, variant, seed)


def run_file(variant, seed, name):
    return f"results/runs/{variant}/seed{seed}/{name}"


def runs(pattern):
    """One path per (variant, seed) for a run file name, e.g. runs('metrics.json')."""
    return [run_file(v, s, pattern) for v, s in run_keys()]


def runs_of(variant, name, seeds=None):
    """One variant's run files, in seed order."""
    return [run_file(variant, s, name) for s in (seeds or study_config.seeds_of(config, variant))]


def seed_blocks(variant):
    """The variant's seeds as the train jobs take them: all in one job, or in consecutive
    blocks of resources.train.runs_per_job (a seed added at the end joins the last block)."""
    seeds = study_config.seeds_of(config, variant)
    size = resources_of("train")["runs_per_job"] or len(seeds)
    return [seeds[i : i + size] for i in range(0, len(seeds), size)]


def job_tag(variant, block=None):
    """A per-variant job's log and benchmark file name: the variant, with the block's first
    seed where its runs are split over several train jobs."""
    if block is None or len(seed_blocks(variant)) == 1:
        return variant
    return f"{variant}_seeds{block[0]}"


def job_name(rule, variant, block=None):
    """A per-variant rule's name: rule_variant (rule names are unique, so no wildcards)."""
    return f"{rule}_{job_tag(variant, block)}"


def training_of(variant):
    """A variant's training hyperparameters without the seed (the job's seeds are a param)."""
    training = variant_training(variant, 0)
    del training["seed"]
    return training


# ----------------------------------------------------------------- learning-rate sweeps
# A variant with `tune_lr` trains its claim runs at the lr its sweep chose (a checkpoint per
# variant, choose_lr_<variant>): each sweep value is a train job of its own on the sweep seeds.
TUNED = PLAN.tuned
# The tuned variants that train a sweep; the others share one of theirs (tune_lr.shares).
SWEEP_OWNERS = [v for v in TUNED if study_config.sweep_owner(config, v) == v]
SWEEP_SEEDS = tuning.sweep_seeds(config)


def sweep_of(variant):
    return tuning.Sweep.from_dict(
        study_config.sweep_dict(config, variant), f"variants.{variant}.tune_lr"
    )


def lr_source(variant):
    """The tuned variant whose chosen lr the variant trains at (itself, or its lr_from)."""
    return study_config.lr_source(config, variant)


def sweep_file(variant, lr, seed, name):
    return f"results/sweeps/{variant}/lr{tuning.lr_name(lr)}/seed{seed}/{name}"


def sweep_runs(variant, lr, name):
    return [sweep_file(variant, lr, s, name) for s in SWEEP_SEEDS]


# At most this many rounds extend a sweep past an end of its grid (rules/tuning.smk).
MAX_EXTENSIONS = int(config["tuning"]["max_extensions"])


def sweep_candidates(variant):
    """Every lr a sweep owner's runs may train at: its grid, then every point its extensions
    could add (each trains only where a round asks for it)."""
    values = sweep_of(variant).values
    return [*values, *tuning.extension_candidates(values, MAX_EXTENSIONS)]


def sweep_readers(owner):
    """Every tuned variant that chooses from the owner's runs, with its sweep (its metric)."""
    return {
        v: study_config.canonical(study_config.sweep_dict(config, v))
        for v in TUNED
        if study_config.sweep_owner(config, v) == owner
    }


def read_by_claim(variant):
    """Whether a claim reads the variant's choice: one of its variants trains at that lr."""
    claimed = {base_variant(v) for c in config["claims"].values() for v in c["variants"]}
    return any(lr_source(v) == variant for v in claimed)


def round_rule(owner, round_index):
    return f"sweep_{owner}_round{round_index}"


def round_file(owner, round_index):
    return f"results/sweeps/{owner}/rounds/round{round_index}.json"


def _round_record(owner, round_index):
    # Raises IncompleteCheckpointException until that round has run: Snakemake then runs it.
    path = getattr(checkpoints, round_rule(owner, round_index)).get().output.round
    return json.loads(Path(path).read_text(encoding="utf-8"))


def round_values(owner, round_index):
    """The lrs a round reads: the grid and the points the rounds before it added."""
    values = list(sweep_of(owner).values)
    for before in range(round_index):
        values += [added["lr"] for added in _round_record(owner, before)["added"]]
    return sorted(values)


def last_round(owner):
    """The owner's last round: the first that adds nothing (round MAX_EXTENSIONS never does)."""
    return next(
        (k for k in range(MAX_EXTENSIONS) if not _round_record(owner, k)["added"]),
        MAX_EXTENSIONS,
    )


def runs_at(owner, values, name):
    """A run file of the owner's sweep runs at each of ``values``, on every sweep seed."""
    return [sweep_file(owner, lr, s, name) for lr in values for s in SWEEP_SEEDS]


def round_runs(owner, round_index, name):
    """A run file of every sweep run a round reads; past round 0, known once the rounds before
    it have run."""
    if round_index == 0:
        return runs_at(owner, sweep_of(owner).values, name)
    return lambda w: runs_at(owner, round_values(owner, round_index), name)


def final_runs(variant, name):
    """A run file of every run of the variant's sweep (its owner's), up to its last round."""
    owner = study_config.sweep_owner(config, variant)
    return lambda w: runs_at(owner, round_values(owner, last_round(owner)), name)


def final_round_input(variant):
    owner = study_config.sweep_owner(config, variant)
    return lambda w: round_file(owner, last_round(owner))


def sweep_infos():
    """Every sweep run's record (train.json), up to each sweep's last round."""
    return [info for owner in SWEEP_OWNERS for info in final_runs(owner, "train.json")(None)]


def unplanned_sweep_rules():
    """The sweep rules declared for extensions that no round asked for: not part of the study."""
    declared, planned = set(), set()
    for owner in SWEEP_OWNERS:
        last = last_round(owner)
        declared |= {round_rule(owner, k) for k in range(MAX_EXTENSIONS + 1)}
        declared |= {f"sweep_{sweep_tag(owner, lr)}" for lr in sweep_candidates(owner)}
        planned |= {round_rule(owner, k) for k in range(last + 1)}
        planned |= {f"sweep_{sweep_tag(owner, lr)}" for lr in round_values(owner, last)}
    return declared - planned


def sweep_tag(variant, lr):
    """A sweep job's rule, log and benchmark name: the variant and its lr, spelt for a name."""
    spelt = tuning.lr_name(lr).replace(".", "p").replace("-", "m").replace("+", "")
    return f"{variant}_lr{spelt}"


def choice_file(variant):
    return f"results/sweeps/{variant}/choice.json"


def chosen_lr_file(variant):
    return f"results/sweeps/{variant}/chosen_lr.json"


def chosen_lr_input(variant):
    """The chosen lr a tuned variant's train jobs wait for (a checkpoint's output)."""
    return lambda wildcards: getattr(checkpoints, f"choose_lr_{variant}").get().output.lr


def tuned_training(variant):
    """A tuned (or lr_from) variant's training params: its own, at the lr its source's sweep
    chose. Read from the choice when the jobs are planned, so an unchanged choice reruns
    nothing."""

    def params(wildcards, input):
        training = training_of(variant)
        training["lr"] = json.loads(Path(input.choice).read_text(encoding="utf-8"))["lr"]
        return training

    return params


def sweep_training(variant, lr):
    training = training_of(variant)
    training["lr"] = lr
    return training


def train_priority(variant, seeds):
    """Longest jobs first (their training FLOPs): on a few cores the big variants then never
    start last and leave the other cores idle at the end."""
    work = study_config.run_train_flops(config, variant, TRAIN_IMAGES) * len(seeds)
    return max(1, round(work / 1e11))


def run_keys():
    return [(v, s) for v in VARIANTS for s in study_config.seeds_of(config, v)]


def config_hash():
    """Short hash of the resolved config (the history record's too), for the provenance."""
    return study_config.config_hash(config)


def study_jobs():
    """Every job of the study but the report: its name, log, the time stamps its process
    writes beside the log, and its benchmark file. No rule has wildcards, so a rule is a job."""
    jobs = []
    unplanned = unplanned_sweep_rules()
    for r in workflow.rules:
        if r.name in ("all", "sweeps", "report") or r.name in unplanned:
            continue
        if r.name == "replication" and not replicate_claims():
            continue
        if r.wildcard_names or r.benchmark is None:
            raise ValueError(f"{r.name}: every job needs a benchmark, and no rule has wildcards")
        log = str(r.log[0])
        jobs.append({"name": r.name, "stamp": stamp_of(log), "benchmark": str(r.benchmark)})
    return jobs


def replicate_claims():
    """The replicate's claims.json (replicate.claims, from this study's folder) once `make
    replicate` has written it, as a list of one; else none (the report has no replication)."""
    path = config.get("replicate", {}).get("claims")
    return [path] if path and os.path.exists(path) else []


def benchmark_files():
    """Every benchmark file the workflow writes (all but the report's own)."""
    return [job["benchmark"] for job in study_jobs()]


def stamp_of(log):
    return str(stamp_path(log))


def all_targets():
    return [
        DATA_CACHE,
        *runs("misclassified.csv"),
        "results/tables/runs.csv",
        "results/tables/summary.csv",
        "results/report.html",
        "results/tables/efficiency.json",
    ]


# ----------------------------------------------------------------- progress
# Every run the study trains goes to results/progress/plan.json at each parse (written only where
# it changed): each train job prints its finished runs against it, and `make status` reads it.


def chosen_training(variant):
    """A variant's training as its train jobs get it (tuned_training), or None while the lr it
    trains at waits for a sweep's choice."""
    training = training_of(variant)
    source = lr_source(variant)
    if source:
        path = Path(chosen_lr_file(source))
        if not path.exists():
            return None
        training["lr"] = json.loads(path.read_text(encoding="utf-8"))["lr"]
    return training


def asked_sweep_values(owner):
    """The lrs of the owner's sweep as far as its rounds on disk tell (the parse cannot ask the
    checkpoints): its grid and every point a round added, as lr_name spells them."""
    values = list(sweep_of(owner).values)
    for round_index in range(MAX_EXTENSIONS):
        path = Path(round_file(owner, round_index))
        added = json.loads(path.read_text(encoding="utf-8"))["added"] if path.exists() else []
        if not added:
            break
        values += [point["lr"] for point in added]
    return {tuning.lr_name(lr) for lr in values}


def progress_plan():
    """Every claim run and sweep run by its folder, with its label, training FLOPs and run id; a
    sweep point no round has asked for yet is optional (it counts once trained)."""
    train, runs = code("train"), []
    for variant in VARIANTS:
        seeds = study_config.seeds_of(config, variant)
        flops = study_config.run_train_flops(config, variant, TRAIN_IMAGES)
        training, model = chosen_training(variant), variant_model(variant)
        for index, seed in enumerate(seeds):
            run = None if training is None else progress.run_id(train, model, training, seed)
            label = f"{variant} seed {index + 1}/{len(seeds)}"
            folder = os.path.dirname(run_file(variant, seed, "train.json"))
            runs.append(progress.planned_run(folder, label, flops, run))
    for owner in SWEEP_OWNERS:
        flops = study_config.run_train_flops(config, owner, TRAIN_IMAGES)
        asked, model = asked_sweep_values(owner), variant_model(owner)
        for lr in sweep_candidates(owner):
            training, optional = sweep_training(owner, lr), tuning.lr_name(lr) not in asked
            for index, seed in enumerate(SWEEP_SEEDS):
                run = progress.run_id(train, model, training, seed)
                label = f"{owner} lr {tuning.lr_name(lr)} seed {index + 1}/{len(SWEEP_SEEDS)}"
                folder = os.path.dirname(sweep_file(owner, lr, seed, "train.json"))
                runs.append(progress.planned_run(folder, label, flops, run, optional))
    return runs


progress.start_invocation()
progress.write_plan(progress_plan())


# ----------------------------------------------------------------- console
def job_message(rule):
    """One line for a job's start, where Snakemake would list every output (a train job's
    ~180 paths): the rule and what it writes, in a few words."""
    kind = "checkpoint" if rule.is_checkpoint else "rule"
    outputs = [str(path) for path in rule.output]
    if len(outputs) == 1:
        return f"{kind} {rule.name}: {outputs[0]}"
    where = os.path.commonpath(outputs) if outputs else ""
    return f"{kind} {rule.name}: {len(outputs)} files under {where or '.'}/"
