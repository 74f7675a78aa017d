"""Statistics over seeds and paired comparisons between variants on the same test images.

Per-variant intervals (results/analysis/variants.csv) and every in-study pair (pairs.csv).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats
from scipy.stats import binomtest

from mnist_study.atomic import write_csv
from mnist_study.evidence.claims import BEST
from mnist_study.evidence.effects import Block, holm, image_set_id, two_way_effect
from mnist_study.metrics import TABLE_METRICS

CONFIDENCE = 0.95


def t_interval(values: Iterable[float], confidence: float = CONFIDENCE) -> dict:
    """Mean, sample std and the Student-t interval of the mean (NaN bounds below two values)."""
    x = np.asarray([v for v in values if not pd.isna(v)], dtype=float)
    n = len(x)
    mean = float(x.mean()) if n else math.nan
    std = float(x.std(ddof=1)) if n > 1 else math.nan
    if n > 1:
        half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * std / math.sqrt(n)
        low, high = mean - half, mean + half
    else:
        low = high = math.nan
    return {"n": n, "mean": mean, "std": std, "ci_low": low, "ci_high": high}


def variant_stats(runs: pd.DataFrame, metrics: Sequence[str] = TABLE_METRICS) -> pd.DataFrame:
    """Long table: one row per variant and metric with n, mean, std and the 95% t-interval."""
    missing = [m for m in ("variant", *metrics) if m not in runs.columns]
    if missing:
        raise ValueError(f"runs table lacks columns {missing}; has {list(runs.columns)}")
    rows = []
    for variant, group in runs.groupby("variant", sort=False):
        for metric in metrics:
            rows.append({"variant": variant, "metric": metric, **t_interval(group[metric])})
    return pd.DataFrame(
        rows, columns=["variant", "metric", "n", "mean", "std", "ci_low", "ci_high"]
    )


def stats_lookup(stats: pd.DataFrame) -> dict[tuple[str, str], dict]:
    """{(variant, metric): row} for quick access by the report and plots."""
    return {(r["variant"], r["metric"]): r for r in stats.to_dict("records")}


@dataclass(frozen=True)
class Correct:
    """Per-image outcomes of one run, from its predictions file, with the ids of the two image
    sets they are scored on (from their labels; by default from their sizes alone)."""

    test: np.ndarray  # bool per test image
    train: np.ndarray  # bool per image of the fixed training subset (the gap's train side)
    confidence: np.ndarray | None = None  # the predicted class's probability per test image
    nll: np.ndarray | None = None  # cross-entropy per test image
    test_set: str = ""  # image_set_id of the test set; "" derives it from its size
    train_set: str = ""  # image_set_id of the training subset; "" derives it from its size

    def __post_init__(self):
        for kind, field_name in (("test", "test_set"), ("train", "train_set")):
            if not getattr(self, field_name):
                size = len(getattr(self, kind))
                object.__setattr__(self, field_name, image_set_id(kind, np.zeros(size)))

    @classmethod
    def from_predictions(cls, pred, labels, train_pred, train_labels, **extra) -> Correct:
        """Correctness and image-set ids from predicted and true labels of both sets."""
        return cls(
            test=np.asarray(pred) == np.asarray(labels),
            train=np.asarray(train_pred) == np.asarray(train_labels),
            test_set=image_set_id("test", labels),
            train_set=image_set_id("train", train_labels),
            **extra,
        )

    def image_set(self, metric: str) -> str:
        """The id of the images ``metric``'s per-image values are scored on."""
        return self.train_set if metric == "train_acc" else self.test_set

    def per_image(self, metric: str) -> np.ndarray:
        """The per-test-image values whose mean is ``metric``, as float64."""
        if metric == "test_acc":
            return self.test.astype(np.float64)
        if metric == "train_acc":
            return self.train.astype(np.float64)
        values = {"overconfidence": self.confidence, "test_loss": self.nll}.get(metric)
        if values is None:
            raise ValueError(f"no per-image values for metric {metric!r} in this predictions file")
        if metric == "overconfidence":
            return values.astype(np.float64) - self.test
        return values.astype(np.float64)


def load_correct(run_keys, prediction_paths) -> dict[tuple[str, int], Correct]:
    """{(variant, seed): Correct} from each run's predictions file."""
    correct = {}
    for (variant, seed), path in zip(run_keys, prediction_paths, strict=True):
        with np.load(path) as data:
            arrays = {k: data[k] for k in ("pred", "labels", "train_pred", "train_labels")}
            extra = {k: data[k] for k in ("confidence", "nll") if k in data.files}
        for kind in ("", "train_"):
            if arrays[f"{kind}pred"].shape != arrays[f"{kind}labels"].shape:
                raise ValueError(f"{path}: {kind}pred and {kind}labels differ in shape")
        correct[(variant, int(seed))] = Correct.from_predictions(**arrays, **extra)
    return correct


def best_prediction_paths(prediction_paths) -> list[str]:
    """Each run's best-epoch predictions file, beside its predictions.npz."""
    return [str(Path(p).with_name("predictions_best.npz")) for p in prediction_paths]


def load_all_correct(run_keys, prediction_paths, best: bool = True) -> dict:
    """load_correct for the last epoch's predictions and, where ``best``, the best epoch's under
    the variant names ``v@best``."""
    correct = load_correct(run_keys, prediction_paths)
    if best:
        keys = [(f"{v}{BEST}", s) for v, s in run_keys]
        correct |= load_correct(keys, best_prediction_paths(prediction_paths))
    return correct


