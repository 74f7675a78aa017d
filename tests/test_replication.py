"""The replication judgement (mnist_study.record.replication) on synthetic studies: every
outcome, the prediction interval's coverage, the forecast check and the design from git."""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import subprocess

import numpy as np
import pytest
import yaml

from mnist_study.record import replication as rep

DESIGN_FILE = "workflow/designs/toy.yaml"


def record(name, verdict, effect, se_seed=0.002, n=10, **extra):
    """One claims.json record of a pair claim, as the claims rule writes it."""
    return {
        "name": name,
        "statement": f"{name} holds.",
        "metric": "test_acc",
        "variants": ["a", "b"],
        "expect": "increase",
        "smallest_effect": 0.002,
        "effect": effect,
        "se_seed": se_seed,
        "se_image": 0.001,
        "n_seeds": n,
        "verdict": verdict,
        "test_set": "t" * 16,
        **extra,
    }


def design_text(f_same: dict[str, float], agreement: float = 0.9) -> str:
    lines = [f"dataset: toy\nagreement: {agreement}\nvariants: {{}}\nclaims:"]
    for name, f in f_same.items():
        label = "resolved" if f >= agreement else "budget-limited"
        lines.append(f"  {name}:\n    label: {label}\n    f_same: {f}\n    f_new: 1.0")
    return "\n".join(lines) + "\n"


@pytest.fixture
def repo(tmp_path):
    """A git checkout whose history holds one committed design."""
    root = tmp_path / "repo"
    (root / "workflow/designs").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    return root


def commit_design(root, text: str) -> str:
    path = root / DESIGN_FILE
    path.write_text(text, encoding="utf-8")
    git = ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "add", DESIGN_FILE], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "design"], check=True)
    return hashlib.sha256(text.encode()).hexdigest()


def at_design(records, sha):
    for r in records:
        r["design"] = {"file": DESIGN_FILE, "sha256": sha, "designed": True}
    return records


def studies(repo, pairs, f_same):
    """Two claims.json lists from (first record, replicate record) pairs, at one design."""
    sha = commit_design(repo, design_text(f_same))
    first = at_design([a for a, _ in pairs], sha)
    second = at_design([b for _, b in pairs], sha)
    return first, second


def test_identical_verdicts_pass(repo):
    first, second = studies(
        repo, [(record("x", "supported", 0.010), record("x", "supported", 0.011))], {"x": 0.95}
    )
    result = rep.judge(first, second, repo, ["a", "b"])
    assert result["claims"][0]["outcome"] == "identical"
    assert result["exit"] == 0


def test_a_difference_the_design_forecast_is_consistent(repo):
    pair = (record("x", "supported", 0.006), record("x", "inconclusive", 0.004))
    first, second = studies(repo, [pair], {"x": 0.6})
    (claim,) = rep.judge(first, second, repo, ["a", "b"])["claims"]
    assert claim["outcome"] == "consistent"
    assert claim["intervals"][0]["inside"] is True


def test_a_difference_forecast_to_agree_is_printed_not_failed(repo):
    pairs = [(record("x", "supported", 0.006), record("x", "inconclusive", 0.004))]
    pairs += [
        (record(f"y{i}", "supported", 0.01), record(f"y{i}", "supported", 0.01)) for i in "ab"
    ]
    first, second = studies(repo, pairs, {"x": 0.95, "ya": 0.6, "yb": 0.6})
    result = rep.judge(first, second, repo, ["a", "b"])
    assert result["claims"][0]["outcome"] == "differs"
    assert result["exit"] == 0
    assert "differs" in rep.markdown(result, ["a", "b"])


def test_supported_against_contradicted_always_disagrees(repo):
    # Inside the interval and forecast to differ, it still disagrees.
    pair = (record("x", "supported", 0.001, se_seed=0.01), record("x", "contradicted", -0.001))
    first, second = studies(repo, [pair], {"x": 0.3})
    result = rep.judge(first, second, repo, ["a", "b"])
    assert result["claims"][0]["outcome"] == "disagrees"
    assert result["claims"][0]["intervals"][0]["inside"] is True
    assert result["exit"] == 1


