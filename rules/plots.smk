# Figures, one rule per family; each job draws every figure of its family in one process.
LABELS = {name: entry.get("label", name) for name, entry in config["variants"].items()}
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
CAPTIONS = "../report/captions"


rule plot_curves:
    input:
        history=runs("history.csv"),
        code=src("plots"),
    output:
        curves=[
            report(
                f"{FIG}/curves/{v}.png",
                caption=f"{CAPTIONS}/curves.rst",
                category="Learning curves",
                labels={"variant": LABELS[v]},
            )
            for v in VARIANTS
        ],
    log:
        "logs/plots/plot_curves.log",
    benchmark:
        "benchmarks/plot_curves.tsv"
    conda:
        ENV
    resources:
        mem_mb=resources_of("light")["mem_mb"],
        runtime=resources_of("light")["runtime"],
    params:
        run_keys=run_keys(),
        variants=VARIANTS,
        labels=LABELS,
    script:
        "../workflow/scripts/plot_curves.py"


rule plot_studies:
    input:
        history=runs("history.csv"),
        stats=rules.statistics.output.variants,
        code=src("plots"),
    output:
        curves=[
            report(
                f"{FIG}/studies/{s}_curves.png",
                caption=f"{CAPTIONS}/study_curves.rst",
                category="Studies",
                subcategory=TITLES[s],
                labels={"study": TITLES[s], "figure": "learning curves"},
            )
            for s in STUDIES
        ],
        factor=[
            report(
                f"{FIG}/studies/{s}_factor.png",
                caption=f"{CAPTIONS}/study_factor.rst",
                category="Studies",
                subcategory=TITLES[s],
                labels={"study": TITLES[s], "figure": "factor"},
            )
            for s in STUDIES
        ],
    log:
        "logs/plots/plot_studies.log",
    benchmark:
        "benchmarks/plot_studies.tsv"
    conda:
        ENV
    resources:
        mem_mb=resources_of("light")["mem_mb"],
        runtime=resources_of("light")["runtime"],
    params:
        run_keys=run_keys(),
        studies=config["studies"],
        labels=LABELS,
    script:
        "../workflow/scripts/plot_studies.py"


rule plot_confusion:
    input:
        metrics=runs("metrics.json"),
        code=src("plots"),
    output:
        confusion=[
            report(
                f"{FIG}/confusion/{s}.png",
                caption=f"{CAPTIONS}/confusion.rst",
                category="Confusion matrices",
                labels={"study": TITLES[s]},
            )
            for s in STUDIES
        ],
    log:
        "logs/plots/plot_confusion.log",
    benchmark:
        "benchmarks/plot_confusion.tsv"
    conda:
        ENV
    resources:
        mem_mb=resources_of("light")["mem_mb"],
        runtime=resources_of("light")["runtime"],
    params:
        run_keys=run_keys(),
        studies=config["studies"],
        labels=LABELS,
    script:
        "../workflow/scripts/plot_confusion.py"


if LINEAR and MLP:

    rule plot_weights:
        input:
            linear=f"results/runs/{LINEAR}/seed{SEEDS[0]}/model.pt",
            mlp=f"results/runs/{MLP}/seed{SEEDS[0]}/model.pt",
            code=src("plots"),
        output:
            templates=report(
                f"{FIG}/weights/linear_templates.png",
                caption=f"{CAPTIONS}/templates.rst",
                category="Weights",
                labels={"figure": "linear templates"},
            ),
            features=report(
                f"{FIG}/weights/mlp_features.png",
                caption=f"{CAPTIONS}/features.rst",
                category="Weights",
                labels={"figure": "MLP first-layer features"},
            ),
        log:
            "logs/plots/plot_weights.log",
        benchmark:
            "benchmarks/plot_weights.tsv"
        conda:
            ENV
        resources:
            mem_mb=resources_of("light")["mem_mb"],
            runtime=resources_of("light")["runtime"],
        params:
            mlp_label=LABELS[MLP],
        script:
            "../workflow/scripts/plot_weights.py"


rule plot_galleries:
    input:
        cache=DATA_CACHE,
        misclassified=runs("misclassified.csv"),
        code=src("plots", "data"),
    output:
        galleries=[
            report(
                f"{FIG}/galleries/{v}.png",
                caption=f"{CAPTIONS}/gallery.rst",
                category="Misclassified",
                subcategory="Per model",
                labels={"variant": LABELS[v]},
            )
            for v in VARIANTS
        ],
    log:
        "logs/plots/plot_galleries.log",
    benchmark:
        "benchmarks/plot_galleries.tsv"
    conda:
        ENV
    resources:
        mem_mb=resources_of("light")["mem_mb"],
        runtime=resources_of("light")["runtime"],
    params:
        run_keys=run_keys(),
        variants=VARIANTS,
        labels=LABELS,
    script:
        "../workflow/scripts/plot_galleries.py"


rule plot_errors:
    input:
        cache=DATA_CACHE,
        errors=rules.errors.output.summary,
        code=src("plots", "data"),
    output:
        hardest=report(
            f"{FIG}/errors/hardest.png",
            caption=f"{CAPTIONS}/hardest.rst",
            category="Misclassified",
            subcategory="Across models",
            labels={"figure": "hardest digits"},
        ),
        confused=report(
            f"{FIG}/errors/confused.png",
            caption=f"{CAPTIONS}/confused.rst",
            category="Misclassified",
            subcategory="Across models",
            labels={"figure": "confused pairs"},
        ),
        overlap=report(
            f"{FIG}/errors/overlap.png",
            caption=f"{CAPTIONS}/overlap.rst",
            category="Misclassified",
            subcategory="Across models",
            labels={"figure": "error overlap"},
        ),
        disagreements=report(
            f"{FIG}/errors/disagreements.png",
            caption=f"{CAPTIONS}/disagreements.rst",
            category="Misclassified",
            subcategory="Across models",
            labels={"figure": "disagreements"},
        ),
    log:
        "logs/plots/plot_errors.log",
    benchmark:
        "benchmarks/plot_errors.tsv"
    conda:
        ENV
    resources:
        mem_mb=resources_of("light")["mem_mb"],
        runtime=resources_of("light")["runtime"],
    params:
        labels=LABELS,
    script:
        "../workflow/scripts/plot_errors.py"


rule plot_rulegraph:
    input:
        dot="results/report/rulegraph.dot",
        code=src("plots"),
    output:
        graph=report(
            f"{FIG}/rulegraph.png",
            caption=f"{CAPTIONS}/rulegraph.rst",
            category="Rule graph",
        ),
    log:
        "logs/plots/plot_rulegraph.log",
    benchmark:
        "benchmarks/plot_rulegraph.tsv"
    conda:
        ENV
    resources:
        mem_mb=resources_of("light")["mem_mb"],
        runtime=resources_of("light")["runtime"],
    script:
        "../workflow/scripts/plot_rulegraph.py"
