"""``xrec-bench leaderboard publish``: one static site over every built leaderboard under a results folder.

Layout of the site (works from ``file://`` and any static host; every page inlines its CSS and JS)::

    index.html                      suites and their versions, newest first, with each changelog entry
    <suite>/v<N>/index.html         overview, tables, plots, what changed since the previous version
    <suite>/v<N>/leaderboard.json   the raw files, copied as built (plus *.csv, *.md)
    <suite>/v<N>/submissions/<name>.json   provenance of each accepted outside submission

The site reads ``leaderboard.json`` files (through the leaderboard loader) and accepted submissions;
it never recomputes a metric: every number shown is one the built tables hold.
"""

from __future__ import annotations

import logging
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xrec_bench.io import read_json, write_text
from xrec_bench.leaderboard.load import read_record
from xrec_bench.leaderboard.site_pages import render_index, render_version

log = logging.getLogger(__name__)

SLUG = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
VERSION_DIR = re.compile(r"^v([0-9]{1,6})$")
RAW_SUFFIXES = (".json", ".csv", ".md")


@dataclass
class Version:
    suite: str
    version: int
    folder: Path
    board: dict[str, Any]
    submissions: list[dict[str, Any]] = field(default_factory=list)
    previous: Version | None = None
    changelog: str = ""

    @property
    def href(self) -> str:
        return f"{self.suite}/v{self.version}/index.html"


def discover(results: str | Path) -> dict[str, list[Version]]:
    """``{suite: [versions, newest first]}`` for every ``<suite>/v<N>/leaderboard.json`` under ``results``."""
    root = Path(results)
    if not root.is_dir():
        raise FileNotFoundError(f"No results folder at {root}: build leaderboards with 'xrec-bench leaderboard build'.")
    found: dict[str, list[Version]] = {}
    for path in sorted(root.glob("*/v*/leaderboard.json")):
        suite, vdir = path.parent.parent.name, path.parent.name
        match = VERSION_DIR.match(vdir)
        if not match or not SLUG.match(suite):
            log.warning("skipping %s: not a <suite>/v<N>/ folder", path.parent)
            continue
        board = read_record(path)
        if board.get("kind") != "leaderboard" or board["suite"]["name"] != suite or board["suite"]["version"] != int(match[1]):
            raise ValueError(f"{path} does not hold the leaderboard of {suite} {vdir} (it says "
                             f"{board['suite'].get('name')} v{board['suite'].get('version')}). Rebuild it there.")
        found.setdefault(suite, []).append(Version(suite, int(match[1]), path.parent, board, _submissions(path.parent)))
    if not found:
        raise FileNotFoundError(f"No leaderboard under {root} (looked for <suite>/v<N>/leaderboard.json).")
    for versions in found.values():
        versions.sort(key=lambda v: v.version, reverse=True)
        for newer, older in zip(versions, versions[1:], strict=False):
            newer.previous = older
    return dict(sorted(found.items()))


def _submissions(folder: Path) -> list[dict[str, Any]]:
    return [read_json(p) for p in sorted((folder / "submissions").glob("*/submission.json"))]


def changelog_entries(path: Path | None) -> dict[tuple[str, int], str]:
    """``{(suite, version): text}`` from a changelog with ``## <suite> v<N>`` sections."""
    if path is None or not path.is_file():
        return {}
    out: dict[tuple[str, int], str] = {}
    key = None
    for line in path.read_text(encoding="utf-8").splitlines():
        head = re.match(r"^##\s+([a-z0-9][a-z0-9._-]*)\s+v([0-9]+)\b", line)
        if head:
            key = (head[1], int(head[2]))
            out[key] = ""
        elif line.startswith("#"):
            key = None
        elif key is not None:
            out[key] += line + "\n"
    return {k: v.strip() for k, v in out.items()}


def default_changelog() -> Path | None:
    from xrec_bench.paths import shipped_dir

    try:
        return shipped_dir("suites") / "CHANGELOG.md"
    except FileNotFoundError:
        return None


def publish(results: str | Path, out: str | Path, *, changelog: Path | None = None, plots: bool = True) -> Path:
    """Write the site for every leaderboard under ``results`` into ``out``; returns ``out/index.html``."""
    suites = discover(results)
    entries = changelog_entries(changelog if changelog is not None else default_changelog())
    out = Path(out)
    for versions in suites.values():
        for v in versions:
            v.changelog = entries.get((v.suite, v.version), "")
            target = out / v.suite / f"v{v.version}"
            raw = _copy_raw(v, target)
            _readable(write_text(target / "index.html", render_version(v, versions, raw, plots=plots)))
    index = _readable(write_text(out / "index.html", render_index(suites)))
    log.info("site written to %s (%d suite(s), %d version(s))", out, len(suites), sum(map(len, suites.values())))
    return index


def _readable(path: Path) -> Path:
    """Pages are written through a private temporary file; a static host must be able to read them."""
    path.chmod(0o644)
    return path


def _copy_raw(v: Version, target: Path) -> list[str]:
    """Copy the version's raw files (and submission provenance) next to its page; returns their names."""
    target.mkdir(parents=True, exist_ok=True)
    names = []
    for src in sorted(v.folder.iterdir()):
        if src.is_file() and src.suffix in RAW_SUFFIXES:
            shutil.copyfile(src, target / src.name)
            names.append(src.name)
    for sub in v.submissions:
        src = v.folder / "submissions" / sub["slug"] / "submission.json"
        (target / "submissions").mkdir(exist_ok=True)
        shutil.copyfile(src, target / "submissions" / f"{sub['slug']}.json")
    return names
