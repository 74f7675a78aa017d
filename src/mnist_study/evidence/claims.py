"""What a claim is: a statement, the metric that tests it, the variants compared, the direction.

Checked once from config.yaml at parse time (light imports); mnist_study.evidence.verdicts
judges them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields

from mnist_study.metrics import (
    CLAIM_METRICS,
    HISTORY_METRICS,
    IMAGE_METRICS,
    TABLE_METRICS,
    TIME_TO_METRICS,
)

EXPECTATIONS = ("increase", "decrease", "present", "not_worse")
# Non-inferiority (expect: not_worse) states B - A > -smallest_effect: a metric where larger is
# better, compared as one pair.
NOT_WORSE_METRICS = ("test_acc", "val_acc", "train_acc", "val_acc_at_epoch")
# How a claim is tested beyond one pair: a monotone trend along three variants or more; the
# last variant against each of the others, every comparison holding (an intersection-union
# test); one variant's runs against a fixed level; or, of four variants [A1, B1, A2, B2], the
# difference of differences (B2 - A2) - (B1 - A1) (an interaction).
# Of three variants [A, B, C] (a reference, a change that loses, a remedy), how much of the
# loss the remedy wins back beyond a share of it: (C - B) - share * (A - B) (a recovery).
COMPARES = ("trend", "each", "level", "interaction", "recovery")
# Level and interaction claims read per-run figures over seeds: metrics of the run itself or of
# its own training images (the claim's whole population, so only the seeds vary); a test-set
# metric needs the image-level test the pairwise claims use.
RUN_LEVEL_METRICS = tuple(
    m for m in TABLE_METRICS + HISTORY_METRICS if m not in IMAGE_METRICS or m == "train_acc"
)
# A variant name with this suffix names the variant's best-epoch (lowest validation loss)
# checkpoint, scored on the same images: early stopping's claims compare it with the last.
BEST = "@best"
# The kinds of test a claim gets (Claim.kind): one per compare, non-inferiority, a plain pair.
KINDS = COMPARES + ("not_worse", "pair")
VERDICTS = ("supported", "contradicted", "inconclusive")


def claim_kind(compare: str, expect: str, n_variants: int) -> str:
    """Which test decides a claim (one of KINDS): a stated expectation not_worse, else its
    compare; a trend or an each of two variants is one plain pair."""
    if expect == "not_worse":
        return "not_worse"
    if compare in ("trend", "each") and n_variants <= 2:
        return "pair"
    return compare


def record_kind(entry: Mapping) -> str:
    """The kind of a claim's config entry or verdict record, from what it states (compare,
    expect, variants), never from which result keys it carries."""
    return claim_kind(entry.get("compare", "trend"), entry["expect"], len(entry["variants"]))


@dataclass(frozen=True)
class Claim:
    """One checkable statement (config.yaml ``claims.<name>``)."""

    name: str
    statement: str
    metric: str
    variants: tuple[str, ...]
    expect: str
    smallest_effect: float  # the smallest effect of interest, in the metric's units
    threshold: float | None = None  # validation accuracy to reach (epochs_to_val_acc)
    epoch: int | None = None  # the epoch read (val_acc_at_epoch)
    source: str | None = None  # where the claim comes from
    compare: str = "trend"  # three variants or more: trend, or each (the last against each)
    level: float | None = None  # compare: level, the fixed figure the variant is held against
    # The same claim at fixed learning rates: this one compares each side at its own best lr,
    # and whether the verdict depends on the rate is judged by the difference of the effects.
    fixed_lr_claim: str | None = None
    share: float | None = None  # compare: recovery, the share of the loss the remedy must win
    # The study the claim belongs to where the variants alone do not say (the report groups
    # claims by study; by default, the first study listing all of the claim's variants).
    study: str | None = None

    @classmethod
    def from_dict(cls, name: str, d: Mapping, variants: Iterable[str] | None = None) -> Claim:
        """Check a claim's entry; errors name the key (``claims.<name>.<key>``) and what is
        valid. With ``variants``, the names it compares must be among them."""
        where = f"claims.{name}"
        _check_keys(where, d, [f.name for f in fields(cls) if f.name != "name"])
        metric, expect, compare = _check_choices(where, d)
        compared = d["variants"]
        _check_variants(where, compared, compare, metric, variants)
        _check_compare(where, compare, compared, metric, d.get("level"))
        _check_recovery(where, compare, compared, metric, d.get("share"))
        _check_pairing(where, d, compare, metric, expect)
        _check_figures(where, d, metric)
        _check_links(where, d)
        return cls(
            name=name,
            statement=d["statement"],
            metric=metric,
            variants=tuple(compared),
            expect=expect,
            smallest_effect=float(d["smallest_effect"]),
            threshold=d.get("threshold"),
            epoch=d.get("epoch"),
            source=d.get("source"),
            compare=compare,
            level=None if d.get("level") is None else float(d["level"]),
            fixed_lr_claim=d.get("fixed_lr_claim"),
            share=None if d.get("share") is None else float(d["share"]),
            study=d.get("study"),
        )

    @property
    def direction(self) -> int:
        """+1 where the claim expects the metric to rise along its variants (or, not_worse,
        not to fall by the margin), -1 to fall."""
        return -1 if self.expect == "decrease" else 1

    @property
    def kind(self) -> str:
        """Which test decides the claim (one of KINDS); see claim_kind."""
        return claim_kind(self.compare, self.expect, len(self.variants))

    @property
    def is_trend(self) -> bool:
        return self.kind == "trend"

    @property
    def is_each(self) -> bool:
        return self.kind == "each"

    @property
    def is_not_worse(self) -> bool:
        return self.expect == "not_worse"

    @property
    def is_level(self) -> bool:
        return self.kind == "level"

    @property
    def is_interaction(self) -> bool:
        return self.kind == "interaction"

    @property
    def is_recovery(self) -> bool:
        return self.kind == "recovery"

    @property
    def comparisons(self) -> list[tuple[str, str]]:
        """The (A, B) pairs whose effects B - A decide the claim (a trend: first and last)."""
        if self.is_each:
            return [(a, self.variants[-1]) for a in self.variants[:-1]]
        return [(self.variants[0], self.variants[-1])]

    def header(self) -> dict:
        """The claim as its verdict record starts: the keys every result repeats."""
        head = {
            "name": self.name,
            "statement": self.statement,
            "metric": self.metric,
            "variants": list(self.variants),
            "expect": self.expect,
            "smallest_effect": self.smallest_effect,
        }
        optional = {
            "threshold": self.threshold,
            "epoch": self.epoch,
            "source": self.source,
            "level": self.level,
            "fixed_lr_claim": self.fixed_lr_claim,
            "share": self.share,
            "study": self.study,
        }
        if self.is_each or self.is_level or self.is_interaction or self.is_recovery:
            optional["compare"] = self.compare
        return head | {k: v for k, v in optional.items() if v is not None}


def _check_keys(where: str, d, names: list[str]) -> None:
    """A mapping of known keys, the required ones all present, with a statement."""
    if not isinstance(d, Mapping):
        raise ValueError(f"{where}: {d!r}; must be a mapping")
    unknown = sorted(set(d) - set(names))
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown}; valid: {names}")
    for key in ("statement", "metric", "variants", "expect", "smallest_effect"):
        if key not in d:
            raise ValueError(f"{where}: missing key {key!r}")
    if not isinstance(d["statement"], str) or not d["statement"].strip():
        raise ValueError(f"{where}.statement: {d['statement']!r}; must be a sentence")


def _check_choices(where: str, d: Mapping) -> tuple[str, str, str]:
    """The metric, the expectation and the comparison, each one of its valid names."""
    metric, expect = d["metric"], d["expect"]
    if metric not in CLAIM_METRICS:
        raise ValueError(f"{where}.metric: {metric!r}; valid: {list(CLAIM_METRICS)}")
    if expect not in EXPECTATIONS:
        raise ValueError(f"{where}.expect: {expect!r}; valid: {list(EXPECTATIONS)}")
    compare = d.get("compare", "trend")
    if compare not in COMPARES:
        raise ValueError(f"{where}.compare: {compare!r}; valid: {list(COMPARES)}")
    return metric, expect, compare


def _check_variants(where: str, compared, compare: str, metric: str, variants) -> None:
    """Distinct names, enough for the comparison, each a known variant; a best-epoch
    checkpoint only on a test-set metric."""
    fewest = 1 if compare == "level" else 2
    if (
        not isinstance(compared, list | tuple)
        or len(compared) < fewest
        or len(set(compared)) != len(compared)
    ):
        raise ValueError(
            f"{where}.variants: {compared!r}; give at least "
            + ("one variant name" if fewest == 1 else "two distinct variant names")
        )
    if variants is not None:
        valid = list(variants)
        unknown = [v for v in compared if base_variant(v) not in valid]
        if unknown:
            raise ValueError(
                f"{where}.variants names {unknown}, which are not variants; valid: {valid}, "
                f"each also with {BEST!r} for its best-epoch checkpoint"
            )
    best = [v for v in compared if is_best(v)]
    if best and metric not in IMAGE_METRICS:
        raise ValueError(
            f"{where}.variants names best-epoch checkpoints {best}; they have test-set "
            f"figures only, so the metric must be one of {list(IMAGE_METRICS)}, not {metric!r}"
        )


def _check_pairing(where: str, d: Mapping, compare: str, metric: str, expect: str) -> None:
    """Which comparisons, metrics and expectations go together: 'each' on a test-set metric,
    'disagreements' with 'present' on two variants, 'not_worse' on one plain pair."""
    compared = d["variants"]
    if compare == "each" and (len(compared) < 3 or metric not in IMAGE_METRICS):
        raise ValueError(
            f"{where}.compare: 'each' tests the last variant against each of at least two "
            f"others, on a metric of {list(IMAGE_METRICS)}; got {len(compared)} variants "
            f"and metric {metric!r}"
        )
    if (metric == "disagreements") != (expect == "present"):
        raise ValueError(
            f"{where}: metric 'disagreements' goes with expect 'present' and only with it; "
            f"got metric {metric!r}, expect {expect!r}"
        )
    if expect == "not_worse" and (
        metric not in NOT_WORSE_METRICS or len(compared) != 2 or "compare" in d
    ):
        raise ValueError(
            f"{where}: expect 'not_worse' (B - A > -smallest_effect, one-sided) compares two "
            f"variants on a metric where larger is better, one of {list(NOT_WORSE_METRICS)}, "
            f"with no `compare`; got metric {metric!r}, {len(compared)} variants"
            + (f", compare {d['compare']!r}" if "compare" in d else "")
        )
    if metric == "disagreements" and len(compared) != 2:
        raise ValueError(f"{where}.variants: 'disagreements' compares exactly two variants")


def _check_figures(where: str, d: Mapping, metric: str) -> None:
    """The numbers the metric needs: a threshold, an epoch, and always a smallest effect."""
    threshold = d.get("threshold")
    if metric in TIME_TO_METRICS and not (_is_number(threshold) and 0 < threshold <= 1):
        raise ValueError(f"{where}.threshold: {threshold!r}; need a number in (0, 1]")
    epoch = d.get("epoch")
    if metric == "val_acc_at_epoch" and not (_is_int(epoch) and epoch >= 1):
        raise ValueError(f"{where}.epoch: {epoch!r}; need an integer >= 1")
    sesoi = d["smallest_effect"]
    if not (_is_number(sesoi) and sesoi > 0):
        raise ValueError(
            f"{where}.smallest_effect: {sesoi!r}; need a positive number in the units of {metric!r}"
        )


def _check_links(where: str, d: Mapping) -> None:
    """The names a claim points to: its study, and its twin at fixed learning rates."""
    study = d.get("study")
    if study is not None and not isinstance(study, str):
        raise ValueError(f"{where}.study: {study!r}; must name a study (studies.<name>)")
    twin = d.get("fixed_lr_claim")
    compared = d["variants"]
    if twin is not None and (not isinstance(twin, str) or len(compared) != 2 or "compare" in d):
        raise ValueError(
            f"{where}.fixed_lr_claim: {twin!r}; names another claim (of two variants, no "
            f"`compare`), the same comparison at fixed learning rates"
        )


def _check_compare(where: str, compare: str, compared, metric: str, level) -> None:
    """A level claim names one variant and a level; an interaction four variants; both read
    per-run figures (RUN_LEVEL_METRICS)."""
    if (compare == "level") != (level is not None):
        raise ValueError(
            f"{where}: `level` goes with compare 'level' and only with it; got compare "
            f"{compare!r}, level {level!r}"
        )
    if compare == "level" and (not _is_number(level) or len(compared) != 1):
        raise ValueError(
            f"{where}: compare 'level' holds one variant against a number `level`; got "
            f"variants {list(compared)}, level {level!r}"
        )
    if compare == "interaction" and len(compared) != 4:
        raise ValueError(
            f"{where}.variants: compare 'interaction' takes four variants [A1, B1, A2, B2] "
            f"(effect (B2 - A2) - (B1 - A1)); got {len(compared)}"
        )
    if compare in ("level", "interaction") and metric not in RUN_LEVEL_METRICS:
        raise ValueError(
            f"{where}.metric: {metric!r}; compare {compare!r} reads per-run figures over seeds: "
            f"one of {list(RUN_LEVEL_METRICS)}"
        )


def _check_recovery(where: str, compare: str, compared, metric: str, share) -> None:
    """A recovery names three variants [A, B, C] and the share of A - B that C must win back."""
    if (compare == "recovery") != (share is not None):
        raise ValueError(
            f"{where}: `share` goes with compare 'recovery' and only with it; got compare "
            f"{compare!r}, share {share!r}"
        )
    if compare != "recovery":
        return
    if not (_is_number(share) and 0 < share <= 1) or len(compared) != 3:
        raise ValueError(
            f"{where}: compare 'recovery' takes three variants [A, B, C] (effect (C - B) - "
            f"share x (A - B)) and a share in (0, 1]; got {len(compared)} variants, share "
            f"{share!r}"
        )
    if metric == "disagreements":
        raise ValueError(f"{where}.metric: compare 'recovery' needs a metric of one run")


def is_best(name: str) -> bool:
    """Whether a claim's variant name names a best-epoch checkpoint (``v@best``)."""
    return str(name).endswith(BEST)


def base_variant(name: str) -> str:
    """The variant a claim's name refers to: ``v`` for ``v@best``."""
    name = str(name)
    return name[: -len(BEST)] if is_best(name) else name


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)
