# Figures, one rule per family; each job draws every figure of its family in one process.
from mnist_study.report.figure_plan import train_levels

STUDIES = list(config["studies"])
TITLES = {name: entry["title"] for name, entry in config["studies"].items()}
# The models whose weights are drawn: the first linear variant, and the first MLP with one
# hidden layer and no dropout (the seed's MLP).
LINEAR = next((n for n, e in config["variants"].items() if e["model"]["kind"] == "linear"), None)
MLP = next(
    (
        n
        for n, e in config["variants"].items()
        if e["model"]["kind"] == "mlp"
        and len(e["model"].get("hidden", [])) == 1
        and not e["model"].get("dropout")
        and not e["model"].get("input_dropout")
    ),
    None,
)
# Variants that train on shifted and rotated images, with what their gallery depends on: the
# augmentation and the training images it picks from (a change redraws the galleries alone).
AUGMENT_KEYS = ("augment_shift", "augment_rotation", "train_size")
AUGMENTED = {
    v: {k: training_of(v).get(k) for k in AUGMENT_KEYS}
    for v in VARIANTS
    if training_of(v).get("augment_shift") or training_of(v).get("augment_rotation")
}
# Variants that learn shuffled labels, and the studies with one: those get memorization curves.
RANDOM_LABELS = [v for v in VARIANTS if training_of(v).get("random_labels")]
MEMORIZATION = [s for s in STUDIES if set(config["studies"][s]["variants"]) & set(RANDOM_LABELS)]
MEMORIZED = list(dict.fromkeys(v for s in MEMORIZATION for v in config["studies"][s]["variants"]))
# Studies with a tuned variant: those get the learning-rate sweeps and the isolation plot.
TUNED_STUDIES = [s for s in STUDIES if set(config["studies"][s]["variants"]) & set(TUNED)]


rule plot_curves:
    input:
        history=runs("history.csv"),
    output:
        curves=[
            figure(f"{FIG}/curves/{v}.png", "curves", "Learning curves", variant=LABELS[v])
            for v in VARIANTS
        ],
    log:
        "logs/plots/plot_curves.log",
    benchmark:
        "benchmarks/plot_curves.tsv"
    localrule: True
    conda:
        ENV
    params:
        run_keys=run_keys(),
        variants=VARIANTS,
        labels=LABELS,
        code=code("plot_curves"),
    script:
        job_script("plot_curves")


rule plot_studies:
    input:
        history=runs("history.csv"),
        stats=rules.statistics.output.variants,
    output:
        curves=[
            figure(f"{FIG}/studies/{s}_curves.png", "study_curves", "Studies", TITLES[s])
            for s in STUDIES
        ],
        factor=[
            figure(f"{FIG}/studies/{s}_factor.png", "study_factor", "Studies", TITLES[s])
            for s in STUDIES
        ],
    log:
        "logs/plots/plot_studies.log",
    benchmark:
        "benchmarks/plot_studies.tsv"
    localrule: True
    conda:
        ENV
    params:
        run_keys=run_keys(),
        studies=entries("studies"),
        labels=LABELS,
        code=code("plot_studies"),
    script:
        job_script("plot_studies")


rule plot_confusion:
    input:
        metrics=runs("metrics.json"),
    output:
        confusion=[
            figure(f"{FIG}/confusion/{s}.png", "confusion", "Confusion matrices", study=TITLES[s])
            for s in STUDIES
        ],
    log:
        "logs/plots/plot_confusion.log",
    benchmark:
        "benchmarks/plot_confusion.tsv"
    localrule: True
    conda:
        ENV
    params:
        run_keys=run_keys(),
        studies=entries("studies"),
        labels=LABELS,
        dataset=DATASET_INFO,
        code=code("plot_confusion"),
    script:
        job_script("plot_confusion")


rule plot_reliability:
    input:
        metrics=runs("metrics.json"),
    output:
        reliability=[
            figure(f"{FIG}/reliability/{s}.png", "reliability", "Calibration", TITLES[s])
            for s in STUDIES
        ],
    log:
        "logs/plots/plot_reliability.log",
    benchmark:
        "benchmarks/plot_reliability.tsv"
    localrule: True
    conda:
        ENV
    params:
        run_keys=run_keys(),
        studies=entries("studies"),
        labels=LABELS,
        code=code("plot_reliability"),
    script:
        job_script("plot_reliability")


# The explorer's static figure: what readers without JavaScript see in its place.
rule plot_explorer:
    input:
        runs="results/tables/runs.csv",
        # Each run's model and training as trained: the explorer's hyperparameter axes.
        info=runs("train.json"),
    output:
        explorer=figure(f"{FIG}/explorer.png", "explorer", "Explorer"),
    log:
        "logs/plots/plot_explorer.log",
    benchmark:
        "benchmarks/plot_explorer.tsv"
    localrule: True
    conda:
        ENV
    params:
        run_keys=run_keys(),
        code=code("plot_explorer"),
    script:
        job_script("plot_explorer")


