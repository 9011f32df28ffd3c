"""Where things live: the data cache, shipped data files (dataset cards, suites), the mirror."""

from __future__ import annotations

import logging
import os
import re
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


#: a name that may become a file or folder name: letters, digits, ``.``, ``_``, ``-``; starts with a
#: letter or digit (so never ``.``, ``..`` or a hidden file), at most 80 characters
SLUG_RULE = "1-80 characters from A-Z a-z 0-9 . _ - starting with a letter or digit"
_SLUG = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,79}")


def slug_problem(value: object) -> str | None:
    """None if ``value`` is a safe name (suite name, dataset/model/explainer label), else why not.

    Names from suites and run records become file names and page text; anything else (``/``,
    ``..``, spaces, markup, control characters) is refused rather than rewritten, so two different
    names can never map to one file.
    """
    if not isinstance(value, str):
        return f"must be a string ({SLUG_RULE}). Got {type(value).__name__} {value!r} instead."
    if not _SLUG.fullmatch(value):
        return f"must be {SLUG_RULE}. Got {value!r} instead."
    return None


class UnsafePathError(ValueError):
    """An output path that would land outside its output folder."""


def inside(root: str | os.PathLike, *parts: str) -> Path:
    """``root / parts...``, refused unless the resolved path stays under the resolved ``root``."""
    base = Path(root).resolve()
    target = base.joinpath(*parts).resolve()
    if target != base and not target.is_relative_to(base):
        raise UnsafePathError(f"Refusing to write {target}: it is outside the output folder {base}. "
                              "A suite or run record supplied a name that is not a plain file name.")
    return target
