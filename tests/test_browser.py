"""The smoke run's results/report.html in headless Chromium: images decode, no console errors.

Needs Debian's chromium and the playwright package (test extra); skipped without them.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from test_datasets import STANDALONE_MNIST

from mnist_study.data.datasets import DATASETS

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
    # A real study's page is some 40,000 px tall: drawing it whole takes longer than the default.
    report_page["page"].screenshot(path=str(out), full_page=True, timeout=300_000)
    data = out.read_bytes()
    assert data.startswith(b"\x89PNG") and len(data) > 10_000


def explorer_state(page) -> dict:
    """The explorer's embedded data and, per line, its run, stroke and whether it is greyed."""
    return page.evaluate(
        """() => {
            const lines = [...document.querySelectorAll('#explorer-chart path.run')];
            return {
                data: JSON.parse(document.getElementById('explorer-data').textContent),
                runs: lines.map(l => l.dataset.run),
                strokes: lines.map(l => l.getAttribute('stroke')),
                muted: lines.filter(l => l.classList.contains('muted')).length,
            };
        }"""
    )


def test_the_explorer_draws_one_line_per_run(report_page):
    page = report_page["page"]
    state = explorer_state(page)
    assert len(state["runs"]) == len(state["data"]["rows"]) > 0
    assert len(set(state["runs"])) == len(state["runs"]), "a run drawn twice"
    if report_page["config"] is not None:
        runs = pd.read_csv(report_page["html"].parent / "tables/runs.csv")
        keys = zip(runs.variant, runs.seed, strict=True)
        assert sorted(state["runs"]) == sorted(f"{v}/{s}" for v, s in keys)
    assert state["muted"] == 0
    # Drawn: the interactive chart replaces the static figure.
    assert page.is_visible("#explorer-chart") and not page.is_visible("#explorer-static")
    assert report_page["problems"] == []


def brush(page, key: str, top: float, bottom: float) -> None:
    """Drag along an axis's brush from ``top`` to ``bottom`` (fractions of its height)."""
    overlay = page.locator(f'#explorer-chart .axis[data-key="{key}"] .brush .overlay')
    overlay.scroll_into_view_if_needed()
    box = overlay.bounding_box()
    x = box["x"] + box["width"] / 2
    page.mouse.move(x, box["y"] + 1 + top * (box["height"] - 2))
    page.mouse.down()
    page.mouse.move(x, box["y"] + 1 + bottom * (box["height"] - 2), steps=8)
    page.mouse.up()


def test_brushing_an_axis_greys_the_runs_outside_it(report_page):
    page = report_page["page"]
    data = explorer_state(page)["data"]
    key = "test_acc"
    brush(page, key, 0.0, 0.55)
    axis = page.locator(f'#explorer-chart .axis[data-key="{key}"]')
    # The brush's range in accuracy, as the chart's scale inverts it.
    low, high = (float(axis.get_attribute(f"data-brush-{end}")) for end in ("low", "high"))
    assert low < high
    column = data["columns"].index(key)
    values = [row[column] for row in data["rows"]]
    outside = sum(1 for v in values if v is None or not low <= v <= high)
    state = explorer_state(page)
    assert state["muted"] == outside
    assert 0 < outside < len(data["rows"]), "the brush should keep some runs and grey others"
    assert page.get_attribute("#explorer-chart", "data-shown") == str(len(data["rows"]) - outside)
    page.click("#explorer-chart button")  # clear every brush
    assert explorer_state(page)["muted"] == 0
    assert report_page["problems"] == []


def test_the_colouring_outcome_can_be_switched(report_page):
    page = report_page["page"]
    before = explorer_state(page)["strokes"]
    current = page.get_attribute("#explorer-chart", "data-colour")
    options = page.eval_on_selector_all("#explorer-colour option", "o => o.map(x => x.value)")
    assert current in options and len(options) > 1
    other = next(o for o in options if o != current)
    page.select_option("#explorer-colour", other)
    after = explorer_state(page)["strokes"]
    assert page.get_attribute("#explorer-chart", "data-colour") == other
    assert all(after) and after != before
    assert report_page["problems"] == []


