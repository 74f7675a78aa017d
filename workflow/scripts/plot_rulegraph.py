"""Draw the workflow's rule graph (rule plot_rulegraph)."""

from mnist_study.logs import to_file

to_file(snakemake.log[0])

from mnist_study.plots import plot_rulegraph

plot_rulegraph(snakemake.input.dot, snakemake.output.graph)
