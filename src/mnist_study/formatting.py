"""How numbers are written in the report and the claims: percentages, p-values, durations.

One function per kind of number, so the same value reads the same everywhere.
"""

from __future__ import annotations

import math

from mnist_study.metrics import FRACTION_METRICS

DASH = "–"  # a value that does not exist (one seed, no spread)


def missing(x) -> bool:
    """None or NaN (of any float type)."""
    if x is None:
        return True
    try:
        return math.isnan(x)
    except TypeError:
        return False


def pct(x, digits: int = 2) -> str:
    return DASH if missing(x) else f"{100 * x:.{digits}f}%"


def pp(x, digits: int = 2) -> str:
    return DASH if missing(x) else f"{100 * x:+.{digits}f} pp"


def pm_pct(mean, std, digits: int = 2) -> str:
    if missing(mean):
        return DASH
    if missing(std):
        return pct(mean, digits)
    return f"{100 * mean:.{digits}f} ± {100 * std:.{digits}f}%"


def num(x, digits: int = 3) -> str:
    if missing(x):
        return DASH
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.{digits}g}"


def pval(p, absent: str = DASH) -> str:
    if missing(p):
        return absent
    return f"{p:.2g}" if p >= 1e-4 else f"{p:.1e}"


def seconds(s) -> str:
    if missing(s):
        return DASH
    if s >= 3600:
        return f"{s / 3600:.1f} h"
    if s >= 60:
        return f"{s / 60:.1f} min"
    return f"{s:.1f} s" if s >= 10 else f"{s:.2g} s"


def metric_size(metric: str, value, absent: str = "n/a") -> str:
    """The size of an effect (no sign): percentage points for fractions."""
    if missing(value):
        return absent
    return f"{100 * value:.2f} pp" if metric in FRACTION_METRICS else f"{value:.3g}"


def metric_value(metric: str, value, absent: str = "n/a") -> str:
    """A level of a metric (no sign): a percentage for fractions."""
    if missing(value):
        return absent
    return f"{100 * value:g}%" if metric in FRACTION_METRICS else f"{value:g}"


def metric_diff(metric: str, value, absent: str = "n/a") -> str:
    if missing(value):
        return absent
    if metric in FRACTION_METRICS:
        return f"{100 * value:+.2f} pp"
    return f"{value:+.3g}"
