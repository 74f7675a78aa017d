"""Augmentation inside the training loop, random labels, sparse validation, and the claims
they feed (a level, an interaction), on synthetic data."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from test_analysis import judge
from test_train import FAST, MLP, make_cache, run

from mnist_study import metrics
from mnist_study.data.augment import affine, blank_value, random_affine
from mnist_study.data.cache import normalise
from mnist_study.data.datasets import IMAGE_SIZE
from mnist_study.data.subsets import prepare_data, trained_labels, training_indices
from mnist_study.engine.evaluate import evaluate_run
from mnist_study.engine.models import load_checkpoint
from mnist_study.engine.train import train_epoch

AUGMENT = {"augment_shift": 2, "augment_rotation": 10}


@pytest.fixture(scope="module")
def cache():
    return make_cache()


def dot_image(row: int, col: int) -> torch.Tensor:
    image = torch.zeros(1, IMAGE_SIZE, IMAGE_SIZE)
    image[0, row, col] = 1.0
    return image.reshape(1, -1)


def bright(image: torch.Tensor) -> list[list[int]]:
    return (image.reshape(IMAGE_SIZE, IMAGE_SIZE) > 0.5).nonzero().tolist()


# ----------------------------------------------------------------------------- augmentation


@pytest.mark.parametrize(("dx", "dy"), [(2, 0), (0, 2), (-2, 1), (0, 0)])
def test_a_shift_moves_the_pixels_by_the_stated_amount(dx, dy):
    moved = affine(dot_image(10, 12), torch.zeros(1), torch.tensor([[dx, dy]]), 0.0)
    assert bright(moved) == [[10 + dy, 12 + dx]]
    assert moved.sum().item() == pytest.approx(1.0)  # a whole-pixel shift resamples nothing


def test_pixels_moved_in_from_outside_are_blank_in_the_normalised_scale(cache):
    mean, std = cache["mean"], cache["std"]
    blank = blank_value(mean, std)
    images = normalise(cache["train_images"][:4], mean, std)
    moved = affine(images, torch.zeros(4), torch.tensor([[3.0, 0.0]] * 4), blank)
    left = moved.reshape(4, IMAGE_SIZE, IMAGE_SIZE)[:, :, :3]
    assert torch.allclose(left, torch.full_like(left, blank))


def test_random_draws_stay_within_their_bounds():
    image = dot_image(13, 13)
    generator = torch.Generator().manual_seed(0)
    for _ in range(50):
        moved = random_affine(image, 2.0, 0.0, generator, 0.0).reshape(IMAGE_SIZE, IMAGE_SIZE)
        rows, cols = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
        mass = moved.sum()
        centre = ((moved * rows).sum() / mass, (moved * cols).sum() / mass)
        assert abs(centre[0] - 13) <= 2 + 1e-4 and abs(centre[1] - 13) <= 2 + 1e-4
    # A turn of the image's centre pixel block about the centre leaves its mass in place.
    block = torch.zeros(IMAGE_SIZE, IMAGE_SIZE)
    block[12:16, 12:16] = 1.0
    turned = random_affine(block.reshape(1, -1), 0.0, 10.0, generator, 0.0)
    assert turned.sum().item() == pytest.approx(16.0, rel=0.1)


def test_the_same_seed_gives_the_same_augmented_batch_and_another_seed_another(cache):
    images = normalise(cache["train_images"][:32], cache["mean"], cache["std"])

    def batch(seed):
        generator = torch.Generator().manual_seed(seed)
        return random_affine(images, 2.0, 10.0, generator, -0.4)

    assert torch.equal(batch(0), batch(0))
    assert not torch.equal(batch(0), batch(1))
    assert not torch.equal(batch(0), images)


def test_augmented_runs_repeat_with_their_seed_and_differ_with_another(cache, tmp_path):
    _, first, weights = run(cache, tmp_path / "a", config={**AUGMENT, "epochs": 2})
    _, again, weights_again = run(cache, tmp_path / "b", config={**AUGMENT, "epochs": 2})
    _, plain, _ = run(cache, tmp_path / "c", config={"epochs": 2})
    _, other, _ = run(cache, tmp_path / "d", config={**AUGMENT, "epochs": 2, "seed": 1})
    pd.testing.assert_frame_equal(first, again)
    assert all(torch.equal(weights[k], weights_again[k]) for k in weights)
    assert not first["train_loss"].equals(plain["train_loss"])  # the draws changed training
    assert not first["train_loss"].equals(other["train_loss"])


def test_augmentation_keeps_each_image_with_its_label(cache):
    """An augmentation that moves nothing trains exactly as none: the batch's images stay in
    step with their labels through the augmentation slot."""
    data = prepare_data(cache, "cpu")
    blank = blank_value(data.mean, data.std)
    results = []
    for augment in (None, lambda x: affine(x, torch.zeros(len(x)), torch.zeros(len(x), 2), blank)):
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(784, 10))
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        optimizer.step = lambda lr, step=optimizer.step: step()  # the loop passes the rate
        perm = torch.randperm(len(data.train_x), generator=torch.Generator().manual_seed(0))
        loss, correct = train_epoch(
            model, optimizer, data.train_x, data.train_y, perm, 64, [0.1] * 8, augment
        )
        results.append((loss.item(), correct.item()))
    assert results[0][0] == pytest.approx(results[1][0], rel=1e-5)
    assert results[0][1] == results[1][1]


# ----------------------------------------------------------------------------- random labels


def test_random_labels_are_one_fixed_permutation_of_the_subsets_real_labels(cache):
    labels, split = cache["train_labels"], cache["train_idx"]
    subset = training_indices(split, 200)
    shuffled = trained_labels(labels, subset, True)
    assert torch.equal(shuffled, trained_labels(labels, subset, True))  # the same every call
    assert torch.equal(shuffled[subset].sort().values, labels[subset].sort().values)
    assert (shuffled[subset] != labels[subset]).float().mean() > 0.5  # really shuffled
    outside = torch.ones(len(labels), dtype=torch.bool)
    outside[subset] = False
    assert torch.equal(shuffled[outside], labels[outside])  # validation keeps its labels
    assert trained_labels(labels, subset, False) is labels


def test_every_seed_and_variant_learns_the_same_random_labels(cache, tmp_path):
    config = {"train_size": 200, "random_labels": True, "epochs": 1}
    dropout = {"kind": "mlp", "hidden": [16], "dropout": 0.5}
    learned = []
    for i, (spec, seed) in enumerate([(MLP, 0), (MLP, 1), (dropout, 0)]):
        run(cache, tmp_path / str(i), spec=spec, config={**config, "seed": seed})
        _, ckpt = load_checkpoint(tmp_path / str(i) / "model.pt")
        data = prepare_data(cache, "cpu", train_size=200, random_labels=True)
        learned.append(data.train_y)
        assert ckpt["train_config"]["random_labels"] is True
    assert all(torch.equal(learned[0], y) for y in learned[1:])


def test_train_and_evaluate_score_the_training_side_against_the_trained_labels(cache, tmp_path):
    config = {"train_size": 200, "random_labels": True, "epochs": 30, "lr": 0.02}
    info, history, _ = run(cache, tmp_path, spec={"kind": "mlp", "hidden": [128]}, config=config)
    # Memorized: the random labels are fitted, in the train job's eval-mode scoring...
    assert history["train_eval_acc"].iloc[-1] >= 0.95
    metrics = evaluate_run(
        cache, tmp_path / "model.pt", tmp_path / "metrics.json", tmp_path / "pred.npz", "cpu"
    )
    # ... and in the evaluate job's, on the same images against the same labels.
    assert metrics["train_acc"] == pytest.approx(info["final"]["train_eval_acc"])
    arrays = np.load(tmp_path / "pred.npz")
    subset = training_indices(cache["train_idx"], 200)
    real = cache["train_labels"][subset].numpy()
    assert np.mean(arrays["train_pred"] == real) < 0.6  # against the real labels: far lower
    assert metrics["test_acc"] < 0.5  # nothing to generalize


# ----------------------------------------------------------------------------- sparse validation


def test_validation_every_k_epochs_leaves_the_others_unmeasured(cache, tmp_path):
    info, history, _ = run(cache, tmp_path, config={"epochs": 5, "val_every": 2})
    scored = history.dropna(subset=["val_acc"])["epoch"].tolist()
    assert scored == [2, 4, 5]  # every second epoch and the last
    assert history["val_loss"].isna().sum() == 2
    assert not history["train_eval_acc"].isna().any()  # the training side: every epoch
    assert info["stop_epoch"] in scored and info["best_epoch"] in scored
    assert not math.isnan(info["final"]["val_acc"])


def test_time_to_a_threshold_skips_unscored_epochs():
    frame = pd.DataFrame(
        {"epoch": [1, 2, 3, 4], "train_eval_acc": [0.2, np.nan, 0.6, 1.0], "val_acc": np.nan}
    )
    # 0.2 at epoch 1, 0.6 at epoch 3: 0.4 is reached half-way between them.
    assert metrics.epochs_to(frame, "train_eval_acc", 0.4) == (pytest.approx(2.0), True)
    assert metrics.epochs_to(frame, "train_eval_acc", 1.01) == (4.0, False)


def test_fast_repeats_are_unchanged_by_the_new_keys(cache, tmp_path):
    """Defaults (no augmentation, real labels, validation every epoch) train as before."""
    _, history, _ = run(cache, tmp_path, config={"epochs": 2})
    assert not history.isna().any().any()
    assert FAST["epochs"] == 4  # the shared fast config is not changed by these tests


# ----------------------------------------------------------------------------- claims


def per_run(values: dict[str, list[float]], metric: str) -> pd.DataFrame:
    return pd.DataFrame(
        [{"variant": v, "seed": s, metric: x} for v, xs in values.items() for s, x in enumerate(xs)]
    )


LEVEL = {
    "statement": "s",
    "metric": "train_acc",
    "variants": ["memo"],
    "compare": "level",
    "level": 0.99,
    "expect": "increase",
    "smallest_effect": 0.005,
}


def test_a_level_claim_holds_above_its_level_and_fails_below_it():
    above = judge({"x": LEVEL}, per_run({"memo": [0.999, 1.0, 0.998, 1.0]}, "train_acc"))["x"]
    assert above["verdict"] == "supported" and above["effect"] == pytest.approx(0.00925)
    below = judge({"x": LEVEL}, per_run({"memo": [0.90, 0.92, 0.91, 0.93]}, "train_acc"))["x"]
    assert below["verdict"] == "contradicted"
    # A level is a bound: never "shown equivalent" to it, however close the runs sit.
    near = judge({"x": LEVEL}, per_run({"memo": [0.9901, 0.9899] * 3}, "train_acc"))["x"]
    assert math.isnan(near["p_equivalence"]) and near["verdict"] == "inconclusive"
    assert "99% " in near["numbers"] and near["compare"] == "level"


def epochs_history(reach: float, epochs: int = 10) -> pd.DataFrame:
    """A run whose eval-mode training accuracy crosses 0.99 at epoch ``reach`` (linear)."""
    acc = [min(1.0, 0.99 * e / reach) for e in range(1, epochs + 1)]
    return pd.DataFrame({"epoch": range(1, epochs + 1), "train_eval_acc": acc})


INTERACTION = {
    "statement": "s",
    "metric": "epochs_to_train_acc",
    "threshold": 0.99,
    "variants": ["real", "real_drop", "random", "random_drop"],
    "compare": "interaction",
    "expect": "increase",
    "smallest_effect": 0.5,
}


def interaction_study(times: dict[str, list[float]]):
    runs = per_run({v: [0.0] * len(t) for v, t in times.items()}, "train_acc")
    histories = {(v, s): epochs_history(t) for v, ts in times.items() for s, t in enumerate(ts)}
    return runs, histories


def test_an_interaction_is_the_difference_of_differences_paired_by_seed():
    times = {
        "real": [2.0, 2.2, 1.9, 2.1],
        "real_drop": [2.5, 2.6, 2.4, 2.7],  # dropout adds about 0.5 epochs to real labels
        "random": [5.0, 5.5, 4.8, 5.2],
        "random_drop": [8.0, 8.6, 7.9, 8.1],  # and about 3 to random ones
    }
    runs, histories = interaction_study(times)
    result = judge({"x": INTERACTION}, runs, histories)["x"]

    def time(variant, seed):
        return metrics.epochs_to(histories[(variant, seed)], "train_eval_acc", 0.99)[0]

    expected = np.mean(
        [
            (time("random_drop", s) - time("random", s)) - (time("real_drop", s) - time("real", s))
            for s in range(4)
        ]
    )
    assert expected == pytest.approx(2.525, abs=0.2)  # about the times' own interaction
    assert result["effect"] == pytest.approx(expected)
    assert result["verdict"] == "supported" and result["n_seeds"] == 4
    assert "difference of differences" in result["test"]
    same = {**times, "random_drop": [t + 0.5 for t in times["random"]]}
    # The same slowdown under both labels: shown equivalent, so contradicted.
    flat = judge({"x": INTERACTION}, *interaction_study(same))["x"]
    assert flat["verdict"] == "contradicted"


def test_censored_times_are_never_shown_equivalent():
    times = {
        "real": [2.0, 2.2, 1.9, 2.1],
        "real_drop": [2.5, 2.6, 2.4, 2.7],
        "random": [5.0, 5.5, 4.8, 5.2],
        "random_drop": [5.5, 6.0, 5.3, 5.7],
    }
    runs, histories = interaction_study(times)
    histories[("random_drop", 0)] = epochs_history(50.0)  # never reaches 99% in 10 epochs
    result = judge({"x": INTERACTION}, runs, histories)["x"]
    assert result["censored"] == {"random_drop": 1}
    assert math.isnan(result["p_equivalence"]) and result["verdict"] != "contradicted"
