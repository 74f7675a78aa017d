"""README.md and docs/*.md kept in step with the kept studies (docs/records) and the schema:
each block between `<!-- generated: KIND [STUDY] -->` and `<!-- end generated -->` is written here.

  python -m mnist_study.report.pages [--check]     rewrite the blocks (--check: exit 1 if stale)
  python -m mnist_study.report.pages keep FOLDER NAME CONFIG...   keep a study in docs/records/NAME/
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import yaml

from mnist_study import StudyError
from mnist_study.atomic import write_json, write_text
from mnist_study.record import replication
from mnist_study.report import page_tables as tables
from mnist_study.report.plots.forest import forest_svg

BLOCK = re.compile(
    r"(?P<open><!-- generated: (?P<kind>[a-z-]+)(?: (?P<study>[\w.-]+))? -->\n)"
    r"(?P<body>.*?)(?P<close><!-- end generated -->)",
    re.DOTALL,
)
FOREST = "forest.svg"


def pages(root: Path) -> list[Path]:
    """The pages the generator keeps: the README and every page under docs/ but the records'."""
    found = [root / "README.md", *sorted((root / "docs").glob("*.md"))]
    return [p for p in found if p.is_file()]


def latest(root: Path, study: str | None, kind: str) -> tables.Kept:
    if not study:
        raise StudyError(
            f"block '{kind}' names no kept study; e.g. <!-- generated: {kind} mnist -->"
        )
    folders = tables.kept_studies(root, study)
    if not folders:
        valid = sorted(p.name for p in (root / tables.RECORDS).iterdir() if p.is_dir())
        raise StudyError(f"block '{kind} {study}': no kept study '{study}'; valid: {valid}")
    return tables.read_kept(folders[-1])


def forest_block(root: Path, page: Path, study: str | None, files: dict) -> str:
    """The report's forest plot of the latest kept study, drawn again from its claims.json."""
    kept = latest(root, study, "forest")
    studies = kept.config.get("studies", {})
    files[kept.folder / FOREST] = forest_svg(kept.claims, studies, kept.config["alpha"])
    link = Path(*[".."] * (len(page.parent.relative_to(root).parts))) / kept.folder.relative_to(
        root
    )
    return (
        "![Forest plot: each claim's effect in units of its smallest effect, by verdict][forest]"
        f"\n\n[forest]: {(link / FOREST).as_posix()}"
    )


def replication_block(root: Path, study: str | None) -> str:
    """The latest kept replicate of STUDY (kept as STUDY-replicate) judged against the latest
    kept STUDY, as `make replicate` judges it, its title left to the page."""
    first = latest(root, study, "replication")
    if not tables.kept_studies(root, f"{study}-replicate"):
        return f"No replicate of `{study}` is kept yet (`docs/records/{study}-replicate/`)."
    second = latest(root, f"{study}-replicate", "replication")
    names = [first.name, second.name]
    try:
        result = replication.judge(first.claims, second.claims, root, names)
    except replication.ReplicationError as error:
        return f"`{names[1]}` cannot be judged against `{names[0]}`: {error}"
    return replication.markdown(result, names).split("\n", 2)[2].rstrip()


def pages_block(root: Path, page: Path) -> str:
    """A link to every docs/ page with its title, so that no page is left unlinked."""
    lines = []
    for other in pages(root):
        if other == page or other.name == "README.md":
            continue
        title = next(
            (
                line[2:]
                for line in other.read_text(encoding="utf-8").splitlines()
                if line[:2] == "# "
            ),
            other.stem,
        )
        lines.append(f"- [{title}]({other.relative_to(page.parent).as_posix()})")
    return "\n".join(lines)


def render(root: Path, page: Path, kind: str, study: str | None, files: dict) -> str:
    """One block's text; ``files`` gathers the files it draws (the forest's SVG)."""
    if kind == "timings":
        # A named study: its latest kept run; none named: every kept study.
        kept = (
            [latest(root, study, kind)]
            if study
            else map(tables.read_kept, tables.kept_studies(root))
        )
        return tables.timings(list(kept))
    simple: dict[str, Callable[[tables.Kept], str]] = {
        "claims": tables.claims_table,
        "results": tables.results_table,
        "studies": tables.studies_section,
        "findings": tables.findings,
    }
    if kind in simple:
        return simple[kind](latest(root, study, kind))
    if kind == "config":
        return tables.config_keys(root)
    if kind == "commands":
        return tables.commands(root)
    if kind == "forest":
        return forest_block(root, page, study, files)
    if kind == "pages":
        return pages_block(root, page)
    if kind == "replication":
        return replication_block(root, study)
    valid = sorted([*simple, "timings", "config", "commands", "forest", "pages", "replication"])
    raise StudyError(f"{page}: <!-- generated: {kind} -->: no such block; valid: {valid}")


