"""What changed since an earlier recorded study, judged against seed noise (rule changes)."""

from pathlib import Path

from mnist_study.logs import start_job

start_job(snakemake.log[0])

from mnist_study.record.compare import write_changes

p = snakemake.params
write_changes(Path(snakemake.input.record).parent, p.since, p.history, snakemake.output.changes)
