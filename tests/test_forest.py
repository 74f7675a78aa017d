"""The forest plot of the claims: intervals that agree with the Holm-adjusted verdicts, rows
grouped by study, one identifiable mark per claim."""

from __future__ import annotations

import re

import pytest
from scipy import stats

from mnist_study.evidence.effects import holm
from mnist_study.evidence.stats import CONFIDENCE
from mnist_study.report.plots import forest

ALPHA = 0.05
STUDIES = {
    "width": {"title": "Width", "variants": ["a", "b", "c"]},
    "reg": {"title": "Regularization", "variants": ["c", "d"]},
}


def claim(name, effect, se, df, p, p_holm, verdict, expect="increase", **extra) -> dict:
    t = stats.t.ppf(1 - (1 - CONFIDENCE) / 2, df)
    return {
        "name": name,
        "statement": f"Claim {name}.",
        "variants": extra.pop("variants", ["a", "b"]),
        "expect": expect,
        "smallest_effect": extra.pop("smallest_effect", 0.01),
        "effect": effect,
        "effect_ci": [effect - t * se, effect + t * se],
        "df": df,
        "p_value": p,
        "p_holm": p_holm,
        "p_equivalence": extra.pop("p_equivalence", 1.0),
        "p_equivalence_holm": extra.pop("p_equivalence_holm", 1.0),
        "verdict": verdict,
        **extra,
    }


def family(effects_and_se, df=30.0):
    """Claims of a whole family: two-sided p from t, adjusted by Holm over them together."""
    raw = [2 * stats.t.sf(abs(e / s), df) for e, s in effects_and_se]
    adjusted = holm(raw)
    claims = []
    for i, ((e, s), p, q) in enumerate(zip(effects_and_se, raw, adjusted, strict=True)):
        verdict = "supported" if q < ALPHA and e > 0 else "contradicted" if q < ALPHA else "x"
        claims.append(claim(f"c{i}", e, s, df, p, q, verdict))
    return claims


@pytest.mark.parametrize("seed", range(5))
def test_an_interval_excludes_zero_exactly_when_holm_rejects(seed):
    import numpy as np

    rng = np.random.default_rng(seed)
    effects = [(float(rng.normal(0, 0.03)), float(rng.uniform(0.005, 0.02))) for _ in range(12)]
    for c in family(effects):
        low, high, level, test = forest.holm_interval(c, ALPHA)
        assert test == "difference"
        assert (low > 0 or high < 0) == (c["p_holm"] < ALPHA), c
        # Never narrower than the unadjusted interval.
        assert high - low >= c["effect_ci"][1] - c["effect_ci"][0] - 1e-12
        assert level >= CONFIDENCE


def test_a_claim_shown_equivalent_gets_the_equivalence_interval_inside_the_band():
    se, df, margin = 0.002, 40.0, 0.01
    # TOST p: the larger of the two one-sided p-values at ±margin.
    p_eq = max(stats.t.sf((0.001 + margin) / se, df), stats.t.sf((margin - 0.001) / se, df))
    c = claim(
        "eq",
        0.001,
        se,
        df,
        0.6,
        1.0,
        "contradicted",
        p_equivalence=p_eq,
        p_equivalence_holm=min(1.0, 10 * p_eq),
    )
    low, high, level, test = forest.holm_interval(c, ALPHA)
    assert test == "equivalence"
    assert -margin < low < high < margin
    assert level == pytest.approx(1 - 2 * ALPHA / 10)


def test_a_claim_without_spread_has_no_interval():
    c = claim("flat", 0.01, 0.0, 15, 0.0, 0.0, "supported")
    c["effect_ci"] = [None, None]
    assert forest.holm_interval(c, ALPHA) is None


def test_rows_point_the_expected_direction_right_in_units_of_the_smallest_effect():
    rise = claim("rise", 0.02, 0.004, 30, 1e-5, 1e-4, "supported", smallest_effect=0.01)
    fall = claim(
        "fall", -0.03, 0.004, 30, 1e-8, 1e-7, "supported", expect="decrease", smallest_effect=0.01
    )
    rows = {r.name: r for r in forest.forest_rows([rise, fall], STUDIES, ALPHA)}
    assert rows["rise"].effect == pytest.approx(2.0)
    assert rows["fall"].effect == pytest.approx(3.0)
    assert rows["fall"].low < 3.0 < rows["fall"].high and rows["fall"].low > 0


def test_claims_are_grouped_by_study_in_the_studies_order():
    claims = [
        claim("late", 0.02, 0.004, 30, 1e-5, 1e-4, "supported", variants=["c", "d"]),
        claim("early", 0.02, 0.004, 30, 1e-5, 1e-4, "supported", variants=["a", "c"]),
        claim("own", 0.02, 0.004, 30, 1e-5, 1e-4, "supported", variants=["c", "c@best"]),
        claim(
            "told", 0.02, 0.004, 30, 1e-5, 1e-4, "supported", variants=["c", "c@best"], study="reg"
        ),
        claim("none", 0.02, 0.004, 30, 1e-5, 1e-4, "supported", variants=["a", "z"]),
    ]
    rows = forest.forest_rows(claims, STUDIES, ALPHA)
    assert [(r.name, r.group) for r in rows] == [
        ("early", "Width"),
        ("own", "Width"),  # the first study holding c
        ("late", "Regularization"),
        ("told", "Regularization"),  # its study key decides
        ("none", forest.OTHER),
    ]


def test_the_svg_has_one_mark_per_claim_and_no_metadata(tmp_path):
    import json

    claims = family([(0.03, 0.005), (-0.001, 0.004), (0.01, 0.02)])
    claims[0]["verdict"], claims[1]["verdict"], claims[2]["verdict"] = (
        "supported",
        "contradicted",
        "inconclusive",
    )
    path = tmp_path / "claims.json"
    path.write_text(json.dumps(claims))
    out = tmp_path / "forest.svg"
    forest.plot_forest(path, {"s": {"title": "S", "variants": ["a", "b"]}}, ALPHA, out)
    text = out.read_text()
    assert text.startswith("<svg") and 'role="img"' in text
    assert sorted(re.findall(r'id="forest-mark-([^"]+)"', text)) == ["c0", "c1", "c2"]
    assert "<metadata" not in text and "<?xml" not in text


def test_a_claim_without_an_estimate_keeps_its_row_and_says_so(tmp_path):
    import json

    claims = family([(0.03, 0.005), (0.01, 0.02)])
    # One seed a side, as in make quick: the runs give no effect and no interval.
    claims[1].update(effect=None, effect_ci=[None, None], df=None, verdict="inconclusive")
    rows = forest.forest_rows(claims, {"s": {"title": "S", "variants": ["a", "b"]}}, ALPHA)
    assert [r.effect is None for r in rows] == [False, True]
    assert rows[1].low is None and rows[1].high is None
    path = tmp_path / "claims.json"
    path.write_text(json.dumps(claims))
    out = tmp_path / "forest.svg"
    forest.plot_forest(path, {"s": {"title": "S", "variants": ["a", "b"]}}, ALPHA, out)
    text = out.read_text()
    assert re.findall(r'id="forest-mark-([^"]+)"', text) == ["c0"]
    assert "no estimate" in text and "Claim c1." in text
