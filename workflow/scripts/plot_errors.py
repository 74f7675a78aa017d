"""Figures of the error analysis across models (rule plot_errors)."""

from mnist_study.logs import start_job

start_job(snakemake.log[0])

from mnist_study.report.plots.galleries import plot_errors

i, o = snakemake.input, snakemake.output
plot_errors(
    i.cache,
    i.errors,
    o.hardest,
    o.confused,
    o.overlap,
    o.disagreements,
    labels=snakemake.params.labels,
    dataset=snakemake.params.dataset,
)