def test_without_javascript_the_explorer_is_its_static_figure(report_page, browser):
    page = open_report(browser, report_page["html"], 1280, javascript=False)
    try:
        assert page.is_visible("#explorer-static") and not page.is_visible("#explorer-chart")
        width = page.evaluate("() => document.getElementById('explorer-static').naturalWidth")
        assert width > 0
    finally:
        page.close()


def open_report(browser, html: Path, width: int, javascript: bool = True):
    """A fresh page of the report at this window width, every collapsed section open."""
    page = browser.new_page(
        viewport={"width": width, "height": 900}, java_script_enabled=javascript
    )
    page.goto(html.resolve().as_uri(), wait_until="load")
    page.evaluate("() => document.querySelectorAll('details').forEach(d => d.open = true)")
    return page


# Per table: its width beyond its box's, and its header cells whose words may break inside.
TABLE_FIT = """() => [...document.querySelectorAll('main table')].map(t => {
    const box = t.parentElement;
    const head = [...t.querySelectorAll('thead th')].filter(th => {
        const s = getComputedStyle(th);
        return s.wordBreak !== 'normal' || !['normal'].includes(s.overflowWrap)
            || s.hyphens === 'auto';
    });
    return {table: t.id || t.className || (t.closest('section') || {}).id,
            beyond: t.getBoundingClientRect().width - box.clientWidth,
            breaking_headers: head.length};
})"""
# Every piece of text outside SVG drawings, with its font size; the body's size first.
TEXT_SIZES = """() => {
    const body = parseFloat(getComputedStyle(document.body).fontSize);
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    const small = [];
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
        const el = n.parentElement;
        if (!n.textContent.trim() || el.closest('svg, script, style, noscript')) continue;
        if (!el.getClientRects().length) continue;
        const size = parseFloat(getComputedStyle(el).fontSize);
        if (size < body - 0.01)
            small.push([el.tagName, el.className, size, n.textContent.trim().slice(0, 40)]);
    }
    return {body, small};
}"""


@pytest.mark.parametrize("width", [1280, 1920])
def test_every_table_fits_its_box_in_text_the_body_s_size(report_page, browser, width):
    page = open_report(browser, report_page["html"], width)
    try:
        tables = page.evaluate(TABLE_FIT)
        sizes = page.evaluate(TEXT_SIZES)
    finally:
        page.close()
    assert tables, "the report has no tables"
    assert [t for t in tables if t["beyond"] > 1] == [], f"wider than their box at {width} px"
    assert [t for t in tables if t["breaking_headers"]] == [], "headers may break inside words"
    assert sizes["small"] == [], f"text smaller than the body's {sizes['body']} px"


def test_below_1280_px_a_wide_table_scrolls_with_its_first_column_kept_and_a_hint(
    report_page, browser
):
    page = open_report(browser, report_page["html"], 760)
    try:
        state = page.evaluate(
            """() => {
            const box = document.querySelector('#results-table').parentElement;
            const first = box.querySelector('tbody tr > :first-child');
            return {overflows: box.classList.contains('overflows'),
                    scrolls: box.scrollWidth > box.clientWidth,
                    sticky: getComputedStyle(first).position,
                    hint: getComputedStyle(box, '::before').content};
        }"""
        )
    finally:
        page.close()
    assert state["scrolls"] and state["overflows"], state
    assert state["sticky"] == "sticky"
    assert "scroll" in state["hint"].lower(), state["hint"]


def column_values(page, table: str, column: str) -> list[float]:
    """A column's cells as numbers, in row order: data-sort where given, else the text's
    leading number (U+2212 read as minus)."""
    return page.evaluate(
        """([table, column]) => {
        const t = document.querySelector(table);
        const i = [...t.tHead.rows[0].cells].findIndex(c => c.innerText.trim().startsWith(column));
        return [...t.tBodies[0].rows].map(r => {
            const c = r.cells[i];
            const raw = c.hasAttribute('data-sort') ? c.getAttribute('data-sort') : c.innerText;
            return parseFloat(raw.replace(/\\u2212/g, '-').replace(/[,\\s]/g, ''));
        });
    }""",
        [table, column],
    )


def click_header(page, table: str, column: str) -> None:
    page.locator(f"{table} thead th", has_text=column).first.click()


