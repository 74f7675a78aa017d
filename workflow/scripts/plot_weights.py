"""Linear weight templates and an MLP's first-layer features (rule plot_weights)."""

from mnist_study.logs import start_job

start_job(snakemake.log[0])

from mnist_study.report.plots.weights import plot_weights

i, o, p = snakemake.input, snakemake.output, snakemake.params
plot_weights(i.linear, i.mlp, o.templates, o.features, p.mlp_label, p.dataset)
