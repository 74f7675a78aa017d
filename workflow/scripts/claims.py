"""A verdict with its numbers for every configured claim (rule claims)."""

from mnist_study.logs import start_job

start_job(snakemake.log[0])

from mnist_study.evidence.verdicts import write_claims

i, o, p = snakemake.input, snakemake.output, snakemake.params
write_claims(
    i.runs,
    p.run_keys,
    i.history,
    i.predictions,
    p.claims,
    p.alpha,
    o.verdicts,
    o.text,
    power=p.power,
    choice_paths=dict(zip(p.tuned, i.choices, strict=True)),
    lr_sources=p.lr_sources,
    design=p.design,
)
