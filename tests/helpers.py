"""Synthetic MNIST-shaped data and a smoke study configuration for the tests.

Small, learnable and made on the spot: no test touches the network or the real dataset.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from mnist_study.data.cache import write_idx
from mnist_study.data.datasets import FILES

REPO = Path(__file__).resolve().parents[1]


def synthetic_digits(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Ten fixed random stroke templates plus noise and a small shift: learnable, not trivial."""
    templates = np.random.default_rng(1234).random((10, 28, 28)) > 0.8
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    images = templates[labels] * 200.0 + rng.normal(0, 40, (n, 28, 28))
    shifts = rng.integers(-1, 2, (n, 2))
    for i, (dy, dx) in enumerate(shifts):
        images[i] = np.roll(images[i], (dy, dx), axis=(0, 1))
    return np.clip(images, 0, 255).astype(np.uint8), labels.astype(np.uint8)


def write_dataset(
    folder: Path, n_train: int = 600, n_test: int = 200, gz: bool = False, test_seed: int = 2
) -> dict:
    """Write the four IDX files; returns {file name: sha256 of the uncompressed file}.
    ``test_seed`` draws the test images (another seed: another test set)."""
    folder.mkdir(parents=True, exist_ok=True)
    train_x, train_y = synthetic_digits(n_train, seed=1)
    test_x, test_y = synthetic_digits(n_test, seed=test_seed)
    arrays = dict(zip(FILES, (train_x, train_y, test_x, test_y), strict=True))
    sha = {}
    for name, array in arrays.items():
        path = folder / name
        write_idx(path, array)
        sha[name] = hashlib.sha256(path.read_bytes()).hexdigest()
        if gz:
            path.with_name(name + ".gz").write_bytes(gzip.compress(path.read_bytes()))
            path.unlink()
    return sha


