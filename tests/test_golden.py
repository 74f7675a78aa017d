"""Golden files: the smoke study's claims.json and the report's text stay as they are.

Refactors must not change what the study concludes or says. Images, provenance, timestamps and
wall times are left out; a deliberate change regenerates the files with MNIST_UPDATE_GOLDEN=1.
CPUs round differently (AMD against Intel kernels), so numbers agree to a tolerance; words,
structure and verdicts agree exactly.
"""

from __future__ import annotations

import json
import math
import os
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

GOLDEN = Path(__file__).parent / "golden"
# Durations as the report prints them (mnist_study's `seconds` format): they vary run to run.
DURATION = re.compile(r"\b\d+(?:\.\d+)?(?:e[-+]?\d+)? (?:s|min|h)\b")
# A number as text: sign, digits, decimals, exponent.
NUMBER = re.compile(r"[-+\u2212]?\d+(?:\.\d+)?(?:e[-+]?\d+)?")
# Two CPUs' floats of the smoke study differ in the 7th significant digit (measured: 1.4e-6
# relative); this is a hundred times that and still far below any change of what is concluded.
REL_TOL = 1e-4
# Which variant trained fastest is a matter of timing too.
FASTEST = re.compile(r"Training took <duration> \([^)]*\) to <duration> \([^)]*\) per run\.")


class ReportText(HTMLParser):
    """The visible text of the report, one line per block, without the provenance section,
    the header's generation line, scripts and styles."""

    SKIP = {"style", "script"}
    BLOCKS = {"p", "h1", "h2", "h3", "li", "tr", "figcaption", "summary", "div", "section"}

    def __init__(self):
        super().__init__()
        self.lines, self.current, self.stack = [], [], []

    def _skipping(self) -> bool:
        return any(
            tag in self.SKIP or attrs.get("id") == "provenance" or attrs.get("class") == "meta"
            for tag, attrs in self.stack
        )

    def handle_starttag(self, tag, attrs):
        if tag in ("img", "br", "meta", "link", "input"):
            return
        if tag in self.BLOCKS:
            self._flush()
        elif tag in ("td", "th") and self.current and not self._skipping():
            self.current.append(" | ")
        self.stack.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        if tag in self.BLOCKS:
            self._flush()
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data):
        if not self._skipping():
            self.current.append(data)

    def _flush(self):
        text = " ".join("".join(self.current).split())
        if text:
            self.lines.append(FASTEST.sub("<timing>", DURATION.sub("<duration>", text)))
        self.current = []


def report_text(html: str) -> str:
    parser = ReportText()
    parser.feed(html)
    parser._flush()
    return "\n".join(parser.lines) + "\n"


def _printed_close(actual: str, expected: str) -> bool:
    """Two printed numbers agree to their printed precision: a float a CPU rounds differently
    may move the last digit by one."""
    a, e = (float(x.replace("\u2212", "-")) for x in (actual, expected))
    decimals = len(expected.split("e")[0].partition(".")[2])
    exponent = int(expected.split("e")[1]) if "e" in expected else 0
    unit = 10.0 ** (exponent - decimals)
    return abs(a - e) <= unit * 1.01 or math.isclose(a, e, rel_tol=REL_TOL)


def text_differences(actual: str, expected: str) -> list[str]:
    """Where two texts differ in words, or in a number beyond its printed precision."""
    words_a, words_e = NUMBER.split(actual), NUMBER.split(expected)
    if words_a != words_e:
        return [f"words differ: {actual!r} against {expected!r}"]
    return [
        f"{a} against {e} in {expected!r}"
        for a, e in zip(NUMBER.findall(actual), NUMBER.findall(expected), strict=True)
        if not _printed_close(a, e)
    ]


def json_differences(actual, expected, where: str = "") -> list[str]:
    """Where two JSON values differ: keys, lengths, verdicts and other words exactly; floats to
    REL_TOL; numbers inside text to their printed precision."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        if actual.keys() != expected.keys():
            return [f"{where}: keys {sorted(actual)} against {sorted(expected)}"]
        return [
            d for k in expected for d in json_differences(actual[k], expected[k], f"{where}.{k}")
        ]
    if isinstance(expected, list) and isinstance(actual, list):
        if len(actual) != len(expected):
            return [f"{where}: {len(actual)} items against {len(expected)}"]
        pairs = zip(actual, expected, strict=True)
        return [
            d for i, (a, e) in enumerate(pairs) for d in json_differences(a, e, f"{where}[{i}]")
        ]
    if isinstance(expected, float) and isinstance(actual, (int, float)):
        close = math.isclose(actual, expected, rel_tol=REL_TOL, abs_tol=1e-12)
        return [] if close else [f"{where}: {actual!r} against {expected!r}"]
    if isinstance(expected, str) and isinstance(actual, str):
        return [f"{where}: {d}" for d in text_differences(actual, expected)]
    return [] if actual == expected else [f"{where}: {actual!r} against {expected!r}"]


def _golden(name: str, actual: str) -> str:
    path = GOLDEN / name
    if os.environ.get("MNIST_UPDATE_GOLDEN") == "1":
        path.write_text(actual, encoding="utf-8")
    return path.read_text(encoding="utf-8")


def _fail_message(name: str, differences: list[str]) -> str:
    shown = "\n".join(differences[:20])
    return f"{GOLDEN / name} differs; a deliberate change: MNIST_UPDATE_GOLDEN=1 pytest\n{shown}"


def test_claims_json_is_unchanged(smoke_run):
    claims = json.loads((smoke_run.workdir / "results/analysis/claims.json").read_text())
    expected = json.loads(
        _golden("claims.json", json.dumps(claims, indent=2, sort_keys=True) + "\n")
    )
    differences = json_differences(claims, expected)
    assert not differences, _fail_message("claims.json", differences)


def test_report_text_is_unchanged(smoke_run):
    html = (smoke_run.workdir / "results/report.html").read_text(encoding="utf-8")
    actual = report_text(html)
    expected = _golden("report.txt", actual)
    a_lines, e_lines = actual.splitlines(), expected.splitlines()
    differences = (
        [f"{len(a_lines)} lines against {len(e_lines)}"]
        if len(a_lines) != len(e_lines)
        else [d for a, e in zip(a_lines, e_lines, strict=True) for d in text_differences(a, e)]
    )
    assert not differences, _fail_message("report.txt", differences)


def test_json_differences_tolerate_rounding_but_not_a_verdict():
    """The comparison itself: a CPU's rounding passes; a changed verdict or a moved number fails."""
    golden = {"verdict": "inconclusive", "p": 0.14257785522064062, "numbers": "-1.34 pp; p = 0.14"}
    rounding = {
        "verdict": "inconclusive",
        "p": 0.14257805105546403,
        "numbers": "-1.35 pp; p = 0.14",
    }
    assert json_differences(rounding, golden) == []
    assert json_differences({**rounding, "verdict": "supported"}, golden)
    assert json_differences({**rounding, "p": 0.15}, golden)
    assert json_differences({**rounding, "numbers": "-1.44 pp; p = 0.14"}, golden)
    assert json_differences({**rounding, "numbers": "-1.34 pts; p = 0.14"}, golden)
