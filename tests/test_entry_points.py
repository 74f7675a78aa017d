"""Every entry point from a fresh clone: `make` lists the targets, a plain `snakemake` takes the
profile make takes, DRY=1 plans each Snakemake-calling target without running anything else,
make bench fetches the data through the study's own rule, and a second study in the same
checkout leaves the shared data files (and so the first study's plan) alone."""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from helpers import REPO, make_smoke_study

from mnist_study.engine.bench import mnist_files

VENV = Path(sys.prefix)
STAMP = VENV / ".installed-stamp"
needs_make = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
GROUPS = ["run", "check", "cluster", "maintain"]
# A Snakemake call's start (the profile line it prints) and the total of the jobs it plans.
CALL = "Using workflow specific profile"
TOTAL = re.compile(r"^total\s+(\d+)$", re.MULTILINE)
RULE = re.compile(r"^(?:Job \d+: )?(?:local)?(?:rule|checkpoint) (\w+):", re.MULTILINE)


def make(*args: str, cwd: Path = REPO, env: dict | None = None) -> subprocess.CompletedProcess:
    """make in ``cwd`` with the test venv, never installing into it (-o: its stamp is current).
    stdout and stderr in one, in order (a dry run's plan goes to stdout, its profile line not)."""
    cmd = ["make", f"VENV={VENV}", "-o", str(STAMP), *args]
    return subprocess.run(
        cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
        timeout=900,
    )  # fmt: skip


def phony_targets() -> list[str]:
    text = (REPO / "Makefile").read_text(encoding="utf-8").replace("\\\n", " ")
    return [t for line in re.findall(r"^\.PHONY:(.*)$", text, re.MULTILINE) for t in line.split()]


# ----------------------------------------------------------------------------- make help


@needs_make
def test_make_alone_lists_every_target_once_by_group():
    alone, listed = make("-s"), make("-s", "help")
    assert alone.returncode == 0 and listed.returncode == 0, alone.stdout + listed.stdout
    assert alone.stdout == listed.stdout
    headers = re.findall(r"^(\w+):$", listed.stdout, re.MULTILINE)
    assert headers == [*GROUPS, "options"], listed.stdout
    entries = re.findall(r"^  ([a-z][a-z0-9-]*) +\S.*$", listed.stdout, re.MULTILINE)
    phony = phony_targets()
    assert "help" in phony and len(phony) == len(set(phony))
    # Each .PHONY target once, with its text; nothing listed that is not a target.
    assert sorted(entries) == sorted(phony), listed.stdout
    for option in ("DATASET", "DRY", "PROFILE", "VENV"):
        assert re.search(rf"^  {option}= +\S", listed.stdout, re.MULTILINE), option


# ----------------------------------------------------------------------------- the profile


def parsed(argv: list[str]):
    """Snakemake's own reading of a command line in the repository, profiles included."""
    from snakemake.cli import parse_args

    return parse_args(argv)[1]


SETTINGS = ("cores", "rerun_triggers", "max_checksum_file_size", "rerun_incomplete", "quiet")


@needs_make
def test_a_plain_snakemake_plans_with_the_settings_make_uses(monkeypatch):
    """make's Snakemake calls name no profile: Snakemake finds profiles/default beside the
    Snakefile by itself, as for a Snakemake user's plain `snakemake` (or `snakemake -n`)."""
    monkeypatch.chdir(REPO)
    plain = parsed([])
    assert plain.rerun_triggers and {t.name for t in plain.rerun_triggers} == {
        "MTIME",
        "PARAMS",
        "INPUT",
    }
    assert plain.max_checksum_file_size == 200_000_000 and plain.show_failed_logs
    calls = []
    for target in ("report", "quick", "bench"):
        recipe = make("-n", target).stdout.replace("\\\n", " ")
        calls += [shlex.split(c) for c in re.findall(r"bin/snakemake([^;|&}]*)", recipe)]
    assert len(calls) == 5, calls
    for argv in calls:
        assert not {"--profile", "--workflow-profile"} & set(argv), argv
        made = parsed(argv)
        for setting in SETTINGS:
            assert getattr(made, setting) == getattr(plain, setting), (setting, argv)
    # Without the profile the defaults differ: the comparison above is not vacuous.
    bare = parsed(["--workflow-profile", "none"])
    assert bare.rerun_triggers != plain.rerun_triggers
    assert bare.max_checksum_file_size != plain.max_checksum_file_size


KEY = re.compile(r"^\s*(?:- )?([\w-]+):")


@pytest.mark.parametrize("profile", ["default", "slurm"])
def test_every_profile_key_says_why_on_its_line(profile):
    path = REPO / "profiles" / profile / "config.yaml"
    text = path.read_text(encoding="utf-8")
    assert isinstance(yaml.safe_load(text), dict)
    for number, line in enumerate(text.splitlines(), 1):
        if KEY.match(line):
            assert re.search(r"\S\s+# \S", line), f"{path}:{number}: a key without its why"


