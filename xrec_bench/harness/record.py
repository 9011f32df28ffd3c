"""The declared schemas of what the harness writes: one JSON file per cell, one run record per run.

Only the harness writes these; the leaderboard and the gate read them and never recompute a metric.
Non-finite numbers are stored as JSON ``null`` (JSON has no NaN); readers turn them back into NaN.
"""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
import math
import os
import platform
import subprocess
import time
from pathlib import Path
from typing import Any, TypedDict

import numpy as np

from xrec_bench.paths import REPO_DIR

#: bump when the layout of a cell file or a run record changes (readers check it)
SCHEMA_VERSION = 1
#: bump when the harness changes how a cell is computed (invalidates every cached cell)
CELL_FORMAT = 1

LIBRARIES = ("xrec-bench", "torch", "transformers", "captum", "lime", "numpy", "pandas", "scikit-learn", "scipy")


class CellKey(TypedDict):
    dataset: str  # dataset label
    model: str  # model label
    explainer: str  # explainer label, or "-" for an accuracy cell
    granularity: str  # "history" | "tokens", or "-" for an accuracy cell
    seed: int  # replicate seed


class MetricSpecRecord(TypedDict):
    higher_is_better: bool
    group: str
    description: str
    granularity: str | None
    ranked: bool  # False: a reference value (same for every explainer, or not comparable): never ranked


class CellRecord(TypedDict, total=False):
    schema_version: int
    kind: str  # "accuracy" | "explainer"
    key: CellKey
    cache_key: str  # sha256 of everything the cell's numbers depend on
    status: str  # "ok" | "failed" | "skipped"
    reason: str  # why failed / skipped ("" when ok)
    retryable: bool  # failed because a file was damaged or unreadable: the next run computes it again
    cell_seed: int
    dataset_fingerprint: str
    model_revision: dict[str, Any]
    explainer_flags: dict[str, Any]  # the explainer's declared capabilities (model_blind, stochastic, ...)
    plugin: dict[str, str]  # a plugin explainer's provenance: package (distribution), version, entry
    metric_plugins: dict[str, dict[str, str]]  # plugin metrics computed in the cell: name -> provenance
    users: list[int]  # aligned with every per-user list below
    targets: list[int]
    metrics: dict[str, list[float | None]]  # per-user values
    curves: dict[str, list[float | None]]  # mean curve over users (per-user curves stay in the cell file)
    curves_per_user: dict[str, list[list[float | None]]]
    skipped: list[tuple[int, str]]  # (user, reason) for requests the explainer could not explain
    info: dict[str, Any]  # run-level findings of the metrics layer (e.g. sanity flags, cost summary)
    warnings: list[str]
    timing: dict[str, Any]  # the latency probe: ratio to the reference workload, blocks (harness.timing)
    elapsed_s: float
    finished: str
    host_pid: str
    shards: list[list[int]]  # a cell merged from user shards: their [start, stop) ranges (absent otherwise)


class RunRecord(TypedDict):
    schema_version: int
    run_id: str
    suite: dict[str, Any]  # name, version, content_hash, source, seed, seeds, users, users_override
    config_hash: str
    package_version: str
    git: dict[str, Any]  # commit, dirty (None outside a git checkout)
    datasets: dict[str, dict[str, Any]]  # label -> name, options, split, fingerprint, checksums, summary
    models: list[dict[str, Any]]  # dataset, model, seed, train_seed, name, params, revision, this_run
    environment: dict[str, Any]  # python, platform, cpu_count, device, libraries
    reference_workload: dict[str, Any]  # name, seconds (the smaller of the timings taken before and after the run)
    executor: dict[str, Any]
    started: str
    finished: str
    elapsed_s: float
    cpu_s: float  # CPU seconds of the runner's process (a shared machine inflates elapsed_s, not this)
    counts: dict[str, int]  # planned, computed, cached, ok, failed, skipped
    metric_specs: dict[str, MetricSpecRecord]
    cells: list[CellRecord]


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def clean_floats(values: Any, digits: int = 10) -> Any:
    """Lists of floats with NaN/inf as None, rounded to ``digits`` significant digits (smaller files;
    the same rounding in every run, so identical runs give identical files)."""
    if isinstance(values, dict):
        return {k: clean_floats(v, digits) for k, v in values.items()}
    if isinstance(values, (list, tuple)):
        return [clean_floats(v, digits) for v in values]
    if isinstance(values, np.ndarray):
        return clean_floats(values.tolist(), digits)
    if isinstance(values, (bool, np.bool_)):
        return bool(values)
    if isinstance(values, (int, np.integer)):
        return int(values)
    if isinstance(values, (float, np.floating)):
        x = float(values)
        return float(f"{x:.{digits}g}") if math.isfinite(x) else None
    return values


def as_array(values: list[float | None]) -> np.ndarray:
    """A per-user list from a record back to a float array (None -> NaN)."""
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def library_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in LIBRARIES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def git_state() -> dict[str, Any]:
    """The checkout's commit and whether tracked files changed (None outside a git checkout).

    Looks at the package's own folder (source checkout, editable install), then at the working
    directory (an installed wheel run from a checkout, as tox does)."""
    for folder in (REPO_DIR, Path.cwd()):
        try:
            commit = subprocess.run(["git", "-C", str(folder), "rev-parse", "HEAD"], capture_output=True, text=True,
                                    timeout=10, check=True).stdout.strip()
            status = subprocess.run(["git", "-C", str(folder), "status", "--porcelain", "--untracked-files=no"],
                                    capture_output=True, text=True, timeout=10, check=True).stdout
            return {"commit": commit, "dirty": bool(status.strip())}
        except (OSError, subprocess.SubprocessError):
            continue
    return {"commit": None, "dirty": None}


def device_info() -> dict[str, Any]:
    info: dict[str, Any] = {"cpu_count": os.cpu_count(), "cpu": platform.processor() or platform.machine()}
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        import torch

        info["torch_threads"] = torch.get_num_threads()
        info["device"] = f"cuda ({torch.cuda.get_device_name(0)})" if torch.cuda.is_available() else "cpu"
    except ImportError:  # pragma: no cover - torch is a dependency
        info["device"] = "cpu"
    return info


def environment() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "libraries": library_versions(),
        **device_info(),
    }


def reference_workload(*, repeats: int = 5) -> dict[str, Any]:
    """Time a fixed workload (float32 matmuls, the bulk of a BERT forward) on this machine, now.

    Latencies are compared between runs as ratios to this timing, taken in the same run, so that
    a slower or busier machine does not read as a slower explainer.
    """
    import torch

    gen = torch.Generator().manual_seed(0)
    a = torch.randn(384, 384, generator=gen)
    b = torch.randn(384, 1536, generator=gen)
    timings = []
    with torch.no_grad():
        for _ in range(repeats):
            start = time.perf_counter()
            for _ in range(20):
                a @ b
            timings.append(time.perf_counter() - start)
    return {"name": "matmul-384x384x1536-x20", "seconds": float(np.median(timings)), "timings": timings}
