"""Run a suite: plan the grid, run what is not cached, and write the run record.

The grid is dataset x model x explainer x granularity x seed (explainer cells) plus
dataset x model x seed for every explained model and baseline (accuracy cells). Seeds derive from the
suite seed and the cell's key (``derive_seed``), so adding a cell changes no other cell's numbers. Each cell's
cache key hashes everything its numbers depend on (cell key, the suite entries it uses, the
dataset's fingerprint, the model's training inputs, the code and suite versions), so a re-run
computes only what changed.

``shard_users`` splits every explainer cell with more users into user shards of that size, run as
separate jobs (on different workers) and merged into the values of the unsharded cell; it is a run
option, in no cache key and not in the suite's content hash.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from xrec_bench import __version__
from xrec_bench.harness.cache import CellCache, cache_key
from xrec_bench.harness.cell import CellJob, CellOutcome, WorkerContext, is_done
from xrec_bench.harness.executor import Executor, InProcessExecutor
from xrec_bench.harness.record import CELL_FORMAT, SCHEMA_VERSION, RunRecord, git_state, now_iso
from xrec_bench.harness.stages import LoadedData, Stages
from xrec_bench.harness.suite import ComponentSpec, Suite
from xrec_bench.io import read_json, write_json
from xrec_bench.seeding import derive_seed

log = logging.getLogger(__name__)

ACCURACY = "-"  # explainer and granularity of an accuracy cell


@dataclass(frozen=True)
class RunResult:
    record_path: Path
    record: RunRecord
    outcomes: list[CellOutcome]

    @property
    def failed(self) -> list[CellOutcome]:
        return [o for o in self.outcomes if o.status == "failed"]

    @property
    def cells(self) -> list[dict]:
        """The explainer cells of the run record (per-user metric values, provenance), as the leaderboard reads them."""
        return [c for c in self.record["cells"] if c.get("kind") == "explainer"]


def config_hash(suite: Suite) -> str:
    """What makes two runs of a suite comparable: its content and the users actually sampled."""
    return cache_key({"suite": suite.content_hash, "users": suite.users})[:16]


def plan(suite: Suite, data: dict[str, LoadedData], out: Path, *, retry_failed: bool = False,
         code_fingerprint: Callable[[ComponentSpec | None], dict[str, str]] = lambda explainer: {},
         metric_fingerprint: Callable[[tuple[str, ...] | None], dict[str, str]] = lambda metrics: {},
         shard_users: int | None = None) -> list[CellJob]:
    """Every cell of the suite, in run order (accuracy cells first), with its cache key and path.

    ``code_fingerprint(explainer)`` names the code behind a cell (:meth:`Stages.code_fingerprint`); it is
    part of the cache key, so a cell computed by other code is not reused; ``metric_fingerprint(metrics)``
    adds the plugin metrics' code to the explainer cells' keys. With ``shard_users``, an explainer cell of
    more users lists its user ranges in ``shards`` (:func:`shard_jobs` makes their jobs); the cache key
    does not change."""
    if shard_users is not None and (not isinstance(shard_users, int) or isinstance(shard_users, bool)
                                    or shard_users < 1):
        raise ValueError(f"shard_users must be None or an int >= 1. Got {shard_users!r} instead.")
    cache = CellCache(out)
    metric_code = metric_fingerprint(suite.metrics)
    code = {"format": CELL_FORMAT, "package": __version__, "suite": [suite.name, suite.version]}
    jobs: list[CellJob] = []
    explain_jobs: list[CellJob] = []
    for ds in suite.datasets:
        fingerprint = data[ds.label].fingerprint
        for seed in suite.seeds:
            for model in suite.baselines + suite.models:  # explained models last: still loaded for their cells
                train_seed = derive_seed(suite.seed, "train", ds.label, model.label, seed)
                common = {"code": code, "dataset": [ds.as_dict(), fingerprint], "model": [model.as_dict(), train_seed]}
                key = {"dataset": ds.label, "model": model.label, "explainer": ACCURACY, "granularity": ACCURACY,
                       "seed": seed}
                digest = cache_key({**common, "key": key, "ks": suite.accuracy_ks, "source": code_fingerprint(None)})
                jobs.append(CellJob("accuracy", key, digest, str(cache.path(key, digest)), str(out), ds, model,
                                    train_seed, ks=suite.accuracy_ks, retry_failed=retry_failed))
                if model not in suite.models:
                    continue
                # One seed per (dataset, model, replicate): Explainer.explain derives each request's seed
                # from it with the explainer's name, granularity, user and target, so every cell's
                # randomness is still its own (adding a cell changes no other); and the metrics share
                # what depends only on the model (the randomised copy for the sanity check, perturbations).
                group_seed = derive_seed(suite.seed, ds.label, model.label, seed)
                for granularity in suite.granularities_for(model):
                    users_seed = derive_seed(suite.seed, "users", ds.label, granularity)
                    for explainer in suite.explainers:
                        key = {"dataset": ds.label, "model": model.label, "explainer": explainer.label,
                               "granularity": granularity, "seed": seed}
                        cell_seed = group_seed
                        payload = {**common, "key": key, "explainer": explainer.as_dict(), "cell_seed": cell_seed,
                                   "users_seed": users_seed, "n_users": suite.users[granularity],
                                   "metrics": suite.metrics, "metric_options": suite.metric_options_for(granularity),
                                   "targets": suite.targets_for(ds), "source": {**code_fingerprint(explainer), **metric_code},
                                   "timing": suite.timing}
                        digest = cache_key(payload)
                        n_users = suite.users[granularity]
                        shards = (tuple((a, min(a + shard_users, n_users)) for a in range(0, n_users, shard_users))
                                  if shard_users and n_users > shard_users else ())
                        explain_jobs.append(CellJob(
                            "explainer", key, digest, str(cache.path(key, digest)), str(out), ds, model, train_seed,
                            explainer=explainer, granularity=granularity, cell_seed=cell_seed, users_seed=users_seed,
                            n_users=suite.users[granularity], metrics=suite.metrics,
                            metric_options=suite.metric_options_for(granularity), targets=suite.targets_for(ds),
                            retry_failed=retry_failed, timing=suite.timing, shards=shards))
    return jobs + explain_jobs


def shard_jobs(jobs: Iterable[CellJob]) -> list[CellJob]:
    """The shard jobs of the sharded cells among ``jobs`` that are not finished yet."""
    return [job.shard_job(a, b) for job in jobs if job.shards and not is_done(job) for a, b in job.shards]


def run_suite(
    suite: Suite,
    out: str | os.PathLike,
    *,
    stages: Stages,
    executor: Executor | None = None,
    retry_failed: bool = False,
    progress: bool = True,
    users_override: int | None = None,
    shard_users: int | None = None,
    device_override: str | None = None,
) -> RunResult:
    """Run ``suite`` into the results folder ``out`` and write its run record there.

    ``shard_users``: split explainer cells into shards of that many users (see :func:`plan`); ignored
    (with a log line) by stages that cannot merge shards."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    executor = executor or InProcessExecutor()
    suite = suite.with_users(users_override).with_device(device_override)
    started, t0, cpu0 = now_iso(), time.perf_counter(), time.process_time()
    reference_before = stages.reference_workload()
    context = WorkerContext(stages)

    log.info("suite %s v%s: loading %d dataset(s)", suite.name, suite.version, len(suite.datasets))
    data = {ds.label: context.data(ds) for ds in suite.datasets}
    if shard_users is not None and not stages.shards_users:
        log.info("%s cannot split cells into user shards; running cells whole", type(stages).__name__)
        shard_users = None
    jobs = plan(suite, data, out, retry_failed=retry_failed, code_fingerprint=stages.code_fingerprint,
                metric_fingerprint=stages.metric_fingerprint, shard_users=shard_users)
    accuracy_jobs = [j for j in jobs if j.kind == "accuracy"]
    explain_jobs = [j for j in jobs if j.kind == "explainer"]

    outcomes: list[CellOutcome] = []
    if executor.shares_context:
        # dataset by dataset, so that a dataset's explained model is still loaded for its cells
        # (shards first: a sharded cell merges them)
        for ds in suite.datasets:
            mine = [j for j in jobs if j.dataset == ds]
            _drain(executor.run(shard_jobs(mine), context), 0, ds.label, False)
            outcomes += _drain(executor.run(mine, context), len(mine), ds.label, progress)
    else:
        # accuracy cells train the models, here, one after another (each model is trained once);
        # then the workers only load them from the model cache
        outcomes += _drain(InProcessExecutor().run(accuracy_jobs, context), len(accuracy_jobs), "accuracy", progress)
        _warm_models(explain_jobs, context)
        shards = shard_jobs(explain_jobs)
        whole = [j for j in explain_jobs if not j.shards]
        # shards and whole cells together; then the sharded cells merge their (finished) shards
        done = _drain(executor.run(shards + whole, context), len(shards) + len(whole), "explainers", progress)
        outcomes += [o for o in done if o.kind != "shard"]
        merging = [j for j in explain_jobs if j.shards]
        outcomes += _drain(executor.run(merging, context), len(merging), "merging shards", progress)

    reference_after = stages.reference_workload()
    record = _record(suite, data, jobs, outcomes, stages, executor, started, time.perf_counter() - t0,
                     reference_before, reference_after, users_override, context.model_loads, device_override)
    record["cpu_s"] = round(time.process_time() - cpu0, 3)  # this process only (not pool workers)
    run_id = record["run_id"]
    path = write_json(out / "records" / f"{run_id}.json", record, indent=None)
    write_json(out / "record.json", record, indent=None)  # the latest run (atomic: last writer wins whole)
    return RunResult(path, record, outcomes)


