"""Tests of the model zoo: specs build, count their parameters and FLOPs right, and validate.

Hand counts are written out so a formula change that is wrong in the same way twice still fails.
"""

from __future__ import annotations

import json

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from mnist_study.data.cache import normalise
from mnist_study.engine.models import (
    ACTIVATIONS,
    CNNSpec,
    MLPSpec,
    dropout,
    load_checkpoint,
    save_checkpoint,
    spec_from_dict,
)

SPECS = [
    {"kind": "linear"},
    {"kind": "mlp", "hidden": []},
    {"kind": "mlp", "hidden": [32]},
    *({"kind": "mlp", "hidden": [16, 8], "activation": a} for a in ACTIVATIONS),
    {"kind": "mlp", "hidden": [32, 32], "dropout": 0.5, "input_dropout": 0.2},
    {"kind": "cnn", "channels": [4, 8]},
    {"kind": "cnn", "channels": [4], "kernel_size": 5, "hidden": 16, "dropout": 0.25},
    {"kind": "cnn", "channels": [2, 2, 2, 2]},
]


@pytest.mark.parametrize("d", SPECS, ids=lambda d: json.dumps(d, sort_keys=True))
def test_every_spec_builds_and_maps_images_to_ten_logits(d):
    spec = spec_from_dict(d)
    model = spec.build().eval()
    flat = torch.randn(5, 784)
    for x in (flat, flat.view(5, 1, 28, 28), flat.view(5, 28, 28)):
        out = model(x)
        assert out.shape == (5, 10)
        assert out.dtype == torch.float32
    # Both input layouts are the same images, so they give the same answer.
    torch.testing.assert_close(model(flat), model(flat.view(5, 1, 28, 28)))
    assert spec.num_params() == sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("p", [0.2, 0.5])
def test_dropout_matches_nn_dropout_semantics(p):
    """Zeros a fraction p in train mode, scales the rest by 1/(1-p), and backpropagates
    through the same mask; identity in eval mode."""
    torch.manual_seed(0)
    x = torch.rand(200, 500) + 1.0  # no zeros of its own
    x.requires_grad_(True)
    layer = dropout(p).train()
    y = layer(x)
    dropped = y == 0
    assert abs(dropped.float().mean().item() - p) < 0.01  # 100000 draws: std 0.0016
    torch.testing.assert_close(y[~dropped], x.detach()[~dropped] / (1 - p))
    y.sum().backward()
    expected = (~dropped).float() / (1 - p)
    torch.testing.assert_close(x.grad, expected)
    assert layer.eval()(x) is x
    assert dropout(0.0).train()(x) is x
    # Same seed, same mask: runs stay reproducible.
    torch.manual_seed(1)
    a = layer.train()(x)
    torch.manual_seed(1)
    torch.testing.assert_close(layer(x), a)


@pytest.mark.parametrize("d", SPECS, ids=lambda d: json.dumps(d, sort_keys=True))
def test_flops_match_torch_flop_counter(d):
    """torch's counter sees what autograd really runs, including the input gradient it skips."""
    spec = spec_from_dict(d)
    model = spec.build()
    x = torch.randn(3, 784)
    with FlopCounterMode(display=False) as forward:
        with torch.no_grad():
            model(x)
    with FlopCounterMode(display=False) as train:
        model(x).sum().backward()
    assert spec.flops_per_sample() == forward.get_total_flops() // 3
    assert spec.train_flops_per_sample() == train.get_total_flops() // 3


def test_parameter_and_flop_counts_by_hand():
    assert spec_from_dict({"kind": "linear"}).num_params() == 784 * 10 + 10
    mlp = spec_from_dict({"kind": "mlp", "hidden": [256]})
    assert mlp.num_params() == (784 * 256 + 256) + (256 * 10 + 10) == 203530
    assert mlp.flops_per_sample() == 2 * (784 * 256 + 256 * 10)
    # Forward + weight gradients for both layers + the input gradient of the second only.
    assert mlp.train_flops_per_sample() == 2 * (2 * (784 * 256 + 256 * 10) + 256 * 10)
    cnn = spec_from_dict({"kind": "cnn", "channels": [4, 8], "kernel_size": 3})
    conv1 = 1 * 4 * 9 + 2 * 4  # weights (no bias: batch norm follows) + BN scale and shift
    conv2 = 4 * 8 * 9 + 2 * 8
    head = 8 * 7 * 7 * 10 + 10  # 28 -> 14 -> 7 after two poolings
    assert cnn.num_params() == conv1 + conv2 + head == 4278
    macs = 4 * 9 * 28 * 28 + 4 * 8 * 9 * 14 * 14 + 8 * 7 * 7 * 10
    assert cnn.flops_per_sample() == 2 * macs


