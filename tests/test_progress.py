"""The progress a person follows (issue 36): one console line per finished run, against the plan
the parse writes, and `python -m mnist_study.record.progress` for a study running or finished."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys

import pytest
from helpers import SmokeStudy
from test_train import MLP, block_outputs, make_cache

from mnist_study.engine import train as train_mod
from mnist_study.record import progress

# A study of four runs of 10 TFLOP: two of "wide" in one job, a sweep's two at one lr.
SINCE = 1_000_000.0
WIDE0, SWEEP0 = "results/runs/wide/seed0", "results/sweeps/wide/lr0.1/seed500"


def plan_of(runs=None, since=SINCE) -> dict:
    runs = runs or [
        progress.planned_run(WIDE0, "wide seed 1/2", 10e12, "w0"),
        progress.planned_run("results/runs/wide/seed1", "wide seed 2/2", 10e12, "w1"),
        progress.planned_run(SWEEP0, "wide lr 0.1 seed 1/2", 10e12, "s0"),
        progress.planned_run(
            "results/sweeps/wide/lr0.1/seed501", "wide lr 0.1 seed 2/2", 10e12, "s1"
        ),
    ]
    planned = [r for r in runs if not r["optional"]]
    return {"since": since, "tflop": 10.0 * len(planned), "count": len(planned), "runs": runs}


def line(run, folder, seconds, time, invocation="now"):
    return {
        "folder": folder,
        "id": run,
        "seconds": seconds,
        "kept": seconds is None,
        "time": time,
        "invocation": invocation,
    }


def write_study(folder, plan, lines) -> None:
    (folder / progress.PLAN).parent.mkdir(parents=True, exist_ok=True)
    (folder / progress.PLAN).write_text(json.dumps(plan))
    (folder / progress.LEDGER).write_text("".join(json.dumps(x) + "\n" for x in lines))


def test_a_trained_run_shows_its_time_the_tflop_and_the_time_left_from_the_rate():
    # 10 TFLOP in 600 s: 30 TFLOP left take 30 minutes.
    lines = [line("w0", WIDE0, 600.0, SINCE + 700)]
    counted = progress.tally(plan_of(), lines, "now")
    assert (counted.done_runs, counted.planned_runs) == (1, 4)
    text = progress.run_line("wide seed 1/2", 600.0, counted)
    assert text == "wide seed 1/2 done (10.0 min) · study 10.0/40.0 TFLOP · about 30 min left"


def test_runs_side_by_side_count_together_in_the_rate():
    # Two jobs each train 10 TFLOP in the same 600 s: 20 TFLOP in 600 s, 20 left in 10 minutes.
    lines = [
        line("w0", WIDE0, 600.0, SINCE + 700),
        line("s0", SWEEP0, 600.0, SINCE + 700),
    ]
    counted = progress.tally(plan_of(), lines, "now")
    assert progress.time_left_text(counted) == "about 10 min left"


def test_a_kept_run_counts_as_done_says_kept_and_gives_no_rate():
    lines = [line("w0", WIDE0, None, SINCE + 5)]
    counted = progress.tally(plan_of(), lines, "now")
    assert counted.done_runs == 1 and counted.rate is None
    text = progress.run_line("wide seed 1/2", None, counted)
    assert text == "wide seed 1/2 done (kept) · study 10.0/40.0 TFLOP · time left not known yet"


def test_the_rate_is_this_invocations_only():
    # A run trained by an earlier invocation is done, but its speed says nothing of this one.
    lines = [line("w0", WIDE0, 600.0, SINCE + 700, invocation="before")]
    counted = progress.tally(plan_of(), lines, "now")
    assert counted.done_runs == 1
    assert progress.time_left_text(counted) == "time left not known yet"
    assert progress.tally(plan_of(), lines, "before").rate == pytest.approx(10 / 600)


def test_a_finished_study(tmp_path):
    lines = [
        line(r["id"], r["folder"], 60.0, SINCE + 100 * i)
        for i, r in enumerate(plan_of()["runs"], 1)
    ]
    counted = progress.tally(plan_of(), lines, "now")
    assert counted.finished
    assert progress.run_line("wide lr 0.1 seed 2/2", 60.0, counted).endswith(
        "· study 40.0/40.0 TFLOP · all runs done"
    )
    write_study(tmp_path, plan_of(), lines)
    assert progress.summary(tmp_path) == "study finished: 40.0 TFLOP, 4 runs"


def test_a_study_in_progress_by_the_command_line(tmp_path):
    write_study(tmp_path, plan_of(), [line("w0", WIDE0, 600.0, SINCE + 700)])
    done = subprocess.run(
        [sys.executable, "-m", "mnist_study.record.progress", str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout == "study 10.0/40.0 TFLOP (1/4 runs) · about 30 min left\n"


def test_no_plan_yet_says_so(tmp_path):
    assert progress.summary(tmp_path) == (
        f"no study has started in {tmp_path}: run make report first"
    )


def test_a_run_to_retrain_after_a_change_is_not_done(tmp_path):
    # The plan names w0 anew (its lr changed): the ledger's line of the old w0 vouches for nothing.
    runs = plan_of()["runs"]
    assert progress.write_plan(runs, tmp_path)
    since = progress.read_plan(tmp_path)["since"]
    assert not progress.write_plan(runs, tmp_path)  # unchanged: not written again
    assert progress.read_plan(tmp_path)["since"] == since
    progress.append_run(WIDE0, "w0", 60.0, tmp_path)
    assert "(1/4 runs)" in progress.summary(tmp_path)
    changed = [{**runs[0], "id": "w0-at-another-lr"}, *runs[1:]]
    assert progress.write_plan(changed, tmp_path)
    assert "(0/4 runs)" in progress.summary(tmp_path)
    progress.append_run(WIDE0, "w0-at-another-lr", 60.0, tmp_path)
    assert "(1/4 runs)" in progress.summary(tmp_path)


def test_a_run_whose_lr_waits_for_a_choice_counts_by_its_job_since_the_plan():
    runs = plan_of()["runs"]
    runs[0] = {**runs[0], "id": None}  # the sweep had not chosen when the plan was written
    before = [line("old", WIDE0, 60.0, SINCE - 1)]
    assert progress.tally(plan_of(runs), before, "now").done_runs == 0
    after = [line("new", WIDE0, 60.0, SINCE + 1)]
    assert progress.tally(plan_of(runs), after, "now").done_runs == 1


def test_a_sweep_point_no_round_asked_for_counts_once_trained():
    folder = "results/sweeps/wide/lr1/seed500"
    extension = progress.planned_run(folder, "wide lr 1 seed 1/1", 10e12, "x", optional=True)
    plan = plan_of([*plan_of()["runs"], extension])
    assert progress.tally(plan, [], "now").planned_runs == 4
    counted = progress.tally(plan, [line("x", folder, 60.0, SINCE + 60)], "now")
    assert (counted.done_runs, counted.planned_runs, counted.planned_tflop) == (1, 5, 50.0)


def test_twin_variants_training_the_same_run_count_apart():
    # Two variants alike but in name (a shared sweep's two readers) train runs of one id.
    twin = progress.planned_run("results/runs/twin/seed0", "twin seed 1/1", 10e12, "w0")
    plan = plan_of([*plan_of()["runs"], twin])
    counted = progress.tally(plan, [line("w0", WIDE0, 60.0, SINCE + 60)], "now")
    assert (counted.done_runs, counted.planned_runs) == (1, 5)


def test_a_line_cut_short_is_skipped(tmp_path):
    write_study(tmp_path, plan_of(), [line("w0", WIDE0, 60.0, SINCE + 60)])
    with open(tmp_path / progress.LEDGER, "a") as ledger:
        ledger.write('{"folder": "results/runs/wide/seed1", "id": "w')
    assert len(progress.read_ledger(tmp_path)) == 1
    assert "(1/4 runs)" in progress.summary(tmp_path)


def test_the_tflop_keep_enough_decimals_for_a_small_study():
    assert progress.tflop_text(82.44, 213.0) == "82.4/213.0 TFLOP"
    assert progress.tflop_text(0.00123, 0.00456) == "0.00123/0.00456 TFLOP"


def test_a_train_jobs_reporter_ledgers_its_run_and_prints_the_line(tmp_path, monkeypatch, capfd):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(progress.INVOCATION, "now")
    model, training = {"kind": "mlp"}, {"lr": 0.1}
    w1 = progress.run_id("code", model, training, 1)
    runs = plan_of()["runs"]
    runs[1] = {**runs[1], "id": w1}
    progress.write_plan(runs)
    infos = [f"results/runs/wide/seed{seed}/train.json" for seed in (0, 1)]
    report = progress.reporter("code", model, training, [0, 1], infos)
    report(1, {"train_seconds": 7.3}, False)
    assert capfd.readouterr().out.startswith("wide seed 2/2 done (7.3 s) · study 10.0/40.0 TFLOP")
    [ledgered] = progress.read_ledger()
    assert ledgered["id"] == w1 and ledgered["invocation"] == "now" and not ledgered["kept"]
    report(1, {"train_seconds": 7.3}, True)
    assert "wide seed 2/2 done (kept)" in capfd.readouterr().out
    assert progress.run_id("code", model, {"lr": 0.2}, 1) != w1


def test_the_run_end_callback_sees_trained_and_kept_runs_and_changes_no_result(tmp_path):
    cache, training = make_cache(), {"optimizer": "adamw", "lr": 0.01, "batch_size": 32}
    training |= {"epochs": 2, "threads": 1}
    seen = []
    outputs = block_outputs(tmp_path / "with", [0, 1])
    train_mod.train_block(
        cache, MLP, training, [0, 1], outputs, code="c", on_run_end=lambda *a: seen.append(a)
    )
    assert [(index, kept) for index, _, kept in seen] == [(0, False), (1, False)]
    without = block_outputs(tmp_path / "without", [0, 1])
    train_mod.train_block(cache, MLP, training, [0, 1], without, code="c")
    for a, b in zip(outputs, without, strict=True):
        assert a["history"].read_bytes() == b["history"].read_bytes()
    for o in outputs:
        o["info"].unlink()  # as Snakemake deletes a rerun job's outputs: kept runs come back
    seen.clear()
    train_mod.train_block(
        cache, MLP, training, [0, 1], outputs, code="c", on_run_end=lambda *a: seen.append(a)
    )
    assert [(index, kept) for index, _, kept in seen] == [(0, True), (1, True)]
    assert seen[0][1]["final"] == json.loads(without[0]["info"].read_text())["final"]


# --------------------------------------------------------------------------- the smoke study

RUN_LINE = re.compile(
    r"^(?P<variant>\w+) seed (?P<at>\d+)/(?P<of>\d+) done \((?P<took>[^()]+)\)"
    r" · study (?P<done>[\d.]+)/(?P<planned>[\d.]+) TFLOP · (?P<left>.+)$"
)
TIME_LEFT = re.compile(r"about [\d.]+ (min|h) left|less than a minute left|all runs done")


def cli(folder) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "mnist_study.record.progress", str(folder)],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


@pytest.mark.slow
def test_the_console_shows_one_line_per_finished_run(smoke_run: SmokeStudy):
    infos = sorted((smoke_run.workdir / "results/runs").glob("*/seed*/train.json"))
    shown = [m for text in smoke_run.console.splitlines() if (m := RUN_LINE.match(text))]
    assert len(shown) == len(infos), smoke_run.console[-3000:]
    seeds = {(m["variant"], int(m["at"]), int(m["of"])) for m in shown}
    assert seeds == {(p.parts[-3], int(p.parts[-2][4:]) + 1, 2) for p in infos}
    assert all(m["took"] != "kept" and TIME_LEFT.fullmatch(m["left"]) for m in shown)
    done = sorted(float(m["done"]) for m in shown)
    planned = {m["planned"] for m in shown}
    assert len(planned) == 1 and done[-1] == float(planned.pop()) and done[0] < done[-1]
    assert any(m["left"] == "all runs done" for m in shown)


@pytest.mark.slow
def test_the_command_line_during_and_after_the_smoke_study(smoke_run: SmokeStudy, tmp_path):
    work = smoke_run.workdir
    infos = sorted((work / "results/runs").glob("*/seed*/train.json"))
    plan = progress.read_plan(work)
    assert sorted(r["folder"] for r in plan["runs"]) == [
        str(p.parent.relative_to(work)) for p in infos
    ]
    runs = len(infos)
    assert re.fullmatch(rf"study finished: [\d.]+ TFLOP, {runs} runs", cli(work))
    # During: the plan, and the ledger as it stood before its last three runs.
    (tmp_path / progress.PLAN).parent.mkdir(parents=True)
    shutil.copy(work / progress.PLAN, tmp_path / progress.PLAN)
    lines = (work / progress.LEDGER).read_text().splitlines(keepends=True)
    (tmp_path / progress.LEDGER).write_text("".join(lines[:-3]))
    during = cli(tmp_path)
    assert re.fullmatch(rf"study [\d.]+/[\d.]+ TFLOP \({runs - 3}/{runs} runs\) · (.+)", during), (
        during
    )
    assert TIME_LEFT.search(during), during


@pytest.mark.slow
def test_kept_runs_put_back_say_kept(smoke_run: SmokeStudy, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(smoke_run.root, copy, symlinks=True)
    study = SmokeStudy(copy)
    done = study.snakemake("train_linear", "--forcerun", "train_linear", check=True)
    shown = [m for text in done.stdout.splitlines() if (m := RUN_LINE.match(text))]
    assert [(m["variant"], m["at"], m["took"]) for m in shown] == [
        ("linear", "1", "kept"),
        ("linear", "2", "kept"),
    ]
    assert shown[-1]["left"] == "all runs done"
