"""Where cells run: in this process (default), in a pool of worker processes, or on a Ray cluster.

The runner hands an executor a list of independent cell jobs and reads outcomes as they finish;
it never asks which executor it has. A distributed engine plugs in as another :class:`Executor`
whose workers call :func:`xrec_bench.harness.cell.execute_cell` (each worker writes its finished
cells into the shared results folder itself, so a crashed runner loses nothing finished).
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from typing import Any

from xrec_bench.harness.cell import CellJob, CellOutcome, WorkerContext, execute_cell
from xrec_bench.harness.stages import Stages
from xrec_bench.registry import Registry

EXECUTORS: Registry[type[Executor]] = Registry("executor")


class Executor(ABC):
    name = ""
    #: whether jobs run with the caller's :class:`WorkerContext` (its loaded datasets and models), so
    #: the runner may hand them over dataset by dataset; otherwise workers load from the shared caches
    shares_context = False

    def __init__(self, *, workers: int = 1, **options: Any) -> None:
        if not isinstance(workers, int) or workers < 1:
            raise ValueError(f"workers must be an int >= 1. Got {workers!r} instead.")
        if options:
            raise ValueError(f"The {self.name} executor takes no option {sorted(options)[0]!r}; "
                             "--address and --gpus-per-worker apply to --executor ray only.")
        self.workers = workers

    @abstractmethod
    def run(self, jobs: Sequence[CellJob], context: WorkerContext) -> Iterator[CellOutcome]:
        """Execute ``jobs``, yielding each outcome as it finishes (in any order)."""

    def describe(self) -> dict[str, Any]:
        return {"kind": self.name, "workers": self.workers}


@EXECUTORS.register("in-process")
class InProcessExecutor(Executor):
    """One cell after another in this process, sharing the context's loaded datasets and models."""

    name = "in-process"
    shares_context = True

    def run(self, jobs, context):
        for job in jobs:
            yield execute_cell(job, context)


_WORKER: WorkerContext | None = None


def _init_worker(stages: Stages, parent_pid: int | None = None) -> None:
    global _WORKER
    if parent_pid is not None:
        watch_parent(parent_pid)
    _WORKER = WorkerContext(stages)


def watch_parent(parent_pid: int, *, interval: float = 1.0) -> threading.Thread:
    """Exit this process soon after ``parent_pid`` dies (a killed runner must not leave its workers
    computing, then idle holding their models' memory). A daemon thread polls the parent id: when the
    parent dies the worker is re-parented, so ``os.getppid()`` changes. Unfinished cells are simply
    absent (cells are written atomically), so exiting at once loses nothing finished."""

    def watch() -> None:
        while True:
            if os.getppid() != parent_pid:
                os._exit(3)
            time.sleep(interval)

    thread = threading.Thread(target=watch, name="xrec-bench-parent-watch", daemon=True)
    thread.start()
    return thread


def _pool_execute(job: CellJob) -> CellOutcome:
    assert _WORKER is not None, "worker not initialised"  # internal invariant, not user input
    return execute_cell(job, _WORKER)


@EXECUTORS.register("process")
class ProcessPoolExecutor(Executor):
    """A pool of ``workers`` processes (``spawn``: no torch/OpenMP state is forked). Each worker loads a
    dataset or model once (from the stages' caches) and keeps it for the cells that follow."""

    name = "process"

    def run(self, jobs, context):
        if not jobs:
            return
        ctx = multiprocessing.get_context("spawn")
        pool = cf.ProcessPoolExecutor(max_workers=self.workers, mp_context=ctx, initializer=_init_worker,
                                      initargs=(context.stages, os.getpid()))
        try:
            futures = [pool.submit(_pool_execute, job) for job in jobs]
            for future in cf.as_completed(futures):
                yield future.result()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


# imported on first use: ray is an optional extra (``pip install xrec-bench[ray]``)
EXECUTORS.register("ray", "xrec_bench.harness.ray_executor:RayExecutor")


def get_executor(name: str, *, workers: int = 1, **options: Any) -> Executor:
    """The executor registered as ``name``; ``options`` are that executor's own (e.g. ray's ``address``)."""
    return EXECUTORS.get(name)(workers=workers, **options)