def test_an_effect_outside_the_interval_disagrees(repo):
    pair = (record("x", "supported", 0.010), record("x", "inconclusive", 0.0))
    first, second = studies(repo, [pair], {"x": 0.5})
    result = rep.judge(first, second, repo, ["a", "b"])
    assert result["claims"][0]["outcome"] == "disagrees"
    assert "outside" in result["claims"][0]["reasons"][0]
    assert result["exit"] == 1


def test_too_few_identical_verdicts_fail_the_forecast_check(repo):
    # Ten claims each forecast to agree 99% of the time: two consistent differences are far
    # below the forecast count, though neither claim disagrees.
    pairs = [
        (record(f"c{i}", "supported", 0.01), record(f"c{i}", "supported", 0.01)) for i in range(8)
    ]
    pairs += [
        (record(f"d{i}", "supported", 0.006), record(f"d{i}", "inconclusive", 0.004))
        for i in range(2)
    ]
    f_same = {f"c{i}": 0.99 for i in range(8)} | {f"d{i}": 0.89 for i in range(2)}
    first, second = studies(repo, pairs, f_same)
    result = rep.judge(first, second, repo, ["a", "b"])
    assert result["counts"]["consistent"] == 2 and result["counts"]["disagrees"] == 0
    forecast = result["forecast"]
    assert forecast["quantile"] == 9 and forecast["observed"] == 8 and forecast["below"]
    assert result["exit"] == 1
    assert "forecast 9.7 of 10 identical (5% quantile 9); observed 8" in rep.forecast_text(forecast)


def test_a_design_missing_from_git_exits_2(repo, tmp_path):
    commit_design(repo, design_text({"x": 0.9}))
    first = [record("x", "supported", 0.01)]
    second = [record("x", "supported", 0.01)]
    at_design(first, "0" * 64), at_design(second, "0" * 64)
    paths = [tmp_path / "first.json", tmp_path / "second.json"]
    for path, records in zip(paths, (first, second), strict=True):
        path.write_text(json.dumps(records), encoding="utf-8")
    assert rep.main([str(paths[0]), str(paths[1]), "--repo", str(repo)]) == 2


def test_a_replicate_at_another_design_or_test_set_exits_2(repo):
    first, second = studies(
        repo, [(record("x", "supported", 0.01), record("x", "supported", 0.01))], {"x": 0.9}
    )
    second[0]["design"] = dict(second[0]["design"], sha256="1" * 64)
    with pytest.raises(rep.ReplicationError, match="another design"):
        rep.judge(first, second, repo, ["a", "b"])
    second[0]["design"] = first[0]["design"]
    second[0]["test_set"] = "u" * 16
    with pytest.raises(rep.ReplicationError, match="different test sets"):
        rep.judge(first, second, repo, ["a", "b"])


def test_an_each_claim_needs_every_comparison_inside(repo):
    def each(verdict, effects):
        comparisons = [
            {"a": a, "b": "c", "effect": e, "se_seed": 0.002, "n_seeds": 10}
            for a, e in zip("ab", effects, strict=True)
        ]
        return record(
            "e",
            verdict,
            effects[0],
            compare="each",
            variants=["a", "b", "c"],
            comparisons=comparisons,
        )

    pair = (each("supported", [0.01, 0.02]), each("inconclusive", [0.01, 0.0]))
    first, second = studies(repo, [pair], {"e": 0.5})
    (claim,) = rep.judge(first, second, repo, ["a", "b"])["claims"]
    assert [i["part"] for i in claim["intervals"]] == ["c − a", "c − b"]
    assert [i["inside"] for i in claim["intervals"]] == [True, False]
    assert claim["outcome"] == "disagrees"


def test_the_interval_covers_a_replicate_on_the_same_test_images():
    """An independent check: two studies on disjoint seeds share one test set's image effect
    (large beside the seed spread); the interval, drawn without it, covers 95% of replicates."""
    rng = np.random.default_rng(35)
    covered, reps = 0, 4000
    for _ in range(reps):
        shared = 0.01 * rng.standard_normal()  # the test set's component, common to both
        runs = [0.003 + shared + 0.004 * rng.standard_normal(n) for n in (6, 12)]
        a, b = (
            rep.Part(float(r.mean()), float(r.std(ddof=1) / math.sqrt(len(r))), len(r))
            for r in runs
        )
        low, high, _ = rep.prediction_interval(a, b)
        covered += low <= b.effect <= high
    assert abs(covered / reps - 0.95) < 0.01


