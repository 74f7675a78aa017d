"""The current study as a history record, without date or commit yet (rule snapshot)."""

from mnist_study.logs import start_job

start_job(snakemake.log[0])

from mnist_study.record.history import write_snapshot

i, o, p = snakemake.input, snakemake.output, snakemake.params
write_snapshot(i.runs, i.claims, p.run_keys, i.predictions, p.config, o.record, o.predictions)
