"""One round of a sweep's extensions: where each reader's best stands, and what to add."""

from mnist_study.logs import start_job

start_job(snakemake.log[0])

from mnist_study.engine.tuning import write_round

p = snakemake.params
i = snakemake.input
write_round(
    p.readers,
    p.round_index,
    p.max_extensions,
    i.histories,
    i.infos,
    snakemake.output.round,
    i.previous[0] if i.previous else None,
)
