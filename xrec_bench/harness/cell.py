"""One cell of the grid: a job description, its execution under a per-cell lock, and its outcome.

A cell is either an *accuracy* cell (dataset x model x seed: the model's ranking accuracy) or an
*explainer* cell (dataset x model x explainer x granularity x seed: explanations and their metric
values). An explainer cell may be split into user shards (``CellJob.shards``): each shard job
(kind ``shard``) explains a slice of the cell's requests and stores its per-user part under
``cells/.../shards/``; the cell itself then merges the shards (computing any that are missing) with
:meth:`Stages.merge_shards`, into the values an unsharded cell gives. An exception or an all-NaN result makes the cell ``failed`` with the reason recorded;
``KeyboardInterrupt``/``SystemExit`` are not failures: they stop the run and the cell stays absent,
to be computed by the next run.
"""

from __future__ import annotations

import json
import logging
import math
import os
import socket
import time
import traceback
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from xrec_bench.explainers.targets import DEFAULT_TARGET
from xrec_bench.harness.cache import CellCache, cache_key
from xrec_bench.harness.record import SCHEMA_VERSION, CellRecord, clean_floats, now_iso
from xrec_bench.harness.stages import CellOutput, LoadedData, Stages, TrainedModel
from xrec_bench.harness.suite import ComponentSpec, DatasetSpec
from xrec_bench.seeding import deterministic_torch

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CellJob:
    kind: str  # "accuracy" | "explainer"
    key: dict[str, Any]
    digest: str
    path: str
    cache_root: str
    dataset: DatasetSpec
    model: ComponentSpec
    train_seed: int
    explainer: ComponentSpec | None = None
    granularity: str = "-"
    cell_seed: int = 0
    users_seed: int = 0
    n_users: int = 0
    ks: tuple[int, ...] = (10, 20)
    metrics: tuple[str, ...] | None = None
    metric_options: dict[str, Any] = field(default_factory=dict)
    targets: str = DEFAULT_TARGET
    retry_failed: bool = False
    timing: dict[str, Any] = field(default_factory=dict)
    #: an explainer cell merged from user shards: the [start, stop) ranges of its requests
    shards: tuple[tuple[int, int], ...] = ()
    #: a shard job (kind "shard"): the [start, stop) range of the cell's requests it explains
    shard: tuple[int, int] | None = None

    @property
    def model_key(self) -> str:
        return cache_key([self.dataset.as_dict(), self.model.as_dict(), self.train_seed])

    def shard_job(self, start: int, stop: int) -> CellJob:
        """The job that computes users ``[start, stop)`` of this (explainer) cell."""
        return replace(self, kind="shard", shard=(start, stop), shards=())

    def shard_digest(self, start: int, stop: int) -> str:
        """A shard's cache key: its cell's key and its range (the shard size is not part of the cell's key)."""
        return cache_key({"cell": self.digest, "users": [start, stop]})

    def shard_path(self, start: int, stop: int) -> Path:
        cell = Path(self.path)
        return cell.parent / "shards" / f"{cell.stem}__users{start}-{stop}.json"


@dataclass(frozen=True)
class CellOutcome:
    key: dict[str, Any]
    kind: str
    status: str
    reason: str
    cached: bool
    elapsed_s: float
    path: str


class WorkerContext:
    """Stages plus what one process has loaded: datasets and trained models (a few, LRU)."""

    def __init__(self, stages: Stages, *, max_models: int = 3) -> None:
        self.stages = stages
        self._data: dict[str, LoadedData] = {}
        self._models: OrderedDict[str, TrainedModel] = OrderedDict()
        self._max_models = max_models
        #: model key -> how this process first got it: "trained", "loaded from the model cache" (or, from
        #: stages that do not say, "trained or loaded")
        self.model_loads: dict[str, str] = {}

    def data(self, spec: DatasetSpec) -> LoadedData:
        key = cache_key(spec.as_dict())
        if key not in self._data:
            self._data[key] = self.stages.load(spec)
        return self._data[key]

    def model(self, job: CellJob) -> TrainedModel:
        key = job.model_key
        if key in self._models:
            self._models.move_to_end(key)
            return self._models[key]
        trained = self.stages.train(self.data(job.dataset), job.model, seed=job.train_seed)
        self.model_loads.setdefault(key, {True: "loaded from the model cache", False: "trained"}.get(
            trained.from_cache, "trained or loaded"))
        self._models[key] = trained
        while len(self._models) > self._max_models:
            self._models.popitem(last=False)
        return trained


