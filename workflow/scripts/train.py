"""Train one variant's runs, one seed after another (a train rule or a sweep's): each finished run
prints its progress line to Snakemake's console."""

from mnist_study.logs import start_job

start_job(snakemake.log[0])

from mnist_study.engine.train import train_block
from mnist_study.record import progress

o, p = snakemake.output, snakemake.params
train_block(
    snakemake.input.cache,
    p.model,
    {**p.training, "threads": snakemake.threads},
    p.seeds,
    [
        {"checkpoint": c, "best": b, "history": h, "info": i}
        for c, b, h, i in zip(o.checkpoints, o.best, o.histories, o.infos, strict=True)
    ],
    code=p.code,
    on_run_end=progress.reporter(p.code, p.model, p.training, p.seeds, o.infos),
)
