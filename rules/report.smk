# The report: the rule graph, then one self-contained HTML file from every table and figure.
import os

# Paths relative to the working directory: a study copied elsewhere together with its
# workflow then keeps the same recorded inputs (absolute ones would all look changed).
REPORT_DIR = os.path.relpath(Path(workflow.basedir) / "report")
RULE_FILES = [
    Path(workflow.basedir) / "Snakefile",
    *sorted(Path(workflow.basedir).glob("rules/*.smk")),
]


rule rulegraph:
    output:
        dot="results/report/rulegraph.dot",
    log:
        "logs/report/rulegraph.log",
    benchmark:
        "benchmarks/rulegraph.tsv"
    localrule: True
    conda:
        ENV
    params:
        snakefile=os.path.relpath(RULE_FILES[0]),
        # The rule files' tokens, not their bytes: a comment or blank line redraws nothing.
        rules=codehash.tokens_hash(RULE_FILES),
        # The config switches that change the graph (the script reads the config itself, so
        # that editing a variant's hyperparameters does not redraw the graph).
        weights=bool(PLAN.linear and PLAN.mlp),
        augmentation=bool(PLAN.augmented),
        memorization=bool(PLAN.memorization),
        tuning=bool(PLAN.tuned_studies),
        code=code("rulegraph"),
    script:
        job_script("rulegraph")


rule report:
    input:
        **{
            k: getattr(rules.plot_errors.output, k)
            for k in ("hardest", "confused", "overlap", "disagreements")
        },
        runs="results/tables/runs.csv",
        stats=rules.statistics.output.variants,
        pairs=rules.statistics.output.pairs,
        claims=rules.claims.output.verdicts,
        forest=rules.plot_forest.output.forest,
        changes=rules.changes.output.changes,
        # The replicate's outcomes beside each verdict, once `make replicate` has run.
        replication=rules.replication.output.outcomes if replicate_claims() else [],
        errors=rules.errors.output.summary,
        cache=DATA_CACHE,
        info=runs("train.json"),
        benchmarks=lambda w: benchmark_files(),
        matmul=rules.bench_matmul.output.figure,
        curves=rules.plot_curves.output.curves,
        galleries=rules.plot_galleries.output.galleries,
        study_curves=rules.plot_studies.output.curves,
        study_factor=rules.plot_studies.output.factor,
        confusion=rules.plot_confusion.output.confusion,
        reliability=rules.plot_reliability.output.reliability,
        # Galleries of augmented images and memorization curves, where variants call for them.
        augmentation=rules.plot_augmentation.output.augmentation if PLAN.augmented else [],
        memorization=rules.plot_memorization.output.memorization if PLAN.memorization else [],
        # The learning-rate sweeps, per study with a tuned variant, and the choices behind them.
        tuning=rules.plot_tuning.output.tuning if PLAN.tuned_studies else [],
        choices=[choice_file(v) for v in TUNED],
        # The sweeps' run records: their training counts in the compute figures.
        sweep_info=lambda w: sweep_infos(),
        # Linear templates and MLP features, where the config has both kinds of model.
        weights=(
            [rules.plot_weights.output.templates, rules.plot_weights.output.features]
            if PLAN.linear and PLAN.mlp
            else []
        ),
        rulegraph_dot=rules.rulegraph.output.dot,
        # The explorer's static figure (its library and script are among the scripts).
        explorer=rules.plot_explorer.output.explorer,
        template=f"{REPORT_DIR}/report.html.j2",
        css=f"{REPORT_DIR}/style.css",
        # Inlined once each, in this order: the explorer's library and script, the vendored
        # table sorter, the report's own script (vendored ones: report/vendor/README.md).
        scripts=[
            f"{REPORT_DIR}/vendor/d3/d3.min.js",
            f"{REPORT_DIR}/explorer.js",
            f"{REPORT_DIR}/vendor/tablesort/tablesort.min.js",
            f"{REPORT_DIR}/report.js",
        ],
        # A vendored script's licence goes in with it, as a comment (inline_script).
        script_licences=[
            f"{REPORT_DIR}/vendor/d3/LICENSE",
            f"{REPORT_DIR}/vendor/tablesort/LICENCE",
        ],
        captions=sorted(
            os.path.relpath(p) for p in Path(workflow.basedir).glob("report/captions/*.rst")
        ),
    output:
        html=figure("results/report.html", "report", "HTML report"),
        efficiency="results/tables/efficiency.json",
    log:
        "logs/report/report.log",
    # Not among the report's own inputs: it reads its own time from its process instead.
    benchmark:
        "benchmarks/report.tsv"
    localrule: True
    conda:
        ENV
    params:
        variants=entries("variants"),
        studies=entries("studies"),
        run_keys=run_keys(),
        alpha=config["alpha"],
        flat_gap=config["flat_gap"],
        config_hash=config_hash(),
        # The repository holds the template: its git commit goes into the provenance.
        repo=lambda w, input: str(Path(input.template).parents[1]),
        # The names each figure belongs to, in their order (report.figure_plan.FigurePlan).
        plan=PLAN.fields(),
        dataset=DATASET_INFO,
        design=DESIGN,
        # Read at job time, never inputs: the stamps say which jobs this invocation ran.
        jobs=lambda w: study_jobs(),
        report_stamp=stamp_of("logs/report/report.log"),
        code=code("report"),
    script:
        job_script("report")
