"""Build the tensor cache from the verified IDX files (rule cache_data)."""

from mnist_study.logs import start_job

start_job(snakemake.log[0])

from mnist_study.data.cache import build_cache
from mnist_study.data.datasets import FILES

i, p = snakemake.input, snakemake.params
files = dict(
    zip(FILES, (i.train_images, i.train_labels, i.test_images, i.test_labels), strict=True)
)
build_cache(files, snakemake.output.cache, p.dataset, p.val_size, p.split_seed, p.sha256)
