"""The history of studies and what changed between two of them, on constructed predictions.

Records are written by the same function the rule snapshot calls; no workflow runs here.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mnist_study.record import compare, history
from mnist_study.record.history import HistoryError, read_record, record_study

N_IMAGES = 2000
SEEDS = (0, 1, 2, 3, 4)


def base_config(**training) -> dict:
    return {
        "data": {"dataset": "mnist", "root": "data", "val_size": 100},
        "seeds": list(SEEDS),
        "alpha": 0.05,
        "training": {"lr": 0.005, "epochs": 2, **training},
        "variants": {"mlp": {"model": {"kind": "mlp", "hidden": [32]}}},
        "since": None,
        "history": "history",
    }


def baseline_correct(seed: int) -> np.ndarray:
    """Per-image correctness of one run: images differ in difficulty, seeds in luck."""
    difficulty = np.random.default_rng(7).random(N_IMAGES)
    return np.random.default_rng(100 + seed).random(N_IMAGES) > 0.2 * difficulty - 0.02


def churned(correct: np.ndarray, seed: int) -> np.ndarray:
    """A retrained run: some images flip either way, the net change differing by seed (seed
    noise) and zero on average over the seeds."""
    rng = np.random.default_rng(200 + seed)
    net = (-12, -6, 0, 6, 12)[seed]
    lose = rng.choice(np.flatnonzero(correct), size=40 + net, replace=False)
    gain = rng.choice(np.flatnonzero(~correct), size=40 - net, replace=False)
    out = correct.copy()
    out[lose], out[gain] = False, True
    return out


def worsened(correct: np.ndarray, seed: int, k: int) -> np.ndarray:
    """``k`` more images wrong in this seed."""
    right = np.flatnonzero(correct)
    out = correct.copy()
    out[np.random.default_rng(300 + seed).choice(right, size=k, replace=False)] = False
    return out


def write_study(
    workdir: Path,
    correct: dict,
    config: dict | None = None,
    verdicts: dict | None = None,
    seconds: float = 1.0,
) -> Path:
    """A study folder as the workflow leaves it: runs.csv, claims.json, predictions and the
    snapshot (results/record/) and changes.json that name the history folder."""
    config = config or base_config()
    labels = np.arange(N_IMAGES) % 10
    rows, keys, paths = [], [], []
    for (variant, seed), test in correct.items():
        path = workdir / f"results/runs/{variant}/seed{seed}/predictions.npz"
        path.parent.mkdir(parents=True, exist_ok=True)
        pred = np.where(test, labels, (labels + 1) % 10)
        train = np.ones(500, dtype=bool)
        np.savez(
            path,
            pred=pred.astype(np.int16),
            labels=labels.astype(np.int16),
            train_pred=(np.arange(500) % 10).astype(np.int16),
            train_labels=(np.arange(500) % 10).astype(np.int16),
        )
        keys.append((variant, seed))
        paths.append(path)
        acc = float(test.mean())
        rows.append(
            {
                "variant": variant,
                "seed": seed,
                "test_acc": acc,
                "gap": float(train.mean()) - acc,
                "train_seconds": seconds,
            }
        )
    tables = workdir / "results/tables"
    tables.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(tables / "runs.csv", index=False)
    claims = [{"name": n, "verdict": v} for n, v in (verdicts or {"c": "supported"}).items()]
    (workdir / "results/analysis").mkdir(parents=True, exist_ok=True)
    (workdir / "results/analysis/claims.json").write_text(json.dumps(claims))
    (workdir / "results/analysis/changes.json").write_text(json.dumps({"history": "../history"}))
    snapshot = workdir / "results/record"
    history.write_snapshot(
        tables / "runs.csv",
        workdir / "results/analysis/claims.json",
        keys,
        paths,
        config,
        snapshot / "record.json",
        snapshot / "predictions.npz",
    )
    return workdir


def runs_of(make, variants=("mlp",)) -> dict:
    return {(v, s): make(s) for v in variants for s in SEEDS}


def reordered(value):
    """Every mapping with its keys in reverse order (as a YAML file may list them)."""
    if isinstance(value, dict):
        return {k: reordered(value[k]) for k in reversed(list(value))}
    return value


# ----------------------------------------------------------------------------- the record


def test_content_hash_ignores_key_order_invocation_keys_and_wall_times(tmp_path):
    a = write_study(tmp_path / "a", runs_of(baseline_correct))
    config = reordered({**base_config(), "since": "abc123"})
    b = write_study(tmp_path / "b", runs_of(baseline_correct), config=config, seconds=9.5)
    assert list(config) != list(base_config())  # the order really differs
    hash_a = read_record(a / history.SNAPSHOT).content_hash
    assert read_record(b / history.SNAPSHOT).content_hash == hash_a
    # One image predicted differently is another study.
    c = write_study(
        tmp_path / "c", runs_of(lambda s: worsened(baseline_correct(s), s, int(s == 0)))
    )
    assert read_record(c / history.SNAPSHOT).content_hash != hash_a


def test_a_study_is_recorded_once_with_date_commit_and_format(tmp_path):
    work = write_study(tmp_path / "study", runs_of(baseline_correct))
    folder, new = record_study(work, repo=tmp_path)
    again, new_again = record_study(work, repo=tmp_path)
    assert new and not new_again and again == folder
    assert [p.name for p in (tmp_path / "history/mnist").iterdir()] == [folder.name]
    assert history.RECORD_NAME.match(folder.name)
    meta = json.loads((folder / "record.json").read_text())
    assert meta["format"] == history.FORMAT and meta["dataset"] == "mnist"
    assert meta["id"] == folder.name and meta["date"] and "commit" in meta
    assert folder.name.endswith(meta["content_hash"])
    # No checkpoint, and the integer predictions are small.
    assert sorted(p.name for p in folder.iterdir()) == ["predictions.npz", "record.json"]
    assert (folder / "predictions.npz").stat().st_size < 40_000


def test_an_interrupted_recording_leaves_no_record(tmp_path, monkeypatch):
    work = write_study(tmp_path / "study", runs_of(baseline_correct))

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(history, "write_json", fail)
    with pytest.raises(OSError, match="disk full"):
        record_study(work, repo=tmp_path)
    assert list((tmp_path / "history/mnist").iterdir()) == []


@pytest.mark.parametrize("version", [0, 2, None])
def test_a_record_of_another_format_is_refused_by_name(tmp_path, version):
    work = write_study(tmp_path / "study", runs_of(baseline_correct))
    folder, _ = record_study(work, repo=tmp_path)
    meta = json.loads((folder / "record.json").read_text())
    meta["format"] = version
    (folder / "record.json").write_text(json.dumps(meta))
    with pytest.raises(HistoryError, match=rf"{folder}/record.json: history record format "):
        read_record(folder)
    with pytest.raises(HistoryError, match=rf"this code reads format {history.FORMAT}"):
        compare.compare(read_record(folder), read_record(work / history.SNAPSHOT))


def test_references_resolve_by_id_hash_commit_and_folder(tmp_path):
    work = write_study(tmp_path / "study", runs_of(baseline_correct))
    folder, _ = record_study(work, repo=tmp_path)
    meta = json.loads((folder / "record.json").read_text())
    meta["commit"] = "4ff2d95abcdef"
    (folder / "record.json").write_text(json.dumps(meta))
    root = tmp_path / "history"
    for reference in (folder.name, folder.name[:12], meta["content_hash"], "4ff2d95", str(folder)):
        found = history.resolve(reference, root, "mnist").path
        assert found.resolve() == folder.resolve(), reference
    assert history.resolve(str(work), root, "mnist").path == work / history.SNAPSHOT
    with pytest.raises(HistoryError, match=rf"'nope' is neither .* latest records: {folder.name}"):
        history.resolve("nope", root, "mnist")


# ----------------------------------------------------------------------------- the comparison


def comparison(tmp_path, old: dict, new: dict, **kwargs) -> dict:
    a = write_study(tmp_path / "old", old)
    b = write_study(tmp_path / "new", new, **kwargs)
    return compare.compare(read_record(a / history.SNAPSHOT), read_record(b / history.SNAPSHOT))


def test_config_keys_claims_and_variants_that_changed_are_listed(tmp_path):
    old = runs_of(baseline_correct, ("mlp", "cnn"))
    new = {**runs_of(baseline_correct, ("mlp", "linear"))}
    config = base_config(lr=0.01)
    config["variants"]["linear"] = {"model": {"kind": "linear"}}
    changes = comparison(tmp_path, old, new, config=config, verdicts={"c": "inconclusive"})
    assert changes["config"] == [
        {"key": "training.lr", "old": 0.005, "new": 0.01, "change": "changed"},
        {"key": "variants.linear.model.kind", "old": None, "new": "linear", "change": "added"},
    ]
    assert changes["added"] == ["linear"] and changes["removed"] == ["cnn"]
    assert changes["claims"] == [{"name": "c", "old": "supported", "new": "inconclusive"}]
    # mlp's predictions are the same: it did not move.
    assert changes["variants"] == []
    text = compare.text(changes)
    assert "training.lr: 0.005 → 0.01" in text and "c: supported → inconclusive" in text


def test_identical_results_say_nothing_changed_in_one_line(tmp_path):
    changes = comparison(tmp_path, runs_of(baseline_correct), runs_of(baseline_correct))
    assert changes["nothing_changed"]
    assert compare.text(changes).count("\n") == 1
    assert compare.text(changes).startswith("Nothing changed since")


def test_a_churn_without_a_shift_is_within_seed_noise(tmp_path):
    changes = comparison(
        tmp_path, runs_of(baseline_correct), runs_of(lambda s: churned(baseline_correct(s), s))
    )
    rows = changes["variants"]
    assert [(r["variant"], r["metric"]) for r in rows] == [("mlp", "test_acc"), ("mlp", "gap")]
    assert all(r["verdict"] == compare.NOISE for r in rows), rows
    assert all(r["threshold"] > 0 and r["p_holm"] >= 0.05 for r in rows)


def worsening_at(tmp_path, ratio: float) -> tuple[int, dict, Path, Path]:
    """New runs worse than the churned retrain by about ``ratio`` times the noise threshold:
    the smallest change the comparison would call real (compare.noise_threshold). The threshold
    moves a little with the worsening itself, so the k extra errors per seed are found by
    scanning and the achieved ratio is returned for the test to check."""
    old = write_study(tmp_path / "old", runs_of(baseline_correct))
    best = None
    for k in range(0, 120, 2):
        new = write_study(
            tmp_path / f"new{k}",
            runs_of(lambda s, k=k: worsened(churned(baseline_correct(s), s), s, k)),
        )
        changes = compare.compare(
            read_record(old / history.SNAPSHOT), read_record(new / history.SNAPSHOT)
        )
        row = next(r for r in changes["variants"] if r["metric"] == "test_acc")
        achieved = -row["change"] / row["threshold"]
        if best is None or abs(achieved - ratio) < abs(best[0] - ratio):
            best = (achieved, row, old, new)
    return best


@pytest.mark.parametrize(("ratio", "exit_code"), [(1.5, 1), (0.5, 0)])
def test_compare_exits_non_zero_only_beyond_the_noise_threshold(tmp_path, capsys, ratio, exit_code):
    achieved, row, old, new = worsening_at(tmp_path, ratio)
    assert achieved == pytest.approx(ratio, abs=0.08)
    assert row["verdict"] == (compare.REAL if exit_code else compare.NOISE)
    code = compare.main([str(old), str(new), "--metric", "test_acc"])
    out = capsys.readouterr().out
    assert code == exit_code, out
    assert "mlp test_acc" in out and "noise threshold" in out
    # An improvement of the same size never fails the guard.
    assert compare.main([str(new), str(old), "--metric", "test_acc"]) == 0


def test_compare_on_bad_input_exits_2_with_the_reason(tmp_path, capsys):
    work = write_study(tmp_path / "study", runs_of(baseline_correct))
    code = compare.main(["no-such-record", str(work), "--history", str(tmp_path / "history")])
    assert code == 2
    assert "'no-such-record' is neither" in capsys.readouterr().err


def test_every_change_called_real_is_beyond_its_own_noise_threshold(tmp_path):
    """The threshold shown beside a change is the one of its own Holm step, so a reader never
    sees a change called real that is smaller than its threshold."""
    changes = comparison(
        tmp_path,
        runs_of(baseline_correct),
        runs_of(lambda s: worsened(churned(baseline_correct(s), s), s, 60)),
    )
    rows = [r for r in changes["variants"] if r["verdict"] == compare.REAL]
    assert rows, changes["variants"]
    assert all(abs(r["change"]) >= r["threshold"] for r in rows), rows


def test_noise_threshold_is_the_change_holm_calls_real():
    """At exactly the threshold the first Holm step's p equals α (the definition)."""
    from mnist_study.evidence.effects import Effect

    e = Effect(estimate=0.0, se_seed=0.003, se_image=0.001, df=6.0, n_seeds=4)
    threshold = compare.noise_threshold(e, alpha=0.05, m=3)
    at = Effect(threshold, e.se_seed, e.se_image, e.df, e.n_seeds)
    assert 3 * at.p_value() == pytest.approx(0.05)
    assert math.isnan(compare.noise_threshold(Effect(0.0, 0.0, 0.0, 0, 1), 0.05, 1))


def test_new_seeds_beside_unchanged_runs_are_listed_not_judged(tmp_path):
    old = {k: v for k, v in runs_of(baseline_correct).items() if k[1] < 3}
    changes = comparison(tmp_path, old, runs_of(baseline_correct))
    assert changes["variants"] == []
    assert changes["seeds"] == [{"variant": "mlp", "added": [3, 4], "removed": []}]
    assert "mlp: seeds added 3, 4" in compare.text(changes)
    assert compare.summary_line(changes).endswith("seeds changed for 1 variant.")


def test_variants_without_a_common_seed_are_compared_unpaired(tmp_path):
    everything = runs_of(baseline_correct)
    old = {k: v for k, v in everything.items() if k[1] < 3}
    new = {k: v for k, v in everything.items() if k[1] >= 3}
    rows = comparison(tmp_path, old, new)["variants"]
    assert [r["metric"] for r in rows] == ["test_acc", "gap"]
    assert all(not r["paired"] and r["verdict"] == compare.NOISE for r in rows), rows
    assert "compared unpaired" in compare.row_text(rows[0])
