# Evaluation: one job per variant; one logits tensor per checkpoint gives accuracy, confusion,
# calibration and the misclassified set, for the last epoch and the lowest validation loss.
for variant in VARIANTS:

    rule:
        name:
            job_name("evaluate", variant)
        input:
            cache=DATA_CACHE,
            checkpoints=runs_of(variant, "model.pt"),
            best=runs_of(variant, "model_best.pt"),
        output:
            metrics=runs_of(variant, "metrics.json"),
            predictions=runs_of(variant, "predictions.npz"),
            best_predictions=runs_of(variant, "predictions_best.npz"),
        log:
            f"logs/evaluate/{variant}.log",
        benchmark:
            f"benchmarks/evaluate/{variant}.tsv"
        conda:
            ENV
        threads: resources_of("evaluate")["threads"]
        resources:
            **partition_of("evaluate"),
            mem_mb=resources_of("evaluate")["mem_mb"],
            runtime=resources_of("evaluate")["runtime"],
        params:
            device=config["device"],
            code=code("evaluate"),
        script:
            job_script("evaluate")

    rule:
        name:
            job_name("misclassified", variant)
        input:
            predictions=runs_of(variant, "predictions.npz"),
        output:
            tables=runs_of(variant, "misclassified.csv"),
        log:
            f"logs/misclassified/{variant}.log",
        benchmark:
            f"benchmarks/misclassified/{variant}.tsv"
        localrule: True
        conda:
            ENV
        params:
            code=code("misclassified"),
        script:
            job_script("misclassified")
