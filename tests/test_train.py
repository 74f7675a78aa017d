"""Tests of the training loop: it learns, it is deterministic, and it resumes after a kill.

The data is a small synthetic cache in the tensor cache's format, made here.
"""

from __future__ import annotations

import json
import math
import platform

import pandas as pd
import pytest
import torch
from helpers import synthetic_digits

from mnist_study.engine import train as train_mod
from mnist_study.engine.models import load_checkpoint
from mnist_study.engine.train import HISTORY_COLUMNS, Optimizer, prepare_data, train_run
from mnist_study.engine.train_config import TrainConfig, lr_at
from mnist_study.runrecord import RUN_FORMAT, read_run_record

MLP = {"kind": "mlp", "hidden": [32]}
DROPOUT_MLP = {"kind": "mlp", "hidden": [32], "dropout": 0.5, "input_dropout": 0.2}
CNN = {"kind": "cnn", "channels": [4, 8], "dropout": 0.25}
FAST = {"optimizer": "adamw", "lr": 0.01, "batch_size": 32, "epochs": 4, "threads": 1}


def make_cache(n_train: int = 600, n_val: int = 100, n_test: int = 200) -> dict:
    """A tensor cache as mnist_study.data.datasets builds it, on synthetic digits."""
    images, labels = synthetic_digits(n_train, seed=1)
    test_images, test_labels = synthetic_digits(n_test, seed=2)
    images = torch.from_numpy(images)
    pixels = images[n_val:].float() / 255
    return {
        "dataset": "synthetic",
        "classes": [str(d) for d in range(10)],
        "train_images": images,
        "train_labels": torch.from_numpy(labels).long(),
        "test_images": torch.from_numpy(test_images),
        "test_labels": torch.from_numpy(test_labels).long(),
        "train_idx": torch.arange(n_val, n_train),
        "val_idx": torch.arange(n_val),
        "mean": pixels.mean().item(),
        "std": pixels.std().item(),
    }


@pytest.fixture(scope="module")
def cache():
    return make_cache()


def run(cache, folder, spec=MLP, config=None, **kwargs):
    """Train into ``folder``; returns (train.json, history frame, checkpoint state dict)."""
    config = {**FAST, "seed": 0, **(config or {})}
    info = train_run(
        cache,
        spec,
        config,
        checkpoint=folder / "model.pt",
        history=folder / "history.csv",
        info=folder / "train.json",
        resume=folder / "resume.pt",
        **kwargs,
    )
    state = torch.load(folder / "model.pt", weights_only=True)["state_dict"]
    return info, pd.read_csv(folder / "history.csv"), state