def _drain(results: Iterable[CellOutcome], total: int, what: str, progress: bool) -> list[CellOutcome]:
    out = []
    with tqdm(total=total, desc=what, unit="cell", disable=not progress or total == 0, leave=False) as bar:
        for outcome in results:
            out.append(outcome)
            level = logging.WARNING if outcome.status == "failed" else logging.INFO
            log.log(level, "%s %s%s %s", outcome.status, "/".join(str(v) for v in outcome.key.values()),
                    " (cached)" if outcome.cached else f" ({outcome.elapsed_s:.1f}s)", outcome.reason)
            bar.set_postfix_str("/".join(str(outcome.key[k]) for k in ("dataset", "explainer")), refresh=False)
            bar.update()
    return out


def _warm_models(jobs: list[CellJob], context: WorkerContext) -> None:
    """Train (or load) every model uncached cells need, here, so pool workers only load them from cache."""
    seen = set()
    for job in jobs:
        if is_done(job) or job.model_key in seen:
            continue
        seen.add(job.model_key)
        context.model(job)


def _record(suite, data, jobs, outcomes, stages, executor, started, elapsed, ref_before, ref_after,
            users_override, model_loads=None, device_override=None) -> RunRecord:
    by_path = {o.path: o for o in outcomes}
    cells, specs, models = [], {}, {}
    for job in jobs:
        cell = read_json(job.path)
        cell.pop("curves_per_user", None)  # per-user curves stay in the cell files; the record keeps means
        specs.update(cell.pop("metric_specs", {}) or {})
        cells.append(cell)
        if job.kind == "accuracy":
            models[job.model_key] = {"dataset": job.dataset.label, "model": job.model.label, "seed": job.key["seed"],
                                     "train_seed": job.train_seed, "name": job.model.name, "params": job.model.params,
                                     "explained": job.model in suite.models,
                                     "revision": cell.get("model_revision"),
                                     # "trained", "loaded from the model cache", or not needed (cells cached)
                                     "this_run": (model_loads or {}).get(job.model_key, "not loaded: its cells were cached")}
    counts = {"planned": len(jobs), "cached": sum(o.cached for o in by_path.values()),
              "computed": sum(not o.cached for o in by_path.values())}
    for status in ("ok", "failed", "skipped"):
        counts[status] = sum(c["status"] == status for c in cells)
    ref_seconds = sorted([ref_before["seconds"], ref_after["seconds"]])[0]
    finished = now_iso()
    return {
        "schema_version": SCHEMA_VERSION,
        "run_id": f"{suite.name}-v{suite.version}-{finished.replace(':', '').replace('-', '')[:15]}-{uuid.uuid4().hex[:8]}",
        "suite": {"name": suite.name, "version": suite.version, "content_hash": suite.content_hash,
                  "source": suite.source, "seed": suite.seed, "seeds": list(suite.seeds), "users": suite.users,
                  "users_override": users_override, "device_override": device_override, "granularities": list(suite.granularities),
                  "targets": suite.targets},
        "config_hash": config_hash(suite),
        "package_version": __version__,
        "git": git_state(),
        "datasets": {ds.label: {**ds.as_dict(), "fingerprint": data[ds.label].fingerprint,
                                "checksums": data[ds.label].checksums, "summary": data[ds.label].summary}
                     for ds in suite.datasets},
        "models": list(models.values()),
        "environment": stages.environment(),
        "reference_workload": {"name": ref_before["name"], "seconds": ref_seconds,
                               "before": ref_before["seconds"], "after": ref_after["seconds"]},
        "executor": executor.describe(),
        "started": started,
        "finished": finished,
        "elapsed_s": round(elapsed, 3),
        "counts": counts,
        "metric_specs": specs,
        "cells": cells,
    }
