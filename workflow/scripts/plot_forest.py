"""The forest plot of the claims (rule plot_forest)."""

from mnist_study.logs import start_job

start_job(snakemake.log[0])

from mnist_study.report.plots.forest import plot_forest

plot_forest(
    snakemake.input.claims,
    snakemake.params.studies,
    snakemake.params.alpha,
    snakemake.output.forest,
)
