"""Read run records and merge them into one board. Merging refuses runs that are not comparable.

Runs merge only when they ran the same suite version with the same content and the same users
(config hash), on datasets with the same checksums. Cells are deduplicated by their cache key (a
resumed or repeated run holds the same cells); cells the runs disagree on are reported.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xrec_bench.harness.record import SCHEMA_VERSION
from xrec_bench.io import read_json
from xrec_bench.paths import slug_problem

log = logging.getLogger(__name__)


class MergeError(ValueError):
    """Runs that cannot be put in one table (different suite versions, configs or dataset checksums)."""


@dataclass
class Board:
    suite: dict[str, Any]
    config_hash: str
    datasets: dict[str, dict[str, Any]]
    models: list[dict[str, Any]]
    metric_specs: dict[str, dict[str, Any]]
    cells: list[dict[str, Any]]
    runs: list[dict[str, Any]] = field(default_factory=list)  # run_id, reference_workload, environment, ...

    @property
    def reference_seconds(self) -> float:
        """The reference workload timing (the smallest over the merged runs)."""
        values = [r["reference_workload"]["seconds"] for r in self.runs if r.get("reference_workload")]
        return min(values) if values else float("nan")


def find_records(paths: list[str | Path]) -> list[Path]:
    """Run-record files from files and folders (a folder: its ``records/*.json``, or ``*.json``)."""
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_file():
            found.append(p)
        elif (p / "records").is_dir():
            found += sorted((p / "records").glob("*.json"))
        elif p.is_dir():
            found += sorted(q for q in p.rglob("*.json") if q.parent.name == "records")
        else:
            raise FileNotFoundError(f"No run record at {p}: pass a run-record JSON file or a results folder.")
    if not found:
        raise FileNotFoundError(f"No run records found under {', '.join(map(str, paths))} (looked for records/*.json).")
    return found


def read_record(path: str | Path) -> dict[str, Any]:
    """A run record (or leaderboard.json), checked before anything in it is used: records are
    untrusted input (submitted records are merged into the published leaderboard)."""
    try:
        record = read_json(path)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"{path} is not a JSON run record ({type(exc).__name__}: {exc}). Pass the records/*.json "
                         "files a run wrote, or a leaderboard.json.") from None
    if not isinstance(record, dict) or "schema_version" not in record or "cells" not in record:
        raise ValueError(f"{path} is not a run record or leaderboard file (no schema_version/cells).")
    version = record["schema_version"]
    if isinstance(version, bool) or not isinstance(version, int):
        raise ValueError(f"{path}: 'schema_version' must be an int. Got {version!r} instead.")
    if version > SCHEMA_VERSION:
        raise ValueError(f"{path} has schema version {record['schema_version']}; this xrec-bench reads up to "
                         f"{SCHEMA_VERSION}. Upgrade xrec-bench.")
    problems = record_problems(record)
    if problems:
        raise ValueError(f"{path} is not a valid run record ({len(problems)} problem(s)); refusing to use it:\n  - "
                         + "\n  - ".join(problems[:20]))
    return record


#: a cell key's explainer and granularity for an accuracy cell (not a slug)
_ACCURACY = "-"


def record_problems(record: dict[str, Any]) -> list[str]:
    """Every field that becomes a file name or page text, type-checked; names must be slugs."""
    problems: list[str] = []

    def name(value: Any, where: str, *, accuracy_ok: bool = False) -> None:
        if accuracy_ok and value == _ACCURACY:
            return
        why = slug_problem(value)
        if why:
            problems.append(f"{where} {why}")

    run_ids = [record["run_id"]] if "run_id" in record else []
    runs = record.get("runs") or []
    if not isinstance(runs, list) or not all(isinstance(r, dict) for r in runs):
        problems.append("'runs' must be a list of tables.")
        runs = []
    run_ids += [r["run_id"] for r in runs if "run_id" in r]
    for run_id in run_ids:  # run ids name record files (submissions store records under them)
        name(run_id, "run_id")
    suite = record.get("suite")
    if not isinstance(suite, dict):
        return [f"'suite' must be a table with name, version and content_hash (which suite was run). "
                f"Got {suite!r} instead." if "suite" in record else
                "it has no 'suite' (which suite was run): it was not written by 'xrec-bench run'."]
    name(suite.get("name"), "suite.name")
    v = suite.get("version")
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        problems.append(f"suite.version must be an int >= 1. Got {v!r} instead.")
    # hashes and datasets are required to merge (merge() says so); here: typed wherever present
    h = suite.get("content_hash")
    if h is not None and (not isinstance(h, str) or not h.isalnum()):
        problems.append(f"suite.content_hash must be a hex digest. Got {h!r} instead.")
    h = record.get("config_hash")
    if h is not None and (not isinstance(h, str) or not h.isalnum()):
        problems.append(f"'config_hash' must be a hex digest. Got {h!r} instead.")
    datasets = record.get("datasets")
    if datasets is not None and not isinstance(datasets, dict):
        problems.append(f"'datasets' must be a table. Got {type(datasets).__name__} instead.")
    elif datasets is not None:
        for label, info in datasets.items():
            name(label, "datasets label")
            if not isinstance(info, dict) or not isinstance(info.get("fingerprint"), str):
                problems.append(f"datasets[{label!r}] must be a table with a 'fingerprint' string.")
    cells = record.get("cells")
    if not isinstance(cells, list):
        problems.append(f"'cells' must be a list. Got {type(cells).__name__} instead.")
        return problems
    for i, cell in enumerate(cells):
        where = f"cells[{i}]"
        if not isinstance(cell, dict) or not isinstance(cell.get("key"), dict):
            problems.append(f"{where} must be a table with a 'key' table.")
            continue
        key = cell["key"]
        name(key.get("dataset"), f"{where}.key.dataset")
        name(key.get("model"), f"{where}.key.model")
        name(key.get("explainer"), f"{where}.key.explainer", accuracy_ok=True)
        name(key.get("granularity"), f"{where}.key.granularity", accuracy_ok=True)
        for field_name in ("status", "cache_key"):
            if not isinstance(cell.get(field_name), str):
                problems.append(f"{where}.{field_name} must be a string. Got {cell.get(field_name)!r} instead.")
        if not isinstance(cell.get("reason", ""), str):
            problems.append(f"{where}.reason must be a string.")
        for table in ("metrics", "curves"):
            values = cell.get(table, {})
            if not isinstance(values, dict):
                problems.append(f"{where}.{table} must be a table.")
                continue
            for metric, series in values.items():
                name(metric.replace("@", "_at_") if isinstance(metric, str) else metric, f"{where}.{table} name")
                if not isinstance(series, list) or not all(
                        x is None or (isinstance(x, int | float) and not isinstance(x, bool)) for x in series):
                    problems.append(f"{where}.{table}[{metric!r}] must be a list of numbers (null for NaN).")
    return problems


def load_board(paths: list[str | Path]) -> Board:
    """Records (or a leaderboard.json) from ``paths``, merged."""
    return merge([read_record(p) for p in find_records(paths)])


def merge(records: list[dict[str, Any]]) -> Board:
    if not records:
        raise MergeError("Nothing to merge: no run records.")
    for rec in records:
        missing = [k for k in ("config_hash", "datasets") if rec.get(k) is None]
        missing += ["suite.content_hash"] if rec["suite"].get("content_hash") is None else []
        if missing:
            raise MergeError(f"Cannot merge {_rid(rec)}: it lacks {', '.join(missing)} (a run record written by "
                             "'xrec-bench run' has them). Pass run records or a leaderboard.json.")
    first = records[0]
    suite = first["suite"]
    for rec in records[1:]:
        other = rec["suite"]
        for what in ("name", "version", "content_hash"):
            if other[what] != suite[what]:
                raise MergeError(
                    f"Cannot merge runs of different suites: {_rid(first)} ran {suite['name']} v{suite['version']} "
                    f"(content {suite['content_hash'][:12]}) but {_rid(rec)} ran {other['name']} v{other['version']} "
                    f"(content {other['content_hash'][:12]}). Build one leaderboard per suite version "
                    "(results/<suite>/v<version>/).")
        if rec["config_hash"] != first["config_hash"]:
            raise MergeError(
                f"Cannot merge {_rid(rec)} with {_rid(first)}: they sampled different users "
                f"({other.get('users')} vs {suite.get('users')}; a --users override?). Merge only full runs.")
    datasets: dict[str, dict[str, Any]] = {}
    for rec in records:
        for label, info in rec["datasets"].items():
            seen = datasets.setdefault(label, info)
            if seen["fingerprint"] != info["fingerprint"] or seen.get("checksums") != info.get("checksums"):
                raise MergeError(
                    f"Cannot merge runs on different data: dataset {label!r} has fingerprint {seen['fingerprint']} "
                    f"in one run and {info['fingerprint']} in {_rid(rec)} (its source files' checksums differ). "
                    "Re-run both on the same dataset version.")
    cells: dict[str, dict[str, Any]] = {}
    for rec in records:
        for cell in rec["cells"]:
            key = cell["cache_key"]
            if key in cells and cells[key]["status"] == "ok" and cell["status"] == "ok":
                if cells[key]["metrics"] != cell["metrics"]:
                    log.warning("runs disagree on cell %s (nondeterminism?); keeping the first", cell["key"])
                continue
            if key not in cells or cells[key]["status"] != "ok":
                cells[key] = cell
    specs: dict[str, Any] = {}
    models: dict[tuple, dict[str, Any]] = {}
    runs: list[dict[str, Any]] = []
    for rec in records:
        specs.update(rec.get("metric_specs", {}))
        for m in rec.get("models", []):
            models.setdefault((m["dataset"], m["model"], m["seed"]), m)
        runs += rec.get("runs") or [_run_summary(rec)]
    return Board(suite, first["config_hash"], datasets, list(models.values()), specs, list(cells.values()), runs)


def _run_summary(rec: dict[str, Any]) -> dict[str, Any]:
    keys = ("run_id", "package_version", "git", "environment", "reference_workload", "executor", "started",
            "finished", "elapsed_s", "counts")
    return {k: rec.get(k) for k in keys}


def _rid(rec: dict[str, Any]) -> str:
    return f"run {rec.get('run_id') or (rec.get('runs') or [{}])[0].get('run_id', '?')}"
