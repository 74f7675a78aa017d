# The MNIST study: why linear models, MLPs and CNNs behave as they do.
# Wiring only; helpers live in rules/common.smk, the work in src/mnist_study/.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/bench.smk"
include: "rules/train.smk"
include: "rules/tuning.smk"
include: "rules/evaluate.smk"
include: "rules/tables.smk"
include: "rules/analysis.smk"
include: "rules/plots.smk"
include: "rules/history.smk"
include: "rules/report.smk"


rule all:
    default_target: True
    input:
        all_targets(),
    localrule: True


include: "rules/console.smk"
