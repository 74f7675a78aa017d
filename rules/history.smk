# History: the current study as a record (results/record/), and what changed since an earlier one.
# The history folder is read at job time, never an input: recording a study reruns nothing.


rule snapshot:
    input:
        runs="results/tables/runs.csv",
        claims=rules.claims.output.verdicts,
        predictions=runs("predictions.npz"),
    output:
        record="results/record/record.json",
        predictions="results/record/predictions.npz",
    log:
        "logs/history/snapshot.log",
    benchmark:
        "benchmarks/snapshot.tsv"
    localrule: True
    conda:
        ENV
    params:
        run_keys=run_keys(),
        # As sorted JSON text: reordering the keys of a YAML mapping changes no param. Without
        # since and history, which say how this report is made, not what the study is.
        config=json.dumps(study_config.recorded_config(config), sort_keys=True),
        code=code("snapshot"),
    script:
        job_script("snapshot")


rule changes:
    input:
        record=rules.snapshot.output.record,
        predictions=rules.snapshot.output.predictions,
    output:
        changes=f"{ANALYSIS}/changes.json",
    log:
        "logs/history/changes.log",
    benchmark:
        "benchmarks/changes.tsv"
    localrule: True
    conda:
        ENV
    params:
        since=None if config["since"] is None else str(config["since"]),
        history=config["history"],
        code=code("changes"),
    script:
        job_script("changes")