def execute_cell(job: CellJob, context: WorkerContext) -> CellOutcome:
    """Run one cell unless a finished copy is cached; store it atomically under a per-cell lock."""
    if job.kind == "shard":
        return _execute_shard(job, context)
    cache = CellCache(job.cache_root)
    start = time.perf_counter()
    with cache.lock(job.digest):
        existing = cache.load(_path(job))
        if existing is not None and existing.get("cache_key") == job.digest and not (
            existing.get("status") == "failed" and (job.retry_failed or existing.get("retryable"))
        ):
            return _outcome(job, existing, cached=True, elapsed=time.perf_counter() - start)
        with deterministic_torch():  # identical numbers whatever the thread count
            record = compute_cell(job, context)
        cache.store(_path(job), record)
    return _outcome(job, record, cached=False, elapsed=record["elapsed_s"])


def _path(job: CellJob) -> Path:
    return Path(job.path)


def is_done(job: CellJob) -> bool:
    """Whether ``job``'s cell is cached and would be reused (not a failure to compute again)."""
    existing = CellCache(job.cache_root).load(_path(job))
    return existing is not None and existing.get("cache_key") == job.digest and not (
        existing.get("status") == "failed" and (job.retry_failed or existing.get("retryable")))


def _execute_shard(job: CellJob, context: WorkerContext) -> CellOutcome:
    """Compute one user shard of an explainer cell (nothing when the merged cell is already cached)."""
    assert job.shard is not None  # internal invariant: set by CellJob.shard_job
    start = time.perf_counter()
    if is_done(job):
        return CellOutcome(job.key, job.kind, "ok", "", True, time.perf_counter() - start, job.path)
    supported, why = context.stages.supports(job.explainer, job.granularity)
    if not supported:  # the cell records the skip; there is nothing to explain
        return CellOutcome(job.key, job.kind, "skipped", why, False, time.perf_counter() - start, job.path)
    part, cached = _shard_part(job, *job.shard, context)
    return CellOutcome(job.key, job.kind, part["status"], part.get("reason", ""), cached,
                       time.perf_counter() - start if cached else part["elapsed_s"], str(job.shard_path(*job.shard)))


def _shard_part(job: CellJob, first: int, stop: int, context: WorkerContext) -> tuple[dict[str, Any], bool]:
    """The stored part of users ``[first, stop)`` of ``job``'s cell, computed and stored if absent."""
    cache = CellCache(job.cache_root)
    digest, path = job.shard_digest(first, stop), job.shard_path(first, stop)
    with cache.lock(digest):
        existing = cache.load(path)
        if existing is not None and existing.get("cache_key") == digest and not (
            existing.get("status") == "failed" and (job.retry_failed or existing.get("retryable"))):
            return existing, True
        start = time.perf_counter()
        part: dict[str, Any] = {"schema_version": SCHEMA_VERSION, "kind": "shard", "key": job.key,
                                "cache_key": digest, "cell_cache_key": job.digest, "users_range": [first, stop],
                                "status": "ok", "reason": "", "metrics": {}}
        try:
            with deterministic_torch():
                stages = context.stages
                data = context.data(job.dataset)
                trained = context.model(job)
                requests = stages.requests(data, trained, job.granularity, n_users=job.n_users, seed=job.users_seed,
                                           targets=job.targets)
                part["part"] = stages.explain_shard(
                    data, trained, job.explainer, requests[first:stop], granularity=job.granularity,
                    seed=job.cell_seed, metrics=job.metrics, metric_options=job.metric_options)
        except Exception as exc:  # noqa: BLE001 - recorded; the cell that merges this shard fails with it
            log.warning("shard %s users %d-%d failed: %s: %s", _label(job.key), first, stop, type(exc).__name__, exc)
            part.update(status="failed", reason=f"{type(exc).__name__}: {exc}", retryable=is_cache_fault(exc))
        _finish(part, start)  # type: ignore[arg-type]
        cache.store(path, part)
    return part, False


def _outcome(job: CellJob, record: dict[str, Any], *, cached: bool, elapsed: float) -> CellOutcome:
    return CellOutcome(job.key, job.kind, record["status"], record.get("reason", ""), cached, elapsed, job.path)