def same_weights(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def history_bytes(folder) -> bytes:
    """history.csv as written: it must repeat bit for bit."""
    return (folder / "history.csv").read_bytes()


def test_training_lowers_the_loss_and_learns(cache, tmp_path):
    info, history, _ = run(cache, tmp_path, config={"epochs": 5})
    assert list(history.columns) == list(HISTORY_COLUMNS)
    assert list(history["epoch"]) == [1, 2, 3, 4, 5]
    assert history["train_loss"].iloc[-1] < 0.5 * history["train_loss"].iloc[0]
    assert history["val_loss"].iloc[-1] < history["val_loss"].iloc[0]
    assert history["val_acc"].iloc[-1] >= 0.9
    assert history["train_eval_acc"].iloc[-1] >= 0.95
    for column in ("train_acc", "train_eval_acc", "val_acc"):
        assert history[column].between(0, 1).all()
    assert "seconds" not in history  # wall time would break bit-for-bit repeats
    assert not (tmp_path / "resume.pt").exists()  # deleted once the outputs are written
    files = sorted(p.name for p in tmp_path.iterdir() if p.is_file())
    assert files == ["history.csv", "model.pt", "model_best.pt", "train.json"]
    # Kept beside them, under the run's key: a rerun of the job puts them back.
    assert sorted(p.name for p in (tmp_path / ".finished").iterdir()) == sorted(
        [*files, "key.json"]
    )

    on_disk = json.loads((tmp_path / "train.json").read_text())
    assert on_disk == info
    assert info["params"] == 784 * 32 + 32 + 32 * 10 + 10
    assert info["flops_per_sample"] == 2 * (784 * 32 + 32 * 10)
    assert info["epochs"] == 5 and info["device"] == "cpu" and info["threads"] == 1
    # The run record: its format, the dataset, and the machine that trained it.
    assert read_run_record(tmp_path / "train.json") == info
    assert info["format"] == RUN_FORMAT and info["dataset"] == cache["dataset"]
    assert info["machine"]["torch"] == torch.__version__
    assert info["machine"]["host"] == platform.node() and info["machine"]["cpu"]
    assert info["final"] == {k: history[k].iloc[-1] for k in HISTORY_COLUMNS[1:7]}
    assert info["best_epoch"] == int(history.loc[history["val_acc"].idxmax(), "epoch"])
    assert len(info["epoch_seconds"]) == 5 and min(info["epoch_seconds"]) > 0
    assert info["train_seconds"] == pytest.approx(sum(info["epoch_seconds"]))
    assert info["spec"]["hidden"] == [32] and info["train_config"]["lr"] == FAST["lr"]


def test_dropout_shows_in_train_mode_metrics_only(cache, tmp_path):
    """The running train loss (train mode, dropout on) is worse than the eval-mode one."""
    _, history, _ = run(cache, tmp_path, spec=DROPOUT_MLP, config={"epochs": 5})
    last = history.iloc[-1]
    assert last["train_loss"] > last["train_eval_loss"]


def test_checkpoint_rebuilds_the_trained_model(cache, tmp_path):
    info, _, _ = run(cache, tmp_path, spec=CNN, config={"epochs": 2})
    model, ckpt = load_checkpoint(tmp_path / "model.pt")
    assert ckpt["spec"] == info["spec"] and ckpt["train_config"] == info["train_config"]
    assert (ckpt["mean"], ckpt["std"]) == (cache["mean"], cache["std"])
    data = prepare_data(cache, "cpu")
    with torch.inference_mode():
        acc = (model(data.val_x).argmax(1) == data.val_y).double().mean().item()
    assert acc == info["final"]["val_acc"]


@pytest.mark.parametrize("spec", [DROPOUT_MLP, CNN], ids=["dropout_mlp", "cnn"])
def test_same_seed_same_run_different_seed_different_run(cache, tmp_path, spec):
    _, _, a = run(cache, tmp_path / "a", spec=spec, config={"epochs": 2})
    _, _, b = run(cache, tmp_path / "b", spec=spec, config={"epochs": 2})
    _, _, c = run(cache, tmp_path / "c", spec=spec, config={"epochs": 2, "seed": 1})
    assert same_weights(a, b)
    assert history_bytes(tmp_path / "a") == history_bytes(tmp_path / "b")
    assert not same_weights(a, c)
    assert history_bytes(tmp_path / "a") != history_bytes(tmp_path / "c")


class Killed(Exception):
    """Stands in for SIGKILL: the process stops wherever it is."""


@pytest.mark.parametrize("schedule", ["onecycle", "constant"])
@pytest.mark.parametrize("optimizer", ["adamw", "sgd_momentum"])
def test_a_run_killed_mid_epoch_resumes_to_the_same_result(
    cache, tmp_path, monkeypatch, optimizer, schedule
):
    config = {"epochs": 4, "optimizer": optimizer, "schedule": schedule}
    _, whole_history, whole = run(cache, tmp_path / "whole", spec=DROPOUT_MLP, config=config)

    real_epoch = train_mod.train_epoch
    calls = []

    def dies_in_epoch_3(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            real_epoch(*args, **kwargs)  # half the work of epoch 3 is lost with the process
            raise Killed
        return real_epoch(*args, **kwargs)

    folder = tmp_path / "killed"
    monkeypatch.setattr(train_mod, "train_epoch", dies_in_epoch_3)
    with pytest.raises(Killed):
        run(cache, folder, spec=DROPOUT_MLP, config=config)
    assert sorted(p.name for p in folder.iterdir()) == ["resume.pt"]  # nothing looks finished
    monkeypatch.setattr(train_mod, "train_epoch", real_epoch)

    messages = []
    info, history, resumed = run(
        cache, folder, spec=DROPOUT_MLP, config=config, log=messages.append
    )
    assert info["resumed_after_epoch"] == 2
    assert len(info["epoch_seconds"]) == 4  # the two finished epochs keep their times
    assert any("continuing after epoch 2 of 4" in m for m in messages)
    assert same_weights(whole, resumed)
    assert history_bytes(tmp_path / "whole") == history_bytes(folder)
    assert list(history["epoch"]) == list(whole_history["epoch"])
    assert not (folder / "resume.pt").exists()


def test_resume_state_of_another_config_is_ignored(cache, tmp_path):
    folder = tmp_path / "run"

    def stop(epoch, row):
        if epoch == 1:
            raise Killed

    with pytest.raises(Killed):
        run(cache, folder, config={"lr": 0.02}, on_epoch_end=stop)
    assert (folder / "resume.pt").exists()
    messages = []
    info, _, weights = run(cache, folder, config={"lr": 0.01}, log=messages.append)
    assert info["resumed_after_epoch"] == 0
    assert any("another spec, config or device; starting fresh" in m for m in messages)
    _, _, fresh = run(cache, tmp_path / "fresh", config={"lr": 0.01})
    assert same_weights(weights, fresh)


def test_unreadable_resume_state_means_a_fresh_start(cache, tmp_path):
    (tmp_path / "resume.pt").write_bytes(b"not a torch file")
    messages = []
    info, _, _ = run(cache, tmp_path, config={"epochs": 1}, log=messages.append)
    assert info["resumed_after_epoch"] == 0
    assert any("unreadable" in m for m in messages)


def test_a_different_thread_count_still_resumes(cache, tmp_path):
    def stop(epoch, row):
        if epoch == 1:
            raise Killed

    with pytest.raises(Killed):
        run(cache, tmp_path, config={"epochs": 2, "threads": 1}, on_epoch_end=stop)
    info, _, _ = run(cache, tmp_path, config={"epochs": 2, "threads": 2})
    assert info["resumed_after_epoch"] == 1 and info["threads"] == 2


@pytest.mark.parametrize("kind", ["sgd", "sgd_momentum", "adam", "adamw"])
def test_optimizer_steps_like_torch_optim(kind):
    """The functional fused kernels give the same weights as torch.optim's fused classes."""
    config = TrainConfig(optimizer=kind, lr=0.05, weight_decay=0.01, momentum=0.9)
    torch.manual_seed(0)
    ours = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.Tanh(), torch.nn.Linear(5, 3))
    theirs = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.Tanh(), torch.nn.Linear(5, 3))
    theirs.load_state_dict(ours.state_dict())
    cls, extra = {
        "sgd": (torch.optim.SGD, {}),
        "sgd_momentum": (torch.optim.SGD, {"momentum": 0.9}),
        "adam": (torch.optim.Adam, {}),
        "adamw": (torch.optim.AdamW, {}),
    }[kind]
    reference = cls(theirs.parameters(), lr=0.05, weight_decay=0.01, fused=True, **extra)
    optimizer = Optimizer(ours.parameters(), config)
    x, y = torch.randn(8, 6), torch.randint(0, 3, (8,))
    for step in range(4):
        lr = 0.05 * (step + 1) / 4  # a changing rate, as the schedules make
        for group in reference.param_groups:
            group["lr"] = lr
        for model, opt in ((ours, optimizer), (theirs, reference)):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step(lr)
        reference.step()
    for a, b in zip(ours.parameters(), theirs.parameters(), strict=True):
        assert torch.equal(a, b)
    assert not torch.equal(ours[0].weight, torch.nn.Linear(6, 5).weight)


