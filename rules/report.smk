# The report: the rule graph, then one self-contained HTML file from every table and figure.
import os

# Paths relative to the working directory: a study copied elsewhere together with its
# workflow then keeps the same recorded inputs (absolute ones would all look changed).
REPORT_DIR = os.path.relpath(Path(workflow.basedir) / "report")
RULE_FILES = [os.path.relpath(Path(workflow.basedir) / "Snakefile")] + sorted(
    os.path.relpath(p) for p in (Path(workflow.basedir) / "rules").glob("*.smk")
)
# Per-rule times: every benchmark file the workflow writes before the report.
BENCHMARKS = [
    *[
        f"benchmarks/{rule}/{v}/seed{s}.tsv"
        for rule in ("train", "evaluate")
        for v, s in run_keys()
    ],
    *[
        f"benchmarks/{rule}.tsv"
        for rule in (
            "statistics",
            "claims",
            "errors",
            "plot_curves",
            "plot_studies",
            "plot_confusion",
            "plot_galleries",
            "plot_errors",
            "plot_rulegraph",
            "rulegraph",
        )
    ],
    *(["benchmarks/plot_weights.tsv"] if LINEAR and MLP else []),
]


rule rulegraph:
    input:
        rules=RULE_FILES,
        code=src("report"),
    output:
        dot="results/report/rulegraph.dot",
    log:
        "logs/report/rulegraph.log",
    benchmark:
        "benchmarks/rulegraph.tsv"
    conda:
        ENV
    resources:
        mem_mb=resources_of("light")["mem_mb"],
        runtime=resources_of("light")["runtime"],
    params:
        snakefile=lambda w, input: input.rules[0],
        # The one config switch that changes the graph (the script reads the config itself,
        # so that editing a variant's hyperparameters does not redraw the graph).
        weights=bool(LINEAR and MLP),
    script:
        "../workflow/scripts/rulegraph.py"


rule report:
    input:
        runs="results/tables/runs.csv",
        stats=rules.statistics.output.variants,
        pairs=rules.statistics.output.pairs,
        claims=rules.claims.output.verdicts,
        errors=rules.errors.output.summary,
        cache=DATA_CACHE,
        info=runs("train.json"),
        benchmarks=BENCHMARKS,
        curves=rules.plot_curves.output.curves,
        galleries=rules.plot_galleries.output.galleries,
        study_curves=rules.plot_studies.output.curves,
        study_factor=rules.plot_studies.output.factor,
        confusion=rules.plot_confusion.output.confusion,
        hardest=rules.plot_errors.output.hardest,
        confused=rules.plot_errors.output.confused,
        overlap=rules.plot_errors.output.overlap,
        disagreements=rules.plot_errors.output.disagreements,
        # Linear templates and MLP features, where the config has both kinds of model.
        weights=(
            [rules.plot_weights.output.templates, rules.plot_weights.output.features]
            if LINEAR and MLP
            else []
        ),
        rulegraph_png=rules.plot_rulegraph.output.graph,
        rulegraph_dot=rules.rulegraph.output.dot,
        template=f"{REPORT_DIR}/report.html.j2",
        css=f"{REPORT_DIR}/style.css",
        code=src("report", "data"),
    output:
        html=report(
            "results/report.html",
            caption="../report/captions/report.rst",
            category="HTML report",
        ),
    log:
        "logs/report/report.log",
    conda:
        ENV
    resources:
        mem_mb=resources_of("light")["mem_mb"],
        runtime=resources_of("light")["runtime"],
    params:
        variants=config["variants"],
        studies=config["studies"],
        config_hash=config_hash(),
        # The repository holds the template: its git commit goes into the provenance.
        repo=lambda w, input: str(Path(input.template).parents[1]),
        linear_variant=LINEAR,
        mlp_variant=MLP,
    script:
        "../workflow/scripts/report.py"
