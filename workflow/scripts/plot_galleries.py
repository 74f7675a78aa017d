"""Galleries of misclassified test images, one per variant (rule plot_galleries)."""

from mnist_study.logs import start_job

start_job(snakemake.log[0])

from mnist_study.report.plots.galleries import plot_galleries

i, p = snakemake.input, snakemake.params
outputs = dict(zip(p.variants, snakemake.output.galleries, strict=True))
plot_galleries(i.cache, p.run_keys, i.misclassified, outputs, p.labels, dataset=p.dataset)
