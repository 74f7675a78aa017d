"""A finished study's results, loaded once into one object: tables, statistics, claims, errors
and the run records (train.json)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd

from mnist_study.evidence.claims import base_variant, is_best
from mnist_study.evidence.stats import stats_lookup
from mnist_study.record.provenance import benchmark_times, dataset_checksums
from mnist_study.runrecord import read_run_record

# Wording where no dataset is described (a results folder read on its own).
GENERIC = {"name": "", "title": "The", "noun": "image", "classes": [str(c) for c in range(10)]}


@dataclass
class Results:
    """Everything the report shows, from the report rule's inputs and the study's config."""

    variants: dict
    studies: dict
    runs: object  # pandas DataFrame, one row per run
    stats: dict  # {(variant, metric): row of variants.csv}
    pairs: object  # pandas DataFrame of paired tests
    claims: list
    errors: dict
    alpha: float  # family-wise error rate of the claims, and of each study's pairs
    records: dict = field(default_factory=dict)  # {(variant, seed): train.json}
    bench: object = None  # pandas DataFrame of per-rule job times
    dataset: dict = field(default_factory=dict)  # the cache's split sizes and checksums
    # How to speak of the dataset: name, title, noun, class names (config.describe_dataset).
    describe: dict = field(default_factory=dict)
    # A study's gap that moves less than this is flat, where no gap claim of it says (config).
    flat_gap: float | None = None

    @classmethod
    def load(
        cls,
        inputs: Mapping,
        variants: Mapping,
        studies: Mapping,
        alpha: float,
        run_keys=None,
        describe: Mapping | None = None,
        flat_gap: float | None = None,
    ) -> Results:
        info = list(inputs.get("info", []))
        keys = run_keys or [(None, i) for i in range(len(info))]
        return cls(
            variants=dict(variants),
            studies=dict(studies),
            runs=pd.read_csv(inputs["runs"]),
            stats=stats_lookup(pd.read_csv(inputs["stats"])),
            pairs=pd.read_csv(inputs["pairs"]),
            claims=_read_json(inputs["claims"]),
            errors=_read_json(inputs["errors"]),
            alpha=float(alpha),
            records={tuple(k): read_run_record(p) for k, p in zip(keys, info, strict=True)},
            bench=benchmark_times(list(inputs.get("benchmarks", []))),
            dataset=dataset_checksums(inputs["cache"]) if "cache" in inputs else {},
            describe=dict(describe or GENERIC),
            flat_gap=flat_gap,
        )

    def stat(self, variant: str, metric: str, key: str = "mean"):
        row = self.stats.get((variant, metric))
        return None if row is None else row.get(key)

    @property
    def dataset_title(self) -> str:
        return self.describe["title"]

    def label(self, name: str) -> str:
        base = base_variant(name)
        label = (self.variants.get(base) or {}).get("label") or base
        return f"{label} (best epoch)" if is_best(name) else label

    def labels(self, names: Sequence[str]) -> str:
        return ", ".join(self.label(v) for v in names)

    @property
    def seeds(self) -> list[int]:
        return sorted({int(s) for s in self.runs["seed"]}) if len(self.runs) else []

    @property
    def band(self) -> str:
        """How the curves show spread over seeds (words for captions)."""
        return "band: range over seeds" if len(self.seeds) > 1 else "one seed, no band"

    def home_study(self) -> dict[str, str]:
        """Each variant's first study: per-variant figures are shown there once."""
        home: dict[str, str] = {}
        for name, study in self.studies.items():
            for v in study["variants"]:
                home.setdefault(v, name)
        return home


def _read_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)
