# Analysis: intervals over seeds, paired McNemar tests, claim verdicts and the error analysis.
FIG = "results/figures"
ANALYSIS = "results/analysis"


# The two models whose error sets the report compares: a disagreements claim's pair, else the
# first two variants of the first study that has two.
OVERLAP_PAIR = next(
    (
        list(c["variants"])
        for c in config.get("claims", {}).values()
        if c["metric"] == "disagreements"
    ),
    next(
        (list(e["variants"][:2]) for e in config["studies"].values() if len(e["variants"]) > 1),
        None,
    ),
)


rule statistics:
    input:
        runs="results/tables/runs.csv",
        predictions=runs("predictions.npz"),
        code=src("analysis"),
    output:
        variants=f"{ANALYSIS}/variants.csv",
        pairs=f"{ANALYSIS}/pairs.csv",
    log:
        "logs/analysis/statistics.log",
    benchmark:
        "benchmarks/statistics.tsv"
    conda:
        ENV
    resources:
        mem_mb=resources_of("light")["mem_mb"],
        runtime=resources_of("light")["runtime"],
    params:
        run_keys=run_keys(),
        studies=config["studies"],
    script:
        "../workflow/scripts/statistics.py"


rule claims:
    input:
        runs="results/tables/runs.csv",
        history=runs("history.csv"),
        predictions=runs("predictions.npz"),
        code=src("analysis"),
    output:
        verdicts=f"{ANALYSIS}/claims.json",
        text=report(
            f"{ANALYSIS}/claims.md",
            caption="../report/captions/claims.rst",
            category="Claims",
        ),
    log:
        "logs/analysis/claims.log",
    benchmark:
        "benchmarks/claims.tsv"
    conda:
        ENV
    resources:
        mem_mb=resources_of("light")["mem_mb"],
        runtime=resources_of("light")["runtime"],
    params:
        run_keys=run_keys(),
        claims=config.get("claims", {}),
    script:
        "../workflow/scripts/claims.py"


rule errors:
    input:
        misclassified=runs("misclassified.csv"),
        # Any run's predictions hold the test labels (for per-class error rates).
        labels=runs("predictions.npz")[0],
        code=src("analysis"),
    output:
        summary=f"{ANALYSIS}/errors.json",
    log:
        "logs/analysis/errors.log",
    benchmark:
        "benchmarks/errors.tsv"
    conda:
        ENV
    resources:
        mem_mb=resources_of("light")["mem_mb"],
        runtime=resources_of("light")["runtime"],
    params:
        run_keys=run_keys(),
        pair=OVERLAP_PAIR,
    script:
        "../workflow/scripts/errors.py"
