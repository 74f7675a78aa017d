# The machine's matmul figure, the denominator of the study's compute limit: measured once per
# machine on every core the workflow has, alone (it takes them all) and first (priority).


rule bench_matmul:
    output:
        figure="results/tables/matmul.json",
    log:
        "logs/bench_matmul.log",
    benchmark:
        "benchmarks/bench_matmul.tsv"
    priority: 1000000
    localrule: True
    conda:
        ENV
    threads: CORES
    params:
        # The machine, not the study: another machine measures anew, and only the report
        # (never training) reads the figure.
        machine=cpu_model(),
        cores=CORES,
        code=code("bench_matmul"),
    script:
        job_script("bench_matmul")
