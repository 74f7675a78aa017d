"""The weight-penalty pilot judged: which form of penalty the study uses and at which strength,
by a rule fixed before the runs, on validation only (no test image is read).

Run after mnist_study.engine.pilot has trained the pilot's runs:
    python -m mnist_study.evidence.pilot workflow/pilots/weight_penalty.yaml
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Mapping
from pathlib import Path

import pandas as pd
import yaml

from mnist_study.atomic import write_json, write_text
from mnist_study.runrecord import pilot_run_dir


def summarise(pilot: Mapping, out: Path):
    """Per form and strength: mean validation accuracy and validation gap (eval-mode training
    accuracy minus validation accuracy) at the last epoch over the pilot seeds, from the runs'
    history.csv files alone."""
    rows = []
    for name, form in pilot["forms"].items():
        for strength in form["strengths"]:
            for seed in pilot["seeds"]:
                last = pd.read_csv(pilot_run_dir(out, name, strength, seed) / "history.csv").iloc[
                    -1
                ]
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
    parser = argparse.ArgumentParser(
        prog="python -m mnist_study.evidence.pilot", description=__doc__
    )
    parser.add_argument("pilot", help="the pilot's YAML file")
    parser.add_argument("--out", default="results/pilot/weight_penalty", help="the pilot's runs")
    args = parser.parse_args(argv)
    pilot = yaml.safe_load(Path(args.pilot).read_text(encoding="utf-8"))
    out = Path(args.out)
    try:
        table = summarise(pilot, out)
    except FileNotFoundError as err:
        print(
            f"{err.filename}: a pilot run is missing; train them first: "
            f"python -m mnist_study.engine.pilot {args.pilot} --cache ... --out {out}",
            file=sys.stderr,
        )
        return 2
    choice = choose(table)
    write_json(out / "choice.json", {"table": table.to_dict("records"), **choice})
    text = markdown(table, choice)
    write_text(out / "choice.md", text)
    print(text)
    return 0 if not math.isnan(choice["forms"][choice["form"]]["val_acc"]) else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
