"""Train one variant with one seed (rule train)."""

from mnist_study.logs import start_job

start_job(snakemake.log[0])

from mnist_study.train import train_run

o, p = snakemake.output, snakemake.params
train_run(
    snakemake.input.cache,
    p.model,
    {**p.training, "threads": snakemake.threads},
    checkpoint=o.checkpoint,
    history=o.history,
    info=o.info,
    resume=p.resume,
)
