# Training: one job per variant (or per block of its seeds), its runs one after another in one
# process; hyperparameters through params, so a change reruns only that variant's jobs.
for variant in VARIANTS:
    for block in seed_blocks(variant):
        tag = job_tag(variant, block)

        rule:
            name:
                job_name("train", variant, block)
            input:
                **({"choice": chosen_lr_input(lr_source(variant))} if lr_source(variant) else {}),
                cache=DATA_CACHE,
            output:
                checkpoints=runs_of(variant, "model.pt", block),
                best=runs_of(variant, "model_best.pt", block),
                histories=runs_of(variant, "history.csv", block),
                infos=runs_of(variant, "train.json", block),
            log:
                f"logs/train/{tag}.log",
            benchmark:
                f"benchmarks/train/{tag}.tsv"
            priority: train_priority(variant, block)
            conda:
                ENV
            threads: resources_of("train")["threads"]
            resources:
                **partition_of("train"),
                mem_mb=resources_of("train")["mem_mb"],
                runtime=resources_of("train")["runtime"] * len(block),
                gpu=resources_of("train")["gpus"],
            params:
                model=variant_model(variant),
                training=(tuned_training(variant) if lr_source(variant) else training_of(variant)),
                seeds=block,
                code=code("train"),
            script:
                job_script("train")
