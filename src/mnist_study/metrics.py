"""What each metric of the study is: the names of the tables' metrics, which are fractions, and
how long a run took to reach an accuracy. Base layer: engine, evidence and report share them."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only a type: the Snakemake parse loads this module, without pandas
    import pandas as pd

# Per-run metrics of results/tables/runs.csv summarised per variant.
RUN_METRICS = (
    "test_acc",
    "test_loss",
    "val_acc",
    "val_loss",
    "train_acc",
    "train_loss",
    "gap",
    "ece",
    "overconfidence",
    "best_epoch",
    "stop_epoch",
    "epochs",
    "train_seconds",
)
# Claim metrics: runs.csv columns, values derived from history.csv, and paired predictions.
TABLE_METRICS = RUN_METRICS + ("params", "flops_per_sample")
HISTORY_METRICS = (
    "epochs_to_val_acc",
    "epochs_to_train_acc",
    "val_acc_at_epoch",
    "val_loss_slope",
)
# Epochs until a per-epoch accuracy first reaches the claim's threshold: the history column read.
TIME_TO_METRICS = {"epochs_to_val_acc": "val_acc", "epochs_to_train_acc": "train_eval_acc"}
# Means over images: tested over seeds and images together (mnist_study.evidence.effects).
IMAGE_METRICS = ("test_acc", "train_acc", "gap", "test_loss", "overconfidence")
PAIR_METRICS = ("disagreements",)
CLAIM_METRICS = TABLE_METRICS + HISTORY_METRICS + PAIR_METRICS
# Metrics that are fractions, shown as percentages and differences in percentage points
# (disagreements: the share of test images lost beyond the churn between seeds).
FRACTION_METRICS = (
    "test_acc",
    "val_acc",
    "train_acc",
    "gap",
    "val_acc_at_epoch",
    "disagreements",
    "ece",
    "overconfidence",
)


def epochs_to(history: pd.DataFrame, column: str, threshold: float, chance: float = 0.1):
    """(epochs until ``column`` (an accuracy) first reaches ``threshold``, reached?). Linear
    interpolation between measurements (epoch 0 at chance; epochs not scored are skipped). A
    run that never reaches it is censored at its last epoch: (last epoch, False), never a
    made-up later time."""
    scored = history.dropna(subset=[column])
    epochs = [0.0, *scored["epoch"].astype(float)]
    accs = [chance, *scored[column].astype(float)]
    for i in range(1, len(epochs)):
        if accs[i] >= threshold:
            prev, cur = accs[i - 1], accs[i]
            frac = 1.0 if cur == prev else (threshold - prev) / (cur - prev)
            return epochs[i - 1] + min(max(frac, 0.0), 1.0) * (epochs[i] - epochs[i - 1]), True
    return float(history["epoch"].max()), False
