"""Whether a replicate repeats a study on the same test set, judged as replication research judges
it: by a rule declared before the run (the committed design), by prediction intervals and by a
forecast that the replicate can confirm or refute (Spence & Stanley 2016; Pawel & Held 2020).

python -m mnist_study.record.replication FIRST SECOND [--repo DIR] [--out FILE] reads two
claims.json files and prints every claim's outcome; exit 1 on a disagreement or on too few
identical verdicts for the forecast, 2 where the two cannot be judged against each other.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import yaml

from mnist_study import StudyError
from mnist_study.atomic import write_json, write_text
from mnist_study.evidence.claims import record_kind
from mnist_study.evidence.effects import t_quantile
from mnist_study.formatting import metric_diff, missing, pct

PREDICTION = 0.95  # the prediction interval's coverage
PERCENTILE = 0.05  # fewer identical verdicts than this quantile of the forecast: exit 1
OUTCOMES = {
    "identical": "the two verdicts are equal",
    "consistent": "the verdicts differ where the committed design forecast that they might "
    "(its F_same below the agreement target); neither says supported where the other says "
    "contradicted, and the replicate's effect lies inside the first run's prediction interval",
    "differs": "the verdicts differ where the design forecast agreement (F_same at or above "
    "the target, or no forecast), with the effect inside the interval: printed, and no "
    "failure by itself",
    "disagrees": "one run says supported where the other says contradicted, or the "
    "replicate's effect lies outside the first run's prediction interval",
}
RULE = (
    "The replicate trains every variant again on disjoint seeds and is scored on the same test "
    "images, checked by the test set's hash. Each claim's outcome is one of: "
    + "; ".join(f"{k}: {v}" for k, v in OUTCOMES.items())
    + f". The {PREDICTION:.0%} prediction interval for the replicate's effect is centred on the "
    "first run's effect and holds both runs' seed components of the standard error, not the "
    "image component the two runs share; its degrees of freedom are Welch-Satterthwaite's on "
    "the two seed components (seeds - 1 each). It is drawn for the effect the verdict reads: "
    "a pair's, a non-inferiority's and a censored time's (runs that never reach the threshold "
    "count at the budget in both runs) difference; a trend's last variant minus its first; a "
    "level's runs minus the level; an interaction's difference of differences; a recovery's "
    "net gain; the images lost beyond the churn; and, for a claim of several comparisons, "
    "every comparison, each inside its own interval. The forecasts, labels and agreement "
    "target are read from the design the first run's claims.json names, as committed in git "
    "before the run. The replication fails on any disagreement, or when fewer verdicts are "
    "identical than the "
    f"{PERCENTILE:.0%} quantile of the forecast count: the Poisson-binomial of the claims' "
    "F_same, which treats the claims as independent although some share runs."
)


class ReplicationError(StudyError, ValueError):
    """Two studies that cannot be judged against each other; the message says why and what to
    run (exit 2)."""


@dataclass(frozen=True)
class Part:
    """One effect that a claim's verdict reads, with its seed component."""

    effect: float
    se_seed: float
    n_seeds: int


@dataclass(frozen=True)
class Interval:
    """The first run's prediction interval for one effect, and where the replicate fell."""

    part: str
    first: float
    second: float
    low: float
    high: float
    df: float

    @property
    def inside(self) -> bool | None:
        """None where there is no interval (fewer than two seeds, or no seed spread)."""
        if missing(self.low) or missing(self.second):
            return None
        return self.low <= self.second <= self.high


def parts(record: Mapping) -> dict[str, Part]:
    """The effects a claim's interval is drawn for: each comparison of a claim of several,
    else the one effect its verdict reads."""
    if record_kind(record) == "each":
        return {f"{c['b']} − {c['a']}": _part(c) for c in record["comparisons"]}
    return {"effect": _part(record)}


