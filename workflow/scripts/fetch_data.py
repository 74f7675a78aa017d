"""Fetch and verify the dataset's four IDX files (rule fetch_data)."""

from mnist_study.logs import start_job

start_job(snakemake.log[0])

from mnist_study.data.datasets import FILES
from mnist_study.data.sources import acquire

p = snakemake.params
targets = dict(zip(FILES, snakemake.output, strict=True))
acquire(p.dataset, targets, p.sources, p.local_dir, p.sha256, p.timeout)
