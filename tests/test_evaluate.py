"""Tests of test-set evaluation and the misclassified table, on logits and probabilities made here.

Expected values are worked out by hand from small constructed inputs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from test_train import make_cache

from mnist_study.engine.evaluate import calibration, evaluate_run, metrics_from_logits
from mnist_study.engine.misclassified import (
    MISCLASSIFIED_COLUMNS,
    misclassified_table,
    write_misclassified,
)
from mnist_study.engine.models import save_checkpoint, spec_from_dict

SRC = Path(__file__).resolve().parents[1] / "src"


def one_hot_logits(pred: list[int], scale: float = 5.0) -> torch.Tensor:
    return torch.nn.functional.one_hot(torch.tensor(pred), 10).float() * scale


def test_metrics_from_constructed_logits():
    labels = torch.tensor([0, 0, 1, 1, 1, 2, 9, 9])
    pred = [0, 1, 1, 1, 0, 2, 9, 3]
    logits = one_hot_logits(pred)
    m = metrics_from_logits(logits, labels)
    assert m["n_test"] == 8
    assert m["test_acc"] == 5 / 8
    expected_loss = torch.nn.functional.cross_entropy(logits, labels).item()
    assert m["test_loss"] == pytest.approx(expected_loss)
    confusion = np.zeros((10, 10), dtype=int)
    for t, p in zip(labels.tolist(), pred, strict=True):
        confusion[t, p] += 1
    assert m["confusion"] == confusion.tolist()
    assert m["confusion"][0] == [1, 1, 0, 0, 0, 0, 0, 0, 0, 0]  # rows are the true class
    assert m["per_class_acc"][:3] == [0.5, 2 / 3, 1.0]
    assert m["per_class_acc"][9] == 0.5
    assert m["per_class_acc"][4] == 0.0  # a class absent from the labels counts as 0, not NaN
    json.dumps(m)  # plain Python types only


def test_misclassified_table_from_constructed_probs():
    probs = np.full((5, 10), 0.01, dtype=np.float32)
    labels = np.array([3, 7, 1, 0, 2])
    probs[0, [3, 5]] = [0.90, 0.02]  # right
    probs[1, [1, 7]] = [0.60, 0.30]  # wrong: 1 over 7
    probs[2, [4, 1, 8]] = [0.45, 0.20, 0.30]  # wrong: 4, runner-up 8 (not the true 1)
    probs[3, [0, 6]] = [0.50, 0.40]  # right
    probs[4, [9, 2]] = [0.85, 0.05]  # wrong and most confident
    table = misclassified_table(probs.argmax(1), probs, labels)
    assert list(table.columns) == list(MISCLASSIFIED_COLUMNS)
    assert table["index"].tolist() == [4, 1, 2]  # by confidence, highest first
    assert table["true"].tolist() == [2, 7, 1]
    assert table["pred"].tolist() == [9, 1, 4]
    assert table["runner_up"].tolist() == [2, 7, 8]
    np.testing.assert_allclose(table["confidence"], [0.85, 0.60, 0.45])
    np.testing.assert_allclose(table["runner_up_prob"], [0.05, 0.30, 0.30])


def test_misclassified_table_refuses_mismatched_inputs():
    with pytest.raises(ValueError, match=r"pred \(3,\), probs \(3, 10\), labels \(4,\)"):
        misclassified_table(np.zeros(3), np.zeros((3, 10)), np.zeros(4))


def test_write_misclassified_reads_npz_and_imports_no_torch(tmp_path):
    probs = np.eye(10, dtype=np.float16)[[1, 2, 3]] * np.float16(0.9) + np.float16(0.01)
    npz = tmp_path / "predictions.npz"
    np.savez_compressed(
        npz, probs=probs, pred=probs.argmax(1), labels=np.array([1, 5, 3], dtype=np.int64)
    )
    out = tmp_path / "misclassified.csv"
    # A fresh interpreter: the misclassified rule must not pay for importing torch.
    code = (
        "import sys; from mnist_study.engine.misclassified import write_misclassified; "
        f"write_misclassified({str(npz)!r}, {str(out)!r}); "
        "assert 'torch' not in sys.modules, 'torch was imported'"
    )
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    table = pd.read_csv(out)
    assert list(table.columns) == list(MISCLASSIFIED_COLUMNS)
    assert table[["index", "true", "pred", "runner_up"]].values.tolist() == [[1, 5, 2, 0]]
    returned = write_misclassified(npz, tmp_path / "again.csv")
    pd.testing.assert_frame_equal(returned, table, check_dtype=False)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A checkpoint of an MLP fitted for a few steps on the synthetic cache."""
    cache = make_cache()
    folder = tmp_path_factory.mktemp("run")
    torch.manual_seed(0)
    spec = spec_from_dict({"kind": "mlp", "hidden": [32]})
    model = spec.build()
    x = (cache["train_images"].reshape(-1, 784).float() / 255 - cache["mean"]) / cache["std"]
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(30):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(x), cache["train_labels"]).backward()
        optimizer.step()
    save_checkpoint(folder / "model.pt", model, spec, {}, cache["mean"], cache["std"])
    return cache, folder, model.eval()


