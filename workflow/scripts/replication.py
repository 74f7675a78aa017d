"""Each claim's outcome in the replicate, against the committed design (rule replication)."""

from mnist_study.logs import start_job

start_job(snakemake.log[0])

from mnist_study.record.replication import write_replication

i, o, p = snakemake.input, snakemake.output, snakemake.params
write_replication(str(i.first), str(i.second), p.repo, o.outcomes, o.text)
