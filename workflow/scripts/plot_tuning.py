"""The lr sweeps and isolation plots of every study with tuned variants (rule plot_tuning)."""

from mnist_study.logs import start_job

start_job(snakemake.log[0])

from mnist_study.report.plots.tuning import plot_tuning

p = snakemake.params
outputs = dict(zip(p.studies, snakemake.output.tuning, strict=True))
plot_tuning(p.studies, p.tuned, snakemake.input.choices, outputs, p.labels)
