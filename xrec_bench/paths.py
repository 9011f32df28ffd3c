"""Where things live: the data cache, shipped data files (dataset cards, suites), the mirror."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent


def cache_dir() -> Path:
    """The cache root: ``$XREC_BENCH_DATA`` or the user's cache dir (e.g. ``~/.cache/xrec-bench``)."""
    env = os.environ.get("XREC_BENCH_DATA")
    return Path(env).expanduser() if env else Path(platformdirs.user_cache_dir("xrec-bench"))


def shipped_dir(kind: str) -> Path:
    """A folder of shipped data files: ``kind`` is ``"datasets"`` (dataset cards) or ``"suites"``.

    In a source checkout (or an editable install) these are the repository's top-level ``datasets/``
    and ``benchmarks/suites/``; an installed wheel carries copies under ``xrec_bench/_data/``.
    """
    repo_rel = {"datasets": Path("datasets"), "suites": Path("benchmarks") / "suites"}[kind]
    for candidate in (PACKAGE_DIR / "_data" / kind, REPO_DIR / repo_rel):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        f"Cannot find the shipped {kind!r} folder (looked in {PACKAGE_DIR / '_data' / kind} and "
        f"{REPO_DIR / repo_rel}). Reinstall xrec-bench, or run from a source checkout."
    )


def mirror() -> str | None:
    """The download mirror from ``$XREC_BENCH_MIRROR`` (a base URL or a local folder), or None."""
    value = os.environ.get("XREC_BENCH_MIRROR", "").strip()
    return value or None
