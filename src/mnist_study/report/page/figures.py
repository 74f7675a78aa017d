"""The report's figures: captions rendered from report/captions/ with the study's numbers, and
each image embedded as a data URI."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import jinja2

# ----------------------------------------------------------------------------- figures


def aligned(names: Sequence[str], paths, what: str) -> dict:
    """The report rule's files of one input by name: ``paths`` in the order of ``names``."""
    paths = list(paths)
    if len(paths) != len(names):
        raise ValueError(f"report input {what!r}: {len(paths)} files for {len(names)} names")
    return dict(zip(names, paths, strict=True))


@cache
def _caption_template(path: str):
    text = Path(path).read_text(encoding="utf-8").strip()
    return jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(text)


class Captions:
    """Figure captions from report/captions/<name>.rst, the files `snakemake --report` shows
    too: one source, rendered here with the numbers of this study."""

    def __init__(self, paths: Sequence, **common):
        self.paths = {Path(p).stem: str(p) for p in paths}
        self.common = common  # values every caption may use (the dataset's noun)

    def __call__(self, name: str, **values) -> str:
        return _caption_template(self.paths[name]).render(**self.common, **values)


def data_uri(path) -> str:
    """A PNG or SVG file as a data URI, so the report needs no other file."""
    data = Path(path).read_bytes() if not isinstance(path, bytes) else path
    if data.startswith(b"\x89PNG"):
        kind = "image/png"
    elif data.lstrip().startswith(b"<?xml") or data.lstrip().startswith(b"<svg"):
        kind = "image/svg+xml"
    else:
        raise ValueError(f"{str(path)[:80]}: not a PNG or SVG; the report embeds only those")
    return f"data:{kind};base64," + base64.b64encode(data).decode("ascii")


def figure(source, caption: str, alt: str, fig_id: str) -> dict:
    if not caption or not alt:
        raise ValueError(f"figure {fig_id}: every figure needs a caption and alt text")
    return {"id": fig_id, "src": data_uri(source), "caption": caption, "alt": alt}