@pytest.mark.parametrize(
    "table, column",
    [
        ("#results-table", "Test accuracy"),  # "mean ± sd": sorted by the mean
        ("#results-table", "Time / run"),  # "1.2 min" beside "40 s": by the seconds
        ("#claims-table", "Holm p"),  # p-values with exponents
    ],
)
def test_sorting_a_numeric_column_orders_its_rows_by_value(report_page, browser, table, column):
    page = open_report(browser, report_page["html"], 1280)
    try:
        if not page.locator(f"{table} tbody tr").count():
            pytest.skip(f"{table} is empty in this report")
        click_header(page, table, column)
        ascending = column_values(page, table, column)
        click_header(page, table, column)
        descending = column_values(page, table, column)
    finally:
        page.close()
    known = [v for v in ascending if v == v]  # NaN: a cell with no figure
    assert known == sorted(known), ascending
    assert [v for v in descending if v == v] == sorted(known, reverse=True), descending


def test_the_results_filter_hides_the_rows_that_do_not_match(report_page, browser):
    page = open_report(browser, report_page["html"], 1280)
    try:
        names = page.eval_on_selector_all(
            "#results-table tbody tr", "rows => rows.map(r => r.dataset.variant)"
        )
        word = names[-1]
        page.fill("#results .table-filter input", word)
        shown = page.eval_on_selector_all(
            "#results-table tbody tr", "rows => rows.filter(r => !r.hidden).map(r => r.innerText)"
        )
        hidden = page.eval_on_selector_all(
            "#results-table tbody tr", "rows => rows.filter(r => r.hidden).map(r => r.innerText)"
        )
        page.fill("#results .table-filter input", "")
        back = page.eval_on_selector_all("#results-table tbody tr:not([hidden])", "r => r.length")
    finally:
        page.close()
    assert shown and all(word.lower() in text.lower() for text in shown)
    assert all(word.lower() not in text.lower() for text in hidden)
    assert len(shown) + len(hidden) == len(names) == back


def test_without_javascript_the_tables_read_as_written(report_page, browser):
    page = open_report(browser, report_page["html"], 1280, javascript=False)
    try:
        rows = page.eval_on_selector_all(
            "#results-table tbody tr", "rows => rows.map(r => r.dataset.variant)"
        )
        filters = page.locator(".table-filter").count()
    finally:
        page.close()
    config = report_page["config"]
    assert rows == (list(config["variants"]) if config is not None else rows) and rows
    assert filters == 0


def test_the_forest_plot_shows_one_mark_per_claim(report_page):
    page = report_page["page"]
    claims = page.eval_on_selector_all(
        "#claims-table tbody tr", "rows => rows.map(r => r.id.replace(/^claim-/, ''))"
    )
    marks = page.eval_on_selector_all(
        "#forest svg [id^='forest-mark-']", "m => m.map(x => x.id.replace(/^forest-mark-/, ''))"
    )
    assert claims, "the report has no claims"
    assert sorted(marks) == sorted(claims)
    caption = page.inner_text("#forest figcaption")
    assert "Holm" in caption and "±1" in caption


def ci_tool(*parts: str) -> Path | None:
    """A checker that .ci/run installs from npm (.ci/tools/node_modules/...), if present."""
    path = Path(__file__).resolve().parents[1].joinpath(".ci/tools/node_modules", *parts)
    return path if path.exists() else None


@pytest.mark.parametrize("width", [1280, 760])
def test_axe_finds_no_accessibility_violations(report_page, browser, width):
    axe = ci_tool("axe-core", "axe.min.js")
    if axe is None:
        pytest.skip("axe-core not installed (.ci/run installs it from npm)")
    page = open_report(browser, report_page["html"], width)
    try:
        page.add_script_tag(path=str(axe))
        violations = page.evaluate(
            "() => axe.run(document, {resultTypes: ['violations']}).then(r => r.violations.map("
            "v => [v.id, v.impact, v.nodes.length, v.nodes[0].target.join(' ')]))"
        )
    finally:
        page.close()
    assert violations == []


def test_the_nu_validator_finds_no_errors(report_page):
    import subprocess

    jar, java = ci_tool("vnu-jar", "build", "dist", "vnu.jar"), shutil.which("java")
    if jar is None or java is None:
        pytest.skip("vnu-jar or java not installed (.ci/run installs them)")
    done = subprocess.run(
        [java, "-jar", str(jar), "--errors-only", str(report_page["html"])],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr[:3000]


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
