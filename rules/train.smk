# Training: one job per variant and seed, hyperparameters through params so a change reruns only it.


rule train:
    input:
        cache=DATA_CACHE,
    output:
        checkpoint=f"{RUN}/model.pt",
        history=f"{RUN}/history.csv",
        info=f"{RUN}/train.json",
    log:
        "logs/train/{variant}/seed{seed}.log",
    benchmark:
        "benchmarks/train/{variant}/seed{seed}.tsv"
    conda:
        ENV
    threads: resources_of("train")["threads"]
    resources:
        mem_mb=resources_of("train")["mem_mb"],
        runtime=resources_of("train")["runtime"],
        gpu=resources_of("train")["gpus"],
    params:
        model=lambda w: variant_model(w.variant),
        training=lambda w: variant_training(w.variant, w.seed),
        # Not an output: Snakemake must not delete it when a killed job is rerun.
        resume=lambda w: f"results/runs/{w.variant}/seed{w.seed}/resume.pt",
        code=code("train"),
    script:
        job_script("train")