def compute_cell(job: CellJob, context: WorkerContext) -> CellRecord:
    stages = context.stages
    start = time.perf_counter()
    record: CellRecord = {
        "schema_version": SCHEMA_VERSION, "kind": job.kind, "key": job.key, "cache_key": job.digest,
        "cell_seed": job.cell_seed, "status": "ok", "reason": "", "warnings": [], "skipped": [],
        "users": [], "targets": [], "metrics": {}, "curves": {}, "curves_per_user": {}, "metric_specs": {},
    }
    try:
        if job.explainer is not None:
            record["explainer_flags"] = stages.explainer_flags(job.explainer)
            plugin = stages.plugin(job.explainer)
            if plugin:
                record["plugin"] = plugin
            metric_plugins = stages.metric_plugins(job.metrics)
            if metric_plugins:
                record["metric_plugins"] = metric_plugins
            supported, why = stages.supports(job.explainer, job.granularity)
            if not supported:
                record.update(status="skipped", reason=why)
                return _finish(record, start)
        data = context.data(job.dataset)
        record["dataset_fingerprint"] = data.fingerprint
        trained = context.model(job)
        record["model_revision"] = trained.revision
        if job.kind == "accuracy":
            out = stages.accuracy(data, trained, ks=job.ks)
        else:
            requests = stages.requests(data, trained, job.granularity, n_users=job.n_users, seed=job.users_seed,
                                       targets=job.targets)
            if job.shards:
                out = _merge(job, context, data, trained, requests)
                record["shards"] = [list(s) for s in job.shards]
            else:
                out = stages.explain(data, trained, job.explainer, requests, granularity=job.granularity,
                                     seed=job.cell_seed, metrics=job.metrics, metric_options=job.metric_options)
        _fill(record, out, stages)
        status, reason, warnings = judge(out, strict=job.kind == "accuracy")
        record.update(status=status, reason=reason, warnings=warnings)
        if job.kind == "explainer" and status == "ok":
            # only requests the explainer handled: a skipped one costs nothing and would flatter it
            declined = out.declined_users()
            record["timing"] = _probe(job, stages, data, trained, [r for r in requests if int(r.user) not in declined])
    except Exception as exc:  # noqa: BLE001 - a failing cell is recorded and the suite goes on
        log.warning("cell %s failed: %s: %s", _label(job.key), type(exc).__name__, exc)
        log.debug("%s", traceback.format_exc())
        tail = traceback.format_exc(limit=-3).strip().splitlines()
        record.update(status="failed", reason=f"{type(exc).__name__}: {exc}", traceback=tail[-12:],
                      retryable=is_cache_fault(exc) or bool(getattr(exc, "retryable", False)))
    return _finish(record, start)


def _merge(job: CellJob, context: WorkerContext, data, trained, requests) -> CellOutput:
    """The cell's output from its user shards (each computed here if no worker has stored it yet)."""
    parts = []
    for first, stop in job.shards:
        part, _ = _shard_part(job, first, stop, context)
        if part["status"] != "ok":
            raise ShardError(f"users {first}-{stop} of this cell failed: {part['reason']}",
                             retryable=bool(part.get("retryable")))
        parts.append(part["part"])
    return context.stages.merge_shards(data, trained, job.explainer, requests, parts, granularity=job.granularity,
                                       seed=job.cell_seed, metrics=job.metrics, metric_options=job.metric_options)


class ShardError(RuntimeError):
    """A user shard of the cell failed (its reason follows); --retry-failed computes it again, and the
    next run does by itself when the shard met a damaged file (``retryable``)."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


#: exceptions that say a file (a cache entry, a download) was damaged or unreadable, not that the
#: method failed: a cell that failed with one is computed again by the next run, without --retry-failed
_CACHE_FAULT_NAMES = {"BadZipFile", "SafetensorError", "DamagedCheckpointError", "JSONDecodeError",
                      "UnpicklingError", "DatasetError", "ChecksumMismatchError", "CorruptArchiveError",
                      "DownloadError"}


def is_cache_fault(exc: BaseException) -> bool:
    """Whether ``exc`` (or an exception it was raised from) is a damaged or unreadable file."""
    seen = 0
    while exc is not None and seen < 5:
        if isinstance(exc, OSError | EOFError) or type(exc).__name__ in _CACHE_FAULT_NAMES:
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def _probe(job: CellJob, stages: Stages, data, trained, requests) -> dict[str, Any]:
    """The cell's latency in reference units (see xrec_bench.harness.timing); never fails the cell."""
    from xrec_bench.harness.timing import not_judged

    if not job.timing or job.timing.get("blocks", 0) == 0:
        return not_judged("the suite turns the timing probe off ([timing] blocks = 0)")
    try:
        return stages.time_explainer(data, trained, job.explainer, requests, granularity=job.granularity,
                                     seed=job.cell_seed, **job.timing)
    except Exception as exc:  # noqa: BLE001 - a probe that breaks leaves latency unjudged, not the cell failed
        log.warning("timing probe of %s failed: %s: %s", _label(job.key), type(exc).__name__, exc)
        return not_judged(f"the timing probe failed: {type(exc).__name__}: {exc}")


