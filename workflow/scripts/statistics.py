"""Per-variant intervals over seeds and paired McNemar tests in every study (rule statistics)."""

from mnist_study.logs import start_job

start_job(snakemake.log[0])

from mnist_study.evidence.stats import write_statistics

i, o, p = snakemake.input, snakemake.output, snakemake.params
write_statistics(i.runs, p.run_keys, i.predictions, p.studies, o.variants, o.pairs)
