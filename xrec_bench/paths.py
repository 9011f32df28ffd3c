"""Where things live: the data cache, shipped data files (dataset cards, suites), the mirror."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import platformdirs

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent

logger = logging.getLogger(__name__)


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
    """The download mirror, or None for the official URLs.

    ``$XREC_BENCH_MIRROR`` (a base URL or a local folder) is used as given: a folder that does not
    exist is an error where it is used, since the user asked for it. ``$XREC_BENCH_OPTIONAL_MIRROR``
    (a local folder) is used only where it exists: ``tox.ini`` points it at a workplace copy of the
    official files (``../shared/mirror``) that most clones do not have, and a clone without it
    downloads from the official URLs.
    """
    value = os.environ.get("XREC_BENCH_MIRROR", "").strip()
    if value:
        return value
    optional = os.environ.get("XREC_BENCH_OPTIONAL_MIRROR", "").strip()
    if optional and Path(optional).expanduser().is_dir():
        logger.info("Using the optional mirror folder %s ($XREC_BENCH_OPTIONAL_MIRROR).", optional)
        return optional
    return None