def _finish(record: CellRecord, start: float) -> CellRecord:
    record["elapsed_s"] = round(time.perf_counter() - start, 4)
    record["finished"] = now_iso()
    record["host_pid"] = f"{socket.gethostname()}:{os.getpid()}"
    return record


def _fill(record: CellRecord, out: CellOutput, stages: Stages) -> None:
    n = len(out.users)
    for name, values in out.metrics.items():
        if np.asarray(values).shape != (n,):
            raise ValueError(f"metric {name!r} has {np.asarray(values).shape} values for {n} users; expected ({n},)")
    record["users"] = [int(u) for u in out.users]
    record["targets"] = [int(t) for t in out.targets]
    record["metrics"] = clean_floats({k: np.asarray(v, dtype=np.float64) for k, v in sorted(out.metrics.items())})
    record["curves_per_user"] = clean_floats({k: np.asarray(v, dtype=np.float64) for k, v in sorted(out.curves.items())})
    record["curves"] = clean_floats({k: _nanmean_rows(np.asarray(v, dtype=np.float64)) for k, v in sorted(out.curves.items())})
    record["skipped"] = [[int(u), str(r)] for u, r in out.skipped]
    record["info"] = json.loads(json.dumps(clean_floats(out.info), default=str))
    record["metric_specs"] = {name: stages.metric_spec(name) for name in sorted(out.metrics)}


def _nanmean_rows(curves: np.ndarray) -> np.ndarray:
    if curves.ndim != 2 or curves.shape[0] == 0:
        return np.array([])
    finite = np.isfinite(curves)
    counts = finite.sum(axis=0)
    sums = np.where(finite, curves, 0.0).sum(axis=0)
    return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def judge(out: CellOutput, *, strict: bool) -> tuple[str, str, list[str]]:
    """``(status, reason, warnings)`` of a computed cell: NaN everywhere (or, if ``strict``, anywhere) fails."""
    if not out.metrics or len(out.users) == 0:
        return "failed", "no metric values were produced (no users, or no metrics)", []
    all_nan = [k for k, v in out.metrics.items() if not np.isfinite(np.asarray(v, dtype=float)).any()]
    some_nan = {k: int((~np.isfinite(np.asarray(v, dtype=float))).sum()) for k, v in out.metrics.items()}
    if len(all_nan) == len(out.metrics):
        reasons = sorted({r for _, r in out.skipped})[:3]
        if reasons and set(out.users) <= out.declined_users():
            # the explainer declined every request, each with a reason (e.g. too many features for
            # exact Shapley): the method does not apply here, which is a result, not a failure
            return "skipped", f"every request was skipped: {'; '.join(reasons)}", []
        extra = f" (skips: {'; '.join(reasons)})" if reasons else ""
        return "failed", f"every metric value is NaN for all {len(out.users)} users{extra}", []
    if strict and any(some_nan.values()):
        bad = {k: v for k, v in some_nan.items() if v}
        return "failed", f"non-finite values (count per metric): {bad}", []
    warnings = [f"metric {k!r} is NaN for every user" for k in sorted(all_nan)]
    if out.skipped:
        warnings.append(f"{len(out.skipped)} of {len(out.users)} requests skipped")
    return "ok", "", warnings


def _label(key: dict[str, Any]) -> str:
    return "/".join(str(key[k]) for k in ("dataset", "model", "granularity", "explainer", "seed"))


def finite_mean(values: list[float | None]) -> float:
    xs = [v for v in values if v is not None and math.isfinite(v)]
    return sum(xs) / len(xs) if xs else float("nan")
