"""The sentence beside the gap's shape: its change over each stretch of the shape, split into a
training and a test accuracy part, from synthetic studies of every shape (no data, no runs)."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from mnist_study.evidence.verdicts import shape
from mnist_study.report.page.gap import flat_gap, gap_segments, reason_sentence
from mnist_study.report.page.results import Results
from mnist_study.report.page.text import study_paragraph

# Words that would claim more than the split shows.
CAUSAL = (
    "because",
    "so",
    "since",
    "due",
    "therefore",
    "thus",
    "hence",
    "cause",
    "caused",
    "causes",
    "driven",
    "drives",
    "leads",
    "led",
    "explains",
    "reason",
    "result",
    "owing",
    "thanks",
    "why",
)
WIDTHS = [8, 32, 128, 1024]
# (train accuracy, test accuracy) per width: each study's gap is train - test.
SHAPES = {
    # Training accuracy climbs faster than test accuracy all the way.
    "rising": [(0.90, 0.89), (0.94, 0.92), (0.97, 0.94), (0.99, 0.95)],
    # Training accuracy falls (a growing penalty), test accuracy holds.
    "falling": [(0.999, 0.95), (0.99, 0.951), (0.975, 0.952), (0.96, 0.953)],
    # The width study's shape: training accuracy saturates at 128, test accuracy keeps rising.
    "peak": [(0.9327, 0.9249), (0.9864, 0.9697), (0.9995, 0.9804), (0.99993, 0.9844)],
    # The gap narrows, then widens again once test accuracy drops.
    "low": [(0.99, 0.95), (0.99, 0.97), (0.995, 0.972), (0.999, 0.96)],
    # Both sides move, the gap by under a fifth of a point.
    "flat": [(0.9998, 0.9826), (0.9999, 0.9836), (0.9997, 0.9834), (0.9994, 0.9837)],
}
WORDS = {
    "rising": "rises",
    "falling": "falls",
    "peak": "rises to a peak at 128, then falls",
    "low": "falls to a low at 32, then rises",
    "flat": "stays flat",
}
SEGMENT = re.compile(r"[Ff]rom (\S+) to (\S+) ([^;]*)")
MOVE = re.compile(
    r"(the gap|training accuracy|test accuracy)(?:, already at [\d.]+%,)? "
    r"(rose|fell|was unchanged)(?: ([\d.]+) pp)?"
)


def study(values=WIDTHS, reference=None, series=None) -> dict:
    factor = {"label": "Hidden units", "values": list(values)}
    if series:
        factor["series"] = series
    entry = {"title": "Width", "variants": [f"w{v}" for v in values], "factor": factor}
    return entry | ({"reference": reference} if reference else {})


def results(accuracies, claims=(), flat=0.005, values=WIDTHS) -> Results:
    stats = {}
    for v, (train, test) in zip(values, accuracies, strict=True):
        for metric, mean in {"train_acc": train, "test_acc": test, "gap": train - test}.items():
            stats[(f"w{v}", metric)] = {"mean": mean}
    return Results(
        variants={f"w{v}": {"label": f"MLP {v}"} for v in values},
        studies={"width": study(values)},
        runs=pd.DataFrame(),
        stats=stats,
        pairs=pd.DataFrame(),
        claims=list(claims),
        errors={},
        alpha=0.05,
        flat_gap=flat,
    )


def signed(verb: str, size: str | None) -> float:
    return {"rose": 1.0, "fell": -1.0, "was unchanged": 0.0}[verb] * float(size or 0)


def parts(sentence: str) -> list[tuple[str, str, dict[str, float]]]:
    """Each stretch: its two ends and the gap's, training's and test's change in pp."""
    found = []
    for a, b, text in SEGMENT.findall(sentence):
        moves = {what: signed(verb, size) for what, verb, size in MOVE.findall(text)}
        assert set(moves) == {"the gap", "training accuracy", "test accuracy"}, text
        found.append((a, b, moves))
    return found


def change(accuracies, i: int, j: int, side: int) -> float:
    return 100 * (accuracies[j][side] - accuracies[i][side])


@pytest.mark.parametrize("name", list(SHAPES))
def test_each_shape_splits_its_gap_change_into_train_and_test(name):
    accuracies = SHAPES[name]
    r = results(accuracies)
    gaps = [train - test for train, test in accuracies]
    assert shape(gaps, [str(w) for w in WIDTHS], flat_gap(r, r.studies["width"])) == WORDS[name]
    sentence = reason_sentence(r, r.studies["width"])
    segments = gap_segments(gaps, 0.005)
    found = parts(sentence)
    assert [(a, b) for a, b, _ in found] == [(str(WIDTHS[i]), str(WIDTHS[j])) for i, j in segments]
    for (i, j), (_, _, moves) in zip(segments, found, strict=True):
        train, test = change(accuracies, i, j, 0), change(accuracies, i, j, 1)
        assert moves["training accuracy"] == pytest.approx(train, abs=0.005)
        assert moves["test accuracy"] == pytest.approx(test, abs=0.005)
        assert moves["the gap"] == pytest.approx(train - test, abs=0.005)
        # The parts as printed add up to the change as printed, to the last printed digit.
        assert moves["the gap"] == pytest.approx(
            moves["training accuracy"] - moves["test accuracy"], abs=0.0101
        )


