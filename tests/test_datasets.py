"""A second dataset beside the first: its own results tree, its own wording and class names,
nothing of the first study rerun; and which findings carry over, judged by their difference."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
from helpers import REPO

from mnist_study.data.datasets import DATASETS
from mnist_study.evidence.effects import Effect
from mnist_study.record import crossdata

FASHION = list(DATASETS["fashion-mnist"].classes)
# "MNIST" as a word of its own: not inside Fashion-MNIST, mnist_study or FashionMNIST.
STANDALONE_MNIST = re.compile(r"(?<![\w-])mnist(?![\w-])|(?<!fashion-)mnist-", re.IGNORECASE)


def report_text(workdir) -> str:
    """What the report says: its markup's text, without images, styles or scripts (a vendored
    library's own words, d3's "invalid digits" among them, are not the report's)."""
    html = (workdir / "results" / "report.html").read_text(encoding="utf-8")
    html = re.sub(r"<(script|style)\b[^>]*>.*?</\1>", " ", html, flags=re.DOTALL)
    return re.sub(r"<[^>]+>", " ", re.sub(r'src="data:[^"]*"', "", html))


def test_the_pattern_finds_mnist_only_as_a_word_of_its_own():
    assert STANDALONE_MNIST.search("the MNIST study") and STANDALONE_MNIST.search("mnist-study")
    for fine in (
        "Fashion-MNIST",
        "fashion-mnist",
        "mnist_study.evidence.verdicts",
        "FashionMNIST/raw",
    ):
        assert not STANDALONE_MNIST.search(fine), fine


@pytest.mark.slow
def test_a_second_dataset_reruns_nothing_of_the_first(smoke_run, fashion_like_run):
    assert (fashion_like_run / "results" / "report.html").is_file()
    # The data folder is shared: the files given by hand land beside the MNIST study's.
    assert (
        smoke_run.workdir / "data" / "tiny-fashion" / "raw" / "t10k-labels-idx1-ubyte"
    ).is_file()
    done = smoke_run.snakemake("-n", check=True)
    assert "Nothing to be done" in done.stdout + done.stderr


@pytest.mark.slow
def test_the_report_speaks_of_its_own_dataset(smoke_run, fashion_like_run):
    text = report_text(fashion_like_run)
    assert "Tiny Fashion study: why models behave as they do" in text
    assert "Hardest articles" in text and "Misclassified articles per model" in text
    assert not re.search(r"digit", text, re.IGNORECASE)
    assert not STANDALONE_MNIST.search(text), STANDALONE_MNIST.search(text)
    # The hardest images and the most confused pairs name their classes.
    hardest = text.split("Hardest articles", 1)[1].split("Overlap of error sets", 1)[0]
    assert sum(name in hardest for name in FASHION) >= 2
    assert not re.search(r"\bSeed\b", text.split("Results", 2)[2].split("Claims", 1)[0])
    # The MNIST study keeps its digits.
    mnist = report_text(smoke_run.workdir)
    assert "MNIST study: why models behave as they do" in mnist and "Hardest digits" in mnist


# Two datasets' test sets: their ids differ, so their effects add as independent.
TEST_SETS = ("first-test-set", "second-test-set")


def _effect(estimate: float, se: float, df: float = 30) -> Effect:
    return Effect(estimate=estimate, se_seed=se, se_image=0.0, df=df, n_seeds=int(df) + 1)


def test_difference_of_independent_effects_adds_variances_with_welch_df():
    a, b = _effect(1.0, 0.3, 10), _effect(0.4, 0.4, 20)
    d = crossdata.difference(a, b, TEST_SETS)
    assert d.estimate == pytest.approx(-0.6)
    assert d.se == pytest.approx(0.5)
    assert d.df == pytest.approx(0.25**2 / (0.09**2 / 10 + 0.16**2 / 20))


def _judge(a: Effect, b: Effect, margin: float = 0.1, alpha: float = 0.05) -> str:
    d = crossdata.difference(a, b, TEST_SETS)
    return crossdata.judge(a, b, d.p_value(), d.p_equivalence(margin), alpha)


def test_significant_here_and_not_there_is_no_difference_by_itself():
    # Gelman & Stern's example: 25 ± 10 is significant, 10 ± 10 is not; their difference is not.
    here, there = _effect(25, 10, 1000), _effect(10, 10, 1000)
    assert here.p_value() < 0.05 < there.p_value()
    assert _judge(here, there, margin=1) == "unresolved"