def _part(entry: Mapping) -> Part:
    """An effect as claims.json holds it: NaN is written as null there."""

    def number(key):
        value = entry.get(key)
        return math.nan if value is None else float(value)

    return Part(number("effect"), number("se_seed"), int(entry.get("n_seeds") or 0))


def prediction_interval(
    first: Part, second: Part, confidence: float = PREDICTION
) -> tuple[float, float, float]:
    """(low, high, df) for the second run's effect, from the first's and both seed components:
    on the same test images, the image component is common to both and cancels."""
    v1, v2 = first.se_seed**2, second.se_seed**2
    values = (first.effect, v1, v2)
    if min(first.n_seeds, second.n_seeds) < 2 or any(map(math.isnan, values)) or v1 + v2 <= 0:
        return math.nan, math.nan, math.nan
    df = (v1 + v2) ** 2 / (v1**2 / (first.n_seeds - 1) + v2**2 / (second.n_seeds - 1))
    half = t_quantile(0.5 + confidence / 2, df) * math.sqrt(v1 + v2)
    return first.effect - half, first.effect + half, df


def intervals(first: Mapping, second: Mapping) -> list[Interval]:
    """Every part's interval, matched by name (an 'each' claim's comparisons)."""
    theirs = parts(second)
    out = []
    for name, part in parts(first).items():
        other = theirs.get(name, Part(math.nan, math.nan, 0))
        low, high, df = prediction_interval(part, other)
        out.append(Interval(name, part.effect, other.effect, low, high, df))
    return out


def outcome(first: Mapping, second: Mapping, f_same: float | None, agreement: float) -> dict:
    """One claim's outcome (OUTCOMES) with its intervals and the reasons behind it."""
    words = (first["verdict"], second["verdict"])
    drawn = intervals(first, second)
    opposed = set(words) == {"supported", "contradicted"}
    outside = [i.part for i in drawn if i.inside is not True]
    reasons = []
    if opposed:
        reasons.append("supported against contradicted")
    for i in drawn:
        if i.inside is None:
            reasons.append(f"{i.part}: no prediction interval (fewer than two seeds or no spread)")
        elif not i.inside:
            reasons.append(f"{i.part}: the replicate's effect lies outside the interval")
    forecast_agree = f_same is None or f_same >= agreement
    if words[0] == words[1]:
        word = "identical"
    elif opposed or outside:
        word = "disagrees"
    else:
        word = "differs" if forecast_agree else "consistent"
    return {
        "name": first["name"],
        "metric": first["metric"],
        "verdicts": list(words),
        "outcome": word,
        "f_same": f_same,
        "intervals": [asdict(i) | {"inside": i.inside} for i in drawn],
        "reasons": reasons,
    }


def poisson_binomial(probabilities: Sequence[float]) -> np.ndarray:
    """The distribution of how many of independent events happen, each with its probability:
    P(count = k) for k = 0..n."""
    pmf = np.zeros(len(probabilities) + 1)
    pmf[0] = 1.0
    for i, p in enumerate(probabilities):
        pmf[1 : i + 2] = pmf[1 : i + 2] * (1 - p) + pmf[: i + 1] * p
        pmf[0] *= 1 - p
    return pmf


def lower_quantile(pmf: np.ndarray, q: float = PERCENTILE) -> int:
    """The smallest count whose cumulative probability reaches ``q``."""
    return int(np.searchsorted(np.cumsum(pmf), q - 1e-12))


def _git(repo: Path, *args: str) -> bytes | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(repo), *args], capture_output=True, timeout=60, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def committed_design(repo: Path, file: str, sha256: str) -> tuple[dict, str]:
    """The design whose bytes hash to ``sha256``, as some commit of ``repo`` holds it at
    ``file``, and that commit: the forecasts were declared before the run only if so."""
    commits = _git(repo, "log", "--all", "--format=%H", "--", file)
    for commit in (commits or b"").decode().split():
        blob = _git(repo, "show", f"{commit}:{file}")
        if blob is not None and hashlib.sha256(blob).hexdigest() == sha256:
            return yaml.safe_load(blob), commit
    raise ReplicationError(
        f"{file} with sha256 {sha256[:16]}… is in no commit of {repo}: the design the first "
        "study ran was never committed, so its forecasts were not declared before the run; "
        "commit the design (make design), then rerun both studies"
    )