@pytest.mark.parametrize("name", list(SHAPES))
def test_the_sentence_uses_no_causal_words(name):
    sentence = reason_sentence(results(SHAPES[name]), study(reference="Someone 2015, Table 1."))
    words = set(re.findall(r"[a-z]+", sentence.lower()))
    assert not words & set(CAUSAL), sentence
    assert "as a result" not in sentence.lower()


def test_saturated_training_accuracy_is_named_with_its_level():
    sentence = reason_sentence(results(SHAPES["peak"]), study())
    first, second = sentence.split(";")
    assert "already" not in first  # 98.64% leaves more than the counted change to rise
    assert "training accuracy, already at 99.95%, rose 0.04 pp" in second
    assert "test accuracy rose 0.40 pp" in second
    falling = reason_sentence(results(SHAPES["falling"]), study())
    assert "training accuracy fell 3.90 pp from 99.90%" in falling


def test_flat_reads_its_threshold_from_the_study_gap_claim_before_the_config():
    flat = SHAPES["flat"]
    r = results(flat, flat=0.005)
    assert "less than the 0.50 pp counted as a change" in reason_sentence(r, study())
    # A gap claim of the study sets a finer threshold: the same means now have a shape.
    claim = {"metric": "gap", "variants": ["w8", "w1024"], "smallest_effect": 0.001}
    r = results(flat, claims=[claim], flat=0.005)
    assert flat_gap(r, r.studies["width"]) == 0.001
    assert shape([a - b for a, b in flat], list("abcd"), 0.001) == "falls"
    assert "counted as a change" not in reason_sentence(r, study())
    # A claim on another metric, or reaching outside the study, sets nothing.
    others = [
        {"metric": "test_acc", "variants": ["w8", "w1024"], "smallest_effect": 0.001},
        {"metric": "gap", "variants": ["w8", "elsewhere"], "smallest_effect": 0.001},
    ]
    assert flat_gap(results(flat, claims=others, flat=0.004), study()) == 0.004


def test_the_claims_shapes_stay_without_a_flat_threshold():
    assert shape([0.01, 0.0101, 0.0102], ["a", "b", "c"]) == "rises"
    assert shape([0.01, 0.0101, 0.0102], ["a", "b", "c"], flat=0.005) == "stays flat"
    assert shape([1.0, 1.0, 1.0], ["a", "b", "c"]) == "mixed"
    assert shape([1.0, float("nan")], ["a", "b"], flat=0.5) == "not observed"


def test_every_number_comes_from_the_means_and_the_reference_adds_none():
    reference = "Neyshabur et al. 2015: test error 1.27% at 4,000 units."
    sentence = reason_sentence(results(SHAPES["peak"]), study(reference=reference))
    assert sentence.endswith("(see the reference below for published figures).")
    for number in ("2015", "1.27", "4,000", "4000"):
        assert number not in sentence
    numbers = set(re.findall(r"\d+(?:\.\d+)?", sentence))
    acc = SHAPES["peak"]
    # The factor's values, the training levels, and the config's counted change (0.50 pp).
    known = {str(w) for w in WIDTHS} | {f"{100 * train:.2f}" for train, _ in acc} | {"0.50"}
    for i, j in gap_segments([a - b for a, b in acc], 0.005):
        for side in (0, 1):
            known.add(f"{abs(change(acc, i, j, side)):.2f}")
        known.add(f"{abs(change(acc, i, j, 0) - change(acc, i, j, 1)):.2f}")
    assert numbers <= known, numbers - known


def test_categorical_factors_and_two_variants():
    values = ["none", "dropout"]
    r = results([(1.0, 0.9486), (0.9998, 0.9563)], values=values)
    sentence = reason_sentence(r, study(values))
    assert sentence == (
        "From none to dropout the gap fell 0.79 pp: training accuracy fell 0.02 pp from "
        "100.00% and test accuracy rose 0.77 pp."
    )


def test_no_sentence_where_the_axis_is_not_one_line_or_a_mean_is_missing():
    series = {"fixed": ["w8", "w32"], "scaled": ["w128", "w1024"]}
    assert reason_sentence(results(SHAPES["peak"]), study(series=series)) is None
    r = results(SHAPES["peak"])
    del r.stats[("w128", "train_acc")]
    assert reason_sentence(r, study()) is None
    # A gap that is not train - test in these means (a side missing in some runs) is not split.
    r = results(SHAPES["peak"])
    r.stats[("w128", "gap")] = {"mean": 0.02}
    assert reason_sentence(r, study()) is None


def test_the_study_paragraph_puts_the_split_after_the_shape():
    r = results(SHAPES["peak"])
    text = study_paragraph(r, "width")
    shape_at = text.index("rises to a peak at 128, then falls")
    assert text.index("From 8 to 128 the gap rose") > shape_at
