"""Builders of hostile inputs for the tests under ``tests/security`` and ``tests/faults``: a mirror
folder laid out as ``HOST/PATH`` of official URLs, test-only dataset cards, zip and gzip bombs."""

from __future__ import annotations

import gzip
import io
import json
import zipfile
from pathlib import Path

import pytest

from xrec_bench.datasets.cards import Card, card_from_dict, url_to_relpath


def fresh_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the data cache at an empty folder and drop any mirror from the environment (call it from an
    autouse fixture)."""
    path = tmp_path / "data"
    monkeypatch.setenv("XREC_BENCH_DATA", str(path))
    monkeypatch.delenv("XREC_BENCH_MIRROR", raising=False)
    monkeypatch.delenv("XREC_BENCH_OPTIONAL_MIRROR", raising=False)
    return path


class Mirror:
    """A folder where the file of ``https://HOST/PATH`` lies at ``HOST/PATH``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def put(self, url: str, data: bytes) -> Path:
        path = self.root / url_to_relpath(url)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path

    def put_gz_lines(self, url: str, lines: list) -> Path:
        text = b"".join((line if isinstance(line, bytes) else json.dumps(line).encode()) + b"\n" for line in lines)
        return self.put(url, gzip.compress(text))


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def zip_bomb(member: str, unpacked: int) -> bytes:
    """A zip whose ``member`` is ``unpacked`` bytes of zeros (about 1000x smaller packed)."""
    return zip_bytes({member: bytes(unpacked)})


def card(files: list[dict], *, parser: str = "xrec_bench.datasets.movielens:parse_1m", options=None) -> Card:
    data = {
        "name": "test-data", "version": "1", "description": "test", "homepage": "https://example.org",
        "license": "test", "citation": "test", "parser": parser, "options": options or {}, "files": files,
    }
    return card_from_dict(data)


def files_in(folder: Path) -> list[Path]:
    """Every file (hidden ones included) under ``folder``."""
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []
