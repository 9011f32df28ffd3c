"""The cell cache: one JSON file per finished cell, named by the hash of everything it depends on.

A cell is written atomically (temporary file + rename) only when it is finished, so an interrupted
run (Ctrl-C, ``kill -9``) leaves no partial cell, and a re-run reuses every finished one. Two runs
writing into the same folder take a per-cell ``fcntl`` lock, so the second waits for the first to
finish a cell and then reuses it instead of computing it twice; a lock held by a killed process is
released by the kernel.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from xrec_bench._util.hashing import json_sha256
from xrec_bench.io import read_json, write_json
from xrec_bench.paths import inside


def cache_key(payload: Any) -> str:
    """sha256 of the canonical JSON of ``payload``."""
    return json_sha256(payload, compact=True)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._=-]+", "_", str(text))[:60]


log = logging.getLogger(__name__)

#: the statuses a stored cell may have
STATUSES = ("ok", "failed", "skipped")


def _is_cell(cell: Any) -> bool:
    return (isinstance(cell, dict) and isinstance(cell.get("cache_key"), str) and cell.get("status") in STATUSES
            and isinstance(cell.get("key"), dict) and isinstance(cell.get("metrics", {}), dict)
            and isinstance(cell.get("reason", ""), str))


class CellCache:
    """Cells under ``root/cells/<dataset>/<model>/<granularity>__<explainer>__seed<seed>__<hash16>.json``
    (``accuracy__seed<seed>__<hash16>.json`` for a model's accuracy)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def path(self, key: dict[str, Any], digest: str) -> Path:
        what = "accuracy" if key["explainer"] == "-" else f"{_slug(key['granularity'])}__{_slug(key['explainer'])}"
        name = f"{what}__seed{key['seed']}__{digest[:16]}.json"
        parts = ("cells", _slug(key["dataset"]), _slug(key["model"]), name)
        inside(self.root, *parts)  # labels are slugs (checked when the suite is read); this is the backstop
        return self.root.joinpath(*parts)

    def load(self, path: Path) -> dict[str, Any] | None:
        """The finished cell at ``path``, or None if there is none (or it is unreadable or not a cell:
        recompute). A file that parses but has the wrong shape (``[]``, a cell without a status) is
        treated as absent, never trusted."""
        try:
            cell = read_json(path)
        except FileNotFoundError:
            return None
        except (OSError, ValueError):  # a file from an older, non-atomic writer; never from ours
            log.warning("cell file %s is unreadable; computing the cell again", path)
            return None
        if not _is_cell(cell):
            log.warning("cell file %s does not hold a cell (wrong shape); computing the cell again", path)
            return None
        return cell

    def store(self, path: Path, cell: dict[str, Any]) -> None:
        write_json(path, cell, indent=None)

    @contextlib.contextmanager
    def lock(self, digest: str) -> Iterator[None]:
        """Hold an exclusive lock on one cell (blocks while another process computes it)."""
        lock_dir = self.root / "locks"
        lock_dir.mkdir(parents=True, exist_ok=True)
        with open(lock_dir / f"{digest[:32]}.lock", "a+") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
