"""The augmentation gallery, memorization curves, learning curves with validation every k-th
epoch, and the report's words for level and interaction claims, from small synthetic data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from mnist_study.data.subsets import training_indices
from mnist_study.report.figure_plan import train_levels
from mnist_study.report.page.results import Results
from mnist_study.report.page.sections import compared_text
from mnist_study.report.page.training_data import chance_check
from mnist_study.report.plots import augment_gallery, curves, memorization
from mnist_study.report.plots.augment_gallery import DRAWS, PAD, ROWS
from mnist_study.report.plots.memorization import plot_memorization, plot_memorization_curves

PNG = b"\x89PNG\r\n\x1a\n"
SIDE = 28
FASHION = ["T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker"]
FASHION += ["Bag", "Boot"]


@pytest.fixture
def cache() -> dict:
    """40 training images, labels 9, 8, ..., 0 repeated (so the first of each class is not the
    first image), every image a distinct random pattern."""
    rng = np.random.default_rng(3)
    images = (rng.random((40, SIDE, SIDE)) > 0.7).astype(np.uint8) * 255
    return {
        "train_images": torch.from_numpy(images),
        "train_labels": torch.tensor([9 - i % 10 for i in range(40)]),
        "train_idx": torch.arange(40),
        "mean": 0.3,
        "std": 0.45,
    }


def test_gallery_picks_the_first_training_image_of_each_of_the_first_classes(cache):
    images, labels = augment_gallery.pick_images(cache, None)
    assert labels.tolist() == list(range(ROWS))
    # Label c first appears at index 9 - c.
    assert torch.equal(images, cache["train_images"][[9 - c for c in range(ROWS)]])
    # The training split's images only, a class absent there left out.
    subset = {**cache, "train_idx": torch.tensor([0, 25, 15, 5])}  # labels 9, 4, 4, 4
    images, labels = augment_gallery.pick_images(subset, None)
    assert labels.tolist() == [4] and torch.equal(images[0], cache["train_images"][25])
    # A run on a fixed subset of the split: picked among that subset's images.
    kept = set(training_indices(cache["train_idx"], 12).tolist())
    images, labels = augment_gallery.pick_images(cache, 12)
    firsts = {c: min(i for i in kept if 9 - i % 10 == c) for c in labels.tolist()}
    assert torch.equal(images, cache["train_images"][list(firsts.values())])


def test_gallery_without_classes_names_the_problem(cache):
    cache["train_labels"] = torch.full((40,), 9)
    with pytest.raises(ValueError, match="none of labels 0 to 5"):
        augment_gallery.pick_images(cache, None)


def test_gallery_rows_hold_the_image_then_its_random_draws(cache):
    images, _ = augment_gallery.pick_images(cache, None)
    tiles = augment_gallery.augmented_copies(images, 2, 10, cache["mean"], cache["std"])
    assert tiles.shape == (ROWS * (DRAWS + 1), SIDE, SIDE)
    rows = tiles.reshape(ROWS, DRAWS + 1, SIDE, SIDE)
    # First column: the image as it is (pixel scale); then draws that differ from it and from
    # each other, the same on every call (a fixed generator).
    assert torch.allclose(rows[:, 0], images.float() / 255, atol=1e-5)
    assert all(not torch.allclose(rows[r, d], rows[r, 0]) for r in range(ROWS) for d in (1, 2))
    assert not torch.allclose(rows[:, 1], rows[:, 2])
    again = augment_gallery.augmented_copies(images, 2, 10, cache["mean"], cache["std"])
    assert torch.equal(tiles, again)
    # No shift and no rotation: every draw is the image itself.
    still = augment_gallery.augmented_copies(images, 0, 0, cache["mean"], cache["std"])
    assert torch.allclose(still.reshape(ROWS, DRAWS + 1, SIDE, SIDE)[:, 3], rows[:, 0], atol=1e-5)


def test_gallery_grid_puts_each_image_at_the_start_of_its_row(cache):
    images, _ = augment_gallery.pick_images(cache, None)
    tiles = augment_gallery.augmented_copies(images, 2, 10, cache["mean"], cache["std"])
    grid = augment_gallery.gallery_grid(tiles)
    step = SIDE + PAD
    assert grid.shape == (PAD + ROWS * step, PAD + (DRAWS + 1) * step)
    for r in range(ROWS):
        tile = grid[PAD + r * step : PAD + r * step + SIDE, PAD : PAD + SIDE]
        np.testing.assert_allclose(tile, 1 - images[r].numpy() / 255, atol=1e-5)


def test_plot_augmentation_writes_a_gallery_per_variant_with_class_names(
    cache, tmp_path, monkeypatch
):
    torch.save(cache, tmp_path / "cache.pt")
    augmented = {
        "aug": {"augment_shift": 2, "augment_rotation": 10, "train_size": None},
        "turn": {"augment_shift": 0, "augment_rotation": 15, "train_size": 30},
    }
    outputs = {v: tmp_path / f"{v}.png" for v in augmented}
    dataset = {"classes": FASHION}
    augment_gallery.plot_augmentation(tmp_path / "cache.pt", augmented, outputs, None, dataset)
    for path in outputs.values():
        assert path.read_bytes().startswith(PNG) and path.stat().st_size > 5000
    drawn = []
    monkeypatch.setattr(augment_gallery, "plot_augmentation_gallery", lambda *a: drawn.append(a))
    augment_gallery.plot_augmentation(
        tmp_path / "cache.pt", augmented, outputs, {"aug": "Augmented"}, dataset
    )
    (tiles, names, title, _), (_, _, turn_title, _) = drawn
    assert names == FASHION[:ROWS] and tiles.shape[0] == ROWS * (DRAWS + 1)
    assert title.startswith("Augmented: shifts up to 2 px, rotations up to 10°")
    assert turn_title.startswith("turn: shifts up to 0 px, rotations up to 15°")
    with pytest.raises(ValueError, match="'other'"):
        augment_gallery.plot_augmentation(
            tmp_path / "cache.pt", augmented, {"other": tmp_path / "o.png"}
        )


def history(epochs: int, speed: float, val_every: int, seed: int) -> pd.DataFrame:
    """A run's history.csv: training accuracy rising at ``speed``, validation only every
    ``val_every``-th epoch and the last (NaN between)."""
    epoch = np.arange(1, epochs + 1)
    acc = 1 - (0.9 + 0.01 * seed) * np.exp(-speed * epoch)
    scored = (epoch % val_every == 0) | (epoch == epochs)
    return pd.DataFrame(
        {
            "epoch": epoch,
            "train_loss": 1 / epoch,
            "train_acc": acc,
            "train_eval_loss": 1 / epoch,
            "train_eval_acc": acc,
            "val_loss": np.where(scored, 2 / epoch, np.nan),
            "val_acc": np.where(scored, acc / 2, np.nan),
            "lr": 0.001,
        }
    )


MEMO = {
    "title": "Memorization",
    "variants": ["real", "random", "real_drop", "random_drop"],
    "factor": {
        "label": "Labels",
        "values": ["real", "random", "real + dropout", "random + dropout"],
    },
}
SPEEDS = {"real": 0.3, "random": 0.08, "real_drop": 0.2, "random_drop": 0.04}


def write_histories(folder, epochs=25, val_every=10):
    keys, paths = [], []
    for variant, speed in SPEEDS.items():
        for seed in (0, 1):
            path = folder / f"{variant}{seed}.csv"
            history(epochs, speed, val_every, seed).to_csv(path, index=False)
            keys.append((variant, seed))
            paths.append(path)
    return keys, paths


@pytest.fixture
def figures(monkeypatch):
    """The figures the plotting functions would save, kept open to be read."""
    saved = []
    for module in (curves, memorization):
        monkeypatch.setattr(
            module, "save", lambda fig, out, layout="tight_layout": saved.append(fig)
        )
    return saved


def test_memorization_curves_one_line_per_variant_and_the_claimed_level(tmp_path, figures):
    keys, paths = write_histories(tmp_path)
    histories = curves.read_histories(keys, paths)
    plot_memorization_curves(MEMO, histories, tmp_path / "m.png", {"real": "Real"}, [0.99])
    (ax,) = figures[0].axes
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert list(lines)[:4] == [
        "Real (real)",
        "random (random)",
        "real_drop (real + dropout)",
        "random_drop (random + dropout)",
    ]
    # Every epoch, mean over the two seeds, with no gap where validation was not scored.
    x, y = lines["random (random)"].get_data()
    assert list(x) == list(range(1, 26)) and not np.isnan(y).any()
    expected = (
        history(25, 0.08, 10, 0)["train_eval_acc"] + history(25, 0.08, 10, 1)["train_eval_acc"]
    ) / 2
    np.testing.assert_allclose(y, expected)
    level = lines["99% (the claims' level)"]
    assert level.get_linestyle() == "--" and set(level.get_ydata()) == {0.99}
    # No claim with a level: no dashed line.
    plot_memorization_curves(MEMO, histories, tmp_path / "m.png", None, [])
    assert [line.get_linestyle() for line in figures[1].axes[0].get_lines()] == ["-"] * 4


def test_plot_memorization_writes_one_png_per_study(tmp_path):
    keys, paths = write_histories(tmp_path)
    studies = {
        "memo": MEMO,
        "small": {
            **MEMO,
            "variants": ["real", "random"],
            "factor": {"label": "L", "values": [1, 2]},
        },
    }
    outputs = {name: tmp_path / f"{name}.png" for name in studies}
    plot_memorization(studies, keys, paths, outputs, {"memo": [0.99]})
    for path in outputs.values():
        assert path.read_bytes().startswith(PNG)


def test_learning_curves_join_the_epochs_validation_scored(tmp_path, figures):
    keys, paths = write_histories(tmp_path, epochs=25, val_every=10)
    histories = curves.read_histories(keys, paths)
    curves.plot_variant_curves(histories["real"], "Real", tmp_path / "c.png")
    ax_loss, ax_acc = figures[0].axes[:2]
    val = next(line for line in ax_acc.get_lines() if line.get_label() == "validation")
    x, y = val.get_data()
    assert list(x) == [10, 20, 25] and not np.isnan(y).any()
    study = {**MEMO, "variants": ["real", "random"], "factor": {"label": "L", "values": [1, 2]}}
    curves.plot_study_curves(study, histories, tmp_path / "s.png")
    ax_acc, ax_loss = figures[1].axes[:2]
    for line in ax_acc.get_lines():
        assert list(line.get_xdata()) == [10, 20, 25]
    # The dot of the lowest validation loss sits on a scored epoch (the last: loss 2 / epoch).
    dots = [line for line in ax_loss.get_lines() if line.get_marker() == "o"]
    assert [list(d.get_xdata()) for d in dots] == [[25], [25]]


def test_train_levels_come_from_the_study_claims():
    claims = {
        "fits": {"metric": "train_acc", "compare": "level", "level": 0.99, "variants": ["random"]},
        "slow": {
            "metric": "epochs_to_train_acc",
            "threshold": 0.95,
            "variants": ["real", "random"],
        },
        "val": {"metric": "epochs_to_val_acc", "threshold": 0.9, "variants": ["real", "random"]},
        "elsewhere": {"metric": "epochs_to_train_acc", "threshold": 0.5, "variants": ["real", "x"]},
        "test": {"metric": "test_acc", "variants": ["real", "random"]},
    }
    assert train_levels(claims.values(), ["real", "random"]) == [0.95, 0.99]
    assert train_levels(claims.values(), ["real"]) == []


def results(variants=("a", "b", "c", "d"), classes=10, stats=None) -> Results:
    return Results(
        variants={v: {"label": v.upper()} for v in variants},
        studies={"memo": {"title": "Memo", "variants": list(variants)}},
        runs=pd.DataFrame(),
        stats=stats or {},
        pairs=pd.DataFrame(),
        claims=[],
        errors={},
        alpha=0.05,
        describe={
            "name": "x",
            "title": "X",
            "noun": "image",
            "classes": [str(c) for c in range(classes)],
        },
    )


def test_compared_words_for_level_and_interaction_claims():
    r = results()
    level = {"variants": ["b"], "metric": "train_acc", "compare": "level", "level": 0.99}
    assert compared_text(r, level) == "B against 99%"
    epochs = {"variants": ["a"], "metric": "epochs_to_train_acc", "compare": "level", "level": 20}
    assert compared_text(r, epochs) == "A against 20"
    interaction = {"variants": ["a", "b", "c", "d"], "metric": "gap", "compare": "interaction"}
    assert compared_text(r, interaction) == "(D − C) − (B − A)"
    each = {"variants": ["a", "b", "c"], "metric": "gap", "compare": "each"}
    assert compared_text(r, each) == "C against each of A, B"
    assert compared_text(r, {"variants": ["a", "b", "c"], "metric": "gap"}) == "A → B → C"


def test_chance_is_one_over_the_dataset_classes():
    stats = {("b", "test_acc"): {"mean": 0.21, "std": 0.01}, ("b", "train_acc"): {"mean": 1.0}}
    r = results(classes=5, stats=stats)
    check = chance_check(r, "memo", {"random_labels": ["b", "other"]})
    assert check["chance"] == "20.00%" and check["classes"] == 5
    assert check["rows"] == [
        {"label": "B", "train": "100.00%", "test": "21.00 ± 1.00%", "diff": "+1.00 pp"}
    ]
    assert "1 in 5 classes" in check["note"] and "not a claim" in check["note"]
    assert chance_check(r, "memo", {"random_labels": []}) is None
