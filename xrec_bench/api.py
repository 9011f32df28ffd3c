"""The public Python API, and the one pipeline every command runs: one-cell suites through the harness.

:func:`evaluate` builds a one-cell suite (one dataset, one explained model, one explainer, one
granularity, one seed), validates it like any suite file and runs it through the harness
(:func:`xrec_bench.harness.runner.run_suite` with the real stages): the same user sampling, seeds,
metrics, caches and run record as ``xrec-bench run``. It returns the harness's
:class:`~xrec_bench.harness.runner.RunResult`; ``result.cells`` are the explainer cell records the
leaderboard reads, and ``xrec-bench leaderboard --runs OUT`` builds a leaderboard from ``out``.

The commands are thin shells over the same functions, so a command and a suite cell cannot disagree:
``xrec-bench evaluate`` runs :func:`one_cell_suite` (its explainers plus ``random``) with :func:`run`,
``xrec-bench train`` an accuracy-only suite (:func:`train`), and ``xrec-bench explain`` loads what a
suite cell would run on (:func:`cell_inputs`: the same dataset, trained model and seeds) and explains
one user with it. A suite with seed ``S`` and the command with ``--seed S`` give the same numbers.

What ``explainer`` may be:

- a name: a built-in (``"saliency"``), an installed plugin's entry point, or ``"package.module:Class"``;
- an :class:`~xrec_bench.explainers.Explainer` subclass, or an instance of one (its ``params`` are
  recorded). Both run in this process (a suite run with worker processes needs a name that the
  workers can import: ``package.module:Class``).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xrec_bench.harness.cell import CellJob, WorkerContext
from xrec_bench.harness.executor import InProcessExecutor
from xrec_bench.harness.runner import RunResult, plan, run_suite
from xrec_bench.harness.stages import LoadedData, RealStages, Stages, TrainedModel
from xrec_bench.harness.suite import ComponentSpec, Suite, parse_suite

__all__ = ["evaluate", "one_cell_suite", "run", "train", "cell_inputs"]

#: the suite name (and so the results' folder name) of one-cell suites
ONE_CELL = "api"


def evaluate(
    explainer: Any,
    *,
    dataset: str = "synthetic",
    model: str = "bert-two-tower",
    users: int = 50,
    granularity: str = "history",
    metrics: Sequence[str] | None = None,
    seed: int = 0,
    params: Mapping[str, Any] | None = None,
    label: str | None = None,
    dataset_options: Mapping[str, Any] | None = None,
    model_params: Mapping[str, Any] | None = None,
    metric_options: Mapping[str, Any] | None = None,
    targets: str | None = None,
    timing: Mapping[str, Any] | None = None,
    out: str | os.PathLike | None = None,
    progress: bool = False,
) -> RunResult:
    """Score ``explainer`` on ``users`` users of ``dataset`` explained on ``model`` at ``granularity``.

    ``label`` names the explainer's row (default: its registry name, or its class's ``name``
    attribute). ``metrics`` None: every metric. ``params`` are the explainer's parameters (not with an instance,
    which carries its own). ``out`` is the results folder (None: a new temporary one); running again
    into the same folder reuses the cached cells. Raises :class:`~xrec_bench.harness.suite.SuiteError`
    listing every problem with the arguments before anything is loaded or trained.
    """
    name, params_out, instance = _explainer_entry(explainer, params)
    entry: dict[str, Any] = {"name": name, "params": params_out}
    if label is not None:  # else the suite's default: the name, or the class's ``name`` attribute
        entry["label"] = label
    suite = one_cell_suite([entry], dataset=dataset, model=model, granularity=granularity, users=users, seed=seed,
                           metrics=metrics, dataset_options=dataset_options, model_params=model_params,
                           metric_options=metric_options, targets=targets, timing=timing, source="xrec_bench.evaluate")
    stages = _InstanceStages(instance, progress=progress) if instance is not None else RealStages(progress=progress)
    return run(suite, out, stages=stages, progress=progress)


def train(
    model: str,
    *,
    dataset: str = "synthetic",
    seed: int = 0,
    params: Mapping[str, Any] | None = None,
    dataset_options: Mapping[str, Any] | None = None,
    split: str | None = None,
    split_options: Mapping[str, Any] | None = None,
    accuracy_ks: Sequence[int] | None = None,
    out: str | os.PathLike | None = None,
    progress: bool = False,
) -> RunResult:
    """Train ``model`` (or load it from the model cache) as a suite with seed ``seed`` would, and
    measure its test accuracy: an accuracy-only one-cell suite. ``result.record["cells"][0]`` holds
    the per-user values; ``result.record["models"][0]["this_run"]`` says whether it was trained."""
    suite = one_cell_suite([], dataset=dataset, model=model, seed=seed, dataset_options=dataset_options,
                           split=split, split_options=split_options, model_params=params, accuracy_ks=accuracy_ks,
                           source="xrec_bench.train")
    return run(suite, out, progress=progress)


def one_cell_suite(
    explainers: Sequence[str | Mapping[str, Any]],
    *,
    dataset: str,
    model: str,
    seed: int,
    granularity: str | None = None,
    users: int | None = None,
    metrics: Sequence[str] | None = None,
    dataset_options: Mapping[str, Any] | None = None,
    split: str | None = None,
    split_options: Mapping[str, Any] | None = None,
    model_params: Mapping[str, Any] | None = None,
    metric_options: Mapping[str, Any] | None = None,
    targets: str | None = None,
    timing: Mapping[str, Any] | None = None,
    accuracy_ks: Sequence[int] | None = None,
    source: str = "the arguments",
) -> Suite:
    """The suite of one dataset x one model x ``explainers`` x one granularity, replicate seed 0,
    suite seed ``seed``: what a suite file with these entries (and default labels) runs, so its cells
    have the same numbers. No ``explainers``: an accuracy-only suite (the model as a baseline).
    Validated in full; raises :class:`~xrec_bench.harness.suite.SuiteError` with every problem."""
    ds: dict[str, Any] = {"name": dataset, "options": dict(dataset_options or {})}
    if split is not None:
        ds["split"] = split
    if split_options:
        ds["split_options"] = dict(split_options)
    raw: dict[str, Any] = {"name": ONE_CELL, "version": 1, "seed": seed, "seeds": [0], "datasets": [ds]}
    component = {"name": model, "params": dict(model_params or {})}
    if explainers:
        raw.update(granularities=[granularity], users={granularity: users}, models=[component],
                   explainers=list(explainers), metrics=list(metrics) if metrics is not None else "all")
    else:  # the model's accuracy only
        raw["baselines"] = [component]
    if accuracy_ks is not None:
        raw["accuracy_ks"] = list(accuracy_ks)
    if metric_options:
        raw["metric_options"] = dict(metric_options)
    if targets is not None:
        raw["targets"] = targets
    if timing is not None:
        raw["timing"] = dict(timing)
    return parse_suite(raw, source=source)


def run(suite: Suite, out: str | os.PathLike | None = None, *, stages: Stages | None = None,
        progress: bool = False) -> RunResult:
    """Run ``suite`` in this process into ``out`` (None: a new temporary folder); cached cells are reused."""
    out = out if out is not None else tempfile.mkdtemp(prefix="xrec-bench-evaluate-")
    stages = stages if stages is not None else RealStages(progress=progress)
    return run_suite(suite, out, stages=stages, executor=InProcessExecutor(), progress=progress)


@dataclass
class CellInputs:
    """What the explainer cells of a suite (one dataset, one model) run on, loaded through the harness's
    stages and caches: the dataset and split, the trained model (:meth:`model`, loaded on first use),
    the cells' seed, and each explainer as the cell builds it (:meth:`explainer`)."""

    suite: Suite
    jobs: list[CellJob]
    context: WorkerContext

    @property
    def data(self) -> LoadedData:
        return self.context.data(self.jobs[0].dataset)

    @property
    def seed(self) -> int:
        """The seed the cells explain with (``Explainer.explain`` derives each request's seed from it)."""
        return self.jobs[0].cell_seed

    def model(self) -> TrainedModel:
        return self.context.model(self.jobs[0])

    def explainer(self, spec: ComponentSpec) -> Any:
        """The fitted explainer of ``spec`` (one of ``suite.explainers``)."""
        return self.context.stages.method(spec, self.data)

    def requests_at(self, rows: Sequence[int], *, model: TrainedModel) -> list[Any]:
        """The requests of the test cases at ``rows``, with the suite's targets."""
        return self.context.stages.requests_at(self.data, model, rows, targets=self.suite.targets_for(self.jobs[0].dataset))