def smoke_config(local_dir: Path, sha256: dict) -> dict:
    """The full study's structure, shrunk: every rule runs, in well under a minute of training."""
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["data"].update(
        sources=["local"],
        local_dir=str(local_dir),
        sha256=sha256,
        val_size=100,
        root="data",
    )
    config["seeds"] = [0, 1]  # two seeds: the statistics have a spread to work with
    # No design of its own: every claim runs undesigned, on the two seeds (its default here).
    config["design"] = {**config.get("design", {}), "file": "workflow/designs/smoke.yaml"}
    config["device"] = "cpu"
    config["training"].update(epochs=2, batch_size=64)
    config["variants"] = {
        "linear": {
            "label": "Linear",
            "model": {"kind": "linear"},
            "training": {"lr": 0.01},
            # An MNIST figure: shown in this study, never in a study of another dataset.
            "seed_reference": {"mnist": 92.1},
        },
        "mlp": {"label": "MLP 32", "model": {"kind": "mlp", "hidden": [32]}},
        "mlp_tanh": {
            "label": "MLP 32 tanh",
            "model": {"kind": "mlp", "hidden": [32], "activation": "tanh"},
        },
        "mlp_dropout": {
            "label": "MLP 32 dropout",
            "model": {"kind": "mlp", "hidden": [32], "dropout": 0.5, "input_dropout": 0.2},
            "training": {"epochs": 3},
        },
        "cnn": {"label": "CNN", "model": {"kind": "cnn", "channels": [4, 8], "kernel_size": 3}},
        "mlp_aug": {
            "label": "MLP 32 augmented",
            "model": {"kind": "mlp", "hidden": [32]},
            "training": {"augment_shift": 2, "augment_rotation": 10},
        },
        # Memorization: a fixed 200 of the 500 training images, real or shuffled labels.
        **{
            f"memo_{labels}{suffix}": {
                "label": f"MLP 32{suffix.replace('_', ' ')}, {labels} labels",
                "model": {"kind": "mlp", "hidden": [32], **dropout},
                "training": {
                    "train_size": 200,
                    "epochs": 4,
                    "val_every": 2,
                    "random_labels": labels == "random",
                },
            }
            for labels in ("real", "random")
            for suffix, dropout in (("", {}), ("_dropout", {"dropout": 0.5}))
        },
    }
    config["studies"] = {
        "baseline": {
            "title": "Model families",
            "question": "Which family wins?",
            "variants": ["linear", "mlp", "mlp_dropout", "cnn"],
            "factor": {"label": "Model", "values": ["Linear", "MLP", "MLP + dropout", "CNN"]},
        },
        "activation": {
            "title": "Activation",
            "question": "ReLU or tanh?",
            "reference": "Glorot et al. 2011: rectifiers train deep networks well.",
            "limits": "Two epochs of synthetic images: not a benchmark.",
            "variants": ["mlp_tanh", "mlp"],
            "factor": {"label": "Activation", "values": ["tanh", "ReLU"]},
        },
        "augmentation": {
            "title": "Augmentation",
            "question": "Do shifted and turned images narrow the gap?",
            "variants": ["mlp", "mlp_dropout", "mlp_aug"],
            "factor": {"label": "Regularization", "values": ["none", "dropout", "augmentation"]},
        },
        "memorization": {
            "title": "Memorization",
            "question": "Does the MLP fit random labels?",
            "variants": ["memo_real", "memo_random", "memo_real_dropout", "memo_random_dropout"],
            "factor": {
                "label": "Labels",
                "values": ["real", "random", "real + dropout", "random + dropout"],
            },
        },
    }
    config["claims"] = {
        "hidden_layer_helps": {
            "statement": "A hidden layer improves on the linear model.",
            "metric": "test_acc",
            "variants": ["linear", "mlp"],
            "expect": "increase",
            "smallest_effect": 0.01,
        },
        "relu_converges_faster": {
            "statement": "ReLU converges faster than tanh.",
            "metric": "epochs_to_val_acc",
            "threshold": 0.9,
            "variants": ["mlp_tanh", "mlp"],
            "expect": "decrease",
            "smallest_effect": 0.25,
        },
        "dropout_closes_gap": {
            "statement": "Dropout improves generalization.",
            "metric": "gap",
            "variants": ["mlp", "mlp_dropout"],
            "expect": "decrease",
            "smallest_effect": 0.005,
        },
        "capacity_raises_gap": {
            "statement": "More capacity raises the gap.",
            "metric": "gap",
            "variants": ["linear", "mlp", "cnn"],
            "expect": "increase",
            "smallest_effect": 0.005,
        },
        "dropout_loses_examples": {
            "statement": "Regularization may lower accuracy on particular examples.",
            "metric": "disagreements",
            "variants": ["mlp", "mlp_dropout"],
            "expect": "present",
            "smallest_effect": 0.005,
        },
        "dropout_beats_both": {
            "statement": "Dropout narrows the gap more than either other MLP.",
            "metric": "gap",
            "variants": ["mlp", "mlp_tanh", "mlp_dropout"],
            "compare": "each",
            "expect": "decrease",
            "smallest_effect": 0.005,
        },
        "early_stopping_lowers_test_loss": {
            "statement": "The checkpoint of lowest validation loss has a lower test loss.",
            "metric": "test_loss",
            "variants": ["mlp", "mlp@best"],
            "expect": "decrease",
            "smallest_effect": 0.01,
        },
        "unregularized_overconfident": {
            "statement": "The MLP is more overconfident than its dropout twin.",
            "metric": "overconfidence",
            "variants": ["mlp_dropout", "mlp"],
            "expect": "increase",
            "smallest_effect": 0.005,
        },
        "augmentation_closes_gap": {
            "statement": "Augmentation narrows the gap.",
            "metric": "gap",
            "variants": ["mlp", "mlp_aug"],
            "expect": "decrease",
            "smallest_effect": 0.005,
        },
        "mlp_fits_random_labels": {
            "statement": "The MLP fits random labels.",
            "metric": "train_acc",
            "variants": ["memo_random"],
            "compare": "level",
            "level": 0.99,
            "expect": "increase",
            "smallest_effect": 0.005,
        },
        "random_labels_fit_slowly": {
            "statement": "Random labels take longer to fit.",
            "metric": "epochs_to_train_acc",
            "threshold": 0.5,
            "variants": ["memo_real", "memo_random"],
            "expect": "increase",
            "smallest_effect": 0.5,
        },
        "dropout_slows_memorization": {
            "statement": "Dropout slows random labels more than real ones.",
            "metric": "epochs_to_train_acc",
            "threshold": 0.5,
            "variants": ["memo_real", "memo_real_dropout", "memo_random", "memo_random_dropout"],
            "compare": "interaction",
            "expect": "increase",
            "smallest_effect": 0.5,
        },
    }
    return config


