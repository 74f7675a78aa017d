"""The README and docs/ pages: their generated blocks match the kept studies (a page cannot go
stale unseen), the README stays a front door, every link resolves, and `keep` keeps a study."""

from __future__ import annotations

import json
import re
import shutil

import pytest
from helpers import REPO

from mnist_study import StudyError
from mnist_study.report import page_tables, pages

KEPT = sorted((REPO / "docs" / "records" / "mnist").glob("*/"))[-1]


def test_every_generated_block_matches_the_kept_studies():
    stale = pages.run(REPO, check=True)
    assert stale == [], f"stale: {stale}; run make docs"


def test_the_readme_is_a_front_door():
    lines = (REPO / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 200
    assert [n for n, line in enumerate(lines, 1) if len(line) > 100] == []


def test_every_docs_page_is_linked_from_the_readme():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for page in (REPO / "docs").glob("*.md"):
        assert f"](docs/{page.name})" in readme, page.name
    assert "](docs/records/README.md)" in readme


@pytest.mark.parametrize("page", pages.pages(REPO), ids=lambda p: p.name)
def test_every_relative_link_of_a_page_resolves(page):
    text = page.read_text(encoding="utf-8")
    targets = re.findall(r"\]\((?!https?:|#)([^)\s]+)\)", text)
    targets += re.findall(r"^\[[\w-]+\]: (?!https?:)(\S+)$", text, flags=re.MULTILINE)
    for target in targets:
        assert (page.parent / target.split("#")[0]).exists(), f"{page.name}: {target}"


def _root(tmp_path, page_text: str):
    """A small project: one kept study (the real one's files) and one page."""
    kept = tmp_path / "docs" / "records" / "mnist" / KEPT.name
    shutil.copytree(KEPT, kept)
    (tmp_path / "workflow" / "schemas").mkdir(parents=True)
    shutil.copy(REPO / pages.tables.SCHEMA, tmp_path / pages.tables.SCHEMA)
    (tmp_path / "README.md").write_text(page_text, encoding="utf-8")
    return tmp_path, kept


def test_a_changed_record_makes_its_block_stale_until_written(tmp_path):
    text = "# t\n\n<!-- generated: claims mnist -->\nold\n<!-- end generated -->\n"
    root, kept = _root(tmp_path, text)
    assert pages.run(root, check=True) == ["README.md"]
    assert pages.run(root, check=False) == ["README.md"]
    assert pages.run(root, check=True) == []
    claims = json.loads((kept / "claims.json").read_text(encoding="utf-8"))
    claims[0]["verdict"] = "contradicted"
    (kept / "claims.json").write_text(json.dumps(claims), encoding="utf-8")
    assert pages.run(root, check=True) == ["README.md"]
    assert f"| {claims[0]['name']} | **contradicted** |" in pages.regenerate(
        root, root / "README.md", {}
    )


def test_the_newest_kept_study_is_the_one_quoted(tmp_path):
    root, kept = _root(tmp_path, "<!-- generated: findings mnist -->\n<!-- end generated -->\n")
    newer = kept.parent / "29991231T000000Z-000000000000"
    shutil.copytree(kept, newer)
    pages.run(root, check=False)
    assert newer.name in (root / "README.md").read_text(encoding="utf-8")


def test_a_bad_block_names_the_page_and_the_valid_kinds(tmp_path):
    root, _ = _root(tmp_path, "<!-- generated: claimz mnist -->\n<!-- end generated -->\n")
    with pytest.raises(StudyError, match=r"README.md.*claimz.*valid: \['claims'"):
        pages.run(root, check=True)
    (root / "README.md").write_text(
        "<!-- generated: claims nosuch -->\n<!-- end generated -->\n", encoding="utf-8"
    )
    with pytest.raises(StudyError, match=r"no kept study 'nosuch'; valid: \['mnist'\]"):
        pages.run(root, check=True)


def test_times_name_the_machine_and_say_what_was_not_measured():
    kept = page_tables.read_kept(KEPT)
    text = page_tables.timings([kept])
    assert kept.provenance["machine"]["cpu"] in " ".join(text.split())
    assert "8 cores, a GPU: not measured." in " ".join(text.split())
    gpu = {**kept.provenance, "machine": {"cpu": "x (8 logical CPUs)", "gpu": "H100"}}
    assert page_tables.machine_kind(gpu) == "a GPU"
    assert page_tables.machine_kind({"machine": {"cpu": "x (8 logical CPUs)"}}) == "8 cores"


def test_the_config_keys_come_from_the_schema(tmp_path):
    text = page_tables.config_keys(REPO)
    assert "- `seeds` (required):" in text
    assert "- `seed_offset` (default `0`):" in text
    assert all(len(line) <= page_tables.WIDTH for line in text.splitlines())


def _finished_study(tmp_path):
    study = tmp_path / "study"
    for part in ("analysis", "tables", "record"):
        (study / "results" / part).mkdir(parents=True)
    for name, where in (("claims.json", "analysis"), ("summary.csv", "tables")):
        shutil.copy(KEPT / name, study / "results" / where / name)
    shutil.copy(KEPT / "efficiency.json", study / "results" / "tables" / "efficiency.json")
    machine = {"machine": {"cpu": "cpu (2 logical CPUs)", "gpu": "none"}, "matmul_flops_per_s": 1}
    (study / "results" / "tables" / "matmul.json").write_text(json.dumps(machine))
    meta = {"id": "20260101T000000Z-abc", "dataset": "mnist", "date": "2026-01-01T00:00:00"}
    meta |= {"commit": "f" * 40, "content_hash": "abc", "config": {}}
    (study / "results" / "record" / "record.json").write_text(json.dumps(meta))
    (study / "history" / "mnist" / meta["id"]).mkdir(parents=True)
    (study / "history" / "mnist" / meta["id"] / "record.json").write_text(json.dumps(meta))
    return study


def test_keep_writes_a_kept_study_with_its_config_in_layer_order(tmp_path):
    study = _finished_study(tmp_path)
    first, layer = tmp_path / "a.yaml", tmp_path / "b.yaml"
    first.write_text("studies: {zeta: {title: Z}, alpha: {title: A}}\nalpha: 0.05\n")
    layer.write_text("studies: {zeta: {title: Z2}}\n")
    target = pages.keep(study, "mnist", tmp_path, [first, layer])
    assert sorted(p.name for p in target.iterdir()) == sorted(page_tables.RECORD_FILES)
    config = json.loads((target / "config.json").read_text(encoding="utf-8"))
    assert list(config["studies"]) == ["zeta", "alpha"]
    assert config["studies"]["zeta"]["title"] == "Z2"
    assert page_tables.read_kept(target).provenance["runs_commit"] == "f" * 40


def test_keep_refuses_a_study_without_its_report(tmp_path):
    study = _finished_study(tmp_path)
    (study / "results" / "analysis" / "claims.json").unlink()
    with pytest.raises(StudyError, match="claims.json: missing; run the study to its report"):
        pages.keep(study, "mnist", tmp_path, [])


def test_a_kept_replicate_is_judged_as_make_replicate_judges_it(tmp_path, monkeypatch):
    text = "<!-- generated: replication mnist -->\n<!-- end generated -->\n"
    root, kept = _root(tmp_path, text)
    assert "No replicate of `mnist` is kept yet" in pages.regenerate(root, root / "README.md", {})
    shutil.copytree(kept, root / "docs" / "records" / "mnist-replicate" / kept.name)
    # The tmp project has no git history; the design is read from this checkout's.
    committed = pages.replication.committed_design
    monkeypatch.setattr(
        pages.replication, "committed_design", lambda _, file, sha: committed(REPO, file, sha)
    )
    body = pages.regenerate(root, root / "README.md", {})
    n = len(page_tables.read_kept(kept).claims)
    assert f"{n} identical, 0 consistent, 0 differs, 0 disagrees" in body
    assert "The replication passes." in body


def test_keep_finds_a_replicates_record_in_its_own_history_folder(tmp_path):
    study = _finished_study(tmp_path)
    own = study / "history" / "mnist"
    (tmp_path / "history" / "replicate").mkdir(parents=True)
    shutil.move(own, tmp_path / "history" / "replicate" / "mnist")
    target = pages.keep(study, "mnist-replicate", tmp_path, [])
    assert target == tmp_path / "docs" / "records" / "mnist-replicate" / "20260101T000000Z-abc"
