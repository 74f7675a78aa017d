"""Draw the workflow's rule graph (rule plot_rulegraph)."""

from mnist_study.logs import start_job

start_job(snakemake.log[0])

from mnist_study.plots import plot_rulegraph

plot_rulegraph(snakemake.input.dot, snakemake.output.graph)
