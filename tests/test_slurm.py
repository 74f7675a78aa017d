"""The smoke study on a real SLURM cluster, through snakemake-executor-plugin-slurm and its profile.

Needs a reachable SLURM (`make test-slurm` starts a local one-node cluster); skipped otherwise.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from helpers import REPO, SmokeStudy, make_smoke_study

pytestmark = pytest.mark.slurm

PROFILE = REPO / "profiles" / "slurm"
# Hard bounds on each Snakemake process: a lost job or a hung status check fails the test.
RUN_TIMEOUT = 900
FAIL_TIMEOUT = 300
# Snakemake's line for every sbatch submission; the log path names the rule.
SUBMITTED = re.compile(r"Job \d+ has been submitted with SLURM jobid (\d+) \(log: (\S+)\)\.")
# Rules that must run on the submit host: the download (compute nodes often have no internet)
# and the cheap ones, whose SLURM round trip would cost more than the work.
LOCAL_RULES = {"fetch_data", "bench_matmul", "tables", "report"}
LOCAL_PREFIXES = ("plot_", "misclassified_")


def slurm_unreachable() -> str | None:
    """Why SLURM cannot be used from here, or None when `sinfo` answers."""
    if shutil.which("sinfo") is None:
        return "no `sinfo` on PATH"
    try:
        done = subprocess.run(
            ["sinfo", "-h", "-o", "%P"], capture_output=True, text=True, timeout=30
        )
    except subprocess.TimeoutExpired:
        return "`sinfo` gave no answer within 30 s"
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        return f"`sinfo` failed: {last}"
    if not done.stdout.strip():
        return "`sinfo` lists no partition"
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        return "snakemake-executor-plugin-slurm is not installed (pip install -e '.[slurm]')"
    return None


@pytest.fixture(scope="module")
def slurm():
    reason = slurm_unreachable()
    if reason and os.environ.get("MNIST_REQUIRE_SLURM"):
        # `make test-slurm` has just started a cluster: a skip there would hide a broken setup.
        pytest.fail(f"MNIST_REQUIRE_SLURM is set but no SLURM is reachable: {reason}")
    if reason:
        pytest.skip(f"no SLURM reachable: {reason}; `make test-slurm` starts a local one (root)")


def squeue_jobs() -> dict[str, tuple[str, str]]:
    """Job id -> (state, working directory) for every job the controller still lists."""
    done = subprocess.run(
        ["squeue", "--states=all", "-h", "-o", "%i|%T|%Z"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    rows = (line.split("|", 2) for line in done.stdout.splitlines() if line.count("|") == 2)
    return {job: (state, workdir) for job, state, workdir in rows}


def jobcomp_file() -> Path | None:
    """The cluster's job completion log, where it writes one (tests/slurm/up.sh's cluster does)."""
    done = subprocess.run(
        ["scontrol", "show", "config"], capture_output=True, text=True, timeout=30
    )
    conf = dict(re.findall(r"^(\w+)\s*=\s*(.*?)\s*$", done.stdout, re.M))
    path = Path(conf.get("JobCompLoc", ""))
    if conf.get("JobCompType") == "jobcomp/filetxt" and path.is_file():
        return path
    return None


def final_states(job_ids: set[str]) -> dict[str, str]:
    """The state SLURM itself recorded for each job: completion log first, then squeue."""
    states = {}
    log = jobcomp_file()
    if log is not None:
        for job, state in re.findall(r"JobId=(\d+) .*?JobState=(\w+)", log.read_text()):
            if job in job_ids:
                states[job] = state
    for job, (state, _) in squeue_jobs().items():
        if job in job_ids:
            states.setdefault(job, state)
    return states


def submissions(output: str) -> dict[str, tuple[str, Path]]:
    """SLURM job id -> (rule, SLURM log file) for every job Snakemake submitted with sbatch."""
    found = {}
    for job, log in SUBMITTED.findall(output):
        rule = re.search(r"/slurm_logs/rule_(\w+)/", log)
        assert rule, f"unexpected SLURM log path {log}"
        found[job] = (rule[1], Path(log))
    return found


def run_on_slurm(study: SmokeStudy, *args: str, timeout: int) -> subprocess.CompletedProcess:
    try:
        return study.snakemake(
            "--workflow-profile",
            str(PROFILE),
            "--configfile",
            str(study.configfile),
            # Successful jobs' SLURM logs are the proof of where each job ran.
            "--slurm-keep-successful-logs",
            *args,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as exc:
        tail = (exc.stderr or b"")[-6000:]
        tail = tail.decode(errors="replace") if isinstance(tail, bytes) else tail
        pytest.fail(f"Snakemake on SLURM ran past {timeout} s and was killed:\n{tail}")


def cancel_jobs_under(root: Path) -> None:
    """Cancel jobs a killed Snakemake left behind: those whose working directory is ours."""
    live = {"PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "SUSPENDED"}
    ours = [
        job
        for job, (state, workdir) in squeue_jobs().items()
        if state in live and Path(workdir).is_relative_to(root)
    ]
    if ours:
        subprocess.run(["scancel", *ours], capture_output=True, timeout=30)


@pytest.fixture(scope="module")
def slurm_base(slurm, tmp_path_factory):
    """Where this module's studies live; their SLURM jobs are cancelled at the end.

    On a multi-node cluster this must be a filesystem every node sees: set MNIST_SLURM_TMP.
    """
    shared = os.environ.get("MNIST_SLURM_TMP")
    base = Path(tempfile.mkdtemp(dir=shared)) if shared else tmp_path_factory.mktemp("slurm")
    yield base
    cancel_jobs_under(base)


@pytest.fixture(scope="module")
def slurm_run(slurm_base):
    """A smoke study of its own (the local smoke run must not satisfy its targets), run once."""
    study = make_smoke_study(slurm_base / "study")
    done = run_on_slurm(study, timeout=RUN_TIMEOUT)
    return study, done


def progress_line(run: tuple[str, int], seeds: list) -> str:
    """The start of the line a train job prints when a run ends (record.progress)."""
    variant, seed = run
    index = [int(s) for s in seeds].index(seed)
    return f"{variant} seed {index + 1}/{len(seeds)} done"


def test_smoke_study_runs_through_sbatch(slurm_run):
    study, done = slurm_run
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"Snakemake on SLURM failed:\n{output[-8000:]}"

    config = study.read_config()
    runs = [(v, int(s)) for v in config["variants"] for s in config["seeds"]]
    jobs = submissions(output)
    # One training job per variant, holding all its seeds: a cluster job is never one tiny run.
    train = {job: (rule, log) for job, (rule, log) in jobs.items() if rule.startswith("train_")}
    assert sorted(rule for rule, _ in train.values()) == sorted(
        f"train_{v}" for v in config["variants"]
    ), f"expected one training job per variant via sbatch, got {jobs}"
    evaluate = [rule for rule, _ in jobs.values() if rule.startswith("evaluate_")]
    assert len(evaluate) == len(config["variants"]), jobs
    sent_local = {r for r, _ in jobs.values() if r in LOCAL_RULES or r.startswith(LOCAL_PREFIXES)}
    assert not sent_local, f"local rules went to SLURM: {jobs}"

    # Each training run is claimed by exactly one SLURM job, whose log shows it ran there.
    claimed = []
    for job, (rule, log) in train.items():
        text = log.read_text()
        assert f"rule {rule}:" in text, f"SLURM log {log} of job {job} shows no training"
        # A run shows as its progress line (a job's start line names no single output).
        claimed += [r for r in runs if progress_line(r, config["seeds"]) in text]
    assert sorted(claimed) == sorted(runs)

    states = final_states(set(jobs))
    assert set(states) == set(jobs), f"SLURM has no record of jobs {set(jobs) - set(states)}"
    assert set(states.values()) == {"COMPLETED"}, states

    work = study.workdir
    table = pd.read_csv(work / "results/tables/runs.csv")
    assert sorted(zip(table["variant"], table["seed"], strict=True)) == sorted(runs)
    assert table["test_acc"].between(0, 1).all()
    for variant, seed in runs:
        assert (work / f"results/runs/{variant}/seed{seed}/metrics.json").is_file()
    if "rules/report.smk" in study.snakefile.read_text():
        assert (work / "results/report.html").is_file()

    # Everything the workflow targets exists: a second, local dry run has nothing to do.
    again = study.snakemake("--dry-run", check=True)
    assert "Nothing to be done" in again.stdout + again.stderr


def test_failed_job_is_reported_and_fails_the_run(slurm_run):
    study, _ = slurm_run
    config = study.read_config()
    variant, seed = next(iter(config["variants"])), int(config["seeds"][0])
    target = f"results/runs/{variant}/seed{seed}/model.pt"
    rule = f"train_{variant}"
    # Corrupt the data cache in place (a copy would move the code inputs and rerun everything)
    # but keep its time stamp, so nothing upstream reruns: the forced training job then fails
    # inside SLURM, as a job with bad input would.
    cache = study.workdir / f"results/data/{config['data']['dataset']}.pt"
    stamp, good = cache.stat(), cache.read_bytes()
    cache.write_bytes(b"this is not a torch file")
    os.utime(cache, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    try:
        done = run_on_slurm(study, "--force", target, timeout=FAIL_TIMEOUT)
    finally:
        cache.write_bytes(good)
        os.utime(cache, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))

    output = done.stdout + done.stderr
    assert done.returncode != 0, f"a failing job left Snakemake successful:\n{output[-4000:]}"
    jobs = submissions(output)
    assert [r for r, _ in jobs.values()] == [rule], f"{jobs}\n{output[-4000:]}"
    (job,) = jobs
    assert f"Error in rule {rule}" in output
    assert f"SLURM-job '{job}' failed" in output
    assert final_states({job}) == {job: "FAILED"}
    # Snakemake removed the failed job's outputs: nothing looks finished.
    assert not (study.workdir / target).exists()
