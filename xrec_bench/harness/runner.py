"""Run a suite: plan the grid, run what is not cached, and write the run record.

The grid is dataset x model x explainer x granularity x seed (explainer cells) plus
dataset x model x seed for every explained model and baseline (accuracy cells). Seeds derive from the
suite seed and the cell's key (``derive_seed``), so adding a cell changes no other cell's numbers. Each cell's
cache key hashes everything its numbers depend on (cell key, the suite entries it uses, the
dataset's fingerprint, the model's training inputs, the code and suite versions), so a re-run
computes only what changed.
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
from xrec_bench.harness.cell import CellJob, CellOutcome, WorkerContext
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
         code_fingerprint: Callable[[ComponentSpec | None], dict[str, str]] = lambda explainer: {}) -> list[CellJob]:
    """Every cell of the suite, in run order (accuracy cells first), with its cache key and path.

    ``code_fingerprint(explainer)`` names the code behind a cell (:meth:`Stages.code_fingerprint`); it is
    part of the cache key, so a cell computed by other code is not reused."""
    cache = CellCache(out)
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
                                   "targets": suite.targets_for(ds), "source": code_fingerprint(explainer),
                                   "timing": suite.timing}
                        digest = cache_key(payload)
                        explain_jobs.append(CellJob(
                            "explainer", key, digest, str(cache.path(key, digest)), str(out), ds, model, train_seed,
                            explainer=explainer, granularity=granularity, cell_seed=cell_seed, users_seed=users_seed,
                            n_users=suite.users[granularity], metrics=suite.metrics,
                            metric_options=suite.metric_options_for(granularity), targets=suite.targets_for(ds),
                            retry_failed=retry_failed, timing=suite.timing))
    return jobs + explain_jobs


def run_suite(
    suite: Suite,
    out: str | os.PathLike,
    *,
    stages: Stages,
    executor: Executor | None = None,
    retry_failed: bool = False,
    progress: bool = True,
    users_override: int | None = None,
) -> RunResult:
    """Run ``suite`` into the results folder ``out`` and write its run record there."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    executor = executor or InProcessExecutor()
    suite = suite.with_users(users_override)
    started, t0, cpu0 = now_iso(), time.perf_counter(), time.process_time()
    reference_before = stages.reference_workload()
    context = WorkerContext(stages)

    log.info("suite %s v%s: loading %d dataset(s)", suite.name, suite.version, len(suite.datasets))
    data = {ds.label: context.data(ds) for ds in suite.datasets}
    jobs = plan(suite, data, out, retry_failed=retry_failed, code_fingerprint=stages.code_fingerprint)
    accuracy_jobs = [j for j in jobs if j.kind == "accuracy"]
    explain_jobs = [j for j in jobs if j.kind == "explainer"]

    outcomes: list[CellOutcome] = []
    if isinstance(executor, InProcessExecutor):
        # dataset by dataset, so that a dataset's explained model is still loaded for its cells
        for ds in suite.datasets:
            mine = [j for j in jobs if j.dataset == ds]
            outcomes += _drain(executor.run(mine, context), len(mine), ds.label, progress)
    else:
        # accuracy cells train the models, here, one after another (each model is trained once);
        # then the pool's workers only load them from the model cache
        outcomes += _drain(InProcessExecutor().run(accuracy_jobs, context), len(accuracy_jobs), "accuracy", progress)
        _warm_models(explain_jobs, context)
        outcomes += _drain(executor.run(explain_jobs, context), len(explain_jobs), "explainers", progress)

    reference_after = stages.reference_workload()
    record = _record(suite, data, jobs, outcomes, stages, executor, started, time.perf_counter() - t0,
                     reference_before, reference_after, users_override)
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
        cell = CellCache(job.cache_root).load(Path(job.path))
        if (cell is not None and cell.get("cache_key") == job.digest) or job.model_key in seen:
            continue
        seen.add(job.model_key)
        context.model(job)


def _record(suite, data, jobs, outcomes, stages, executor, started, elapsed, ref_before, ref_after,
            users_override) -> RunRecord:
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
                                     "revision": cell.get("model_revision")}
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
                  "users_override": users_override, "granularities": list(suite.granularities),
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
