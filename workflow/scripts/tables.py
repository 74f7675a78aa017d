"""Aggregate every run into the runs and summary tables (rule tables)."""

from mnist_study.logs import start_job

start_job(snakemake.log[0])

from mnist_study.evidence.tables import write_tables

i, o = snakemake.input, snakemake.output
keys = snakemake.params.run_keys
write_tables(keys, i.info, i.history, i.metrics, runs=o.runs, summary=o.summary)
