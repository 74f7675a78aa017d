"""Hardest digits, confused pairs and overlap of error sets across runs (rule errors)."""

from mnist_study.logs import start_job

start_job(snakemake.log[0])

from mnist_study.evidence.error_analysis import write_errors

i, p = snakemake.input, snakemake.params
write_errors(p.run_keys, i.misclassified, i.labels, p.pair, snakemake.output.summary)
