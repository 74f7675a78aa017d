"""The explorer's static figure, for readers without JavaScript (rule plot_explorer)."""

from mnist_study.logs import start_job

start_job(snakemake.log[0])

from mnist_study.report.plots.explorer_figure import plot_files

p = snakemake.params
plot_files(snakemake.input.runs, p.run_keys, snakemake.input.info, snakemake.output.explorer)