def test_schedules():
    total = 100
    constant = TrainConfig(schedule="constant", lr=0.1)
    assert {lr_at(constant, s, total) for s in range(total)} == {0.1}
    cosine = TrainConfig(schedule="cosine", lr=0.1)
    lrs = [lr_at(cosine, s, total) for s in range(total)]
    assert lrs[0] == 0.1 and all(a > b for a, b in zip(lrs, lrs[1:], strict=False))
    assert lrs[-1] < 0.001
    onecycle = TrainConfig(schedule="onecycle", lr=0.1)
    lrs = [lr_at(onecycle, s, total) for s in range(total)]
    peak = max(range(total), key=lrs.__getitem__)
    assert peak == 25 and math.isclose(lrs[peak], 0.1)
    assert math.isclose(lrs[0], 0.1 / 25)
    assert all(a < b for a, b in zip(lrs[:peak], lrs[1 : peak + 1], strict=True))
    assert all(a > b for a, b in zip(lrs[peak:], lrs[peak + 1 :], strict=False))
    assert lrs[-1] < 0.001


def test_history_records_the_schedule(cache, tmp_path):
    _, history, _ = run(cache, tmp_path, config={"schedule": "cosine", "lr": 0.01})
    steps = math.ceil(500 / FAST["batch_size"])
    config = TrainConfig(schedule="cosine", lr=0.01, epochs=FAST["epochs"])
    expected = [lr_at(config, e * steps - 1, steps * FAST["epochs"]) for e in (1, 2, 3, 4)]
    assert list(history["lr"]) == expected