def test_evaluate_run_writes_metrics_and_predictions(trained, tmp_path):
    cache, folder, model = trained
    metrics = evaluate_run(
        cache,
        folder / "model.pt",
        tmp_path / "metrics.json",
        tmp_path / "predictions.npz",
        "cpu",
        1,
    )
    assert json.loads((tmp_path / "metrics.json").read_text()) == metrics
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json", "predictions.npz"]
    x = (cache["test_images"].reshape(-1, 784).float() / 255 - cache["mean"]) / cache["std"]
    with torch.no_grad():
        logits = model(x)
    labels = cache["test_labels"]
    assert metrics["n_test"] == 200
    assert metrics["test_acc"] == pytest.approx((logits.argmax(1) == labels).double().mean().item())
    assert metrics["test_acc"] > 0.8
    assert metrics["test_loss"] == pytest.approx(
        torch.nn.functional.cross_entropy(logits, labels).item(), rel=1e-5
    )
    assert np.sum(metrics["confusion"]) == 200
    assert np.trace(metrics["confusion"]) == round(metrics["test_acc"] * 200)

    with np.load(tmp_path / "predictions.npz") as npz:
        assert sorted(npz.files) == [
            "confidence",
            "labels",
            "nll",
            "pred",
            "probs",
            "train_labels",
            "train_pred",
        ]
        arrays = {k: npz[k] for k in npz.files}
    probs, saved_labels, pred = arrays["probs"], arrays["labels"], arrays["pred"]
    assert probs.dtype == np.float16 and probs.shape == (200, 10)
    assert saved_labels.tolist() == labels.tolist()
    np.testing.assert_allclose(probs.astype(np.float32).sum(1), 1, atol=5e-3)
    np.testing.assert_allclose(probs, torch.softmax(logits, 1).numpy(), atol=1e-3)
    # One integer prediction array: metrics, tests and the misclassified set all read it.
    assert pred.dtype.kind == "i" and pred.tolist() == logits.argmax(1).tolist()
    assert metrics["test_acc"] == np.mean(pred == saved_labels)
    assert np.trace(metrics["confusion"]) == int(np.sum(pred == saved_labels))
    wrong = misclassified_table(pred, probs, saved_labels)
    assert wrong["index"].sort_values().tolist() == np.flatnonzero(pred != saved_labels).tolist()
    # The gap's train side: the fixed training subset, in eval mode, from the same model.
    assert len(arrays["train_pred"]) == len(arrays["train_labels"]) > 0
    assert metrics["train_acc"] == np.mean(arrays["train_pred"] == arrays["train_labels"])
    # Per image: the predicted class's probability and the loss, whose means are the metrics.
    softmax = torch.softmax(logits, 1)
    np.testing.assert_allclose(arrays["confidence"], softmax.max(1).values.numpy(), rtol=1e-5)
    assert float(arrays["nll"].mean()) == pytest.approx(metrics["test_loss"], rel=1e-5)
    correct = pred == saved_labels
    assert metrics["overconfidence"] == pytest.approx(
        float(np.mean(arrays["confidence"].astype(np.float64) - correct)), abs=1e-6
    )
    assert 0 <= metrics["ece"] <= 1 and sum(metrics["reliability"]["count"]) == 200


