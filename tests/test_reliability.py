"""Reliability diagrams pool each variant's calibration bins over its seeds by image counts."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mnist_study.engine.evaluate import calibration
from mnist_study.report.plots.reliability import plot_reliability, pool_bins


def write_metrics(path, confidence, correct):
    path.write_text(json.dumps(calibration(confidence, correct)))


def test_bins_pool_over_seeds_by_image_counts(tmp_path):
    # Seed 0: two images at 0.9, one right; seed 1: one image at 0.9, right, and one at 0.3.
    write_metrics(tmp_path / "a0.json", [0.9, 0.9], [True, False])
    write_metrics(tmp_path / "a1.json", [0.9, 0.3], [True, False])
    pooled = pool_bins([("a", 0), ("a", 1)], [tmp_path / "a0.json", tmp_path / "a1.json"])["a"]
    assert pooled["count"][13] == 3 and pooled["count"][4] == 1
    assert pooled["accuracy"][13] == pytest.approx(2 / 3)
    assert pooled["confidence"][13] == pytest.approx(0.9)
    assert np.isnan(pooled["accuracy"][0])
    # The mean of the runs' own ECE: seed 0 |1.8 - 1| / 2 = 0.4, seed 1 (0.1 + 0.3) / 2 = 0.2.
    assert pooled["ece"] == pytest.approx(0.3)


def test_one_diagram_per_study(tmp_path):
    rng = np.random.default_rng(0)
    keys, paths = [], []
    for v in ("a", "b"):
        for s in (0, 1):
            conf = rng.uniform(0.3, 1.0, 200)
            path = tmp_path / f"{v}{s}.json"
            write_metrics(path, conf, rng.random(200) < conf)
            keys.append((v, s))
            paths.append(path)
    studies = {"one": {"title": "One", "variants": ["a", "b"]}, "two": {"variants": ["b"]}}
    outputs = {name: tmp_path / f"{name}.png" for name in studies}
    plot_reliability(studies, keys, paths, outputs, {"a": "A", "b": "B"})
    for path in outputs.values():
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
