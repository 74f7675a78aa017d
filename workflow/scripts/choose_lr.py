"""Choose a tuned variant's lr from its sweep's validation figures (a choose_lr checkpoint)."""

from mnist_study.logs import start_job

start_job(snakemake.log[0])

from mnist_study.engine.tuning import write_choice

p = snakemake.params
i = snakemake.input
o = snakemake.output
write_choice(p.sweep, p.where, i.histories, i.infos, o.choice, o.lr, i.final_round, p.read_by_claim)
