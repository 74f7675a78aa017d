"""The report's Design section: the committed design's claims and variants tables, its totals,
the forecast wall time on this machine, the claims it does not cover, and the replication."""

from __future__ import annotations

from collections.abc import Mapping

from mnist_study.evidence.allocation import BOUNDED
from mnist_study.evidence.design import DEFAULT_RATIO, METHOD
from mnist_study.formatting import missing, pct
from mnist_study.record.replication import RULE, counts_text, forecast_text


def _share(x) -> str:
    return pct(x, 1)


def _claim_rows(design: Mapping) -> list[dict]:
    rows = []
    for name, row in design.get("claims", {}).items():
        needed = row.get("seeds_needed")
        reach = row.get("tflop_to_reach")
        rows.append(
            {
                "name": name,
                "label": row["label"],
                "likeliest": f"{row['likeliest']} ({_share(row.get('likeliest_share'))})",
                "needed": "beyond the grid" if needed is None else str(needed),
                "given": row["seeds_given"],
                "at_pilot": f"{_share(row['f_same'])} / {_share(row['f_new'])}",
                "at_smallest": (
                    f"{_share(row['f_same_at_smallest'])} / {_share(row['f_new_at_smallest'])}"
                ),
                "tflop": f"{row['tflop']:.1f}" if "tflop" in row else "–",
                "reach": "" if reach is None else f"{reach:.1f}",
            }
        )
    return rows


def _variant_rows(design: Mapping) -> tuple[list[dict], float]:
    per_run = {v: e["tflop_per_run"] for v, e in design.get("variants", {}).items()}
    rows, total = [], 0.0
    for v, seeds in design.get("seeds", {}).items():
        tflop = seeds["n"] * per_run[v] if v in per_run else None
        total += tflop or 0.0
        rows.append(
            {
                "name": v,
                "seeds": seeds["n"],
                "source": seeds["source"],
                "tflop": "–" if tflop is None else f"{tflop:.1f}",
            }
        )
    return rows, total


def _totals(totals: Mapping) -> dict:
    """The design's budget, agreement and how far its claims reach, in words."""
    budget, agreement = totals.get("budget_tflop"), totals.get("agreement")
    reached, lowest = totals.get("reached"), totals.get("lowest_f_same")
    return {
        "budget": "–" if budget is None else f"{budget:g}",
        "agreement": _share(agreement),
        "reached": (
            None
            if reached is None or lowest is None
            else f"{reached} of the design's claims reach the agreement; the lowest F_same is "
            f"{_share(lowest)}."
        ),
    }


def design_section(design: Mapping | None, efficiency: Mapping) -> dict | None:
    """The section, or None where the study reads no design at all (make quick, the pilot)."""
    if not design or not design.get("seeds"):
        return None
    sources = {s["source"] for s in design["seeds"].values()}
    if sources == {"all seeds"}:
        return None
    variants, tflop = _variant_rows(design)
    measured = not efficiency.get("partial") and not missing(efficiency.get("ratio"))
    ratio = efficiency["ratio"] if measured else DEFAULT_RATIO
    matmul = efficiency.get("matmul_flops_per_s")
    wall = None if missing(matmul) or not matmul else tflop * 1e12 / matmul * ratio / 60
    return {
        "file": design.get("file"),
        "sha256": (design.get("sha256") or "")[:16],
        **_totals(design.get("totals", {})),
        "method": METHOD,
        "claims": _claim_rows(design),
        "variants": variants,
        "tflop": f"{tflop:.1f}",
        "wall": None if wall is None else f"{wall:.0f} min",
        "ratio": (
            "the ratio of wall time to it that this study measured"
            if measured
            else f"{DEFAULT_RATIO:g}, the ratio assumed where no study measured one"
        ),
        "undesigned": design.get("undesigned", []),
    }


def replication_section(replication: Mapping | None) -> dict | None:
    """The replicate judged against this study (mnist_study.record.replication): the rule, the
    counts and the forecast check, or why the two could not be judged; None before a replicate."""
    if not replication:
        return None
    if "error" in replication:
        return {"rule": RULE, "error": replication["error"]}
    return {
        "rule": RULE,
        "error": None,
        "design": replication["design"],
        "summary": f"{counts_text(replication['counts'])}; "
        f"{forecast_text(replication['forecast'])}.",
        "passes": replication["exit"] == 0,
    }


def claim_design(record: Mapping, outcome: Mapping | None) -> dict:
    """What the claims table shows of one claim's design: its label and F_same, a sentence where
    its test set bounds it, and the replicate's verdict and outcome once there is one."""
    row = (record.get("design") or {}).get("forecast") or {}
    label, f_new = row.get("label"), row.get("f_new")
    bounded = label is not None and BOUNDED in label and not missing(f_new)
    return {
        "label": label,
        "f_same": None if missing(row.get("f_same")) else _share(row["f_same"]),
        "f_new": None if missing(f_new) else _share(f_new),
        "bounded": (
            f"The test set bounds this claim: on a fresh test set of the same size, even with "
            f"unlimited seeds, the verdict would repeat only {_share(f_new)} of the time (F_new)."
            if bounded
            else None
        ),
        "replicate": outcome["verdicts"][1] if outcome else None,
        "outcome": outcome["outcome"] if outcome else None,
    }
