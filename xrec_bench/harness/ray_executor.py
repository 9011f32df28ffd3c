"""Run cells on a Ray cluster (``--executor ray``; ``pip install 'xrec-bench[ray]'``).

The executor connects to an existing cluster (``address``, else ``$RAY_ADDRESS``) or, with neither,
starts a local one. It starts ``workers`` actors; each keeps a :class:`WorkerContext` (the datasets
and models it has loaded, from the shared caches: ``$XREC_BENCH_DATA`` must name a folder every node
sees, e.g. on shared storage) and runs :func:`execute_cell`, which writes each finished cell into the
results folder itself, atomically. The results folder must be shared too. Killing the driver loses no
finished cell: Ray ends the driver's actors, and a re-run reuses every cell (and user shard) on disk.

``gpus_per_worker`` / ``cpus_per_worker`` are each actor's Ray resources (one GPU per worker for the
standard suite). The driver's ``XREC_BENCH_*``, Hugging Face and tokenizer settings are passed to the
workers (``runtime_env``), so they read the same caches and mirror.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator, Sequence
from typing import Any

from xrec_bench.harness.cell import CellJob, CellOutcome, WorkerContext, execute_cell
from xrec_bench.harness.executor import Executor

#: environment variables passed from the driver to every worker
FORWARDED_ENV = ("XREC_BENCH_", "HF_", "TRANSFORMERS_", "TOKENIZERS_PARALLELISM", "OMP_NUM_THREADS")

INSTALL_HINT = "pip install 'xrec-bench[ray]' (or: pip install 'ray>=2.9')"


def _ray():
    try:
        import ray
    except ImportError:
        raise ImportError(f"--executor ray needs Ray, which is not installed: {INSTALL_HINT}") from None
    return ray


class _Worker:
    """One Ray actor: a worker context kept across the cells it runs."""

    def __init__(self, stages) -> None:
        self.context = WorkerContext(stages)

    def run(self, index: int, job: CellJob) -> tuple[int, CellOutcome]:
        return index, execute_cell(job, self.context)


class RayExecutor(Executor):
    """``workers`` Ray actors, fed cells as they finish (an actor keeps its loaded models)."""

    name = "ray"

    def __init__(self, *, workers: int = 2, address: str | None = None, gpus_per_worker: float = 0.0,
                 cpus_per_worker: float = 1.0) -> None:
        super().__init__(workers=workers)
        for label, value in (("gpus_per_worker", gpus_per_worker), ("cpus_per_worker", cpus_per_worker)):
            if not isinstance(value, int | float) or value < 0:
                raise ValueError(f"{label} must be a number >= 0. Got {value!r} instead.")
        self.address = address or os.environ.get("RAY_ADDRESS") or None
        self.gpus_per_worker = float(gpus_per_worker)
        self.cpus_per_worker = float(cpus_per_worker)
        _ray()  # fail now, with the install hint, rather than after the datasets are loaded

    def describe(self) -> dict[str, Any]:
        return {"kind": self.name, "workers": self.workers, "address": self.address or "local",
                "gpus_per_worker": self.gpus_per_worker, "cpus_per_worker": self.cpus_per_worker}

    def _connect(self):
        ray = _ray()
        if not ray.is_initialized():
            # settings only: access tokens (HF_TOKEN) stay with the driver
            env = {k: v for k, v in os.environ.items() if k.startswith(FORWARDED_ENV) and not k.endswith("_TOKEN")}
            kwargs: dict[str, Any] = {"runtime_env": {"env_vars": env}, "log_to_driver": True}
            if self.address:
                kwargs["address"] = self.address
            else:
                # a local cluster sized for the workers (Ray would otherwise take every core)
                kwargs["num_cpus"] = max(1, int(round(self.workers * max(self.cpus_per_worker, 1.0))))
            ray.init(**kwargs)
        return ray

    def run(self, jobs: Sequence[CellJob], context: WorkerContext) -> Iterator[CellOutcome]:
        if not jobs:
            return
        ray = self._connect()
        from ray.util import ActorPool

        actors = self._actors(ray, context)
        # workers may run in another folder (or on another node): hand them absolute paths, and give
        # the runner back its own
        remote = [(i, _absolute(job)) for i, job in enumerate(jobs)]
        for i, outcome in ActorPool(actors).map_unordered(lambda a, item: a.run.remote(*item), remote):
            yield outcome if jobs[i].kind == "shard" else dataclasses.replace(outcome, path=jobs[i].path)

    def _actors(self, ray, context: WorkerContext) -> list:
        """The workers, started once per stages and kept across calls (shards, then merges), so each
        keeps what it has loaded. Ray ends them with this executor (or with the driver)."""
        if getattr(self, "_pool_for", None) is not context.stages:
            actor = ray.remote(num_cpus=self.cpus_per_worker, num_gpus=self.gpus_per_worker, max_restarts=0)(_Worker)
            stages = ray.put(context.stages)
            self._pool = [actor.remote(stages) for _ in range(self.workers)]
            self._pool_for = context.stages
        return self._pool


def _absolute(job: CellJob) -> CellJob:
    return dataclasses.replace(job, path=os.path.abspath(job.path), cache_root=os.path.abspath(job.cache_root))