def cell_inputs(suite: Suite, *, progress: bool = False, stages: RealStages | None = None) -> CellInputs:
    """Load the dataset of ``suite`` (its only dataset and model) and plan its explainer cells, as
    :func:`~xrec_bench.harness.runner.run_suite` would, without computing any cell."""
    context = WorkerContext(stages if stages is not None else RealStages(progress=progress))
    data = {ds.label: context.data(ds) for ds in suite.datasets}
    # plan() only names the cells' files under its folder; nothing is written there
    jobs = [j for j in plan(suite, data, Path(tempfile.gettempdir())) if j.kind == "explainer"]
    return CellInputs(suite, jobs, context)


def _explainer_entry(explainer: Any, params: Mapping[str, Any] | None) -> tuple[str, dict[str, Any], Any]:
    """(registry name, params, instance or None) for a name, an Explainer subclass or an instance."""
    from xrec_bench.explainers.base import EXPLAINERS, Explainer

    if isinstance(explainer, str):
        return explainer, dict(params or {}), None
    instance = None
    if isinstance(explainer, Explainer):
        if params:
            raise TypeError("evaluate(): pass params either to the explainer's constructor or as params=, "
                            "not both (an instance carries its own params).")
        instance, cls, params = explainer, type(explainer), explainer.params
    elif isinstance(explainer, type) and issubclass(explainer, Explainer):
        cls = explainer
    else:
        raise TypeError("evaluate(): 'explainer' must be a name ('saliency', 'package.module:Class'), an "
                        f"xrec_bench.explainers.Explainer subclass or an instance of one. Got {explainer!r} instead.")
    name = f"{cls.__module__}:{cls.__qualname__.replace('<locals>.', '')}"
    try:
        known = EXPLAINERS.get(name) if name in EXPLAINERS else None
    except Exception:  # noqa: BLE001 - e.g. a module that cannot be imported again by name
        known = None
    if known is not cls:
        if known is not None:  # another class of that name (two classes defined in functions)
            name = f"{name}_{id(cls):x}"
        # not importable by that name (defined in a function or an interactive session): known to this
        # process only, which is why evaluate() runs in-process
        EXPLAINERS.register(name, cls)
    return name, dict(params or {}), instance


class _InstanceStages(RealStages):
    """The real stages, explaining with a user's explainer object instead of building one by name."""

    def __init__(self, instance: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.instance = instance

    def method(self, explainer: ComponentSpec, data: LoadedData) -> Any:
        return self.instance.fit(data.dataset, data.split)