def _alike(records: Sequence[Mapping], value, what: str, where: str):
    """What every record of one claims.json holds alike (its test set, its design)."""
    values = {json.dumps(value(r), sort_keys=True) for r in records}
    if len(values) != 1:
        raise ReplicationError(
            f"{where}: its claims name {len(values)} {what}s, not one; rerun that study"
        )
    return value(records[0])


def _design_of(record: Mapping) -> list:
    design = record.get("design") or {}
    return [design.get("file"), design.get("sha256")]


def check_pair(first: Sequence[Mapping], second: Sequence[Mapping], names: Sequence[str]):
    """The design (file, sha256) both ran, after the checks that make them comparable: both
    scored on one test set, the first at a design, the replicate at the same."""
    pairs = list(zip((first, second), names, strict=True))
    tests = [_alike(r, lambda x: x.get("test_set"), "test set", n) for r, n in pairs]
    if None in tests:
        where = names[tests.index(None)]
        raise ReplicationError(f"{where}: no test-set hash; rerun that study (only the claims)")
    if tests[0] != tests[1]:
        raise ReplicationError(
            f"{names[0]} and {names[1]} are scored on different test sets ({tests[0]} and "
            f"{tests[1]}): that is no replication; `make carry-over` compares two datasets"
        )
    designs = [_alike(r, _design_of, "design", n) for r, n in pairs]
    (file, sha), (_, other) = designs
    if not file or not sha:
        raise ReplicationError(f"{names[0]}: the study read no design; run it at one")
    if other != sha:
        raise ReplicationError(
            f"{names[1]} ran another design ({str(other)[:16]}…) than {names[0]} "
            f"({sha[:16]}…); rerun the replicate at the first study's design"
        )
    return file, sha


def judge(
    first: Sequence[Mapping], second: Sequence[Mapping], repo: Path, names: Sequence[str]
) -> dict:
    """Every claim's outcome against the committed design, the forecast check and the exit
    status (0 passes, 1 fails); raises ReplicationError where the two cannot be judged."""
    file, sha = check_pair(first, second, names)
    design, commit = committed_design(repo, file, sha)
    agreement = float(design["agreement"])
    rows_of = design.get("claims", {})
    theirs = {r["name"]: r for r in second}
    missing = [r["name"] for r in first if r["name"] not in theirs]
    if missing:
        raise ReplicationError(f"{names[1]} lacks the claims {missing}; rerun the replicate")
    claims = []
    for record in first:
        row = rows_of.get(record["name"], {})
        claim = outcome(record, theirs[record["name"]], row.get("f_same"), agreement)
        claim |= {"label": row.get("label", "not designed"), "f_new": row.get("f_new")}
        claims.append(claim)
    forecast = forecast_check(claims)
    failed = any(c["outcome"] == "disagrees" for c in claims) or forecast["below"]
    return {
        "design": {"file": file, "sha256": sha, "commit": commit, "agreement": agreement},
        "test_set": first[0]["test_set"] if first else None,
        "claims": claims,
        "counts": {k: sum(c["outcome"] == k for c in claims) for k in OUTCOMES},
        "forecast": forecast,
        "exit": 1 if failed else 0,
    }


def forecast_check(claims: Sequence[Mapping]) -> dict:
    """The count of identical verdicts against its forecast, over the designed claims."""
    forecast = [c for c in claims if c["f_same"] is not None]
    pmf = poisson_binomial([float(c["f_same"]) for c in forecast])
    observed = sum(c["outcome"] == "identical" for c in forecast)
    quantile = lower_quantile(pmf)
    return {
        "claims": len(forecast),
        "expected": float(sum(c["f_same"] for c in forecast)),
        "quantile": quantile,
        "observed": observed,
        "below": observed < quantile,
    }


