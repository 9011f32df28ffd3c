"""The public Python API: score one explainer the way a suite cell scores it.

:func:`evaluate` builds a one-cell suite (one dataset, one explained model, one explainer, one
granularity, one seed), validates it like any suite file and runs it through the harness
(:func:`xrec_bench.harness.runner.run_suite` with the real stages): the same user sampling, seeds,
metrics, caches and run record as ``xrec-bench run``. It returns the harness's
:class:`~xrec_bench.harness.runner.RunResult`; ``result.cells`` are the explainer cell records the
leaderboard reads, and ``xrec-bench leaderboard --runs OUT`` builds a leaderboard from ``out``.

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
from typing import Any

from xrec_bench.harness.executor import InProcessExecutor
from xrec_bench.harness.runner import RunResult, run_suite
from xrec_bench.harness.stages import LoadedData, RealStages
from xrec_bench.harness.suite import ComponentSpec, parse_suite

__all__ = ["evaluate"]


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
    raw: dict[str, Any] = {
        "name": "api", "version": 1, "seed": seed, "seeds": [0], "granularities": [granularity],
        "users": {granularity: users}, "metrics": list(metrics) if metrics is not None else "all",
        "datasets": [{"name": dataset, "options": dict(dataset_options or {})}],
        "models": [{"name": model, "params": dict(model_params or {})}],
        "explainers": [entry],
    }
    if metric_options:
        raw["metric_options"] = dict(metric_options)
    if targets is not None:
        raw["targets"] = targets
    if timing is not None:
        raw["timing"] = dict(timing)
    suite = parse_suite(raw, source="xrec_bench.evaluate")
    out = out if out is not None else tempfile.mkdtemp(prefix="xrec-bench-evaluate-")
    stages = _InstanceStages(instance, progress=progress) if instance is not None else RealStages(progress=progress)
    return run_suite(suite, out, stages=stages, executor=InProcessExecutor(), progress=progress)


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
