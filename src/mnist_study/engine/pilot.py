"""The weight-penalty pilot's runs: every form and strength of workflow/pilots/*.yaml trained on
the training split, with seeds outside the study's; mnist_study.evidence.pilot then judges them.

Run: python -m mnist_study.engine.pilot workflow/pilots/weight_penalty.yaml
    --cache results/data/mnist.pt
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path

import yaml

from mnist_study.data.cache import load_cache
from mnist_study.engine.train import train_run
from mnist_study.engine.train_config import OPTIMIZERS
from mnist_study.runrecord import pilot_run_dir
from mnist_study.settings import load_study_config, variant_model, variant_training

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


def train_pilot(config: Mapping, pilot: Mapping, cache, out: Path, threads: int | None = None):
    """Train every (form, strength, seed) of the pilot from the training split alone (the cache
    may lack its test images). Runs already finished under the same key are put back."""
    if not isinstance(cache, dict):
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
                folder = pilot_run_dir(out, name, strength, seed)
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


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m mnist_study.engine.pilot", description=__doc__)
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
    train_pilot(config, pilot, args.cache, Path(args.out), args.threads)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
