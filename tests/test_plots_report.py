"""Plots and the HTML report from small run outputs the test writes itself (no training).

Every figure must be a real PNG; the report must embed each one with a caption and alt text.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import platform
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from mnist_study.engine.evaluate import calibration
from mnist_study.engine.misclassified import misclassified_table
from mnist_study.evidence import error_analysis, stats, verdicts
from mnist_study.evidence.tables import write_tables
from mnist_study.record import provenance
from mnist_study.report.figure_plan import FigurePlan
from mnist_study.report.page import figures, rulegraph
from mnist_study.report.page import html as report
from mnist_study.report.plots import confusion, curves, galleries, weights
from mnist_study.report.plots.augment_gallery import plot_augmentation
from mnist_study.report.plots.explorer_figure import plot_files
from mnist_study.report.plots.forest import plot_forest
from mnist_study.report.plots.memorization import plot_memorization
from mnist_study.report.plots.reliability import plot_reliability
from mnist_study.runrecord import RUN_FORMAT

REPO = Path(__file__).resolve().parents[1]
PNG = b"\x89PNG\r\n\x1a\n"
N_TEST = 60
SEEDS = (0, 1)
VARIANTS = {
    "lin": {"label": "Linear", "model": {"kind": "linear"}, "seed_reference": {"mnist": 92.1}},
    "mlp": {
        "label": "MLP 16",
        "model": {"kind": "mlp", "hidden": [16]},
        "seed_reference": {"mnist": 98.1},
    },
    "drop": {
        "label": "MLP 16 dropout",
        "model": {"kind": "mlp", "hidden": [16], "dropout": 0.5},
        "seed_reference": {"mnist": 97.9},
    },
    "wide": {"label": "MLP 32", "model": {"kind": "mlp", "hidden": [32]}},
}
STUDIES = {
    "baseline": {
        "title": "Model families",
        "question": "Which family wins?",
        "variants": ["lin", "mlp", "drop"],
        "factor": {"label": "Model", "values": ["Linear", "MLP", "MLP + dropout"]},
    },
    "width": {
        "title": "Width",
        "question": "Does width help?",
        "variants": ["mlp", "wide"],
        "factor": {"label": "Hidden units", "values": [16, 32], "log": True},
    },
}
CLAIMS = {
    "hidden": {
        "statement": "A hidden layer improves on the linear model.",
        "metric": "test_acc",
        "variants": ["lin", "mlp"],
        "expect": "increase",
        "smallest_effect": 0.01,
    },
    "gap": {
        "statement": "Dropout improves generalization.",
        "metric": "gap",
        "variants": ["mlp", "drop"],
        "expect": "decrease",
        "smallest_effect": 0.01,
    },
    "examples": {
        "statement": "Regularization may lower accuracy on particular examples.",
        "metric": "disagreements",
        "variants": ["mlp", "drop"],
        "expect": "present",
        "smallest_effect": 0.01,
    },
}
# The figure plan that report.figure_plan.figure_plan would read off such a config.
PLAN = FigurePlan(
    studies=list(STUDIES),
    titles={name: entry["title"] for name, entry in STUDIES.items()},
    linear="lin",
    mlp="mlp",
    augmented={},
    random_labels=[],
    memorization=[],
    memorized=[],
    levels={},
    tuned=[],
    tuned_studies=[],
    overlap_pair=["mlp", "drop"],
)
SKILL = {"lin": 1.5, "mlp": 3.0, "drop": 2.5, "wide": 3.2}
DOT = """digraph snakemake_dag {
    graph[bgcolor=white, margin=0];
    0[label = "all", color = "0.1 0.6 0.85", style="rounded"];
    1[label = "train", color = "0.2 0.6 0.85", style="rounded"];
    2[label = "cache_data", color = "0.3 0.6 0.85", style="rounded"];
    3[label = "report", color = "0.4 0.6 0.85", style="rounded"];
    2 -> 1
    1 -> 3
    3 -> 0
}
"""


def write_run(run: Path, variant: str, seed: int, labels: np.ndarray) -> None:
    rng = np.random.default_rng(100 * seed + len(variant))
    run.mkdir(parents=True)
    epochs = 3
    acc = np.array([0.6, 0.8, 0.9]) + 0.02 * SKILL[variant] / 3 + rng.normal(0, 0.005, epochs)
    history = pd.DataFrame(
        {
            "epoch": range(1, epochs + 1),
            "train_loss": [1.2, 0.6, 0.4],
            "train_acc": acc - 0.03,
            "train_eval_loss": [1.0, 0.5, 0.3],
            "train_eval_acc": acc + 0.02,
            "val_loss": [1.1, 0.55, 0.45],
            "val_acc": acc,
            "lr": [0.01, 0.005, 0.0],
        }
    )
    history.to_csv(run / "history.csv", index=False)
    logits = rng.normal(0, 1, (len(labels), 10))
    logits[np.arange(len(labels)), labels] += SKILL[variant]
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    pred = probs.argmax(1)
    confusion = np.zeros((10, 10), int)
    np.add.at(confusion, (labels, pred), 1)
    metrics = {
        "test_loss": 0.5,
        "test_acc": float((pred == labels).mean()),
        "n_test": len(labels),
        "per_class_acc": (np.diag(confusion) / np.maximum(confusion.sum(1), 1)).tolist(),
        "train_acc": float((pred == labels).mean()),
        "confusion": confusion.tolist(),
        **calibration(probs.max(1), pred == labels),
    }
    metrics["best_checkpoint"] = {
        "epoch": 2,
        "test_acc": metrics["test_acc"] - 0.01,
        "test_loss": 0.45,
        "ece": metrics["ece"] / 2,
    }
    (run / "metrics.json").write_text(json.dumps(metrics))
    np.savez(
        run / "predictions.npz",
        probs=probs.astype(np.float16),
        pred=pred,
        labels=labels,
        train_pred=pred,
        train_labels=labels,
    )
    misclassified_table(pred, probs, labels).to_csv(run / "misclassified.csv", index=False)
    info = {
        "params": 7850 if variant == "lin" else 12730,
        "flops_per_sample": 15680,
        "train_flops_per_sample": 3 * 15680,
        "train_images": 600,
        "epochs": epochs,
        "epoch_seconds": [0.5, 0.5, 0.5 + seed],
        "finished_at": 1.0 + seed,
        "train_seconds": 1.5 + seed,
        "device": "cpu",
        "threads": 1,
        "format": RUN_FORMAT,
        "dataset": "mnist",
        "machine": {
            "host": "trainer-1",
            "cpu": "CPU X",
            "gpu": "none",
            "python": "3",
            "torch": "2",
        },
        "spec": VARIANTS[variant]["model"],
        "train_config": {"optimizer": "adamw", "lr": 0.005, "batch_size": 256, "epochs": epochs},
        "peak_lr": 0.005,
    }
    (run / "train.json").write_text(json.dumps(info))
    hidden = VARIANTS[variant]["model"].get("hidden", [])
    sizes = [784, *hidden, 10]
    state = {
        f"{2 * i + 1}.weight": torch.randn(b, a, generator=torch.Generator().manual_seed(i))
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True))
    }
    torch.save(
        {"format": 1, "spec": VARIANTS[variant]["model"], "state_dict": state}, run / "model.pt"
    )


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> dict:
    """A finished mini study: run outputs, tables, analysis files, figures and the report."""
    root = tmp_path_factory.mktemp("mini")
    rng = np.random.default_rng(7)
    labels = np.tile(np.arange(10), N_TEST // 10)
    images = (rng.random((N_TEST, 28, 28)) * 255).astype(np.uint8)
    cache = root / "cache.pt"
    torch.save(
        {
            "dataset": "mnist",
            "test_images": torch.from_numpy(images),
            "test_labels": torch.from_numpy(labels),
            # The test images again as training images: the augmentation gallery draws them.
            "train_images": torch.from_numpy(images),
            "train_labels": torch.from_numpy(labels),
            "mean": 0.5,
            "std": 0.29,
            "train_idx": torch.arange(50),
            "val_idx": torch.arange(50, 60),
            "sha256": {"t10k-labels-idx1-ubyte": "ab" * 32},
        },
        cache,
    )
    keys = [(v, s) for v in VARIANTS for s in SEEDS]
    runs = {k: root / "runs" / k[0] / f"seed{k[1]}" for k in keys}
    for (v, s), path in runs.items():
        write_run(path, v, s, labels)

    def files(name):
        return [runs[k] / name for k in keys]

    tables = root / "tables"
    write_tables(
        keys,
        files("train.json"),
        files("history.csv"),
        files("metrics.json"),
        runs=tables / "runs.csv",
        summary=tables / "summary.csv",
    )
    a = root / "analysis"
    stats.write_statistics(
        tables / "runs.csv",
        keys,
        files("predictions.npz"),
        STUDIES,
        a / "variants.csv",
        a / "pairs.csv",
    )
    verdicts.write_claims(
        tables / "runs.csv",
        keys,
        files("history.csv"),
        files("predictions.npz"),
        CLAIMS,
        0.05,
        a / "claims.json",
        a / "claims.md",
    )
    error_analysis.write_errors(
        keys,
        files("misclassified.csv"),
        runs[keys[0]] / "predictions.npz",
        ("mlp", "drop"),
        a / "errors.json",
    )

    f = root / "figures"
    labels_of = {v: e["label"] for v, e in VARIANTS.items()}
    out = {
        "curves": {v: f / "curves" / f"{v}.png" for v in VARIANTS},
        "galleries": {v: f / "galleries" / f"{v}.png" for v in VARIANTS},
        "study_curves": {s: f / "studies" / f"{s}_curves.png" for s in STUDIES},
        "study_factor": {s: f / "studies" / f"{s}_factor.png" for s in STUDIES},
        "confusion": {s: f / "confusion" / f"{s}.png" for s in STUDIES},
        "reliability": {s: f / "reliability" / f"{s}.png" for s in STUDIES},
    }
    curves.plot_curves(keys, files("history.csv"), out["curves"], labels_of)
    curves.plot_studies(
        STUDIES,
        keys,
        files("history.csv"),
        a / "variants.csv",
        out["study_curves"],
        out["study_factor"],
        labels_of,
    )
    confusion.plot_confusion(STUDIES, keys, files("metrics.json"), out["confusion"], labels_of)
    plot_reliability(STUDIES, keys, files("metrics.json"), out["reliability"], labels_of)
    weights.plot_weights(
        runs[("lin", 0)] / "model.pt",
        runs[("mlp", 0)] / "model.pt",
        f / "weights/templates.png",
        f / "weights/features.png",
        "MLP 16",
    )
    galleries.plot_galleries(cache, keys, files("misclassified.csv"), out["galleries"], labels_of)
    singles = {
        n: f / "errors" / f"{n}.png" for n in ("hardest", "confused", "overlap", "disagreements")
    }
    galleries.plot_errors(cache, a / "errors.json", *singles.values(), labels=labels_of)
    (root / "rulegraph.dot").write_text(DOT)
    bench = root / "benchmarks"
    for v, s in keys:
        path = bench / "train" / v / f"seed{s}.tsv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("s\th:m:s\tmax_rss\n1.25\t0:00:01\t100\n")
    (bench / "plot_curves.tsv").write_text("s\th:m:s\n0.5\t0:00:00\n")
    (root / "matmul.json").write_text('{"matmul_flops_per_s": 1.5e11, "threads": 2}\n')
    plot_forest(a / "claims.json", STUDIES, 0.05, f / "claims/forest.svg")
    plot_files(tables / "runs.csv", keys, files("train.json"), f / "explorer.png")
    changes = {"changes": None, "summary": "No earlier study of mnist is recorded yet."}
    (a / "changes.json").write_text(json.dumps(changes))

    inputs = {
        "runs": tables / "runs.csv",
        "stats": a / "variants.csv",
        "pairs": a / "pairs.csv",
        "claims": a / "claims.json",
        "errors": a / "errors.json",
        "cache": cache,
        "info": files("train.json"),
        "benchmarks": sorted(bench.rglob("*.tsv")),
        "curves": list(out["curves"].values()),
        "galleries": list(out["galleries"].values()),
        "study_curves": list(out["study_curves"].values()),
        "study_factor": list(out["study_factor"].values()),
        "confusion": list(out["confusion"].values()),
        "reliability": list(out["reliability"].values()),
        "weights": [f / "weights/templates.png", f / "weights/features.png"],
        **singles,
        "rulegraph_dot": root / "rulegraph.dot",
        "captions": sorted((REPO / "report/captions").glob("*.rst")),
        "template": REPO / "report/report.html.j2",
        "css": REPO / "report/style.css",
        "matmul": root / "matmul.json",
        "forest": f / "claims/forest.svg",
        "explorer": f / "explorer.png",
        "changes": a / "changes.json",
        "scripts": [],
        "sweep_info": [],
        # No variant augments, shuffles its labels or tunes its lr (PLAN below).
        **{name: [] for name in ("augmentation", "memorization", "tuning", "choices")},
    }
    params = {
        "variants": VARIANTS,
        "studies": STUDIES,
        "config_hash": "0123456789ab",
        "alpha": 0.05,
        "repo": str(root),
        "run_keys": keys,
        "flat_gap": None,
        "jobs": [],
        "report_stamp": None,
        "plan": PLAN.fields(),
        "dataset": {
            "name": "mnist",
            "title": "MNIST",
            "noun": "digit",
            "classes": [str(c) for c in range(10)],
        },
    }
    report.write_report(inputs, params, root / "report.html", root / "efficiency.json")
    return {
        "root": root,
        "figures": f,
        "html": (root / "report.html").read_text(),
        "context": lambda: report.build_context(inputs, params),
        "inputs": inputs,
        "params": params,
        "keys": keys,
        "histories": files("history.csv"),
        "labels": labels_of,
    }


class Images(HTMLParser):
    def __init__(self):
        super().__init__()
        self.images, self.captions, self.rows, self.links = [], 0, [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs)
        if tag == "figcaption":
            self.captions += 1
        if tag == "tr" and "data-variant" in attrs:
            self.rows.append(attrs["data-variant"])
        for key in ("src", "href"):
            if key in attrs:
                self.links.append(attrs[key])


def parsed(html: str) -> Images:
    parser = Images()
    parser.feed(html)
    return parser


def test_every_plot_is_a_png(study):
    pngs = sorted(study["figures"].rglob("*.png"))
    # 4 curves + 4 galleries + 2x2 study figures + 2 confusion + 2 reliability + 2 weights
    # + 4 errors + the explorer
    assert len(pngs) == 4 + 4 + 4 + 2 + 2 + 2 + 4 + 1
    for path in pngs:
        data = path.read_bytes()
        assert data.startswith(PNG), path
        assert len(data) > 2000, path  # a real image, not an empty canvas
    assert not list(study["figures"].rglob("*.tmp"))


def test_report_lists_every_variant_in_the_results_table(study):
    page = parsed(study["html"])
    assert page.rows == list(VARIANTS)
    for entry in VARIANTS.values():
        assert entry["label"] in study["html"]


def test_report_embeds_every_figure_with_alt_text_and_caption(study):
    page = parsed(study["html"])
    # Per variant curves and galleries, 4 per study, 4 error figures, 2 weights, the explorer's
    # static figure, and the rule graph where Graphviz draws it (as SVG).
    graph = shutil.which("dot") is not None
    assert len(page.images) == 4 + 4 + 4 * 2 + 4 + 2 + 1 + graph
    # The forest plot is captioned too: an SVG inline, not an image.
    assert page.captions == len(page.images) + 1
    for img in page.images:
        assert img["alt"].strip(), img["src"][:40]
        kind, data = img["src"].split(",", 1)
        if kind == "data:image/svg+xml;base64":
            assert b"<svg" in base64.b64decode(data) and img["alt"].startswith("Diagram")
        else:
            assert kind == "data:image/png;base64" and base64.b64decode(data).startswith(PNG)
    # Self-contained: nothing is fetched from elsewhere.
    assert not [link for link in page.links if re.match(r"(https?:)?//|file:", link)]


def test_report_sections_in_order_with_numbers(study):
    html = study["html"]
    ids = [
        "summary",
        "results",
        "claims",
        "study-baseline",
        "study-width",
        "misclassified",
        "provenance",
    ]
    positions = [html.index(f'<section id="{i}"') for i in ids]
    assert positions == sorted(positions)
    # The seed's figures sit beside their rows; the claims carry their verdicts.
    assert "92.1%" in html and "98.1%" in html and "97.9%" in html
    verdicts = json.loads((study["root"] / "analysis/claims.json").read_text())
    for claim in verdicts:
        assert f'id="claim-{claim["name"]}"' in html
        assert f'class="verdict {claim["verdict"]}"' in html
    assert "ab" * 32 in html  # dataset checksum
    assert "0123456789ab" in html  # config hash
    assert "not a git checkout" in html
    assert re.search(r"<td>train</td><td class=\"num\">8</td>", html)  # 8 benchmarked jobs


def test_study_paragraph_numbers_come_from_the_results(study):
    stats = pd.read_csv(study["root"] / "analysis/variants.csv")
    acc = stats[stats["metric"] == "test_acc"].set_index("variant")["mean"]
    best = max(STUDIES["baseline"]["variants"], key=lambda v: acc[v])
    assert f"to {100 * acc[best]:.2f}% ({VARIANTS[best]['label']}" in study["html"]


def test_report_refuses_a_figure_without_alt_text(tmp_path):
    png = tmp_path / "x.png"
    png.write_bytes(PNG + b"rest")
    with pytest.raises(ValueError, match="caption and alt text"):
        report.figure(png, "caption", "", "x")
    not_png = tmp_path / "y.png"
    not_png.write_text("text")
    with pytest.raises(ValueError, match="not a PNG"):
        figures.data_uri(not_png)


def test_benchmark_times_per_rule(tmp_path):
    for rule, values in {"train": [1.0, 3.0], "evaluate": [0.5]}.items():
        for i, s in enumerate(values):
            path = tmp_path / "benchmarks" / rule / f"v{i}" / "seed0.tsv"
            path.parent.mkdir(parents=True)
            path.write_text(f"s\th:m:s\n{s}\t0:00:01\n")
    table = provenance.benchmark_times(sorted((tmp_path / "benchmarks").rglob("*.tsv")))
    rows = table.set_index("rule")
    assert rows.loc["train", "jobs"] == 2 and rows.loc["train", "total_s"] == 4.0
    assert rows.loc["train", "max_s"] == 3.0 and rows.loc["evaluate", "mean_s"] == 0.5


@pytest.mark.skipif(
    shutil.which("dot") is None, reason="needs Graphviz's dot (.ci/run installs it)"
)
def test_graphviz_draws_the_rule_graph():
    svg = rulegraph.draw(DOT).decode()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    assert all(f">{name}</text>" in svg for name in ("all", "train", "cache_data", "report"))


def test_without_graphviz_the_report_says_how_to_draw_the_graph(study, monkeypatch, tmp_path):
    monkeypatch.setattr(rulegraph.shutil, "which", lambda name: None)
    assert rulegraph.draw(DOT) is None
    html = report.render(REPO / "report/report.html.j2", study["context"]())
    hint = re.search(r'id="rulegraph-hint">([^<]*)<', html)
    assert hint and "apt-get install graphviz" in hint[1] and "dot -Tsvg" in hint[1]


def test_report_shows_the_machine_of_every_run_and_of_the_report(study):
    rows = re.findall(
        r"<tr><td>(trained \d+ runs?|rendered this report)</td><td>([^<]*)<", study["html"]
    )
    assert rows[0] == (f"trained {len(VARIANTS) * len(SEEDS)} runs", "trainer-1")
    assert rows[-1][0] == "rendered this report" and rows[-1][1] == platform.node()


def test_provenance_states_the_compute_figures_of_efficiency_json(study):
    """The report shows what results/tables/efficiency.json holds, from the run records and
    the matmul figure: training FLOPs, the limit, the wall time and their ratio."""
    figures = json.loads((study["root"] / "efficiency.json").read_text())
    assert {"train_flops", "matmul_flops_per_s", "limit_seconds", "wall_seconds", "ratio"} <= set(
        figures
    ) and "outside_epoch_share" in figures
    records = [json.loads(p.read_text()) for p in study["root"].rglob("train.json")]
    expected = sum(r["train_flops_per_sample"] * r["train_images"] * r["epochs"] for r in records)
    assert figures["train_flops"] == pytest.approx(expected)
    assert figures["matmul_flops_per_s"] == 1.5e11
    assert figures["limit_seconds"] == pytest.approx(expected / 1.5e11)
    section = study["html"].split('id="efficiency"', 1)[1].split("</table>", 1)[0]
    assert f"{figures['train_flops']:.4g} FLOP" in section
    assert "150.0 GFLOP/s" in section
    assert f"{figures['ratio']:.2f}" in section


def _section(html: str, section_id: str) -> str:
    return html.split(f'<section id="{section_id}"', 1)[1].split("</section>", 1)[0]


def test_study_sections_show_augmentation_memorization_and_the_chance_check(study, tmp_path):
    # As if dropout's variant trained on augmented images and the wide MLP on random labels.
    augmented = {"drop": {"augment_shift": 2, "augment_rotation": 10, "train_size": None}}
    galleries = {"drop": tmp_path / "augmentation/drop.png"}
    curves = {"width": tmp_path / "memorization/width.png"}
    plan = dataclasses.replace(
        PLAN, augmented=augmented, memorization=["width"], random_labels=["wide"]
    )
    params = {**study["params"], "plan": plan.fields()}
    plot_augmentation(
        study["inputs"]["cache"], augmented, galleries, study["labels"], params["dataset"]
    )
    plot_memorization(
        STUDIES, study["keys"], study["histories"], curves, {"width": [0.99]}, study["labels"]
    )
    inputs = {
        **study["inputs"],
        "augmentation": [galleries["drop"]],
        "memorization": [curves["width"]],
    }
    report.write_report(inputs, params, tmp_path / "report.html")
    html = (tmp_path / "report.html").read_text()
    baseline, width = _section(html, "study-baseline"), _section(html, "study-width")
    # The gallery in the study of the variant that augments, the curves in the study of the
    # one with random labels, each as a captioned PNG.
    assert 'id="fig-augmentation-baseline-drop"' in baseline
    assert "shift of up to 2 pixels each way and a rotation of up to 10 degrees" in baseline
    assert 'id="fig-memorization-width"' in width
    assert "memorization" not in baseline.lower() and "augmentation" not in width.lower()
    for section in (baseline, width):
        for img in parsed(section).images:
            assert base64.b64decode(img["src"].split(",", 1)[1]).startswith(PNG)
    # The check beside the claims: the random-label variant's mean test accuracy, and chance
    # as one in the dataset's ten classes.
    stats = pd.read_csv(study["root"] / "analysis/variants.csv")
    acc = stats[(stats["variant"] == "wide") & (stats["metric"] == "test_acc")]["mean"].iloc[0]
    table = width.split('class="chance-table sortable"', 1)[1].split("</table>", 1)[0]
    assert VARIANTS["wide"]["label"] in table and VARIANTS["mlp"]["label"] not in table
    assert f"{100 * acc:.2f} ± " in table and "10.00%" in table and "Chance (1/10)" in table
    assert f"{100 * (acc - 0.1):+.2f} pp" in table
    assert "by construction" in width and "not a claim" in width
    assert "chance-table" not in baseline


def test_a_factor_with_series_draws_one_line_per_series(monkeypatch, tmp_path):
    # A batch size under two lr rules: the shared reference (256) sits on both lines.
    study = {
        "title": "Batch size",
        "variants": ["b64", "b256", "b2048", "b64s", "b2048s"],
        "factor": {
            "label": "Batch size",
            "values": [64, 256, 2048, 64, 2048],
            "log": True,
            "series": {"fixed": ["b64", "b256", "b2048"], "scaled": ["b64s", "b256", "b2048s"]},
        },
    }
    metrics = ("train_acc", "val_acc", "test_acc", "gap", "train_seconds")
    rows = [
        {"variant": v, "metric": m, "mean": 0.9 + i / 100, "std": 0.01, "ci_low": 0.8, "ci_high": 1}
        for i, v in enumerate(study["variants"])
        for m in metrics
    ]
    drawn = {}
    monkeypatch.setattr(curves, "save", lambda fig, path, layout="": drawn.update(fig=fig))
    curves.plot_study_factor(study, pd.DataFrame(rows), tmp_path / "batch.png")
    ax_acc, ax_gap, _ = drawn["fig"].axes
    gap_lines = {line.get_label(): list(line.get_xdata()) for line in ax_gap.get_lines()}
    assert gap_lines["fixed"] == [64, 256, 2048] and gap_lines["scaled"] == [64, 256, 2048]
    labels = [t.get_text() for t in ax_acc.get_legend().get_texts()]
    assert "test, fixed" in labels and "test, scaled" in labels and len(labels) == 6


def test_the_design_section_shows_the_design_s_tables_and_what_it_does_not_cover(study):
    """The report repeats the committed design's claims and variants tables, and names the
    claims the design does not cover (they ran on pinned or default seeds)."""
    from mnist_study.seedplan import SeedPlan, summary

    names = list(study["params"]["variants"])
    row = {
        "label": "budget-limited, bounded by the test set",
        "seeds_needed": None,
        "seeds_given": 5,
        "likeliest": "supported",
        "likeliest_share": 0.61,
        "f_same": 0.612,
        "f_new": 0.803,
        "f_same_at_smallest": 0.5,
        "f_new_at_smallest": 0.7,
        "tflop": 1.25,
        "tflop_to_reach": None,
    }
    record = {
        "budget_tflop": 215,
        "agreement": 0.9,
        "reached": 0,
        "lowest_f_same": 0.612,
        "variants": {v: {"n_seeds": 5, "tflop_per_run": 0.25, "config": "h"} for v in names},
        "claims": {"designed_claim": row, "new_claim": row},
    }
    plan = SeedPlan(
        dict.fromkeys(names, 5),
        {**dict.fromkeys(names, "designed"), names[0]: "pinned"},
        ("new_claim",),
        "workflow/designs/mnist.yaml",
        "ab" * 32,
        record,
    )
    params = {**study["params"], "design": summary(plan)}
    html = report.render(
        REPO / "report/report.html.j2", report.build_context(study["inputs"], params)
    )
    section = html.split('<section id="design">', 1)[1].split("</section>", 1)[0]
    assert "workflow/designs/mnist.yaml" in section and "abababababababab" in section
    table = section.split('id="design-claims"', 1)[1].split("</table>", 1)[0]
    assert "designed_<wbr>claim" in table and "new_<wbr>claim" not in table
    assert "61.2% / 80.3%" in table and "beyond the grid" in table
    assert "new_claim" in section.split('id="not-designed"', 1)[1]
    variants = section.split('id="design-variants"', 1)[1].split("</table>", 1)[0]
    assert variants.count("<tr>") == len(names) + 1 and "pinned" in variants
    assert f"{len(names) * 5 * 0.25:.1f} TFLOP" in section
    assert '<section id="design">' not in study["html"]  # no design given: no section


def test_the_report_gives_each_claim_its_label_and_its_replicate_s_outcome(study, tmp_path):
    """Beside each verdict: the design's label and F_same and, once a replicate exists, its
    verdict and outcome; a claim its test set bounds says so; the replication's rule and its
    forecast check stand in the Design section."""
    claims = json.loads(Path(study["inputs"]["claims"]).read_text())
    first, *rest = claims
    row = {"label": "budget-limited, bounded by the test set", "f_same": 0.61, "f_new": 0.803}
    first["design"] = {"file": "workflow/designs/mnist.yaml", "designed": True, "forecast": row}
    path = tmp_path / "claims.json"
    path.write_text(json.dumps(claims))
    outcome = {"name": first["name"], "verdicts": ["supported", "inconclusive"]}
    replication = {
        "design": {"file": "workflow/designs/mnist.yaml", "sha256": "ab" * 32, "commit": "c" * 40},
        "claims": [outcome | {"outcome": "consistent"}],
        "counts": {"identical": 0, "consistent": 1, "differs": 0, "disagrees": 0},
        "forecast": {"expected": 0.61, "claims": 1, "quantile": 0, "observed": 0, "below": False},
        "exit": 0,
    }
    (tmp_path / "replication.json").write_text(json.dumps(replication))
    inputs = {**study["inputs"], "claims": path, "replication": tmp_path / "replication.json"}
    html = report.render(
        REPO / "report/report.html.j2", report.build_context(inputs, study["params"])
    )
    row_html = html.split(f'id="claim-{first["name"]}"', 1)[1].split("</tr>", 1)[0]
    assert "budget-limited, bounded by the test set, F_same 61.0%, F_new 80.3%" in row_html
    assert "replicate: inconclusive, consistent" in row_html
    assert "would repeat only 80.3% of the time (F_new)" in row_html
    others = [html.split(f'id="claim-{c["name"]}"', 1)[1].split("</tr>", 1)[0] for c in rest]
    assert not any("replicate:" in r or "F_same" in r for r in others)
    section = html.split('<section id="replication">', 1)[1].split("</section>", 1)[0]
    assert "0 identical, 1 consistent, 0 differs, 0 disagrees" in section
    assert "forecast 0.6 of 1 identical (5% quantile 0); observed 0" in section
    assert "The replication passes" in section and "Welch-Satterthwaite" in section
    assert "replicate:" not in study["html"] and 'id="replication"' not in study["html"]
