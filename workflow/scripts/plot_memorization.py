"""Memorization curves of every study with random-label variants (rule plot_memorization)."""

from mnist_study.logs import start_job

start_job(snakemake.log[0])

from mnist_study.report.plots.memorization import plot_memorization

p = snakemake.params
outputs = dict(zip(p.studies, snakemake.output.memorization, strict=True))
plot_memorization(p.studies, p.run_keys, snakemake.input.history, outputs, p.levels, p.labels)
