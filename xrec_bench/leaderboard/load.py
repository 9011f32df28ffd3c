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
    record = read_json(path)
    if not isinstance(record, dict) or "schema_version" not in record or "cells" not in record:
        raise ValueError(f"{path} is not a run record or leaderboard file (no schema_version/cells).")
    if record["schema_version"] > SCHEMA_VERSION:
        raise ValueError(f"{path} has schema version {record['schema_version']}; this xrec-bench reads up to "
                         f"{SCHEMA_VERSION}. Upgrade xrec-bench.")
    return record


def load_board(paths: list[str | Path]) -> Board:
    """Records (or a leaderboard.json) from ``paths``, merged."""
    return merge([read_record(p) for p in find_records(paths)])


def merge(records: list[dict[str, Any]]) -> Board:
    if not records:
        raise MergeError("Nothing to merge: no run records.")
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
