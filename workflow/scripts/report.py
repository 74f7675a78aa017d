"""Render the self-contained HTML report (rule report)."""

from mnist_study.logs import start_job

start_job(snakemake.log[0])

from mnist_study.report.page.html import write_report

inputs = dict(snakemake.input.items())
params = dict(snakemake.params.items())
write_report(inputs, params, snakemake.output.html, snakemake.output.efficiency)
