"""The weight-penalty pilot: which form of penalty the study uses and at which strengths, judged
on validation only (no test image is read), with seeds outside the study's.

Run: python -m mnist_study.evidence.pilot workflow/pilots/weight_penalty.yaml
    --cache results/data/mnist.pt
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Mapping
from pathlib import Path

from mnist_study.config import load_study_config
from mnist_study.engine.train_config import OPTIMIZERS

PILOT_KEYS = ("base", "seeds", "forms", "rule")


class PilotError(ValueError):
    """The pilot file is not valid; the message names the key and what would be valid."""


def check_pilot(pilot: Mapping, variants: Mapping, where: str = "pilot") -> None:
    """Check a pilot definition; errors name the key path and what is valid."""
    unknown = sorted(set(pilot) - set(PILOT_KEYS))
    if unknown:
        raise PilotError(f"{where}: unknown key(s) {unknown}; valid: {list(PILOT_KEYS)}")
    if pilot.get("base") not in variants:
        raise PilotError(f"{where}.base: {pilot.get('base')!r}; valid: {sorted(variants)}")
    seeds = pilot.get("seeds")
    if not isinstance(seeds, list) or not seeds or not all(_is_int(s) and s >= 0 for s in seeds):
        raise PilotError(f"{where}.seeds: {seeds!r}; give a list of integers >= 0")
    forms = pilot.get("forms")
    if not isinstance(forms, Mapping) or not forms:
        raise PilotError(f"{where}.forms: {forms!r}; give a mapping form name -> settings")
    for name, form in forms.items():
        at = f"{where}.forms.{name}"
        if not isinstance(form, Mapping) or form.get("optimizer") not in OPTIMIZERS:
            got = form.get("optimizer") if isinstance(form, Mapping) else form
            raise PilotError(f"{at}.optimizer: {got!r}; valid: {list(OPTIMIZERS)}")
        strengths = form.get("strengths")
        if (
            not isinstance(strengths, list)
            or len(strengths) < 2
            or not all(_is_number(s) and s >= 0 for s in strengths)
            or strengths[0] != 0
        ):
            raise PilotError(
                f"{at}.strengths: {strengths!r}; give 0 (the unpenalized twin) then at least "
                "one strength > 0, all numbers >= 0"
            )
        lr = form.get("lr")
        if not (_is_number(lr) and lr > 0):
            raise PilotError(f"{at}.lr: {lr!r}; need a number > 0")


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def run_dir(out: Path, form: str, strength: float, seed: int) -> Path:
    return out / form / f"wd{strength:g}" / f"seed{seed}"


def train_pilot(config: Mapping, pilot: Mapping, cache, out: Path, threads: int | None = None):
    """Train every (form, strength, seed) of the pilot from the training split alone (the cache
    may lack its test images). Runs already finished under the same key are put back."""
    from mnist_study.config import variant_model, variant_training
    from mnist_study.engine.train import train_run

    if not isinstance(cache, dict):
        from mnist_study.data.datasets import load_cache

        cache = load_cache(cache)
    base = pilot["base"]
    prepared: dict = {}
    for name, form in pilot["forms"].items():
        for strength in form["strengths"]:
            for seed in pilot["seeds"]:
                training = variant_training(config, base, seed)
                training.update(
                    optimizer=form["optimizer"], lr=float(form["lr"]), weight_decay=strength
                )
                if threads is not None:
                    training["threads"] = threads
                folder = run_dir(out, name, strength, seed)
                train_run(
                    cache,
                    variant_model(config, base),
                    training,
                    checkpoint=folder / "model.pt",
                    history=folder / "history.csv",
                    info=folder / "train.json",
                    key_extra={"pilot": "weight_penalty"},
                    prepared=prepared,
                )


def summarise(pilot: Mapping, out: Path):
    """Per form and strength: mean validation accuracy and validation gap (eval-mode training
    accuracy minus validation accuracy) at the last epoch over the pilot seeds, from the runs'
    history.csv files alone."""
    import pandas as pd

    rows = []
    for name, form in pilot["forms"].items():
        for strength in form["strengths"]:
            for seed in pilot["seeds"]:
                last = pd.read_csv(run_dir(out, name, strength, seed) / "history.csv").iloc[-1]
                rows.append(
                    {
                        "form": name,
                        "strength": float(strength),
                        "seed": seed,
                        "val_acc": float(last["val_acc"]),
                        "val_gap": float(last["train_eval_acc"] - last["val_acc"]),
                        "val_loss": float(last["val_loss"]),
                    }
                )
    frame = pd.DataFrame(rows)
    return (
        frame.groupby(["form", "strength"], sort=False)[["val_acc", "val_gap", "val_loss"]]
        .mean()
        .reset_index()
    )


def choose(table) -> dict:
    """The rule, fixed before the pilot ran: each form's strength is the one of highest mean
    validation accuracy; the form is the one whose chosen strength narrows the validation gap
    most below its own unpenalized twin (strength 0). A form whose best strength is the
    largest it tried is flagged: its range may be too narrow."""
    per_form = {}
    for form, group in table.groupby("form", sort=False):
        group = group.sort_values("strength")
        twin = group[group["strength"] == 0].iloc[0]
        best = group.loc[group["val_acc"].idxmax()]
        per_form[form] = {
            "strength": float(best["strength"]),
            "val_acc": float(best["val_acc"]),
            "val_acc_gain": float(best["val_acc"] - twin["val_acc"]),
            "gap_change": float(best["val_gap"] - twin["val_gap"]),
            "at_edge": bool(best["strength"] == group["strength"].max()),
        }
    chosen = min(per_form, key=lambda f: (per_form[f]["gap_change"], -per_form[f]["val_acc"]))
    return {"form": chosen, "forms": per_form}


def markdown(table, choice: Mapping) -> str:
    lines = [
        "| form | strength | validation accuracy | validation gap | validation loss |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in table.itertuples():
        lines.append(
            f"| {r.form} | {r.strength:g} | {100 * r.val_acc:.2f}% | {100 * r.val_gap:.2f} pp "
            f"| {r.val_loss:.4f} |"
        )
    lines.append("")
    for form, c in choice["forms"].items():
        edge = " (the largest strength tried: widen the range)" if c["at_edge"] else ""
        lines.append(
            f"- {form}: best strength {c['strength']:g}{edge}, validation accuracy "
            f"{100 * c['val_acc']:.2f}% ({100 * c['val_acc_gain']:+.2f} pp over strength 0), "
            f"validation gap {100 * c['gap_change']:+.2f} pp"
        )
    lines.append(f"\nChosen form: **{choice['form']}**.")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    import yaml

    from mnist_study.atomic import write_json, write_text

    parser = argparse.ArgumentParser(
        prog="python -m mnist_study.evidence.pilot", description=__doc__
    )
    parser.add_argument("pilot", help="the pilot's YAML file")
    parser.add_argument("--cache", required=True, help="the tensor cache (results/data/<name>.pt)")
    parser.add_argument("--config", nargs="+", default=["config.yaml"], help="config and layers")
    parser.add_argument("--out", default="results/pilot/weight_penalty")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    pilot = yaml.safe_load(Path(args.pilot).read_text(encoding="utf-8"))
    config = load_study_config(args.config)
    config.setdefault("device", "cpu")
    check_pilot(pilot, config["variants"], where=args.pilot)
    out = Path(args.out)
    train_pilot(config, pilot, args.cache, out, args.threads)
    table = summarise(pilot, out)
    choice = choose(table)
    write_json(out / "choice.json", {"table": table.to_dict("records"), **choice})
    text = markdown(table, choice)
    write_text(out / "choice.md", text)
    print(text)
    return 0 if not math.isnan(choice["forms"][choice["form"]]["val_acc"]) else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
