"""Overlaid learning curves and the factor plot of every study (rule plot_studies)."""

from mnist_study.logs import start_job

start_job(snakemake.log[0])

from mnist_study.report.plots.curves import plot_studies

i, o, p = snakemake.input, snakemake.output, snakemake.params
curves = dict(zip(p.studies, o.curves, strict=True))
factor = dict(zip(p.studies, o.factor, strict=True))
plot_studies(p.studies, p.run_keys, i.history, i.stats, curves, factor, p.labels)
