"""Galleries of augmented training images, one per augmenting variant (rule plot_augmentation)."""

from mnist_study.logs import start_job

start_job(snakemake.log[0])

from mnist_study.report.plots.augment_gallery import plot_augmentation

p = snakemake.params
outputs = dict(zip(p.augmented, snakemake.output.augmentation, strict=True))
plot_augmentation(snakemake.input.cache, p.augmented, outputs, p.labels, dataset=p.dataset)
