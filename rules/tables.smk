# Aggregation: one row per run, then one row per variant (mean and std over seeds).


rule tables:
    input:
        info=runs("train.json"),
        history=runs("history.csv"),
        metrics=runs("metrics.json"),
    output:
        runs="results/tables/runs.csv",
        summary="results/tables/summary.csv",
    log:
        "logs/tables.log",
    benchmark:
        "benchmarks/tables.tsv"
    localrule: True
    conda:
        ENV
    params:
        # (variant, seed) per run, in the order of the input lists.
        run_keys=run_keys(),
        code=code("tables"),
    script:
        job_script("tables")
