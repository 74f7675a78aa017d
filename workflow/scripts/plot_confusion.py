"""Confusion heatmaps of every study's variants (rule plot_confusion)."""

from mnist_study.logs import start_job

start_job(snakemake.log[0])

from mnist_study.report.plots.confusion import plot_confusion

p = snakemake.params
outputs = dict(zip(p.studies, snakemake.output.confusion, strict=True))
plot_confusion(p.studies, p.run_keys, snakemake.input.metrics, outputs, p.labels, p.dataset)
