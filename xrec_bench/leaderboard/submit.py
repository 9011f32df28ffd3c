"""``xrec-bench leaderboard submit``: check an outside run against the published suite, add its rows.

A submission is refused, with the reason, unless every check passes, in this order:

1. the submitter name is plain (letters, digits, space, ``. _ -``; no path, no markup);
2. every run record has exactly the declared schema (:class:`~xrec_bench.harness.record.RunRecord`,
   ``CellRecord``, ``CellKey``): no missing and no unknown field, labels are slugs;
3. no string anywhere holds markup, a ``javascript:`` URL or a control character;
4. the suite version is released (``versions.lock``) and its content hash matches the lock;
5. every dataset checksum matches the pin on its dataset card;
6. the xrec-bench version is the published leaderboard's, and every explainer is shipped with it or
   provided by a declared plugin package (``--plugin PACKAGE==VERSION``);
7. the run merges with the published leaderboard (same users, same dataset fingerprints).

Accepted rows are stored under ``<results>/<suite>/v<N>/submissions/<name>/``: the records as sent and a
``submission.json`` with the provenance and the rows, whose marks are computed by the leaderboard's
own tables against the published rows on the same users (nothing is recomputed from explanations).
"""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path
from typing import Any, get_type_hints

from xrec_bench import paths
from xrec_bench.harness.record import CellKey, CellRecord, RunRecord, now_iso
from xrec_bench.io import write_json
from xrec_bench.leaderboard.load import MergeError, find_records, merge, read_record

NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9 ._-]{0,62}[A-Za-z0-9])?$")
LABEL = re.compile(r"^(?:-|[a-z0-9][a-z0-9._@+-]{0,63})$")
UNSAFE = re.compile(r"[<>\x00-\x08\x0b-\x1f\x7f]|javascript:", re.IGNORECASE)
PLUGIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]{0,99})==([0-9][A-Za-z0-9.+!-]{0,49})$")
URL = re.compile(r"^https://[A-Za-z0-9.-]+(?:/[A-Za-z0-9._~%/+-]*)?$")
CELL_REQUIRED = {"kind", "key", "cache_key", "status", "users", "targets", "metrics"}


class SubmissionError(ValueError):
    """A submission that does not match the published suite; the message says what and what to do."""


def slug(name: str) -> str:
    if not isinstance(name, str) or not NAME.match(name) or ".." in name:
        raise SubmissionError(f"the submitter name {name!r} is not allowed: use 1-64 letters, digits, spaces, "
                              "'.', '_' or '-', starting and ending with a letter or digit.")
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def submit_run(run_folder: str | Path, results: str | Path, *, name: str, plugins: list[str] | tuple = (),
               url: str = "", lock: dict | None = None) -> Path:
    """Check the run(s) in ``run_folder``; on success store them and return the ``submission.json``."""
    key = slug(name)
    if url and not URL.match(url):
        raise SubmissionError(f"--url {url!r} is not a plain https:// address.")
    declared = _plugins(plugins)
    try:
        records = [read_record(p) for p in find_records([run_folder])]
    except (FileNotFoundError, ValueError) as exc:
        raise SubmissionError(str(exc)) from None
    for rec in records:
        check_schema(rec)
        check_strings(rec)
    suite = records[0]["suite"]
    check_locked(suite, lock)
    folder = paths.inside(results, suite["name"], f"v{suite['version']}")
    if not (folder / "leaderboard.json").is_file():
        raise SubmissionError(f"no published leaderboard of {suite['name']} v{suite['version']} at {folder}: "
                              "submit against a version that is published under --results.")
    published = read_record(folder / "leaderboard.json")
    for rec in records:
        check_datasets(rec)
        check_versions(rec, published, declared)
    target = paths.inside(folder, "submissions", key)
    if target.exists():
        raise SubmissionError(f"a submission named {name!r} already exists at {target}; choose another --name.")
    rows = submitted_rows(published, records, key)
    if not rows:
        raise SubmissionError("the run holds no explainer cell with status ok: nothing to add.")
    (target / "records").mkdir(parents=True)
    for src in find_records([run_folder]):
        shutil.copyfile(src, target / "records" / f"{records[0]['run_id']}-{_sha(src)[:8]}.json")
    provenance = {
        "kind": "submission", "name": name, "slug": key, "url": url, "submitted": now_iso(),
        "suite": {k: suite[k] for k in ("name", "version", "content_hash")}, "plugins": declared,
        "runs": [{k: r.get(k) for k in ("run_id", "package_version", "git", "environment", "started", "finished")}
                 for r in records],
        "records_sha256": sorted(_sha(p) for p in find_records([run_folder])),
        "checks": ["schema", "strings", "suite version and content hash", "dataset checksums",
                   "package and plugin versions", "same users and data as the published leaderboard"],
        "tables": rows,
    }
    return write_json(target / "submission.json", provenance)


