"""Learning curves, one figure per variant (rule plot_curves)."""

from mnist_study.logs import start_job

start_job(snakemake.log[0])

from mnist_study.report.plots.curves import plot_curves

p = snakemake.params
outputs = dict(zip(p.variants, snakemake.output.curves, strict=True))
plot_curves(p.run_keys, snakemake.input.history, outputs, p.labels)