def test_eval_subset_is_fixed_and_inside_the_training_split(cache):
    a = prepare_data(cache, "cpu", eval_train_size=50)
    b = prepare_data(cache, "cpu", eval_train_size=50)
    assert len(a.train_eval_x) == 50 and torch.equal(a.train_eval_x, b.train_eval_x)
    # Every eval image is a training image, never a validation one.
    train_rows = {tuple(r.tolist()) for r in a.train_x}
    assert all(tuple(r.tolist()) in train_rows for r in a.train_eval_x)
    assert len(a.val_x) == 100 and len(a.train_x) == 500
    assert a.train_x.mean().abs() < 0.05 and (a.train_x.std() - 1).abs() < 0.05


def test_a_training_subset_is_fixed_and_holds_the_gap_images(cache):
    small = prepare_data(cache, "cpu", eval_train_size=50, train_size=120)
    again = prepare_data(cache, "cpu", eval_train_size=50, train_size=120)
    full = prepare_data(cache, "cpu", eval_train_size=50)
    assert len(small.train_x) == 120 and torch.equal(small.train_x, again.train_x)
    rows = {tuple(r.tolist()) for r in small.train_x}
    # The gap's train side is measured on images the run actually learned from.
    assert all(tuple(r.tolist()) in rows for r in small.train_eval_x)
    assert rows <= {tuple(r.tolist()) for r in full.train_x}
    assert torch.equal(small.val_x, full.val_x)  # validation stays the whole split


@pytest.mark.parametrize(
    "config, words",
    [
        ({"optimizer": "rmsprop"}, ["training.optimizer", "'rmsprop'", "'sgd_momentum'"]),
        ({"schedule": "step"}, ["training.schedule", "'onecycle'"]),
        ({"device": "tpu"}, ["training.device", "'cuda'"]),
        ({"lr": 0}, ["training.lr", "(0, inf)"]),
        ({"lr": "fast"}, ["training.lr", "'fast'"]),
        ({"weight_decay": -1}, ["training.weight_decay", "[0, inf)"]),
        ({"momentum": 1.0}, ["training.momentum", "[0, 1)"]),
        ({"batch_size": 0}, ["training.batch_size", ">= 1"]),
        ({"epochs": 2.5}, ["training.epochs", "integer"]),
        ({"seed": -1}, ["training.seed", ">= 0"]),
        ({"threads": 0}, ["training.threads", "positive integer or null"]),
        ({"learning_rate": 0.1}, ["'learning_rate'", "'lr'", "'batch_size'"]),
    ],
)
def test_bad_training_configs_name_the_key_and_what_is_valid(config, words):
    with pytest.raises(ValueError) as err:
        TrainConfig.from_dict(config)
    for word in words:
        assert word in str(err.value)


