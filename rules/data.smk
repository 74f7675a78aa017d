# Data: fetch the four IDX files from the first source that verifies, then cache them as tensors.

# The dataset's folder under data.root (data/MNIST), which every study of the checkout shares.
DATA_FOLDER = os.path.dirname(os.path.dirname(RAW["train_images"]))


# No code param: the files are verified by sha256, so only the dataset or its sources rerun it.
# Its benchmark lies beside the files, not in the study's benchmarks/: another study on the same
# data folder (make quick, make replicate) finds every output there and plans no fetch, so the
# files keep their bytes and times (Snakemake deletes a job's outputs before it runs them).
rule fetch_data:
    output:
        **RAW,
    log:
        "logs/data/fetch_data.log",
    benchmark:
        f"{DATA_FOLDER}/fetch_data.tsv"
    localrule: True
    conda:
        ENV
    params:
        dataset=DATASET,
        sources=config["data"]["sources"],
        local_dir=config["data"]["local_dir"],
        sha256=config["data"]["sha256"],
        timeout=config["data"]["timeout"],
    script:
        job_script("fetch_data")


rule cache_data:
    input:
        **RAW,
    output:
        cache=DATA_CACHE,
    log:
        "logs/data/cache_data.log",
    benchmark:
        "benchmarks/cache_data.tsv"
    localrule: True
    conda:
        ENV
    params:
        dataset=DATASET,
        val_size=config["data"]["val_size"],
        split_seed=config["data"]["split_seed"],
        sha256=config["data"]["sha256"],
        code=code("cache_data"),
    script:
        job_script("cache_data")