def check_schema(rec: dict[str, Any]) -> None:
    """Exactly the declared fields (no missing, no unknown), at the top, in every cell and cell key."""
    rid = rec.get("run_id", "?")
    _fields(rec, set(get_type_hints(RunRecord)), set(get_type_hints(RunRecord)), f"run record {rid}")
    cell_fields = set(get_type_hints(CellRecord))
    key_fields = set(get_type_hints(CellKey))
    if not isinstance(rec["cells"], list):
        raise SubmissionError(f"run record {rid}: 'cells' must be a list.")
    for i, cell in enumerate(rec["cells"]):
        where = f"run record {rid}, cell {i}"
        _fields(cell, cell_fields, CELL_REQUIRED, where)
        _fields(cell["key"], key_fields, key_fields, f"{where} key")
        for part in ("dataset", "model", "explainer", "granularity"):
            if not isinstance(cell["key"][part], str) or not LABEL.match(cell["key"][part]):
                raise SubmissionError(f"{where}: {part} label {cell['key'][part]!r} is not a plain lower-case name.")
        if not isinstance(cell["metrics"], dict) or any(not isinstance(m, str) or not LABEL.match(m) for m in cell["metrics"]):
            raise SubmissionError(f"{where}: metric names must be plain lower-case names.")
        if not (len(cell["users"]) == len(cell["targets"]) and all(len(v) == len(cell["users"]) for v in cell["metrics"].values())):
            raise SubmissionError(f"{where}: users, targets and every metric's per-user values must have one length.")


def _fields(obj: Any, allowed: set[str], required: set[str], where: str) -> None:
    if not isinstance(obj, dict):
        raise SubmissionError(f"{where} is not a JSON object.")
    unknown, missing = sorted(set(obj) - allowed), sorted(required - set(obj))
    if unknown:
        raise SubmissionError(f"{where} has unknown field(s) {', '.join(map(repr, unknown))}; a run record holds only "
                              "what the harness writes (run the published suite with 'xrec-bench run').")
    if missing:
        raise SubmissionError(f"{where} lacks field(s) {', '.join(missing)}: was it written by 'xrec-bench run'?")