def test_config_round_trip():
    config = TrainConfig.from_dict({"optimizer": "sgd", "lr": 1, "epochs": 3, "threads": None})
    assert config.lr == 1.0 and isinstance(config.lr, float)
    assert TrainConfig.from_dict(config.to_dict()) == config


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_training_on_cuda_keeps_data_on_the_gpu(cache, tmp_path):
    data = prepare_data(cache, "cuda")
    assert data.train_x.is_cuda and data.val_y.is_cuda and data.train_eval_x.is_cuda
    info, history, state = run(cache, tmp_path, spec=CNN, config={"device": "cuda", "epochs": 3})
    assert info["device"] == "cuda"
    assert history["train_loss"].iloc[-1] < history["train_loss"].iloc[0]
    assert history["val_acc"].iloc[-1] >= 0.8
    assert all(t.device.type == "cpu" for t in state.values())  # checkpoints load anywhere
    model, _ = load_checkpoint(tmp_path / "model.pt", map_location="cuda")
    assert next(model.parameters()).is_cuda


def block_outputs(folder, seeds):
    return [
        {
            "checkpoint": folder / f"seed{s}/model.pt",
            "best": folder / f"seed{s}/model_best.pt",
            "history": folder / f"seed{s}/history.csv",
            "info": folder / f"seed{s}/train.json",
        }
        for s in seeds
    ]


def test_a_run_is_the_same_alone_or_beside_others(cache, tmp_path):
    """A job holds several runs: a seed's history and weights do not depend on which runs
    share its process, or in which order (dropout draws included)."""
    training = {**FAST, "epochs": 2}
    alone = train_mod.train_block(
        cache, DROPOUT_MLP, training, [1], block_outputs(tmp_path / "a", [1]), code="c"
    )
    beside = train_mod.train_block(
        cache, DROPOUT_MLP, training, [2, 1, 0], block_outputs(tmp_path / "b", [2, 1, 0]), code="c"
    )
    assert alone[0]["final"] == beside[1]["final"]
    history = [(tmp_path / f"{x}/seed1/history.csv").read_bytes() for x in "ab"]
    assert history[0] == history[1]
    weights = [
        torch.load(tmp_path / f"{x}/seed1/model.pt", weights_only=True)["state_dict"] for x in "ab"
    ]
    assert same_weights(*weights)
    assert beside[0]["final"] != beside[1]["final"]  # the seeds do differ


def test_a_finished_run_is_put_back_not_trained_again(cache, tmp_path):
    """Snakemake deletes every output of a job it reruns (an added seed, rerun-incomplete):
    the finished runs come back from their store, unchanged, and only a new seed trains."""
    training = {**FAST, "epochs": 2}
    outputs = block_outputs(tmp_path, [0, 1, 2])
    train_mod.train_block(cache, MLP, training, [0, 1], outputs[:2], code="c")
    before = {p: p.read_bytes() for o in outputs[:2] for p in o.values()}
    for o in outputs[:2]:
        for p in o.values():
            p.unlink()
    lines = []
    train_mod.train_block(cache, MLP, training, [0, 1, 2], outputs, code="c", log=lines.append)
    assert {p: p.read_bytes() for p in before} == before
    assert sum("kept outputs put back" in line for line in lines) == 2
    assert sum(line.startswith("done:") for line in lines) == 1
    # Another code hash (the training code changed) or another lr: trained anew.
    lines.clear()
    train_mod.train_block(cache, MLP, training, [0], outputs[:1], code="d", log=lines.append)
    assert not any("kept outputs" in line for line in lines)
    lines.clear()
    train_mod.train_block(
        cache, MLP, {**training, "lr": 0.02}, [0], outputs[:1], code="d", log=lines.append
    )
    assert not any("kept outputs" in line for line in lines)


