# Evaluation: one logits tensor per run gives accuracy, confusion and the misclassified set.


rule evaluate:
    input:
        cache=DATA_CACHE,
        checkpoint=f"{RUN}/model.pt",
        code=src("data", "models", "evaluate"),
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
    script:
        "../workflow/scripts/evaluate.py"


rule misclassified:
    input:
        predictions=f"{RUN}/predictions.npz",
        code=src("evaluate"),
    output:
        table=f"{RUN}/misclassified.csv",
    log:
        "logs/misclassified/{variant}/seed{seed}.log",
    conda:
        ENV
    resources:
        mem_mb=resources_of("light")["mem_mb"],
        runtime=resources_of("light")["runtime"],
    script:
        "../workflow/scripts/misclassified.py"
