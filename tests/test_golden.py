"""Golden files: the smoke study's claims.json and the report's text stay as they are.

Refactors must not change what the study concludes or says. Images, provenance, timestamps and
wall times are left out; a deliberate change regenerates the files with MNIST_UPDATE_GOLDEN=1.
"""

from __future__ import annotations

import json
import os
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

GOLDEN = Path(__file__).parent / "golden"
# Durations as the report prints them (mnist_study's `seconds` format): they vary run to run.
DURATION = re.compile(r"\b\d+(?:\.\d+)?(?:e[-+]?\d+)? (?:s|min|h)\b")
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


def _compare(name: str, actual: str) -> None:
    path = GOLDEN / name
    if os.environ.get("MNIST_UPDATE_GOLDEN") == "1":
        path.write_text(actual, encoding="utf-8")
    expected = path.read_text(encoding="utf-8")
    assert actual == expected, f"{path} differs; a deliberate change: MNIST_UPDATE_GOLDEN=1 pytest"


def test_claims_json_is_unchanged(smoke_run):
    claims = json.loads((smoke_run.workdir / "results/analysis/claims.json").read_text())
    _compare("claims.json", json.dumps(claims, indent=2, sort_keys=True) + "\n")


def test_report_text_is_unchanged(smoke_run):
    html = (smoke_run.workdir / "results/report.html").read_text(encoding="utf-8")
    _compare("report.txt", report_text(html))
