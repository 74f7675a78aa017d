"""The workflow's rule graph as DOT text (rule rulegraph)."""

from mnist_study.logs import start_job

start_job(snakemake.log[0])

import os

from mnist_study.report.page.rulegraph import write_rulegraph

write_rulegraph(snakemake.params.snakefile, os.getcwd(), snakemake.config, snakemake.output.dot)