def test_two_studies_on_one_test_set_are_never_differenced_as_independent():
    with pytest.raises(crossdata.CrossDataError, match="same test set"):
        crossdata.difference(_effect(1.0, 0.1), _effect(1.1, 0.1), ("mnist", "mnist"))


def test_judgements():
    assert _judge(_effect(1.0, 0.01), _effect(1.02, 0.01)) == "carries over"
    assert _judge(_effect(1.0, 0.05), _effect(2.0, 0.05)) == "same direction, different size"
    assert _judge(_effect(1.0, 0.05), _effect(-1.0, 0.05)) == "differs"
    assert _judge(_effect(0.0, 0.5), _effect(0.3, 0.5)) == "unresolved"


@pytest.mark.slow
def test_the_cross_dataset_view_of_two_real_studies(smoke_run, fashion_like_run, tmp_path, capsys):
    first, second = smoke_run.workdir / "results", fashion_like_run / "results"
    out = tmp_path / "carry-over.md"
    args = [str(first), str(second), "--names", "MNIST", "Tiny Fashion", "--out", str(out)]
    assert crossdata.main(args) == 0
    text = out.read_text(encoding="utf-8")
    assert text.strip() == capsys.readouterr().out.strip()
    rows = [line for line in text.splitlines() if line.startswith("| ") and "**" in line]
    assert [r.split(" | ")[0].strip("| ") for r in rows] == list(smoke_run.read_config()["claims"])
    assert all(any(f"**{j}**" in r for j in crossdata.JUDGEMENTS) for r in rows)
    assert "| linear |" in text.split("## Test accuracy", 1)[1]
    # The difference is the second study's effect minus the first's, from claims.json.
    a, b = (json.loads((f / "analysis/claims.json").read_text())[0] for f in (first, second))
    row = crossdata.compare_claims([a], [b], 0.05, TEST_SETS)[0]
    assert row["difference"].estimate == pytest.approx(b["effect"] - a["effect"])


def test_a_results_folder_without_claims_says_what_to_run(tmp_path, capsys):
    assert crossdata.main([str(tmp_path / "a"), str(tmp_path / "b")]) == 2
    assert "claims.json: not found; run that dataset's study first" in capsys.readouterr().err


