"""Evaluate one variant's trained runs on the test set (an evaluate rule)."""

from mnist_study.logs import start_job

start_job(snakemake.log[0])

from mnist_study.engine.evaluate import evaluate_runs

i, o = snakemake.input, snakemake.output
evaluate_runs(
    i.cache,
    i.checkpoints,
    metrics=o.metrics,
    predictions=o.predictions,
    best_checkpoints=i.best,
    best_predictions=o.best_predictions,
    device=snakemake.params.device,
    threads=snakemake.threads,
)
