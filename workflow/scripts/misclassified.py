"""List the misclassified test images of each of one variant's runs (a misclassified rule)."""

from mnist_study.logs import start_job

start_job(snakemake.log[0])

from mnist_study.engine.misclassified import write_all_misclassified

write_all_misclassified(snakemake.input.predictions, snakemake.output.tables)