def test_round_trip_fills_defaults_and_survives_json():
    spec = spec_from_dict({"kind": "mlp", "hidden": [64, 32]})
    d = spec.to_dict()
    assert d == {
        "kind": "mlp",
        "hidden": [64, 32],
        "activation": "relu",
        "dropout": 0.0,
        "input_dropout": 0.0,
    }
    assert spec_from_dict(json.loads(json.dumps(d))) == spec
    assert isinstance(spec, MLPSpec)
    cnn = spec_from_dict({"kind": "cnn", "channels": [8, 16], "dropout": 0.25})
    assert isinstance(cnn, CNNSpec) and spec_from_dict(cnn.to_dict()) == cnn


@pytest.mark.parametrize(
    "d, words",
    [
        ({"kind": "mlp", "hidden": [8], "activation": "swish"}, ["model.activation", "'relu'"]),
        ({"kind": "mlp", "hidden": [8, -3]}, ["model.hidden[1]", "-3", "positive integer"]),
        ({"kind": "mlp", "hidden": [0]}, ["model.hidden[0]", "positive integer"]),
        ({"kind": "mlp", "hidden": 8}, ["model.hidden", "list of positive integers"]),
        ({"kind": "mlp", "hidden": [8], "dropout": 1.0}, ["model.dropout", "[0, 1)"]),
        ({"kind": "mlp", "hidden": [8], "input_dropout": -0.1}, ["model.input_dropout", "[0, 1)"]),
        ({"kind": "cnn", "dropout": 1.5}, ["model.dropout", "[0, 1)"]),
        ({"kind": "cnn", "channels": []}, ["model.channels", "at least one"]),
        ({"kind": "cnn", "channels": [4, -1]}, ["model.channels[1]", "positive integer"]),
        ({"kind": "cnn", "channels": [2] * 5}, ["model.channels", "at most 4"]),
        ({"kind": "cnn", "kernel_size": 4}, ["model.kernel_size", "odd"]),
        ({"kind": "cnn", "hidden": -1}, ["model.hidden", "0"]),
        ({"kind": "rnn"}, ["model.kind", "'rnn'", "['cnn', 'linear', 'mlp']"]),
        ({"hidden": [8]}, ["model.kind", "['cnn', 'linear', 'mlp']"]),
        ({"kind": "mlp", "widths": [8]}, ["'widths'", "'hidden'", "'activation'"]),
        ({"kind": "linear", "hidden": [8]}, ["'hidden'", "kind 'linear'"]),
    ],
)
def test_bad_specs_name_the_field_and_what_is_valid(d, words):
    with pytest.raises(ValueError) as err:
        spec_from_dict(d)
    for word in words:
        assert word in str(err.value)


def test_error_prefix_names_the_variant():
    with pytest.raises(ValueError, match=r"variants\.wide\.model\.dropout"):
        spec_from_dict({"kind": "mlp", "dropout": 2}, where="variants.wide.model")


def test_normalise_scales_uint8_pixels():
    images = torch.tensor([[[0, 255], [51, 102]]], dtype=torch.uint8)
    out = normalise(images, mean=0.2, std=0.5)
    assert out.shape == (1, 4) and out.dtype == torch.float32
    torch.testing.assert_close(out, torch.tensor([[-0.4, 1.6, 0.0, 0.4]]))


@pytest.mark.parametrize("d", [SPECS[2], SPECS[7], SPECS[8]], ids=["mlp", "mlp_dropout", "cnn"])
def test_checkpoint_rebuilds_its_model_alone(tmp_path, d):
    torch.manual_seed(0)
    model = spec_from_dict(d).build()
    # One training-mode pass moves the batch-norm running statistics off their defaults.
    model.train()(torch.randn(16, 784))
    path = tmp_path / "model.pt"
    save_checkpoint(path, model, d, {"lr": 0.1}, mean=0.13, std=0.31)
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]  # no temporary left behind
    loaded, ckpt = load_checkpoint(path)
    assert not loaded.training
    assert ckpt["format"] == 1
    assert ckpt["spec"] == spec_from_dict(d).to_dict()
    assert ckpt["train_config"] == {"lr": 0.1}
    assert (ckpt["mean"], ckpt["std"]) == (0.13, 0.31)
    x = torch.randn(7, 784)
    with torch.no_grad():
        assert torch.equal(loaded(x), model.eval()(x))


def test_checkpoint_of_unknown_format_is_refused(tmp_path):
    path = tmp_path / "model.pt"
    torch.save({"format": 99, "spec": {"kind": "linear"}, "state_dict": {}}, path)
    with pytest.raises(ValueError, match=r"model\.pt: checkpoint format 99; this code reads 1"):
        load_checkpoint(path)
