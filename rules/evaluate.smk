# Evaluation: one logits tensor per run gives accuracy, confusion and the misclassified set.


rule evaluate:
    input:
        cache=DATA_CACHE,
        checkpoint=f"{RUN}/model.pt",
    output:
        metrics=f"{RUN}/metrics.json",
        predictions=f"{RUN}/predictions.npz",
    log:
        "logs/evaluate/{variant}/seed{seed}.log",
    benchmark:
        "benchmarks/evaluate/{variant}/seed{seed}.tsv"
    conda:
        ENV
    threads: resources_of("evaluate")["threads"]
    resources:
        mem_mb=resources_of("evaluate")["mem_mb"],
        runtime=resources_of("evaluate")["runtime"],
    params:
        device=config["device"],
        code=code("evaluate"),
    script:
        job_script("evaluate")


rule misclassified:
    input:
        predictions=f"{RUN}/predictions.npz",
    output:
        table=f"{RUN}/misclassified.csv",
    log:
        "logs/misclassified/{variant}/seed{seed}.log",
    localrule: True
    conda:
        ENV
    params:
        code=code("misclassified"),
    script:
        job_script("misclassified")