def test_the_profiles_are_where_snakemake_looks():
    assert (REPO / "profiles" / "default" / "config.yaml").is_file()
    assert not (REPO / "workflow" / "profiles").exists()


# ----------------------------------------------------------------------------- DRY=1


@pytest.fixture(scope="module")
def fresh_clone(tmp_path_factory) -> Path:
    """What a clone of the working tree holds: its tracked and not ignored files, no results,
    no data."""
    root = tmp_path_factory.mktemp("clone") / "mnist-study"
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if source.is_file():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, root / name)
    assert not (root / "data").exists() and not (root / "results").exists()
    return root


def plans(output: str) -> list[int]:
    """The jobs each Snakemake call planned, in call order (0 for nothing to do)."""
    chunks = output.split(CALL)[1:]
    return [int(TOTAL.findall(c)[-1]) if TOTAL.search(c) else 0 for c in chunks]


@pytest.fixture(scope="module")
def plain_plan(fresh_clone) -> int:
    """What a Snakemake user's `snakemake -n` plans on the fresh clone."""
    done = subprocess.run(
        [str(VENV / "bin" / "snakemake"), "-n"],
        cwd=fresh_clone,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:]
    (total,) = plans(done.stdout)
    assert total > 0
    return total


def dry(fresh_clone, target: str) -> tuple[subprocess.CompletedProcess, list[int]]:
    done = make(target, "DRY=1", cwd=fresh_clone)
    assert done.returncode == 0, done.stdout[-4000:]
    return done, plans(done.stdout)


@needs_make
@pytest.mark.slow
def test_dry_report_plans_what_a_plain_snakemake_plans(fresh_clone, plain_plan):
    done, totals = dry(fresh_clone, "report")
    # The sweeps first (--until sweeps), then the whole study: the fetch, every run, the report.
    assert len(totals) == 2 and 0 < totals[0] < totals[1] == plain_plan, totals
    assert "DRY=1 (not run):" in done.stdout and "mnist_study.record.history record" in done.stdout


@needs_make
@pytest.mark.slow
@pytest.mark.parametrize(
    ("target", "calls"),
    [("quick", 2), ("replicate", 3), ("pilot", 2), ("design", 2), ("pilot-penalty", 1)],
)
def test_dry_run_of_each_snakemake_target_on_a_fresh_clone(fresh_clone, plain_plan, target, calls):
    done, totals = dry(fresh_clone, target)
    assert len(totals) == calls and all(t > 0 for t in totals), totals
    if target == "quick":
        assert totals[1] < plain_plan
    if target == "replicate":
        # Its own study, then the first study's report, which on a fresh clone is the study.
        assert totals[2] == plain_plan - 1  # all but the `all` job
        assert "run make report first; DRY=1 plans on" in done.stdout
    if target == "pilot-penalty":
        assert totals == [2]  # fetch_data and cache_data: the pilot reads the cache
    assert "DRY=1 (not run):" in done.stdout


@needs_make
@pytest.mark.slow
def test_dry_runs_write_no_result_data_or_record(fresh_clone):
    """After every dry run above: no data fetched, no log, benchmark, history or report."""
    for target in ("report", "bench", "clean", "test"):
        make(target, "DRY=1", cwd=fresh_clone)
    for folder in ("data", "logs", "benchmarks", "history"):
        assert not (fresh_clone / folder).exists(), folder
    assert not list(fresh_clone.glob("results/**/*.html"))
    assert (fresh_clone / "Makefile").is_file()  # make clean DRY=1 removed nothing either


# ----------------------------------------------------------------------------- make bench


@needs_make
@pytest.mark.slow
def test_make_bench_fetches_through_the_studys_rule_first(fresh_clone):
    done, totals = dry(fresh_clone, "bench")
    assert totals == [1] and RULE.findall(done.stdout) == ["fetch_data"]
    assert "DRY=1 (not run): " in done.stdout and "mnist_study.engine.bench" in done.stdout


def test_the_benchmark_without_data_says_what_to_run(tmp_path):
    with pytest.raises(SystemExit) as stop:
        mnist_files(str(tmp_path))
    message = str(stop.value)
    assert str(tmp_path / "MNIST" / "raw" / "train-images-idx3-ubyte") in message
    assert "make bench" in message and "snakemake fetch_data" in message


# ----------------------------------------------------------------------------- shared data


