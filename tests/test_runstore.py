"""The store of finished runs: what a rerun of a job that holds several runs puts back."""

from __future__ import annotations

import json

from mnist_study.engine import runstore


def outputs(folder):
    folder.mkdir(parents=True, exist_ok=True)
    files = {"checkpoint": folder / "model.pt", "info": folder / "train.json"}
    files["checkpoint"].write_bytes(b"weights")
    files["info"].write_text('{"seed": 0}\n')
    return files


KEY = {"spec": {"kind": "mlp"}, "config": {"lr": 0.01, "seed": 0}, "code": "abc"}


def test_kept_outputs_survive_deletion_and_come_back(tmp_path):
    files = outputs(tmp_path / "seed0")
    runstore.keep(files, KEY)
    for p in files.values():
        p.unlink()  # what Snakemake does before it reruns the job
    assert runstore.restore(files, KEY)
    assert files["checkpoint"].read_bytes() == b"weights"
    assert json.loads(files["info"].read_text()) == {"seed": 0}


def test_another_key_restores_nothing(tmp_path):
    files = outputs(tmp_path / "seed0")
    runstore.keep(files, KEY)
    for p in files.values():
        p.unlink()
    assert not runstore.restore(files, {**KEY, "code": "abd"})
    assert not runstore.restore(files, {**KEY, "config": {"lr": 0.02, "seed": 0}})
    assert not any(p.exists() for p in files.values())


def test_a_store_interrupted_before_its_key_is_not_trusted(tmp_path):
    files = outputs(tmp_path / "seed0")
    runstore.keep(files, KEY)
    (runstore.folder_of(files["info"]) / runstore.KEY_FILE).unlink()
    assert not runstore.restore(files, KEY)


def test_a_later_run_replaces_what_was_kept(tmp_path):
    files = outputs(tmp_path / "seed0")
    runstore.keep(files, KEY)
    files["checkpoint"].unlink()
    files["checkpoint"].write_bytes(b"new weights")  # a new file, as atomic writes make
    runstore.keep(files, {**KEY, "code": "new"})
    files["checkpoint"].unlink()
    assert runstore.restore(files, {**KEY, "code": "new"})
    assert files["checkpoint"].read_bytes() == b"new weights"
