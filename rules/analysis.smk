# Analysis: intervals over seeds, paired McNemar tests, claim verdicts, the error analysis and,
# once a replicate exists, its outcome for every claim.


rule statistics:
    input:
        runs="results/tables/runs.csv",
        predictions=runs("predictions.npz"),
    output:
        variants=f"{ANALYSIS}/variants.csv",
        pairs=f"{ANALYSIS}/pairs.csv",
    log:
        "logs/analysis/statistics.log",
    benchmark:
        "benchmarks/statistics.tsv"
    localrule: True
    conda:
        ENV
    params:
        run_keys=run_keys(),
        studies=entries("studies"),
        code=code("statistics"),
    script:
        job_script("statistics")


rule claims:
    input:
        runs="results/tables/runs.csv",
        history=runs("history.csv"),
        predictions=runs("predictions.npz"),
        # Read beside each predictions.npz: the best-epoch checkpoints' (variant@best).
        best_predictions=runs("predictions_best.npz"),
        # The tuned variants' lr choices, recorded beside the claims that use them.
        choices=[choice_file(v) for v in TUNED],
    output:
        verdicts=f"{ANALYSIS}/claims.json",
        text=figure(f"{ANALYSIS}/claims.md", "claims", "Claims"),
    log:
        "logs/analysis/claims.log",
    benchmark:
        "benchmarks/claims.tsv"
    localrule: True
    conda:
        ENV
    params:
        run_keys=run_keys(),
        claims=entries("claims"),
        alpha=config["alpha"],
        power=config["power"],
        tuned=TUNED,
        # Variants that train at another's chosen lr (lr_from), named beside their rate.
        lr_sources={v: lr_source(v) for v in VARIANTS if lr_source(v) not in (None, v)},
        # The design's file hash and rows, beside each verdict (a claim it misses: not designed).
        design=DESIGN,
        code=code("claims"),
    script:
        job_script("claims")


rule replication:
    input:
        first=rules.claims.output.verdicts,
        # Planned only once the replicate exists (the report asks for it then).
        second=replicate_claims(),
    output:
        outcomes=f"{ANALYSIS}/replication.json",
        text=f"{ANALYSIS}/replication.md",
    log:
        "logs/analysis/replication.log",
    benchmark:
        "benchmarks/replication.tsv"
    localrule: True
    conda:
        ENV
    params:
        # The checkout whose git history holds the committed design (relative: a moved
        # checkout reruns nothing).
        repo=os.path.relpath(workflow.basedir),
        code=code("replication"),
    script:
        job_script("replication")


rule errors:
    input:
        misclassified=runs("misclassified.csv"),
        # Any run's predictions hold the test labels (for per-class error rates).
        labels=runs("predictions.npz")[0],
    output:
        summary=f"{ANALYSIS}/errors.json",
    log:
        "logs/analysis/errors.log",
    benchmark:
        "benchmarks/errors.tsv"
    localrule: True
    conda:
        ENV
    params:
        run_keys=run_keys(),
        pair=PLAN.overlap_pair,
        code=code("errors"),
    script:
        job_script("errors")