def test_confusion_matrices_and_galleries_name_the_classes(tmp_path, monkeypatch):
    import numpy as np
    import pandas as pd

    from mnist_study.report.plots import confusion, galleries

    figures = []
    for module in (confusion, galleries):
        monkeypatch.setattr(
            module, "save", lambda fig, out, layout="tight_layout": figures.append(fig)
        )
    matrix = np.eye(10) * 50 + 1
    dataset = {"classes": FASHION, "noun": "article"}
    confusion.plot_confusion_grid({"a": matrix}, ["a"], "t", tmp_path / "c.png", dataset=dataset)
    axes = figures[-1].axes[0]
    assert [t.get_text() for t in axes.get_yticklabels()] == FASHION
    assert [t.get_text() for t in axes.get_xticklabels()] == FASHION
    table = pd.DataFrame(
        {"index": [0, 1], "true": [6, 9], "pred": [0, 7], "confidence": [0.9, 0.8]}
    )
    images = np.zeros((2, 28, 28), np.uint8)
    galleries.gallery_of_misclassified(table, images, "g", tmp_path / "g.png", classes=FASHION)
    captions = [t.get_text() for t in figures[-1].axes[0].texts]
    assert captions == ["Shirt→\nT-shirt/top 90%", "Ankle boot→\nSneaker 80%"]
    # Digits keep their one-line captions.
    galleries.gallery_of_misclassified(table, images, "g", tmp_path / "g.png")
    assert [t.get_text() for t in figures[-1].axes[0].texts] == ["6→0 90%", "9→7 80%"]


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (
            "replicate",
            [
                "--directory results/fashion-mnist-replicate",
                "workflow/datasets/fashion-mnist.yaml",
                "workflow/replicate.yaml",
                # The study's own report again, with each claim's outcome beside its verdict.
                "--directory results/fashion-mnist --configfile config.yaml "
                "workflow/datasets/fashion-mnist.yaml results/report.html",
                "mnist_study.record.replication results/fashion-mnist/results/analysis/claims.json "
                "results/fashion-mnist-replicate/results/analysis/claims.json",
            ],
        ),
        (
            "pilot",
            [
                "--directory results/pilot/fashion-mnist",
                "workflow/datasets/fashion-mnist.yaml",
                "workflow/pilot.yaml",
                "mnist_study.evidence.power results/pilot/fashion-mnist",
            ],
        ),
        (
            "design",
            [
                "--directory results/pilot/fashion-mnist",
                "workflow/datasets/fashion-mnist.yaml",
                "workflow/pilot.yaml",
                "mnist_study.evidence.design results/pilot/fashion-mnist",
                "--out workflow/designs/fashion-mnist --study results/fashion-mnist",
            ],
        ),
    ],
)
def test_replicate_and_pilot_follow_the_dataset(tmp_path, target, expected):
    """make replicate, make pilot and make design with DATASET=<name> layer the dataset's config
    under the replicate's or pilot's, each in its own folder (a dry run of the Makefile)."""
    stamp = tmp_path / ".installed-stamp"
    stamp.touch()
    done = subprocess.run(
        ["make", "-n", f"VENV={tmp_path}", "-o", str(stamp), target, "DATASET=fashion-mnist"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    text = " ".join(done.stdout.replace(str(REPO) + "/", "").replace("\\\n", " ").split())
    for words in expected:
        assert words in text, text


def _each_record(binding, effects):
    """A claims.json record of a claim of several comparisons (compare: each)."""
    comparisons = [
        {"a": a, "b": "c", "effect": e, "se_seed": 0.01, "se_image": 0.0, "df": 30, "n_seeds": 31}
        for a, e in effects.items()
    ]
    binding_effect = next(c["effect"] for c in comparisons if c["a"] == binding[0])
    return {
        "name": "both",
        "statement": "c beats a and b.",
        "metric": "gap",
        "variants": ["a", "b", "c"],
        "compare": "each",
        "expect": "decrease",
        "smallest_effect": 0.005,
        "verdict": "supported",
        "binding": list(binding),
        "comparisons": comparisons,
        "effect": binding_effect,
        "se_seed": 0.01,
        "se_image": 0.0,
        "df": 30,
        "n_seeds": 31,
    }


def test_a_claim_of_several_comparisons_carries_over_by_the_same_comparison():
    """The first dataset's deciding comparison is compared on both, even where another one
    decides the claim on the second."""
    first = _each_record(("b", "c"), {"a": -0.05, "b": -0.01})
    second = _each_record(("a", "c"), {"a": -0.02, "b": -0.04})
    (row,) = crossdata.compare_claims([first], [second], 0.05, TEST_SETS)
    assert row["first"]["effect"].estimate == pytest.approx(-0.01)
    assert row["second"]["effect"].estimate == pytest.approx(-0.04)
    assert row["difference"].estimate == pytest.approx(-0.03)


def test_a_tuned_claim_carries_over_with_each_datasets_rates_beside_it():
    """Each dataset tunes its own rates: the carry-over shows them, and judges the effects."""

    def record(effect, rates):
        return {
            "name": "relu_tuned",
            "statement": "ReLU converges faster, each at its own best rate.",
            "metric": "epochs_to_val_acc",
            "variants": ["tanh", "relu"],
            "expect": "decrease",
            "smallest_effect": 0.5,
            "verdict": "supported",
            "effect": effect,
            "se_seed": 0.1,
            "se_image": 0.0,
            "df": 8,
            "n_seeds": 5,
            "learning_rates": rates,
            "tuning": {v: {"lr": lr} for v, lr in rates.items()},
        }

    first = record(-1.0, {"tanh": 0.002, "relu": 0.002})
    second = record(-0.9, {"tanh": 0.001, "relu": 0.005})
    rows = crossdata.compare_claims([first], [second], 0.05, TEST_SETS)
    assert rows[0]["difference"].estimate == pytest.approx(0.1)
    table = crossdata.rates_markdown(rows, ("MNIST", "Fashion"))
    assert "| relu_tuned | tanh 0.002, relu 0.002 | tanh 0.001, relu 0.005 |" in table
    untuned = {k: v for k, v in first.items() if k != "tuning"}
    assert (
        crossdata.rates_markdown(
            crossdata.compare_claims([untuned], [untuned], 0.05, TEST_SETS), "ab"
        )
        == ""
    )
