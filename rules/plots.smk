# Figures, one rule per family; each job draws every figure of its family in one process.
# Which families and figures: the figure plan (PLAN, rules/common.smk).


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
            figure(f"{FIG}/studies/{s}_curves.png", "study_curves", "Studies", PLAN.titles[s])
            for s in PLAN.studies
        ],
        factor=[
            figure(f"{FIG}/studies/{s}_factor.png", "study_factor", "Studies", PLAN.titles[s])
            for s in PLAN.studies
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
            figure(
                f"{FIG}/confusion/{s}.png", "confusion", "Confusion matrices", study=PLAN.titles[s]
            )
            for s in PLAN.studies
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
            figure(f"{FIG}/reliability/{s}.png", "reliability", "Calibration", PLAN.titles[s])
            for s in PLAN.studies
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


if PLAN.augmented:

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
                for v in PLAN.augmented
            ],
        log:
            "logs/plots/plot_augmentation.log",
        benchmark:
            "benchmarks/plot_augmentation.tsv"
        localrule: True
        conda:
            ENV
        params:
            augmented=PLAN.augmented,
            labels=LABELS,
            dataset=DATASET_INFO,
            code=code("plot_augmentation"),
        script:
            job_script("plot_augmentation")


if PLAN.memorization:

    rule plot_memorization:
        input:
            history=[path for v in PLAN.memorized for path in runs_of(v, "history.csv")],
        output:
            memorization=[
                figure(
                    f"{FIG}/memorization/{s}.png", "memorization", "Memorization", PLAN.titles[s]
                )
                for s in PLAN.memorization
            ],
        log:
            "logs/plots/plot_memorization.log",
        benchmark:
            "benchmarks/plot_memorization.tsv"
        localrule: True
        conda:
            ENV
        params:
            run_keys=[(v, s) for v in PLAN.memorized for s in study_config.seeds_of(config, v)],
            studies={s: study_config.canonical(config["studies"][s]) for s in PLAN.memorization},
            # The training-accuracy levels the study's claims name, drawn as dashed lines.
            levels=PLAN.levels,
            labels=LABELS,
            code=code("plot_memorization"),
        script:
            job_script("plot_memorization")


if PLAN.tuned_studies:

    rule plot_tuning:
        input:
            choices=[choice_file(v) for v in TUNED],
        output:
            tuning=[
                figure(f"{FIG}/tuning/{s}.png", "tuning", "Learning rates", PLAN.titles[s])
                for s in PLAN.tuned_studies
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
            studies={s: study_config.canonical(config["studies"][s]) for s in PLAN.tuned_studies},
            labels=LABELS,
            code=code("plot_tuning"),
        script:
            job_script("plot_tuning")


if PLAN.linear and PLAN.mlp:

    rule plot_weights:
        input:
            linear=f"results/runs/{PLAN.linear}/seed{SEEDS[0]}/model.pt",
            mlp=f"results/runs/{PLAN.mlp}/seed{SEEDS[0]}/model.pt",
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
            mlp_label=LABELS[PLAN.mlp],
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
