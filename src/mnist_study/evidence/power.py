"""The design's seed counts: for every claim, how many seeds find its smallest effect of
interest with the configured power, from the spreads a pilot study measured.

Run on a finished pilot (make pilot):
python -m mnist_study.evidence.power <pilot folder> [config ...]
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import chi2

from mnist_study.evidence.claims import Claim, base_variant
from mnist_study.evidence.effects import POWER, jonckheere, seeds_needed
from mnist_study.evidence.stats import load_all_correct
from mnist_study.evidence.verdicts import Evidence, names_best
from mnist_study.settings import load_study_config, resolve_dataset

SIMULATIONS = 400  # per candidate seed count, for trend claims
MAX_SEEDS = 50  # the most seeds a variant is planned with; more is reported as '> 50'


def design_alpha(alpha: float, n_claims: int) -> float:
    """The level each claim is planned at: Holm compares the most significant of the claims'
    primary hypotheses at alpha over their number, so planning there is safe for every one."""
    return alpha / max(n_claims, 1)


def _trend_power(means, sd: float, seeds: int, direction: int, alpha: float, rng) -> float:
    """Share of simulated studies in which Jonckheere-Terpstra finds the stated trend."""
    found = 0
    for _ in range(SIMULATIONS):
        _, p_rise = jonckheere([rng.normal(m, sd, seeds) for m in means])
        p_dir = p_rise if direction > 0 else 1 - p_rise
        found += 2 * min(p_dir, 1 - p_dir) < alpha and p_dir < 0.5
    return found / SIMULATIONS


def trend_seeds(
    claim: Claim, ev: Evidence, alpha: float, rng, power: float = POWER
) -> tuple[int | None, float, float]:
    """Seeds per variant at which Jonckheere-Terpstra finds a linear trend of the smallest
    effect of interest (end to end) with ``power``, for the per-run spread of the pilot (its
    80% upper bound). Returns (seeds, that spread, the power those seeds have against the
    pilot's own means): a shape that is not monotone leaves a monotone test little power."""
    groups = ev.groups(claim)
    df = sum(len(g) - 1 for g in groups)
    pooled = math.sqrt(sum(float(np.var(g, ddof=1)) * (len(g) - 1) for g in groups) / df)
    sd = pooled * math.sqrt(df / float(chi2.ppf(0.2, df)))
    steps = np.linspace(0.0, claim.smallest_effect, len(groups)) * claim.direction
    for seeds in range(2, MAX_SEEDS + 1):
        if _trend_power(steps, sd, seeds, claim.direction, alpha, rng) >= power:
            means = [float(np.mean(g)) for g in groups]
            return seeds, sd, _trend_power(means, sd, seeds, claim.direction, alpha, rng)
    return None, sd, math.nan


def plan(
    claims: Mapping, ev: Evidence, alpha: float, power: float = POWER, family: int | None = None
) -> list[dict]:
    """One row per claim: the pilot's effect and spreads, and the seeds the design needs. A
    claim of several comparisons (compare: each) needs the seeds of its hardest one, and its
    row shows that comparison (the most seeds; among equals, the smallest pilot effect)."""
    rng = np.random.default_rng(0)
    # The study tests every configured claim in one Holm family, even where a pilot ran only
    # some studies: plan at alpha over the whole family (``family`` claims).
    level = design_alpha(alpha, family or len(claims))
    rows = []
    for name, entry in claims.items():
        claim = Claim.from_dict(name, entry)
        candidates = []
        for _, _, effect in ev.comparison_effects(claim):
            # The claim's own effect: a contrast over several variants on one test set was
            # summed per image before its components were taken, so se_image is the contrast's.
            seed_sd = effect.se_seed * math.sqrt(effect.n_seeds)

            def need(margin, effect=effect, seed_sd=seed_sd):
                return seeds_needed(
                    seed_sd, effect.se_image, margin, effect.n_seeds, level, power, MAX_SEEDS
                )

            # The seeds for the smallest effect of interest, and for the pilot's own effect:
            # the second says whether two studies of this size are likely to agree.
            at_pilot = need(abs(effect.estimate)) if effect.estimate * claim.direction > 0 else None
            candidates.append((effect, seed_sd, need(claim.smallest_effect), at_pilot))
        # The hardest comparison (most seeds, then the smallest effect) stands for the claim.
        effect, seed_sd, _, at_pilot = max(
            candidates,
            key=lambda c: (math.inf if c[2] is None else c[2], -c[0].estimate * claim.direction),
        )
        row = {
            "claim": name,
            "smallest_effect": claim.smallest_effect,
            "pilot_effect": effect.estimate,
            "pilot_seeds": effect.n_seeds,
            "seed_sd": seed_sd,
            "se_image": effect.se_image,
        }
        if claim.is_trend:
            row["seeds"], row["run_sd"], row["power_at_pilot"] = trend_seeds(
                claim, ev, level, rng, power
            )
            row["test"] = "Jonckheere-Terpstra (simulated)"
        else:
            needs = [c[2] for c in candidates]
            row["seeds"] = None if None in needs else max(needs)
            row["seeds_at_pilot"] = at_pilot
            row["test"] = "t on seeds x images"
        rows.append(row)
    return rows


def seeds_per_variant(rows: list[dict], claims: Mapping) -> dict[str, int | None]:
    """Each variant's seeds: the most any claim on it needs (None: more than MAX_SEEDS)."""
    need: dict[str, int | None] = {}
    for row in rows:
        for variant in map(base_variant, claims[row["claim"]]["variants"]):
            have = need.get(variant, 0)
            need[variant] = (
                None if have is None or row["seeds"] is None else max(have, row["seeds"])
            )
    return need


def markdown(rows: list[dict], alpha: float, n_claims: int, power: float = POWER) -> str:
    lines = [
        f"Planned at alpha {design_alpha(alpha, n_claims):.4f} (= {alpha:g} / {n_claims} "
        f"claims), power {power:.0%}, with the pilot spreads' 80% upper bounds.",
        "",
        "| claim | smallest effect | pilot effect | pilot seeds | seed sd | image se | seeds "
        "| seeds for the pilot's effect | trend power at the pilot's means |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        at_pilot = r.get("power_at_pilot")
        lines.append(
            f"| {r['claim']} | {r['smallest_effect']:.4g} | {r['pilot_effect']:+.4g} | "
            f"{r['pilot_seeds']} | {r['seed_sd']:.3g} | {r['se_image']:.3g} | "
            f"{_seeds(r['seeds'])} | "
            f"{_seeds(r['seeds_at_pilot']) if 'seeds_at_pilot' in r else ''} | "
            f"{'' if at_pilot is None or math.isnan(at_pilot) else f'{at_pilot:.0%}'} |"
        )
    return "\n".join(lines) + "\n"


def _seeds(n: int | None) -> str:
    return str(n) if n is not None else f"> {MAX_SEEDS}"


def read_pilot(folder: Path, config: Mapping) -> tuple[Evidence, dict]:
    """A finished pilot's evidence, and the configured claims (their config entries) whose
    variants it ran."""
    runs = pd.read_csv(folder / "results/tables/runs.csv")
    keys = [(r.variant, int(r.seed)) for r in runs.itertuples()]
    run_dir = folder / "results/runs"
    histories = {(v, s): pd.read_csv(run_dir / v / f"seed{s}/history.csv") for v, s in keys}
    claims = {
        n: c
        for n, c in config["claims"].items()
        if set(map(base_variant, c["variants"])) <= set(runs["variant"])
    }
    paths = [run_dir / v / f"seed{s}/predictions.npz" for v, s in keys]
    correct = load_all_correct(keys, paths, names_best(claims))
    return Evidence(runs, histories, correct), claims


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    folder = Path(argv[0])
    config = load_study_config(argv[1:] or [folder / "config.yaml"])
    config.setdefault("data", {}).setdefault("dataset", "mnist")
    config.setdefault("power", POWER)
    resolve_dataset(config)  # per-dataset thresholds: the pilot's dataset's
    evidence, claims = read_pilot(folder, config)
    family = len(config["claims"])
    rows = plan(claims, evidence, config["alpha"], config["power"], family)
    print(markdown(rows, config["alpha"], family, config["power"]))
    for variant, seeds in seeds_per_variant(rows, claims).items():
        print(f"{variant}: {seeds if seeds is not None else f'more than {MAX_SEEDS}'} seeds")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
