# Data: fetch the four IDX files from the first source that verifies, then cache them as tensors.


rule fetch_data:
    input:
        code=src("data"),
    output:
        **RAW,
    log:
        "logs/data/fetch_data.log",
    conda:
        ENV
    resources:
        mem_mb=resources_of("light")["mem_mb"],
        runtime=resources_of("light")["runtime"],
    params:
        dataset=DATASET,
        sources=config["data"]["sources"],
        local_dir=config["data"]["local_dir"],
        sha256=config["data"]["sha256"],
        timeout=config["data"]["timeout"],
    script:
        "../workflow/scripts/fetch_data.py"


rule cache_data:
    input:
        **RAW,
        code=src("data"),
    output:
        cache=DATA_CACHE,
    log:
        "logs/data/cache_data.log",
    conda:
        ENV
    resources:
        mem_mb=resources_of("light")["mem_mb"],
        runtime=resources_of("light")["runtime"],
    params:
        dataset=DATASET,
        val_size=config["data"]["val_size"],
        split_seed=config["data"]["split_seed"],
        sha256=config["data"]["sha256"],
    script:
        "../workflow/scripts/cache_data.py"
