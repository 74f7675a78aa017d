"""The smoke run's results/report.html in headless Chromium: images decode, no console errors.

Needs Debian's chromium and the playwright package (test extra); skipped without them.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from test_datasets import STANDALONE_MNIST

from mnist_study.data import DATASETS

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
HOW_TO_ENABLE = (
    "install Debian's Chromium (`apt-get install -y chromium`) and the test extra "
    "(`pip install -e '.[test]'`, which brings playwright; no browser download is needed)"
)


def chromium_path() -> str | None:
    """Debian's chromium, or another given by $CHROMIUM."""
    for candidate in (os.environ.get("CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


@pytest.fixture(scope="module")
def browser():
    executable = chromium_path()
    if executable is None:
        pytest.skip(f"Chromium not found: {HOW_TO_ENABLE}")
    sync_api = pytest.importorskip("playwright.sync_api", reason=f"no playwright: {HOW_TO_ENABLE}")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def report_page(request, browser):
    """The report loaded in a page, with every console error and failed request recorded.

    $MNIST_STUDY_REPORT names an existing report to check instead of the smoke run's.
    """
    given = os.environ.get("MNIST_STUDY_REPORT")
    if given:
        html, config = Path(given), None
    else:
        smoke = request.getfixturevalue("smoke_run")
        html, config = smoke.workdir / "results/report.html", smoke.read_config()
    assert html.exists(), (
        f"{html}: the smoke run wrote no report (is `results/report.html` in rule all?)"
    )
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems: list[str] = []
    page.on(
        "console",
        lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None,
    )
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url[:80]}"))
    page.goto(html.resolve().as_uri(), wait_until="load")
    yield {"page": page, "html": html, "config": config, "problems": problems}
    page.close()


def test_every_image_decodes(report_page):
    page = report_page["page"]
    widths = page.evaluate(
        """() => Promise.all([...document.images].map(
            img => img.decode().then(() => img.naturalWidth, () => 0)))"""
    )
    assert widths, "the report has no images"
    assert all(w > 0 for w in widths), f"{widths.count(0)} of {len(widths)} images do not decode"
    alts = page.evaluate("() => [...document.images].map(img => img.alt.trim().length)")
    assert all(alts), "every image needs alt text"


def test_no_console_errors(report_page):
    page = report_page["page"]
    # Open every collapsed section, so that its content is laid out and drawn too.
    page.evaluate("() => document.querySelectorAll('details').forEach(d => d.open = true)")
    page.wait_for_timeout(200)
    assert report_page["problems"] == []


def test_results_table_lists_every_variant(report_page):
    page = report_page["page"]
    rows = page.eval_on_selector_all(
        "#results-table tbody tr", "rows => rows.map(r => r.dataset.variant)"
    )
    config = report_page["config"]
    if config is not None:
        assert rows == list(config["variants"])
    else:
        assert rows, "the results table is empty"
    sections = page.eval_on_selector_all("main > section", "s => s.map(x => x.id)")
    # "What changed" follows the summary once an earlier study is on record.
    assert [s for s in sections if s != "changes"][:3] == ["summary", "results", "claims"]
    assert "changes" not in sections or sections.index("changes") == 1
    assert sections[-2:] == ["misclassified", "provenance"]


def test_provenance_shows_the_machine_of_every_run(report_page):
    page = report_page["page"]
    rows = page.eval_on_selector_all(
        "#machines tbody tr", "rows => rows.map(r => [...r.cells].map(c => c.innerText))"
    )
    trained = [r for r in rows if r[0].startswith("trained")]
    assert trained and rows[-1][0] == "rendered this report", rows
    config = report_page["config"]
    if config is not None:
        runs = len(config["variants"]) * len(config["seeds"])
        assert sum(int(r[0].split()[1]) for r in trained) == runs
    assert all(r[1] and r[2] for r in rows), "every machine has a host and a CPU"


def test_the_error_overlap_is_a_table_with_a_row_per_seed(report_page):
    page = report_page["page"]
    rows = page.eval_on_selector_all(
        "#overlap-table tbody tr", "rows => rows.map(r => [...r.cells].map(c => c.innerText))"
    )
    assert rows, "no error-overlap table"
    assert all(len(r) == 5 for r in rows)
    seeds = [int(r[0]) for r in rows]
    assert seeds == sorted(set(seeds))
    # Shared and only-one counts are whole numbers; the Jaccard index is shared / union.
    for _, both, only_a, only_b, jaccard in rows:
        union = int(both) + int(only_a) + int(only_b)
        if union:
            assert abs(float(jaccard) - int(both) / union) < 0.006
    said = page.evaluate(
        "() => document.querySelector('#overlap-table').closest('div').previousElementSibling"
        ".innerText"
    )
    assert re.search(rf"over {len(rows)} seeds?\b", said), said


def test_screenshot(report_page):
    out = report_page["html"].with_name("report_screenshot.png")
    report_page["page"].screenshot(path=str(out), full_page=True)
    data = out.read_bytes()
    assert data.startswith(b"\x89PNG") and len(data) > 10_000


@pytest.fixture(scope="module")
def fashion_like_page(request, browser):
    """The report of a fashion-like dataset given by hand (class names, title, noun)."""
    workdir = request.getfixturevalue("fashion_like_run")
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto((workdir / "results/report.html").resolve().as_uri(), wait_until="load")
    page.evaluate("() => document.querySelectorAll('details').forEach(d => d.open = true)")
    yield page
    page.close()


def test_a_fashion_like_report_names_its_classes_and_never_digits(fashion_like_page):
    page = fashion_like_page
    text = page.inner_text("body")
    assert page.title().startswith("Tiny Fashion study")
    assert not re.search("digit", text, re.IGNORECASE)
    assert not STANDALONE_MNIST.search(text), STANDALONE_MNIST.search(text)
    cells = page.eval_on_selector_all(
        "#hardest-table tbody tr, #confused-table tbody tr",
        "rows => rows.flatMap(r => [r.cells[0].innerText, r.cells[1].innerText])",
    )
    classes = set(DATASETS["fashion-mnist"].classes)
    hardest = page.eval_on_selector_all(
        "#hardest-table tbody tr",
        "rows => rows.map(r => [r.cells[1].innerText, r.cells[2].innerText])",
    )
    assert hardest and all(true in classes and pred in classes for true, pred in hardest)
    assert any(c in classes for c in cells)
    alts = page.evaluate("() => [...document.images].map(img => img.alt)")
    assert any("articles" in a for a in alts) and not any("digit" in a for a in alts)
    widths = page.evaluate(
        "() => Promise.all([...document.images].map(i => i.decode().then(() => i.naturalWidth)))"
    )
    assert all(w > 0 for w in widths)