def test_evaluate_run_reads_the_cache_from_a_path(trained, tmp_path):
    cache, folder, _ = trained
    torch.save(cache, tmp_path / "cache.pt")
    from_dict = evaluate_run(cache, folder / "model.pt", tmp_path / "a.json", tmp_path / "a.npz")
    from_path = evaluate_run(
        tmp_path / "cache.pt", folder / "model.pt", tmp_path / "b.json", tmp_path / "b.npz"
    )
    assert from_dict == from_path


def test_ece_and_overconfidence_of_a_hand_computed_case():
    """Four images. Confidences 0.9 and 0.9 (bin 14 of 15, (0.867, 0.933]) with one right;
    0.62 (bin 10, (0.6, 0.667]) right; 0.3 (bin 5) wrong. ECE = (|1.8 - 1| + |0.62 - 1| +
    |0.3 - 0|) / 4 = 0.37; overconfidence = (0.9 + 0.9 + 0.62 + 0.3 - 2) / 4 = 0.18."""
    result = calibration([0.9, 0.9, 0.62, 0.3], [True, False, True, False])
    assert result["ece"] == pytest.approx(0.37)
    assert result["overconfidence"] == pytest.approx(0.18)
    bins = result["reliability"]
    assert len(bins["count"]) == 15 and sum(bins["count"]) == 4
    assert bins["count"][13] == 2 and bins["count"][9] == 1 and bins["count"][4] == 1
    assert bins["accuracy"][13] == pytest.approx(0.5)
    assert bins["confidence"][13] == pytest.approx(0.9)
    assert bins["accuracy"][0] is None  # an empty bin has no accuracy


def test_calibration_is_zero_where_confidence_matches_accuracy():
    # Three of four right at confidence 0.75: calibrated, neither over- nor underconfident.
    result = calibration([0.75] * 4, [True, True, True, False])
    assert result["ece"] == pytest.approx(0.0, abs=1e-12)
    assert result["overconfidence"] == pytest.approx(0.0, abs=1e-12)
    # Underconfidence is negative overconfidence, and still a positive ECE.
    under = calibration([0.6] * 4, [True] * 4)
    assert under["overconfidence"] == pytest.approx(-0.4) and under["ece"] == pytest.approx(0.4)
    # A confidence of exactly 1 falls in the last bin, of exactly 0 in the first.
    edges = calibration([1.0, 0.0], [True, False])["reliability"]["count"]
    assert edges[14] == 1 and edges[0] == 1


def test_calibration_refuses_mismatched_inputs():
    with pytest.raises(ValueError, match="confidence"):
        calibration([0.5, 0.6], [True])


def test_the_best_checkpoint_is_scored_from_its_own_file(trained, tmp_path):
    """metrics.json's best_checkpoint and predictions_best.npz come from model_best.pt alone:
    the same as scoring that file as a run of its own, and different from the last."""
    cache, folder, model = trained
    torch.manual_seed(1)
    other = spec_from_dict({"kind": "mlp", "hidden": [32]}).build()  # an untrained "epoch"
    spec = spec_from_dict({"kind": "mlp", "hidden": [32]})
    save_checkpoint(folder / "early.pt", other, spec, {}, cache["mean"], cache["std"], epoch=3)
    metrics = evaluate_run(
        cache,
        folder / "model.pt",
        tmp_path / "metrics.json",
        tmp_path / "predictions.npz",
        "cpu",
        1,
        best_checkpoint=folder / "early.pt",
        best_predictions=tmp_path / "predictions_best.npz",
    )
    alone = evaluate_run(
        cache, folder / "early.pt", tmp_path / "alone.json", tmp_path / "alone.npz", "cpu", 1
    )
    best = metrics["best_checkpoint"]
    assert best["epoch"] == 3
    for key in ("test_acc", "test_loss", "train_acc", "ece", "overconfidence"):
        assert best[key] == alone[key]
    assert best["test_acc"] < metrics["test_acc"]
    with np.load(tmp_path / "predictions_best.npz") as a, np.load(tmp_path / "alone.npz") as b:
        assert all(np.array_equal(a[k], b[k]) for k in b.files)
