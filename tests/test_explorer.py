"""The explorer's data, static figure and page section (report.plots.explorer_data,
explorer_figure, report.page.explorer), and the vendored libraries the report inlines: no browser,
no study run."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pandas as pd
import pytest

from mnist_study.report.page import explorer as explorer_page
from mnist_study.report.plots import explorer_data as explorer
from mnist_study.report.plots import explorer_figure

REPO = Path(__file__).resolve().parents[1]
VENDOR = REPO / "report" / "vendor"


def record(spec: dict, images: int = 500, **training) -> dict:
    """A run record (train.json) with what the explorer reads."""
    return {"spec": spec, "train_images": images, "train_config": training}


MLP = {"kind": "mlp", "hidden": [32], "activation": "relu", "dropout": 0.0, "input_dropout": 0.0}
RECORDS = {
    "lin": record({"kind": "linear"}),
    "mlp": record(MLP),
    "tanh": record({**MLP, "activation": "tanh"}),
    "wide": record({**MLP, "hidden": [256, 256]}, weight_decay=1.0),
    "cnn": record({"kind": "cnn", "channels": [4, 8], "kernel_size": 3, "hidden": 16}),
}


def runs_table(seeds=(0, 1)) -> pd.DataFrame:
    """runs.csv's columns the explorer reads, for every variant of RECORDS and seed; the
    batch and optimizer are the same in every run, the rate differs by a factor of 100."""
    rows = []
    for i, variant in enumerate(RECORDS):
        for seed in seeds:
            rows.append(
                {
                    "variant": variant,
                    "seed": seed,
                    "params": 100 * (i + 1),
                    "test_acc": 0.9 + 0.01 * i + 0.001 * seed,
                    "gap": 0.01 * i,
                    "ece": 0.02 + 0.001 * seed,
                    "train_seconds": 1.5 + i,
                    "optimizer": "adamw",
                    "batch_size": 64,
                    "lr": 0.001 if variant != "cnn" else 0.1,
                }
            )
    return pd.DataFrame(rows)


def records_for(runs: pd.DataFrame) -> dict:
    return {(v, int(s)): RECORDS[v] for v, s in zip(runs["variant"], runs["seed"], strict=True)}


@pytest.fixture()
def data() -> dict:
    runs = runs_table()
    return explorer.build(runs, records_for(runs), {"lin": "Linear"})


def test_one_row_per_run_and_only_the_axes_that_vary(data):
    keys = [a["key"] for a in data["axes"]]
    # Fixed here: dropout, augmentation, labels, training images, optimizer and batch.
    assert keys == [
        "model",
        "width",
        "depth",
        "activation",
        "weight_decay",
        "lr",
        "test_acc",
        "gap",
        "ece",
        "train_seconds",
    ]
    assert data["columns"] == ["variant", "seed", *keys]
    assert len(data["rows"]) == 2 * len(RECORDS)
    assert [(r[0], r[1]) for r in data["rows"][:3]] == [("lin", 0), ("lin", 1), ("mlp", 0)]
    assert all(len(r) == len(data["columns"]) for r in data["rows"])
    assert data["colour"] == "test_acc" and data["labels"] == {"lin": "Linear"}


def test_each_run_reads_its_model_and_training(data):
    rows = {(r[0], r[1]): dict(zip(data["columns"], r, strict=True)) for r in data["rows"]}
    assert rows["lin", 0].items() >= {"model": "linear", "width": 0, "depth": 0}.items()
    assert rows["lin", 0]["activation"] == "none"
    assert rows["wide", 1].items() >= {"width": 256, "depth": 2, "weight_decay": 1}.items()
    # A CNN's hidden layers: its two convolution blocks and its fully connected layer.
    assert rows["cnn", 0].items() >= {"model": "cnn", "width": 16, "depth": 3, "lr": 0.1}.items()
    assert rows["mlp", 1]["test_acc"] == pytest.approx(0.911)


def test_axes_say_how_to_draw_them(data):
    axes = {a["key"]: a for a in data["axes"]}
    assert axes["model"] == {
        "key": "model",
        "label": "Model",
        "outcome": False,
        "kind": "category",
        "domain": ["linear", "mlp", "cnn"],
    }
    assert axes["activation"]["domain"] == ["none", "relu", "tanh"]
    # Factors of ten and more: log, or symlog where 0 is among the values.
    assert axes["lr"]["scale"] == "log" and axes["lr"]["ticks"] == [0.001, 0.1]
    assert axes["width"]["scale"] == "symlog" and axes["width"]["constant"] == 16
    assert axes["depth"]["scale"] == "linear" and axes["depth"]["ticks"] == [0, 1, 2, 3]
    assert axes["test_acc"]["format"] == "%" and "ticks" not in axes["test_acc"]
    assert [a["outcome"] for a in data["axes"]][-4:] == [True] * 4


def test_a_run_without_its_record_is_named():
    runs = runs_table()
    records = records_for(runs)
    del records["tanh", 1]
    with pytest.raises(ValueError, match="tanh seed 1"):
        explorer.build(runs, records)


def test_missing_outcomes_are_null_and_constant_ones_stay():
    runs = runs_table()
    runs.loc[0, "ece"] = float("nan")
    runs["gap"] = 0.0
    data = explorer.build(runs, records_for(runs))
    column = data["columns"].index("ece")
    assert data["rows"][0][column] is None
    assert "gap" in data["columns"]


def test_the_json_cannot_end_its_script_element():
    data = {"labels": {"x": "</script><!-- & ]]>"}, "rows": [[1.5, None]]}
    text = explorer_page.to_json(data)
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == data


def test_colour_ranks_place_ties_as_d3s_quantile_scale():
    assert explorer_figure.colour_rank([0.5, 0.1, 0.1, None, 0.9]) == [
        2 / 3,
        1 / 3,
        1 / 3,
        None,
        1.0,
    ]
    assert explorer_figure.colour_rank([3.0]) == [0.5]


def test_positions_follow_the_axis_scale():
    log = {"kind": "number", "scale": "log"}
    assert explorer_figure.position(log, [0.001, 0.01, 0.1, None]) == [0.0, 0.5, 1.0, None]
    category = {"kind": "category", "domain": ["a", "b"]}
    assert explorer_figure.position(category, ["b", "a", "c"]) == [0.75, 0.25, None]
    assert explorer_figure.position({"kind": "number"}, [2, 2]) == [0.5, 0.5]


def test_static_figure_is_a_small_png(tmp_path, data):
    out = tmp_path / "explorer.png"
    explorer_figure.plot(data, out)
    png = out.read_bytes()
    assert png.startswith(b"\x89PNG") and 5_000 < len(png) < 200_000
    assert not list(tmp_path.glob("*.tmp"))


def test_report_section_inlines_the_library_with_its_licence(tmp_path, data):
    runs = runs_table()
    png = tmp_path / "explorer.png"
    explorer_figure.plot(data, png)
    inputs = {"explorer": png}
    section = explorer_page.section(
        runs,
        records_for(runs),
        {},
        inputs,
        lambda name, **values: f"{name}: {values['n_runs']} runs, {values['axes']}",
        lambda src, caption, alt, fig_id: {"src": src, "caption": caption, "alt": alt},
    )
    assert section["runs"] == 10
    assert json.loads(section["data"])["columns"][:2] == ["variant", "seed"]
    assert section["figure"]["caption"].startswith("explorer: 10 runs, model, width,")
    assert "coloured by test accuracy" in section["figure"]["alt"]


def test_the_report_inlines_the_library_with_its_licence():
    from mnist_study.report.page.html import inline_script

    library = inline_script(VENDOR / "d3/d3.min.js")
    assert library.startswith("/*! d3, d3.min.js: Copyright")
    assert "Permission to use, copy, modify" in library.split("*/")[0]
    script = inline_script(REPO / "report/explorer.js")
    assert not script.startswith("/*!"), "the report's own script has no licence file beside it"
    assert "</script" not in library + script


def test_a_script_that_would_open_an_html_comment_is_refused(tmp_path):
    from mnist_study.report.page.html import inline_script

    bad = tmp_path / "bad.js"
    bad.write_text('var s = "<!--";')
    with pytest.raises(ValueError, match="bad.js"):
        inline_script(bad)


def vendored_rows() -> dict[str, str]:
    """{file under report/vendor: sha256} from the table in report/vendor/README.md."""
    rows = {}
    for line in (VENDOR / "README.md").read_text(encoding="utf-8").splitlines():
        file = re.search(r"\| `([\w./-]+\.js)` \(", line)
        digest = re.search(r"`([0-9a-f]{64})`", line)
        if file and digest:
            rows[file.group(1)] = digest.group(1)
    return rows


def test_vendored_libraries_are_pinned_with_their_licences():
    pinned = vendored_rows()
    scripts = sorted(p.relative_to(VENDOR).as_posix() for p in VENDOR.rglob("*.js"))
    assert "d3/d3.min.js" in scripts
    assert scripts == sorted(pinned), "every vendored script needs a row in report/vendor/README.md"
    for name, digest in pinned.items():
        path = VENDOR / name
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest, f"{name} changed"
        assert list(path.parent.glob("LICEN[CS]E*")), f"{name}: no licence file beside it"
