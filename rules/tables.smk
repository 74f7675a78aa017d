# Aggregation: one row per run, then one row per variant (mean and std over seeds).


rule tables:
    input:
        info=runs("train.json"),
        history=runs("history.csv"),
        metrics=runs("metrics.json"),
        code=src("tables"),
    output:
        runs="results/tables/runs.csv",
        summary="results/tables/summary.csv",
    log:
        "logs/tables.log",
    conda:
        ENV
    resources:
        mem_mb=resources_of("light")["mem_mb"],
        runtime=resources_of("light")["runtime"],
    params:
        # (variant, seed) per run, in the order of the input lists.
        run_keys=run_keys(),
    script:
        "../workflow/scripts/tables.py"