if AUGMENTED:

    rule plot_augmentation:
        input:
            cache=DATA_CACHE,
        output:
            augmentation=[
                figure(
                    f"{FIG}/augmentation/{v}.png",
                    "augmentation",
                    "Augmentation",
                    variant=LABELS[v],
                )
                for v in AUGMENTED
            ],
        log:
            "logs/plots/plot_augmentation.log",
        benchmark:
            "benchmarks/plot_augmentation.tsv"
        localrule: True
        conda:
            ENV
        params:
            augmented=AUGMENTED,
            labels=LABELS,
            dataset=DATASET_INFO,
            code=code("plot_augmentation"),
        script:
            job_script("plot_augmentation")


if MEMORIZATION:

    rule plot_memorization:
        input:
            history=[path for v in MEMORIZED for path in runs_of(v, "history.csv")],
        output:
            memorization=[
                figure(f"{FIG}/memorization/{s}.png", "memorization", "Memorization", TITLES[s])
                for s in MEMORIZATION
            ],
        log:
            "logs/plots/plot_memorization.log",
        benchmark:
            "benchmarks/plot_memorization.tsv"
        localrule: True
        conda:
            ENV
        params:
            run_keys=[(v, s) for v in MEMORIZED for s in study_config.seeds_of(config, v)],
            studies={s: study_config.canonical(config["studies"][s]) for s in MEMORIZATION},
            # The training-accuracy levels the study's claims name, drawn as dashed lines.
            levels={
                s: train_levels(config["claims"].values(), config["studies"][s]["variants"])
                for s in MEMORIZATION
            },
            labels=LABELS,
            code=code("plot_memorization"),
        script:
            job_script("plot_memorization")


if TUNED_STUDIES:

    rule plot_tuning:
        input:
            choices=[choice_file(v) for v in TUNED],
        output:
            tuning=[
                figure(f"{FIG}/tuning/{s}.png", "tuning", "Learning rates", TITLES[s])
                for s in TUNED_STUDIES
            ],
        log:
            "logs/plots/plot_tuning.log",
        benchmark:
            "benchmarks/plot_tuning.tsv"
        localrule: True
        conda:
            ENV
        params:
            tuned=TUNED,
            studies={s: study_config.canonical(config["studies"][s]) for s in TUNED_STUDIES},
            labels=LABELS,
            code=code("plot_tuning"),
        script:
            job_script("plot_tuning")


if LINEAR and MLP:

    rule plot_weights:
        input:
            linear=f"results/runs/{LINEAR}/seed{SEEDS[0]}/model.pt",
            mlp=f"results/runs/{MLP}/seed{SEEDS[0]}/model.pt",
        output:
            templates=figure(f"{FIG}/weights/linear_templates.png", "templates", "Weights"),
            features=figure(f"{FIG}/weights/mlp_features.png", "features", "Weights"),
        log:
            "logs/plots/plot_weights.log",
        benchmark:
            "benchmarks/plot_weights.tsv"
        localrule: True
        conda:
            ENV
        params:
            mlp_label=LABELS[MLP],
            dataset=DATASET_INFO,
            code=code("plot_weights"),
        script:
            job_script("plot_weights")


rule plot_galleries:
    input:
        cache=DATA_CACHE,
        misclassified=runs("misclassified.csv"),
    output:
        galleries=[
            figure(
                f"{FIG}/galleries/{v}.png",
                "gallery",
                "Misclassified",
                "Per model",
                variant=LABELS[v],
            )
            for v in VARIANTS
        ],
    log:
        "logs/plots/plot_galleries.log",
    benchmark:
        "benchmarks/plot_galleries.tsv"
    localrule: True
    conda:
        ENV
    params:
        run_keys=run_keys(),
        variants=VARIANTS,
        labels=LABELS,
        dataset=DATASET_INFO,
        code=code("plot_galleries"),
    script:
        job_script("plot_galleries")


rule plot_errors:
    input:
        cache=DATA_CACHE,
        errors=rules.errors.output.summary,
    output:
        **{
            name: figure(f"{FIG}/errors/{name}.png", name, "Misclassified", "Across models")
            for name in ("hardest", "confused", "overlap", "disagreements")
        },
    log:
        "logs/plots/plot_errors.log",
    benchmark:
        "benchmarks/plot_errors.tsv"
    localrule: True
    conda:
        ENV
    params:
        labels=LABELS,
        dataset=DATASET_INFO,
        code=code("plot_errors"),
    script:
        job_script("plot_errors")


# The claims as one picture: effects in units of their smallest effect of interest, with
# Holm-adjusted intervals. SVG, inlined in the report (its marks are counted there).
rule plot_forest:
    input:
        claims=rules.claims.output.verdicts,
    output:
        forest=figure(f"{FIG}/claims/forest.svg", "forest", "Claims"),
    log:
        "logs/plots/plot_forest.log",
    benchmark:
        "benchmarks/plot_forest.tsv"
    localrule: True
    conda:
        ENV
    params:
        studies=entries("studies"),
        alpha=config["alpha"],
        code=code("plot_forest"),
    script:
        job_script("plot_forest")