def regenerate(root: Path, page: Path, files: dict) -> str:
    """The page's text with every block written anew."""

    def block(m: re.Match) -> str:
        body = render(root, page, m["kind"], m["study"], files)
        return f"{m['open']}{body}\n{m['close']}"

    return BLOCK.sub(block, page.read_text(encoding="utf-8"))


def run(root: Path, check: bool) -> list[str]:
    """Write (or, with ``check``, compare) every page and drawn file; the stale ones' paths."""
    files: dict[Path, str] = {}
    stale = []
    for page in pages(root):
        text = regenerate(root, page, files)
        if text != page.read_text(encoding="utf-8"):
            stale.append(str(page.relative_to(root)))
            if not check:
                write_text(page, text)
    for path, text in files.items():
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            stale.append(str(path.relative_to(root)))
            if not check:
                write_text(path, text)
    return stale


def layered(files: Sequence[Path]) -> dict:
    """The config files merged as Snakemake merges --configfile layers, in their own order: the
    history record's copy sorts its keys, and the pages follow the config's order of studies."""

    def merge(base: dict, over: dict) -> dict:
        for key, value in over.items():
            both = isinstance(value, dict) and isinstance(base.get(key), dict)
            base[key] = merge(base[key], value) if both else value
        return base

    config: dict = {}
    for file in files:
        config = merge(config, yaml.safe_load(Path(file).read_text(encoding="utf-8")) or {})
    return config


def keep(study: Path, name: str, root: Path, configs: Sequence[Path]) -> Path:
    """Keep a finished study's small files as docs/records/NAME/<record id>/, the id of its
    latest history record (the one `make report` filed), with the config files it ran on."""
    record = _record_of(study, root)
    meta = json.loads((record / "record.json").read_text(encoding="utf-8"))
    target = root / tables.RECORDS / name / meta["id"]
    results = study / "results"
    copies = {
        "claims.json": results / "analysis" / "claims.json",
        "summary.csv": results / "tables" / "summary.csv",
        "efficiency.json": results / "tables" / "efficiency.json",
    }
    for path in copies.values():
        if not path.is_file():
            raise StudyError(f"{path}: missing; run the study to its report first")
    target.mkdir(parents=True, exist_ok=True)
    for file, source in copies.items():
        shutil.copyfile(source, target / file)
    write_text(target / "config.json", json.dumps(layered(configs), indent=2) + "\n")
    write_json(target / "provenance.json", _provenance(meta, results))
    return target


def _record_of(study: Path, root: Path) -> Path:
    """The study's history record: its snapshot's content hash, in any history folder (the
    replicate and the quick study keep theirs under history/<study>/)."""
    snapshot = study / "results" / "record" / "record.json"
    if not snapshot.is_file():
        raise StudyError(f"{snapshot}: missing; run the study to its report first")
    content = json.loads(snapshot.read_text(encoding="utf-8"))["content_hash"]
    found = [p for h in (study / "history", root / "history") for p in h.rglob(f"*-{content}")]
    if not found:
        raise StudyError(f"{study}: its record {content} is not in history/; run make report")
    return sorted(found, key=lambda p: p.name)[-1]


def _provenance(meta: dict, results: Path) -> dict:
    matmul = json.loads((results / "tables" / "matmul.json").read_text(encoding="utf-8"))
    return {
        "record": meta["id"],
        "dataset": meta["dataset"],
        "date": meta["date"],
        "runs_commit": meta["commit"],
        "machine": matmul["machine"],
        "matmul_flops_per_s": matmul["matmul_flops_per_s"],
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mnist_study.report.pages")
    parser.add_argument("--root", type=Path, default=Path("."))
    parser.add_argument("--check", action="store_true", help="exit 1 when a page is stale")
    sub = parser.add_subparsers(dest="command")
    kept = sub.add_parser("keep", help="keep a finished study under docs/records/NAME/")
    kept.add_argument("study", type=Path)
    kept.add_argument("name")
    kept.add_argument("configs", type=Path, nargs="+", help="the config files it ran on, in order")
    args = parser.parse_args(argv)
    try:
        if args.command == "keep":
            print(keep(args.study, args.name, args.root, args.configs))
            return 0
        stale = run(args.root, args.check)
    except (StudyError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for path in stale:
        print(f"{'stale' if args.check else 'written'}: {path}")
    if args.check and stale:
        print("run make docs to write them", file=sys.stderr)
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