def forecast_text(forecast: Mapping) -> str:
    """'forecast 21.7 of 24 identical (5th percentile 19); observed 22'."""
    return (
        f"forecast {forecast['expected']:.1f} of {forecast['claims']} identical "
        f"({PERCENTILE:.0%} quantile {forecast['quantile']}); observed {forecast['observed']}"
    )


def counts_text(counts: Mapping[str, int]) -> str:
    """'20 identical, 3 consistent, 1 differs, 0 disagrees'."""
    return ", ".join(f"{n} {k}" for k, n in counts.items())


def markdown(result: Mapping, names: Sequence[str]) -> str:
    """The outcome table, the counts and the forecast check, as the console and notes show."""
    lines = [
        f"# Replication: {names[1]} against {names[0]}",
        "",
        f"Design {result['design']['file']} (sha256 {result['design']['sha256'][:16]}…, "
        f"committed in {result['design']['commit'][:12]}); agreement target "
        f"{pct(result['design']['agreement'], 0)}.",
        "",
        "| claim | label | F_same | first | replicate | effect: first, replicate "
        f"({PREDICTION:.0%} prediction interval) | outcome |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for c in result["claims"]:
        effects = "; ".join(_interval_text(c["metric"], i) for i in c["intervals"])
        word = c["outcome"] + (f" ({'; '.join(c['reasons'])})" if c["reasons"] else "")
        f_same = "–" if c["f_same"] is None else pct(c["f_same"], 1)
        lines.append(
            f"| {c['name']} | {c['label']} | {f_same} | {c['verdicts'][0]} | "
            f"{c['verdicts'][1]} | {effects} | {word} |"
        )
    counts = counts_text(result["counts"])
    verdict = "passes" if result["exit"] == 0 else "fails"
    return (
        "\n".join(
            [
                *lines,
                "",
                f"{counts}; {forecast_text(result['forecast'])}. The replication {verdict}.",
            ]
        )
        + "\n"
    )


def _interval_text(metric: str, i: Mapping) -> str:
    name = "" if i["part"] == "effect" else f"{i['part']}: "
    band = (
        "no interval"
        if missing(i["low"])
        else f"{metric_diff(metric, i['low'])} to {metric_diff(metric, i['high'])}"
    )
    return f"{name}{metric_diff(metric, i['first'])}, {metric_diff(metric, i['second'])} ({band})"


def _read(path: Path) -> list[dict]:
    if not path.is_file():
        raise ReplicationError(f"{path}: not found; run that study first")
    return json.loads(path.read_text(encoding="utf-8"))


def write_replication(first, second, repo, json_out, md_out) -> None:
    """Rule replication: the outcomes for the report; where the two cannot be judged, the
    reason in their place (the report says it), never a failed job."""
    names = [str(first), str(second)]
    try:
        result = judge(_read(Path(first)), _read(Path(second)), Path(repo), names)
        text = markdown(result, names)
    except ReplicationError as err:
        result, text = {"error": str(err), "exit": 2}, f"# Replication\n\nerror: {err}\n"
    write_json(json_out, result)
    write_text(md_out, text)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mnist_study.record.replication", description=__doc__
    )
    parser.add_argument("first", type=Path, help="the first study's claims.json")
    parser.add_argument("second", type=Path, help="the replicate's claims.json")
    parser.add_argument("--repo", type=Path, default=Path("."), help="the git checkout")
    parser.add_argument("--out", type=Path, default=None, help="also write the Markdown here")
    args = parser.parse_args(argv)
    names = [str(args.first), str(args.second)]
    try:
        result = judge(_read(args.first), _read(args.second), args.repo, names)
    except ReplicationError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    text = markdown(result, names)
    if args.out:
        write_text(args.out, text)
    print(text)
    return result["exit"]


if __name__ == "__main__":
    sys.exit(main())
