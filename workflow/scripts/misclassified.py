"""List one run's misclassified test images (rule misclassified)."""

from mnist_study.logs import start_job

start_job(snakemake.log[0])

from mnist_study.evaluate import write_misclassified

write_misclassified(snakemake.input.predictions, snakemake.output.table)
