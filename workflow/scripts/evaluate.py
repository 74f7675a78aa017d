"""Evaluate one trained run on the test set (rule evaluate)."""

from mnist_study.logs import start_job

start_job(snakemake.log[0])

from mnist_study.evaluate import evaluate_run

i, o = snakemake.input, snakemake.output
evaluate_run(
    i.cache,
    i.checkpoint,
    metrics=o.metrics,
    predictions=o.predictions,
    device=snakemake.params.device,
    threads=snakemake.threads,
)
