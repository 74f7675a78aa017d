# Learning-rate sweeps: every value of a tuned variant's sweep trains on the sweep seeds (none
# of them a claim's seed), and a checkpoint chooses the variant's lr from their validation
# figures. A value added trains only its runs; the claim runs rerun only if the choice moves.
# A variant that shares another's sweep (the same runs, another metric) trains none.
#
# Between the runs and the choice stand the sweep's rounds: round 0 reads the grid's runs; where
# a reader's best sits alone at an end, it adds one point past that end, and the next round reads
# that point's runs too, at most tuning.max_extensions times. Every point an extension could add
# has its train rule here; only the points a round asked for are ever planned.
for variant in SWEEP_OWNERS:
    for lr in sweep_candidates(variant):
        tag = sweep_tag(variant, lr)

        rule:
            name:
                f"sweep_{tag}"
            input:
                cache=DATA_CACHE,
            output:
                checkpoints=sweep_runs(variant, lr, "model.pt"),
                best=sweep_runs(variant, lr, "model_best.pt"),
                histories=sweep_runs(variant, lr, "history.csv"),
                infos=sweep_runs(variant, lr, "train.json"),
            log:
                f"logs/sweep/{tag}.log",
            benchmark:
                f"benchmarks/sweep/{tag}.tsv"
            priority: train_priority(variant, SWEEP_SEEDS)
            conda:
                ENV
            threads: resources_of("train")["threads"]
            resources:
                **partition_of("train"),
                mem_mb=resources_of("train")["mem_mb"],
                runtime=resources_of("train")["runtime"] * len(SWEEP_SEEDS),
                gpu=resources_of("train")["gpus"],
            params:
                model=variant_model(variant),
                training=sweep_training(variant, lr),
                seeds=SWEEP_SEEDS,
                code=code("train"),
            script:
                job_script("train")

    for round_index in range(MAX_EXTENSIONS + 1):

        checkpoint:
            name:
                round_rule(variant, round_index)
            input:
                histories=round_runs(variant, round_index, "history.csv"),
                infos=round_runs(variant, round_index, "train.json"),
                previous=[round_file(variant, round_index - 1)] if round_index else [],
            output:
                round=round_file(variant, round_index),
            log:
                f"logs/sweep/{round_rule(variant, round_index)}.log",
            benchmark:
                f"benchmarks/sweep/{round_rule(variant, round_index)}.tsv"
            localrule: True
            conda:
                ENV
            params:
                readers=sweep_readers(variant),
                round_index=round_index,
                max_extensions=MAX_EXTENSIONS,
                code=code("sweep_round"),
            script:
                job_script("sweep_round")


# Every tuned variant's choice, from its own sweep or the one it shares, on its last round's runs.
for variant in TUNED:

    checkpoint:
        name:
            f"choose_lr_{variant}"
        input:
            histories=final_runs(variant, "history.csv"),
            infos=final_runs(variant, "train.json"),
            final_round=final_round_input(variant),
        output:
            choice=choice_file(variant),
            # The lr alone: the claim runs read it, so a choice that stands (a sweep value
            # added elsewhere) reruns none of them, although the record above changes.
            lr=chosen_lr_file(variant),
        log:
            f"logs/sweep/choose_lr_{variant}.log",
        benchmark:
            f"benchmarks/sweep/choose_lr_{variant}.tsv"
        localrule: True
        conda:
            ENV
        params:
            sweep=study_config.canonical(study_config.sweep_dict(config, variant)),
            where=f"variants.{variant}.tune_lr",
            read_by_claim=read_by_claim(variant),
            code=code("choose_lr"),
        script:
            job_script("choose_lr")


# The sweeps and their choices alone: `make` runs this first (snakemake --until sweeps), so that
# the study's own run after it finds a choice that stands unchanged and reruns nothing for it
# (within one invocation, Snakemake would rerun what follows a checkpoint's readers). The data
# cache, which every sweep reads, is an input too: a study without sweeps (make quick) then
# fetches its data first, and a finished one plans nothing (a rule with neither input nor
# output would always run).
rule sweeps:
    input:
        DATA_CACHE,
        [chosen_lr_file(v) for v in TUNED],
    localrule: True