def file_state(folder: Path) -> dict[str, tuple[int, str]]:
    return {
        p.name: (p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
        for p in sorted(folder.iterdir())
    }


@needs_make
@pytest.mark.slow
def test_a_second_study_fetches_nothing_and_the_first_plans_nothing(smoke_run):
    """A second study in the checkout (as make quick runs one: its folder, a config layer, the
    shared data folder) runs its data rules; the raw files keep their bytes and times, and the
    finished first study plans nothing, by `snakemake -n` and by `make report DRY=1`."""
    raw = smoke_run.workdir / "data" / "MNIST" / "raw"
    before = file_state(raw)
    layer = smoke_run.root / "second.yaml"
    layer.write_text(yaml.safe_dump({"data": {"root": "../../data"}, "seeds": [0]}))
    second = smoke_run.workdir / "results" / "second"
    done = smoke_run.snakemake(
        "results/data/mnist.pt",
        "--directory",
        str(second),
        "--configfile",
        str(smoke_run.configfile),
        str(layer),
        check=True,
    )
    ran = RULE.findall(done.stdout + done.stderr)
    assert ran == ["cache_data"], ran
    assert (second / "results" / "data" / "mnist.pt").is_file()
    assert file_state(raw) == before

    plain = smoke_run.snakemake("-n", check=True)
    assert "Nothing to be done" in plain.stdout + plain.stderr
    # The Makefile's own calls (-C the workflow copy; the study's folder as --directory).
    cmd, env = smoke_run.command()
    snakemake = f"{VENV / 'bin' / 'snakemake'} --directory {smoke_run.workdir}"
    made = make(
        "-f", str(REPO / "Makefile"), "report", "DRY=1", f"SNAKEMAKE={snakemake}",
        cwd=smoke_run.repo, env=env,
    )  # fmt: skip
    output = made.stdout
    assert made.returncode == 0, output[-4000:]
    assert plans(output) == [0, 0] and output.count("Nothing to be done") == 2, output[-4000:]
    assert file_state(raw) == before


def test_a_study_whose_data_another_study_fetched_is_no_partial_rerun(tmp_path):
    """fetch_data's outputs are the checkout's, not the study's: where it did not run in this
    study (the files were there), the compute figures stay whole; any other job missing makes
    them partial, as before."""
    import json

    from mnist_study.record.efficiency import efficiency

    def job(name, start=None):
        stamp, bench = tmp_path / f"{name}.times.json", tmp_path / f"{name}.tsv"
        if start is not None:
            stamp.write_text(json.dumps({"start": start, "end": start + 5}))
            bench.write_text("s\th:m:s\n5.0\t0:00:05\n")
        return {"name": name, "stamp": str(stamp), "benchmark": str(bench)}

    record = {"train_flops_per_sample": 3e6, "train_images": 1000, "epochs": 1}
    record |= {"epoch_seconds": [1.0], "finished_at": 20.0}
    matmul = {"matmul_flops_per_s": 1e9}
    jobs = [job("fetch_data"), job("cache_data", 10), job("train_a", 15)]
    figures = efficiency({("a", 0): record}, jobs, matmul, report_start=20, report_end=21)
    assert not figures["partial"] and figures["wall_seconds"] == 11
    jobs.append(job("evaluate_a"))  # no stamp: it did not run in this invocation
    assert efficiency({("a", 0): record}, jobs, matmul, report_start=20, report_end=21)["partial"]


# ----------------------------------------------------------------------------- the console


@pytest.mark.slow
def test_the_console_shows_each_job_in_one_line_and_a_failed_jobs_log(tmp_path):
    """A job's start is one line, its rule and what it writes (rules/console.smk: a train job
    would list each file it writes), without its reason (the profile's quiet: [reason]); its end
    is one Finished line, and a failed job's log is printed (show-failed-logs)."""
    study = make_smoke_study(tmp_path)
    done = study.snakemake("results/data/mnist.pt", check=True)
    console = done.stdout + done.stderr
    assert RULE.findall(console) == ["fetch_data", "cache_data"]
    assert re.search(r"^Job \d+: rule cache_data: results/data/mnist\.pt$", console, re.M)
    assert "Finished jobid" in console
    assert not re.search(r"^\s+(output|input|log):", console, re.MULTILINE), console
    assert not re.search(r"^\s+reason:", console, re.MULTILINE), console
    assert "Shell command" not in console  # no rule has shell:, so printshellcmds is off

    broken = make_smoke_study(tmp_path / "broken")
    config = broken.read_config()
    config["data"]["local_dir"] = str(tmp_path / "nowhere")
    broken.write_config(config)
    os.makedirs(tmp_path / "nowhere")
    failed = broken.snakemake("results/data/mnist.pt")
    console = failed.stdout + failed.stderr
    assert failed.returncode != 0
    assert "Error in rule fetch_data" in console
    # The log's own lines, on the console: which source failed and what to do.
    assert "could not obtain" in console and "data.local_dir" in console
