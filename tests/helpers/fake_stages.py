"""Deterministic stand-in stages, to exercise the runner, cache, leaderboard and gate without models.

Every number is a pure function of (names, seeds), with per-user noise, so runs are reproducible
and a planted change (a slower explainer, a worse one, a failing or NaN cell, an interruption) is
known exactly. Used by the tests of the harness, the leaderboard and the CI gate script.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from xrec_bench.harness.record import MetricSpecRecord
from xrec_bench.harness.stages import CellOutput, LoadedData, Stages, TrainedModel, sample_cases
from xrec_bench.harness.suite import Catalog, ComponentSpec, DatasetSpec
from xrec_bench.seeding import derive_seed

FAKE_DATASETS = ("toy-a", "toy-b")
FAKE_MODELS = ("fake-two-tower", "fake-popular")
#: explainer -> quality in [0, 1] (random is the floor)
FAKE_EXPLAINERS = {"random": 0.0, "oracle": 0.9, "gradient": 0.6, "perturbation": 0.5, "history-only": 0.4}
FAKE_METRICS: dict[str, MetricSpecRecord] = {
    "deletion_auc": {"higher_is_better": False, "group": "faithfulness", "description": "fake", "granularity": None},
    "insertion_auc": {"higher_is_better": True, "group": "faithfulness", "description": "fake", "granularity": None},
    "gt_precision@1": {"higher_is_better": True, "group": "ground-truth", "description": "fake", "granularity": None},
    "n_evals": {"higher_is_better": False, "group": "cost", "description": "fake model evaluations", "granularity": None},
    "wall_time_s": {"higher_is_better": False, "group": "cost", "description": "fake seconds", "granularity": None},
    "ndcg@10": {"higher_is_better": True, "group": "accuracy", "description": "fake", "granularity": None},
    "recall@10": {"higher_is_better": True, "group": "accuracy", "description": "fake", "granularity": None},
}
#: explainers that never query the model (data baselines)
FAKE_MODEL_BLIND = frozenset({"random"})
#: explainer -> base seconds per explanation on the reference machine
FAKE_COST = {"random": 0.001, "oracle": 0.2, "gradient": 0.01, "perturbation": 0.05, "history-only": 0.002}
#: explainer -> model evaluations per explanation
FAKE_EVALS = {"random": 0, "oracle": 1, "gradient": 2, "perturbation": 40, "history-only": 1}
#: the fake's timing probe burns real CPU: this many units of work per fake second (a unit is ~10 us)
_UNITS_PER_S = 2000
_UNIT = np.random.default_rng(0).random((24, 24))


def _burn(units: int) -> None:
    """Real CPU work (the timing probe measures it): ``units`` small matrix products."""
    a = _UNIT
    for _ in range(units):
        a = np.tanh(a @ _UNIT)


def fake_catalog() -> Catalog:
    return Catalog(
        datasets=lambda: FAKE_DATASETS,
        models=lambda: FAKE_MODELS,
        explainers=lambda: tuple(FAKE_EXPLAINERS),
        metrics=lambda: tuple(FAKE_METRICS),
        metric_granularity=lambda name: None,
    )


@dataclass(frozen=True)
class _Request:
    user: int
    target: int


@dataclass
class FakeStages(Stages):
    """Fake pipeline. Knobs (all picklable):

    ``noise``: per-user noise scale; ``quality_shift``: added to an explainer's quality (plant a
    regression with a negative shift); ``slowdown``: the machine's speed factor (scales the
    reference workload and every latency alike); ``cost_factor``: {explainer: factor} slows one
    explainer only (model evaluations and time); ``time_factor``: {explainer: factor} slows one
    explainer's wall time only (the timing probe burns that much more CPU); ``evals_factor``:
    {explainer: factor} multiplies its model evaluations only; ``metric_shift``: {metric: delta}
    moves one metric for every explainer (a changed metric definition); ``shuffle``: {explainer:
    fraction} scrambles that explainer's attributions for that fraction of users (their
    faithfulness drops to the random explainer's); ``probe``: run the real timing probe over CPU
    work sized by the explainer's cost (off by default: it takes ~0.1 s a cell); ``fail``: {(explainer, granularity)} raise; ``nan``: {(explainer, granularity)}
    return all-NaN values; ``interrupt_after``: raise KeyboardInterrupt at the n-th explained cell
    of this process; ``delay``: seconds slept per cell; ``seed_offset``: changes the noise (a re-run
    of the same code with another seed).
    """

    noise: float = 0.1
    quality_shift: dict[str, float] = field(default_factory=dict)
    slowdown: float = 1.0
    cost_factor: dict[str, float] = field(default_factory=dict)
    time_factor: dict[str, float] = field(default_factory=dict)
    evals_factor: dict[str, float] = field(default_factory=dict)
    metric_shift: dict[str, float] = field(default_factory=dict)
    shuffle: dict[str, float] = field(default_factory=dict)
    probe: bool = False
    fail: set[tuple[str, str]] = field(default_factory=set)
    nan: set[tuple[str, str]] = field(default_factory=set)
    interrupt_after: int | None = None
    delay: float = 0.0
    seed_offset: int = 0
    n_cases: int = 400
    calls: dict[str, int] = field(default_factory=dict)

    def load(self, spec: DatasetSpec) -> LoadedData:
        fingerprint = f"fake-{spec.name}-{derive_seed(0, spec.name, repr(sorted(spec.options.items()))):08x}"
        return LoadedData(fingerprint, {f"{spec.name}.csv": "0" * 64}, {"n_users": self.n_cases, "n_items": 50})

    def train(self, data: LoadedData, model: ComponentSpec, *, seed: int) -> TrainedModel:
        self._count("train")
        return TrainedModel(model.name, {"name": model.name, "checkpoint_hash": f"{derive_seed(seed, model.name):08x}"})

    def accuracy(self, data, trained, *, ks):
        r = np.random.default_rng(derive_seed(self.seed_offset, "acc", data.fingerprint, trained.model))
        users = list(range(self.n_cases))
        base = 0.3 if trained.model == "fake-two-tower" else 0.15
        metrics = {f"ndcg@{k}": np.clip(base + r.normal(0, 0.2, self.n_cases), 0, 1) for k in ks}
        metrics.update({f"recall@{k}": (r.random(self.n_cases) < base * 1.5).astype(float) for k in ks})
        return CellOutput(users, [u % 50 for u in users], metrics)

    def requests(self, data, trained, granularity, *, n_users, seed, targets):
        picked = sample_cases(self.n_cases, n_users, seed)
        return [_Request(int(i), int(i) % 50) for i in picked]

    def supports(self, explainer: ComponentSpec, granularity: str) -> tuple[bool, str]:
        if explainer.name == "history-only" and granularity == "tokens":
            return False, "history-only does not apply to tokens (fake)"
        return True, ""

    def explain(self, data, trained, explainer, requests, *, granularity, seed, metrics, metric_options):
        n = self._count("explain")
        if self.delay:
            time.sleep(self.delay)
        if self.interrupt_after is not None and n >= self.interrupt_after:
            raise KeyboardInterrupt(f"fake interruption at explained cell {n} (pid {os.getpid()})")
        if (explainer.name, granularity) in self.fail:
            raise RuntimeError(f"fake failure of {explainer.name} at {granularity}")
        quality = FAKE_EXPLAINERS[explainer.name] + self.quality_shift.get(explainer.name, 0.0)
        users = np.array([req.user for req in requests])
        out: dict[str, np.ndarray] = {}
        # per-user difficulty shared by every explainer (paired designs see through it) + own noise
        difficulty = np.array([np.random.default_rng(derive_seed(0, data.fingerprint, granularity, u)).normal()
                               for u in users])
        noise = np.random.default_rng(derive_seed(seed, self.seed_offset, explainer.name, granularity, "noise"))
        for name in ("deletion_auc", "insertion_auc", "gt_precision@1"):
            sign = -1.0 if name == "deletion_auc" else 1.0
            q = np.full(len(users), quality)
            if explainer.name in self.shuffle:  # scrambled attributions: as good as random for those users
                hit = np.array([derive_seed(0, "shuffle", int(u)) % 1000 < 1000 * self.shuffle[explainer.name]
                                for u in users])
                q[hit] = FAKE_EXPLAINERS["random"]
            values = 0.5 + sign * 0.4 * q + 0.1 * difficulty + noise.normal(0, self.noise, len(users))
            out[name] = np.clip(values + self.metric_shift.get(name, 0.0), 0.0, 1.0)
        cost = FAKE_COST[explainer.name] * self.cost_factor.get(explainer.name, 1.0) * self.slowdown
        out["wall_time_s"] = cost * np.exp(noise.normal(0, 0.1, len(users)))
        evals = FAKE_EVALS[explainer.name] * self.cost_factor.get(explainer.name, 1.0)
        out["n_evals"] = np.full(len(users), float(round(evals * self.evals_factor.get(explainer.name, 1.0))))
        if (explainer.name, granularity) in self.nan:
            out = {k: np.full(len(users), np.nan) for k in out}
        if metrics:
            out = {k: v for k, v in out.items() if k in metrics}
        steps = np.linspace(0, 1, 11)
        curve = np.clip(1 - steps[None, :] ** (0.5 + quality) + 0.02 * difficulty[:, None], 0, 1)
        return CellOutput([int(u) for u in users], [req.target for req in requests], out,
                          {"deletion_score": curve, "insertion_score": 1 - curve})

    def metric_spec(self, name: str) -> MetricSpecRecord:
        return FAKE_METRICS[name]

    def explainer_flags(self, explainer: ComponentSpec) -> dict[str, Any]:
        return {"model_blind": explainer.name in FAKE_MODEL_BLIND}

    def time_explainer(self, data, trained, explainer, requests, *, granularity, seed, **timing):
        from xrec_bench.harness.timing import interleaved, not_judged

        if not self.probe:
            return not_judged("fake stages without probe=True do not time explainers")
        factor = self.cost_factor.get(explainer.name, 1.0) * self.time_factor.get(explainer.name, 1.0)
        units = max(1, round(FAKE_COST[explainer.name] * factor * _UNITS_PER_S))
        return interleaved(lambda i: _burn(units), len(requests), reference=lambda: _burn(2500), **timing)

    def reference_workload(self) -> dict[str, Any]:
        return {"name": "fake", "seconds": 0.01 * self.slowdown, "timings": [0.01 * self.slowdown]}

    def environment(self) -> dict[str, Any]:
        return {"python": "fake", "libraries": {}, "device": "fake"}

    def _count(self, what: str) -> int:
        self.calls[what] = self.calls.get(what, 0) + 1
        return self.calls[what]


#: a small suite over the fake catalog (tests write it to a file, or parse it directly)
FAKE_SUITE_TOML = """
name = "fake"
version = 1
description = "fake stages: exercises the harness"
seed = 7
seeds = [0]
granularities = ["history", "tokens"]
accuracy_ks = [10]
explainers = ["random", "oracle", "gradient", "perturbation", "history-only"]

[timing]
blocks = 9
min_block_s = 0.01
max_probe_s = 0.5

[users]
history = 60
tokens = 30

[[datasets]]
name = "toy-a"

[[datasets]]
name = "toy-b"
options = { size = 3 }

[[models]]
name = "fake-two-tower"

[[baselines]]
name = "fake-popular"
"""
