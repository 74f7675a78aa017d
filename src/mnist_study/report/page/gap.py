"""The split of a study's train–test gap along its factor: over each stretch of the gap's shape
(first to turning point to last), how much of the gap's change is training accuracy's and how
much test accuracy's. Since gap = train − test, Δgap = Δtrain − Δtest exactly; the sentence
reports those two parts and nothing it cannot read off them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from mnist_study.evidence.verdicts import turning_point
from mnist_study.formatting import missing, pct
from mnist_study.report.page.results import Results

# A mean gap off its train − test by more than half the last printed digit (0.01 pp) means the
# means come from different runs (a side missing in some), and the printed split would not add.
IDENTITY_TOLERANCE = 5e-5


def flat_gap(r: Results, study: Mapping) -> float:
    """The gap change that counts: the smallest effect of the study's own gap claims (the
    smallest, where several), else the config's report-wide flat_gap, else none."""
    members = set(study["variants"])
    own = [
        c["smallest_effect"]
        for c in r.claims
        if c.get("metric") == "gap" and set(c["variants"]) <= members
    ]
    if own:
        return float(min(own))
    return float(r.flat_gap or 0.0)


def gap_segments(gaps: Sequence[float], flat: float) -> list[tuple[int, int]]:
    """The stretches the gap's shape names: first to last, or through its turning point."""
    last = len(gaps) - 1
    turn = None if max(gaps) - min(gaps) < flat else turning_point(gaps)
    return [(0, last)] if turn is None else [(0, turn), (turn, last)]


def _moved(what: str, delta: float) -> str:
    size = f"{100 * abs(delta):.2f}"
    if size == "0.00":
        return f"{what} was unchanged"
    return f"{what} {'rose' if delta > 0 else 'fell'} {size} pp"


def _train_part(start: float, delta: float, flat: float) -> str:
    if 1 - start >= flat:
        return _moved("training accuracy", delta)
    # Within the counted change of 100%, training accuracy has no such change left to rise.
    if delta < 0:
        return f"{_moved('training accuracy', delta)} from {pct(start)}"
    return _moved(f"training accuracy, already at {pct(start)},", delta)


def _segment_text(r: Results, a: str, b: str, flat: float) -> str:
    """The gap's change from variant a to b, then its train and test parts."""
    start = r.stat(a, "train_acc")
    train = _train_part(start, r.stat(b, "train_acc") - start, flat)
    test = _moved("test accuracy", r.stat(b, "test_acc") - r.stat(a, "test_acc"))
    gap = r.stat(b, "gap") - r.stat(a, "gap")
    small = f", less than the {100 * flat:.2f} pp counted as a change" if abs(gap) < flat else ""
    return f"{_moved('the gap', gap)}{small}: {train} and {test}"


def _split_holds(r: Results, members: Sequence[str]) -> bool:
    """Every member has all three means and its gap is its train minus its test accuracy."""
    for v in members:
        gap, train, test = (r.stat(v, m) for m in ("gap", "train_acc", "test_acc"))
        if any(missing(x) for x in (gap, train, test)):
            return False
        if abs(train - test - gap) > IDENTITY_TOLERANCE:
            return False
    return True


def reason_sentence(r: Results, study: Mapping) -> str | None:
    """The gap's change over each stretch of its shape, split into training and test accuracy's
    parts, from the study's own means. None where the variants are not one ordered axis (a
    factor drawn as several series) or a mean is missing."""
    members, factor = study["variants"], study["factor"]
    if len(members) < 2 or factor.get("series") or not _split_holds(r, members):
        return None
    flat = flat_gap(r, study)
    values = factor["values"]
    segments = gap_segments([r.stat(v, "gap") for v in members], flat)
    sentence = "; ".join(
        f"from {values[i]} to {values[j]} {_segment_text(r, members[i], members[j], flat)}"
        for i, j in segments
    )
    # The reference's figures stay where they are cited: this sentence adds none of its own.
    see = " (see the reference below for published figures)" if study.get("reference") else ""
    return f"{sentence[0].upper()}{sentence[1:]}{see}."