def test_each_epoch_scores_a_fixed_part_and_the_last_the_whole_subset(cache, tmp_path):
    """The curves' train-side score before the last epoch is on eval_train_epoch_size images
    of the fixed subset; the last row, which the gap reads, is on the whole subset."""
    config = {"epochs": 3, "eval_train_size": 200, "eval_train_epoch_size": 8}
    _, history, _ = run(cache, tmp_path, config=config)
    early = history["train_eval_acc"].iloc[:-1] * 8
    assert (early - early.round()).abs().max() < 1e-9  # multiples of 1/8
    data = prepare_data(cache, "cpu", 200, None, 8)
    assert len(data.epoch_eval_x) == 8 and len(data.train_eval_x) == 200
    # The 8 images are among the 200.
    rows = {tuple(r.tolist()) for r in data.train_eval_x.flatten(1)}
    assert all(tuple(r.tolist()) in rows for r in data.epoch_eval_x.flatten(1))
    model, _ = load_checkpoint(tmp_path / "model.pt")
    _, full_acc = train_mod.evaluate(model, data.train_eval_x, data.train_eval_y)
    assert history["train_eval_acc"].iloc[-1] == pytest.approx(full_acc, abs=1e-12)


@pytest.mark.parametrize("value", [0, -3, 2.5, "many"])
def test_a_bad_epoch_scoring_size_names_its_key(value):
    with pytest.raises(ValueError, match=r"training\.eval_train_epoch_size: .*integer >= 1"):
        TrainConfig.from_dict({"eval_train_epoch_size": value})


def test_the_best_checkpoint_is_the_epoch_of_lowest_validation_loss(cache, tmp_path):
    """Early stopping's checkpoint is chosen on validation loss alone: train.json names its
    epoch, model_best.pt holds that epoch's weights (a rerun stopped there gives the same), and
    the last checkpoint stays the last epoch's."""
    # 100 training images at a constant rate: the validation loss turns up after epoch 3.
    config = {"epochs": 8, "lr": 0.01, "schedule": "constant", "train_size": 100}
    info, history, last_state = run(cache, tmp_path / "full", config=config)
    lowest = int(history.loc[history["val_loss"].idxmin(), "epoch"])
    assert info["stop_epoch"] == lowest
    assert 1 < lowest < 8, "the setting must make the validation loss turn up"
    best = torch.load(tmp_path / "full" / "model_best.pt", weights_only=True)
    assert best["epoch"] == lowest
    last = torch.load(tmp_path / "full" / "model.pt", weights_only=True)
    assert last["epoch"] == 8 and same_weights(last["state_dict"], last_state)
    assert not same_weights(best["state_dict"], last_state)
    # The same run with a schedule that stops at that epoch: a constant rate does not depend
    # on the total, so its last weights are the best checkpoint's.
    _, _, stopped = run(cache, tmp_path / "stopped", config={**config, "epochs": lowest})
    assert same_weights(best["state_dict"], stopped)


def test_a_resumed_run_keeps_its_best_checkpoint(cache, tmp_path):
    config = {"epochs": 8, "lr": 0.01, "schedule": "constant", "train_size": 100}
    run(cache, tmp_path / "whole", config=config)

    def stop(epoch, row):
        if epoch == 6:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(cache, tmp_path / "killed", config=config, on_epoch_end=stop)
    run(cache, tmp_path / "killed", config=config)
    a = torch.load(tmp_path / "whole" / "model_best.pt", weights_only=True)
    b = torch.load(tmp_path / "killed" / "model_best.pt", weights_only=True)
    assert a["epoch"] == b["epoch"] and same_weights(a["state_dict"], b["state_dict"])