def check_strings(obj: Any, path: str = "$") -> None:
    """Refuse markup, ``javascript:`` and control characters in any key or string value."""
    if isinstance(obj, str):
        if UNSAFE.search(obj):
            raise SubmissionError(f"the string at {path} holds markup or a control character ({obj[:60]!r}); "
                                  "results hold plain text only.")
    elif isinstance(obj, dict):
        for k, v in obj.items():
            check_strings(k, f"{path} (a key)")
            check_strings(v, f"{path}.{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            check_strings(v, f"{path}[{i}]")


def check_locked(suite: dict[str, Any], lock: dict | None = None) -> None:
    from xrec_bench.harness.suite import read_lock

    lock = read_lock() if lock is None else lock
    name, version = suite.get("name"), suite.get("version")
    locked = lock.get((name, version))
    if locked is None:
        raise SubmissionError(f"suite {name!r} version {version!r} is not released (not in versions.lock); run a "
                              "published suite version.")
    if suite.get("content_hash") != locked:
        raise SubmissionError(f"suite {name} v{version} content hash {str(suite.get('content_hash'))[:12]} does not match "
                              f"the released {locked[:12]}: the suite file was edited. Run the published suite unchanged.")


def check_datasets(rec: dict[str, Any]) -> None:
    """Every recorded source-file checksum equals the pin on the dataset's card."""
    from xrec_bench.datasets.cards import get_card
    from xrec_bench.datasets.errors import CardError

    for label, info in rec["datasets"].items():
        try:
            card = get_card(info["name"])
            files = card.resolve_files(card.resolve_options(info.get("options") or {}))
        except (CardError, KeyError) as exc:
            raise SubmissionError(f"dataset {label!r}: {exc}") from None
        pins: dict[str, str | None] = {}
        for f in files:
            pins[f.filename] = f.sha256
            for member, digest in (f.members or {}).items():
                pins[f"{f.filename}/{member}"] = digest
        for filename, digest in (info.get("checksums") or {}).items():
            if filename not in pins:
                raise SubmissionError(f"dataset {label!r}: file {filename!r} is not a source file of card "
                                      f"{card.name!r} v{card.version}.")
            if pins[filename] is not None and pins[filename] != digest:
                raise SubmissionError(f"dataset {label!r}: {filename} has sha256 {str(digest)[:12]}, but card "
                                      f"{card.name!r} pins {pins[filename][:12]}: the run used other data. "
                                      "Download the pinned files ('xrec-bench datasets fetch') and run again.")


def check_versions(rec: dict[str, Any], published: dict[str, Any], declared: dict[str, str]) -> None:
    from xrec_bench.explainers import EXPLAINERS

    libs = (rec.get("environment") or {}).get("libraries") or {}
    version = rec.get("package_version")
    if libs.get("xrec-bench") not in (None, version):
        raise SubmissionError(f"package_version {version!r} disagrees with the recorded library version "
                              f"{libs.get('xrec-bench')!r}.")
    allowed = sorted({r.get("package_version") for r in published.get("runs") or []} - {None})
    if allowed and version not in allowed:
        raise SubmissionError(f"the run used xrec-bench {version!r}; this leaderboard was built with "
                              f"{', '.join(allowed)}. Install xrec-bench=={allowed[0]} and run again.")
    # plugin explainers' cells record their package and version (harness: cell "plugin")
    recorded = {str(c["plugin"].get("package")): str(c["plugin"].get("version")) for c in rec["cells"]
                if isinstance(c.get("plugin"), dict)}
    for pkg, ver in declared.items():
        found = libs.get(pkg, recorded.get(pkg))
        if found is not None and found != ver:
            raise SubmissionError(f"plugin {pkg} is declared as {ver} but the run recorded {found}.")
    unknown = sorted({c["key"]["explainer"] for c in rec["cells"]} - {"-"} - set(EXPLAINERS.names()))
    if unknown and not declared:
        hint = f" (the run records {', '.join(f'{p}=={v}' for p, v in sorted(recorded.items()))})" if recorded else ""
        raise SubmissionError(f"explainer(s) {', '.join(unknown)} are not shipped with xrec-bench {version}: name the "
                              f"plugin package that provides them with --plugin PACKAGE==VERSION{hint}.")


def submitted_rows(published: dict[str, Any], records: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """The submission's table rows, with marks against the published rows of the same tables.

    The submitted cells are relabelled (``explainer~key``) so they stand beside the published cells
    of the same explainers; only the tables the submission covers are built.
    """
    from xrec_bench.leaderboard.tables import build_tables

    covered = {_where(c) for r in records for c in r["cells"] if c["kind"] != "accuracy"}
    datasets = {w[0] for w in covered}
    base = {**published, "cells": [c for c in published["cells"] if _where(c) in covered
                                   or (c["kind"] == "accuracy" and c["key"]["dataset"] in datasets)]}
    renamed = []
    for rec in records:
        cells = [{**c, "key": {**c["key"], "explainer": f"{c['key']['explainer']}~{key}"},
                  "cache_key": hashlib.sha256(f"{key}:{c['cache_key']}".encode()).hexdigest()}
                 for c in rec["cells"] if c["kind"] != "accuracy"]
        renamed.append({**rec, "cells": cells})
    try:
        board = merge([base, *renamed])
    except MergeError as exc:
        raise SubmissionError(f"the run is not comparable with the published leaderboard: {exc}") from None
    out = []
    for table in build_tables(board):
        d = table.as_dict()
        rows = [{**r, "explainer": r["explainer"].rsplit("~", 1)[0]} for r in d["rows"] if r["explainer"].endswith(f"~{key}")]
        if any(r["status"] == "ok" for r in rows):
            out.append({"dataset": d["dataset"], "model": d["model"], "granularity": d["granularity"], "rows": rows})
    return out


def _where(cell: dict[str, Any]) -> tuple[str, str, str]:
    k = cell["key"]
    return (k["dataset"], k["model"], k["granularity"])


def _plugins(plugins: list[str] | tuple) -> dict[str, str]:
    out = {}
    for p in plugins:
        m = PLUGIN.match(p)
        if not m:
            raise SubmissionError(f"--plugin {p!r} must read PACKAGE==VERSION (e.g. my-explainers==1.2.0).")
        out[m[1]] = m[2]
    return out


def _sha(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
