"""The report's prose about a study: what its models are, and the sentences that say what
its results show (range, gap, pairs, peak, time), from the loaded Results."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from mnist_study.evidence.verdicts import shape
from mnist_study.formatting import missing, pct, pp, pval, seconds
from mnist_study.report.page.gap import flat_gap, reason_sentence
from mnist_study.report.page.results import Results

# ----------------------------------------------------------------------------- text


def nouns(r: Results) -> str:
    """What the images show, in the plural, for headings and alt texts ('digits')."""
    return f"{r.describe['noun']}s"


def seed_reference(r: Results, variant: str) -> float | None:
    """The seed notebook's test accuracy (%) for a variant on this study's dataset, if any:
    references are MNIST figures and never stand beside another dataset's rows."""
    return (r.variants[variant].get("seed_reference") or {}).get(r.describe["name"])


def named_classes(r: Results, rows: Sequence[Mapping]) -> list[dict]:
    """Rows with labels ('true', 'pred') shown by their class names."""
    names = r.describe["classes"]
    return [{**row, "true": names[row["true"]], "pred": names[row["pred"]]} for row in rows]


def describe_model(spec: Mapping) -> str:
    kind = spec.get("kind", "?")
    if kind == "linear":
        return "softmax regression"
    if kind == "mlp":
        hidden = spec.get("hidden") or []
        text = "784-" + "-".join(str(h) for h in hidden) + "-10" if hidden else "784-10"
        extras = [spec.get("activation", "relu")]
        if spec.get("dropout"):
            extras.append(f"dropout {spec['dropout']:g}")
        if spec.get("input_dropout"):
            extras.append(f"input dropout {spec['input_dropout']:g}")
        return f"MLP {text}, " + ", ".join(extras)
    if kind == "cnn":
        channels = "-".join(str(c) for c in spec.get("channels", []))
        return f"CNN, channels {channels}, kernel {spec.get('kernel_size', '?')}"
    return kind


def study_pairs(r: Results, name: str):
    """The study's rows of the paired tests (pairs.csv); an empty table as it is."""
    return r.pairs[r.pairs["study"] == name] if len(r.pairs) else r.pairs


def _range_sentence(r: Results, study: Mapping) -> str | None:
    members = study["variants"]
    values = dict(zip(members, study["factor"]["values"], strict=True))
    known = {v: a for v in members if not missing(a := r.stat(v, "test_acc"))}
    if not known:
        return None
    best, worst = max(known, key=known.get), min(known, key=known.get)
    factor = study["factor"]["label"].lower()

    def who(v):
        # Categorical factor values mostly repeat the label; numbers add information.
        value = values[v]
        numeric = isinstance(value, int | float) and not isinstance(value, bool)
        return f"{r.label(v)}, {factor} {value}" if numeric else r.label(v)

    return (
        f"Test accuracy ranges from {pct(known[worst])} ({who(worst)}) to {pct(known[best])} "
        f"({who(best)})."
    )


def _gap_sentence(r: Results, study: Mapping) -> str | None:
    members = study["variants"]
    gaps = [r.stat(v, "gap") for v in members]
    first, last = r.label(members[0]), r.label(members[-1])
    if len(members) > 2 and not any(missing(g) for g in gaps):
        values = [str(v) for v in study["factor"]["values"]]
        return (
            f"Along the {study['factor']['label'].lower()} axis the mean train–test gap "
            f"{shape(gaps, values, flat_gap(r, study))} ({pp(gaps[0])} for {first}, "
            f"{pp(gaps[-1])} for {last})."
        )
    if len(members) == 2 and all(g is not None for g in gaps):
        return f"The train–test gap is {pp(gaps[0])} for {first} and {pp(gaps[1])} for {last}."
    return None


def _pairs_sentences(r: Results, name: str) -> list[str]:
    mine = study_pairs(r, name)
    if not len(mine):
        return []
    significant = mine[mine["p_holm"] < r.alpha]
    text = [
        f"{len(significant)} of {len(mine)} pairwise accuracy differences are significant "
        f"(seeds and test images as two sources of variance, Holm over the study's pairs, "
        f"α = {r.alpha:g})."
    ]
    if len(significant):
        top = significant.loc[significant["diff_mean"].abs().idxmax()]
        text.append(
            f"The largest: {r.label(top['b'])} − {r.label(top['a'])} = "
            f"{pp(top['diff_mean'])} (p = {pval(top['p_holm'])} after Holm)."
        )
    return text


def _peak_sentence(r: Results, members: Sequence[str]) -> str | None:
    peaked = []
    for v in members:
        best_epoch, epochs = r.stat(v, "best_epoch"), r.stat(v, "epochs")
        if best_epoch is not None and epochs and best_epoch < epochs - 1:
            peaked.append(f"{r.label(v)} at epoch {best_epoch:.3g} of {epochs:.0f}")
    if not peaked:
        return None
    return "Validation accuracy peaked before the last epoch for " + "; ".join(peaked) + "."


def _time_sentence(r: Results, members: Sequence[str]) -> str | None:
    times = {v: r.stat(v, "train_seconds") for v in members}
    if any(missing(t) for t in times.values()):
        return None
    fast, slow = min(times, key=times.get), max(times, key=times.get)
    return (
        f"Training took {seconds(times[fast])} ({r.label(fast)}) to "
        f"{seconds(times[slow])} ({r.label(slow)}) per run."
    )


def study_paragraph(r: Results, name: str) -> str:
    """A few sentences whose every number comes from the results."""
    study = r.studies[name]
    members = study["variants"]
    first = _range_sentence(r, study)
    if first is None:
        return "No results yet for this study."
    related = [c for c in r.claims if set(c["variants"]) <= set(members)]
    parts = [
        first,
        _gap_sentence(r, study),
        reason_sentence(r, study),
        *_pairs_sentences(r, name),
        _peak_sentence(r, members),
        _time_sentence(r, members),
        *(f"Claim “{c['statement'].rstrip('.')}”: {c['verdict']}." for c in related),
    ]
    return " ".join(p for p in parts if p)