def paired_seeds(correct: Mapping, a: str, b: str) -> list[int]:
    """The seeds both variants ran with, less any seed whose two runs repeat an earlier
    seed's exactly: a repeated run is no new sample."""
    common = sorted({s for v, s in correct if v == a} & {s for v, s in correct if v == b})
    if not common:
        raise ValueError(f"no seed has predictions for both {a!r} and {b!r}")
    kept: list[int] = []
    for s in common:
        if not any(
            np.array_equal(correct[(a, s)].test, correct[(a, k)].test)
            and np.array_equal(correct[(b, s)].test, correct[(b, k)].test)
            for k in kept
        ):
            kept.append(s)
    return kept


def common_paired_seeds(correct: Mapping, pairs: Sequence[tuple[str, str]]) -> list[int]:
    """The seeds every pair (A, B) of a contrast over images shares (paired_seeds of each)."""
    common = set.intersection(*(set(paired_seeds(correct, a, b)) for a, b in pairs))
    return sorted(common)


def variant_blocks(
    correct: Mapping, variant: str, metric: str, seeds: Sequence[int], weight: float = 1.0
) -> list[Block]:
    """One variant's per-image values of a metric that is a mean over images, [seeds, images],
    on its image set: accuracy on the test set or training subset, the test set's calibration
    or loss, or the gap (training subset minus test set, two blocks)."""
    if metric == "gap":
        return [
            *variant_blocks(correct, variant, "train_acc", seeds, weight),
            *variant_blocks(correct, variant, "test_acc", seeds, -weight),
        ]
    if metric not in ("test_acc", "train_acc", "overconfidence", "test_loss"):
        raise ValueError(f"metric {metric!r} is not a mean over images")
    runs = [correct[(variant, s)] for s in seeds]
    ids = {r.image_set(metric) for r in runs}
    if len(ids) != 1:
        raise ValueError(
            f"{variant}: its seeds {list(seeds)} score {metric} on {len(ids)} different image "
            f"sets; a block's rows must share their images"
        )
    values = np.stack([r.per_image(metric) for r in runs])
    return [Block(values, weight, tuple(int(s) for s in seeds), ids.pop())]


def image_blocks(correct: Mapping, a: str, b: str, metric: str, seeds: Sequence[int]):
    """The blocks of B - A over images: B's per-image values at +1 and A's at -1, each on its
    own image set, so that two_way_effect pairs them per image where the sets are the same."""
    return variant_blocks(correct, b, metric, seeds) + variant_blocks(
        correct, a, metric, seeds, -1.0
    )


def mcnemar_exact(a_correct, b_correct) -> dict:
    """Exact McNemar test of two classifiers on the same images of one seed (two-sided
    binomial test on the discordant pairs). ``a_only``: images only A gets right."""
    a = np.asarray(a_correct, dtype=bool)
    b = np.asarray(b_correct, dtype=bool)
    if a.shape != b.shape:
        raise ValueError(f"McNemar needs paired predictions; got shapes {a.shape} and {b.shape}")
    a_only = int(np.sum(a & ~b))
    b_only = int(np.sum(~a & b))
    n = a_only + b_only
    # No discordant image: the data say nothing against equal accuracy.
    p = float(binomtest(b_only, n, 0.5).pvalue) if n else 1.0
    return {"a_only": a_only, "b_only": b_only, "n": int(a.size), "p": p}


def compare_pair(correct: Mapping, a: str, b: str, confidence: float = CONFIDENCE) -> dict:
    """Test accuracy B - A over seeds and test images together (mnist_study.evidence.effects), plus
    each seed's own exact McNemar test, which is valid within one seed only."""
    seeds = paired_seeds(correct, a, b)
    effect = two_way_effect(image_blocks(correct, a, b, "test_acc", seeds))
    per_seed = [mcnemar_exact(correct[(a, s)].test, correct[(b, s)].test) for s in seeds]
    low, high = effect.interval(confidence)
    return {
        "a": a,
        "b": b,
        "seeds": seeds,
        "a_only": sum(r["a_only"] for r in per_seed),
        "b_only": sum(r["b_only"] for r in per_seed),
        "p_per_seed": [r["p"] for r in per_seed],
        "p": effect.p_value(),
        "diff_mean": effect.estimate,
        "diff_ci_low": low,
        "diff_ci_high": high,
        "se_seed": effect.se_seed,
        "se_image": effect.se_image,
    }


PAIR_COLUMNS = (
    "study",
    "a",
    "b",
    "n_seeds",
    "a_only",
    "b_only",
    "diff_mean",
    "diff_ci_low",
    "diff_ci_high",
    "se_seed",
    "se_image",
    "p",
    "p_holm",
    "p_per_seed",
)


def study_pairs(studies: Mapping, correct: Mapping) -> pd.DataFrame:
    """Every pair of variants inside every study (in the study's factor order), with Holm's
    adjustment over the pairs of each study."""
    rows = []
    for study, entry in studies.items():
        results = [compare_pair(correct, a, b) for a, b in combinations(entry["variants"], 2)]
        adjusted = holm([r["p"] for r in results])
        for r, p_holm in zip(results, adjusted, strict=True):
            rows.append(
                {
                    **{k: r[k] for k in PAIR_COLUMNS if k in r},
                    "study": study,
                    "n_seeds": len(r["seeds"]),
                    "p_holm": p_holm,
                    "p_per_seed": ";".join(f"{p:.3g}" for p in r["p_per_seed"]),
                }
            )
    return pd.DataFrame(rows, columns=list(PAIR_COLUMNS))


def write_statistics(runs_csv, run_keys, prediction_paths, studies, variants_out, pairs_out):
    """Rule statistics: per-variant intervals and the paired tests inside every study."""
    runs = pd.read_csv(runs_csv)
    write_csv(variants_out, variant_stats(runs))
    correct = load_correct(run_keys, prediction_paths)
    write_csv(pairs_out, study_pairs(studies, correct))
