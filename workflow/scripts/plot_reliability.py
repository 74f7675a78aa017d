"""Reliability diagrams of every study's variants (rule plot_reliability)."""

from mnist_study.logs import start_job

start_job(snakemake.log[0])

from mnist_study.report.plots.reliability import plot_reliability

p = snakemake.params
outputs = dict(zip(p.studies, snakemake.output.reliability, strict=True))
plot_reliability(p.studies, p.run_keys, snakemake.input.metrics, outputs, p.labels)