def test_poisson_binomial_matches_enumeration():
    ps = [0.95, 0.6, 0.99, 0.8, 0.7, 0.9, 0.5]
    pmf = rep.poisson_binomial(ps)
    brute = np.zeros(len(ps) + 1)
    for outcome in itertools.product([0, 1], repeat=len(ps)):
        brute[sum(outcome)] += math.prod(
            p if o else 1 - p for p, o in zip(ps, outcome, strict=True)
        )
    assert np.allclose(pmf, brute)
    assert rep.lower_quantile(pmf, 0.05) == int(np.argmax(np.cumsum(brute) >= 0.05))


def test_every_study_points_at_the_folder_make_replicate_writes():
    """replicate.claims (config.yaml, each dataset layer) is where the Makefile's replicate
    target writes, seen from the study's own folder; the replicate itself names none."""
    from helpers import REPO

    make = (REPO / "Makefile").read_text(encoding="utf-8")
    assert "REPLICATE_DIR := results/replicate\n" in make
    assert "REPLICATE_DIR := results/$(DATASET)-replicate\n" in make
    tail = "results/analysis/claims.json"
    config = yaml.safe_load((REPO / "config.yaml").read_text(encoding="utf-8"))
    assert config["replicate"]["claims"] == f"results/replicate/{tail}"
    for layer in sorted((REPO / "workflow/datasets").glob("*.yaml")):
        claims = yaml.safe_load(layer.read_text(encoding="utf-8"))["replicate"]["claims"]
        study = f"results/{layer.stem}"
        assert os.path.normpath(os.path.join(study, claims)) == f"{study}-replicate/{tail}"
    for name in ("replicate", "quick", "pilot"):
        layer = yaml.safe_load((REPO / f"workflow/{name}.yaml").read_text(encoding="utf-8"))
        assert layer["replicate"] == {"claims": None}


def test_an_effect_without_spread_has_no_interval_and_cannot_be_consistent(repo):
    """A NaN effect (written as null) or a single seed gives no interval: a differing verdict
    is then not shown to lie inside it."""
    pair = (record("x", "inconclusive", None, se_seed=None), record("x", "supported", 0.01, n=1))
    first, second = studies(repo, [pair], {"x": 0.5})
    (claim,) = rep.judge(first, second, repo, ["a", "b"])["claims"]
    assert claim["intervals"][0]["inside"] is None and claim["outcome"] == "disagrees"
    assert "no prediction interval" in claim["reasons"][0]


def test_every_kind_of_record_the_claims_rule_writes_gets_its_intervals(repo):
    """The golden study's claims.json (pairs, a trend, 'each', a level, an interaction, the
    images lost beyond the churn, censored times) judged against itself: identical, with one
    interval per comparison, each around the effect wherever the seeds spread."""
    from helpers import REPO

    golden = json.loads((REPO / "tests/golden/claims.json").read_text(encoding="utf-8"))
    sha = commit_design(repo, design_text({r["name"]: 0.95 for r in golden}))
    copies = [at_design([dict(r, test_set="t" * 16) for r in golden], sha) for _ in range(2)]
    result = rep.judge(*copies, repo, ["a", "b"])
    assert {c["outcome"] for c in result["claims"]} == {"identical"}
    by_name = {c["name"]: c for c in result["claims"]}
    each = next(r for r in golden if r.get("compare") == "each")
    assert len(by_name[each["name"]]["intervals"]) == len(each["comparisons"])
    drawn = [i for c in result["claims"] for i in c["intervals"] if i["inside"] is not None]
    assert len(drawn) >= len(golden) // 2
    assert all(i["low"] < i["first"] < i["high"] and i["inside"] for i in drawn)
    assert not result["forecast"]["below"] and result["exit"] == 0
