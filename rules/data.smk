# Data: fetch the four IDX files from the first source that verifies, then cache them as tensors.


# No code param: the files are verified by sha256, so only the dataset or its sources rerun it.
rule fetch_data:
    output:
        **RAW,
    log:
        "logs/data/fetch_data.log",
    benchmark:
        "benchmarks/fetch_data.tsv"
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