def fashion_like_data(data: dict) -> dict:
    """The data section of a dataset given by hand: files of its own beside the smoke data's
    (the same training images, a test set drawn apart, as another dataset's would be) under a
    name of its own, with Fashion-MNIST's class names, a title and a noun."""
    from mnist_study.data.datasets import DATASETS

    local_dir = Path(data["local_dir"]).with_name("tiny-fashion-incoming")
    sha256 = write_dataset(local_dir, gz=True, test_seed=3)
    return {
        "dataset": "tiny-fashion",
        "title": "Tiny Fashion",
        "noun": "article",
        "classes": list(DATASETS["fashion-mnist"].classes),
        "sources": ["local"],
        "local_dir": str(local_dir),
        "sha256": sha256,
        "root": "../../data",  # the smoke study's data folder, shared
    }


WORKFLOW_PARTS = ("Snakefile", "config.yaml", "profiles", "rules", "workflow", "src", "report")


@dataclass
class SmokeStudy:
    """A copy of the workflow plus a working directory with the smoke config.yaml.

    The copy lets tests edit a source file or template and watch what reruns, without touching
    the repository (whose real results would then rerun too).
    """

    root: Path
    # What the first complete run printed on the console (stdout; conftest's smoke_run).
    console: str = ""

    @property
    def repo(self) -> Path:
        return self.root / "repo"

    @property
    def snakefile(self) -> Path:
        return self.repo / "Snakefile"

    @property
    def workdir(self) -> Path:
        return self.root / "study"

    @property
    def configfile(self) -> Path:
        return self.workdir / "config.yaml"

    def command(self, *args: str) -> tuple[list[str], dict]:
        """The Snakemake command line for this study, and the environment its jobs need."""
        cmd = [
            sys.executable,
            "-m",
            "snakemake",
            "-s",
            str(self.snakefile),
            "-d",
            str(self.workdir),
            "--workflow-profile",
            str(self.repo / "profiles/default"),
        ]
        cmd += ["--cores", "2", *args]
        # Jobs import the copy's package, so that editing it is editing the code that runs.
        path = os.pathsep.join(filter(None, [str(self.repo / "src"), os.environ.get("PYTHONPATH")]))
        return cmd, {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": path}

    def snakemake(self, *args: str, timeout: float = 900, check: bool = False):
        cmd, env = self.command(*args)
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
        if check and done.returncode != 0:
            raise AssertionError(
                f"{' '.join(cmd)} failed:\n{done.stdout[-4000:]}\n{done.stderr[-8000:]}"
            )
        return done

    def write_config(self, config: dict) -> None:
        self.configfile.write_text(yaml.safe_dump(config, sort_keys=False))

    def read_config(self) -> dict:
        return yaml.safe_load(self.configfile.read_text())


def make_smoke_study(root: Path) -> SmokeStudy:
    study = SmokeStudy(root)
    study.repo.mkdir(parents=True)
    for part in WORKFLOW_PARTS:
        source = REPO / part
        if source.is_dir():
            shutil.copytree(source, study.repo / part, ignore=shutil.ignore_patterns("__pycache__"))
        elif source.exists():
            shutil.copy2(source, study.repo / part)
    sha = write_dataset(root / "incoming", gz=True)
    study.workdir.mkdir()
    study.write_config(smoke_config(root / "incoming", sha))
    return study
