"""Contract tests: every registered explainer x both granularities (registering one enrols it here)."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from tests.unit.explainers.conftest import make, request
from xrec_bench.explainers import EXPLAINERS
from xrec_bench.models.base import GRANULARITIES

CELLS = [(name, g) for name in EXPLAINERS.names() for g in GRANULARITIES]
HISTORY = [1, 2, 3, 4, 7, 9]


def test_every_builtin_entry_loads_under_its_own_name():
    """Each entry of the lazy table resolves to a class that declares the same name."""
    from xrec_bench.explainers import _BUILTIN

    assert set(_BUILTIN) <= set(EXPLAINERS.names())
    for name in _BUILTIN:
        assert EXPLAINERS.get(name).contract().name == name


@pytest.mark.parametrize("name", EXPLAINERS.names())
def test_class_carries_its_registry_name_and_flags(name):
    cls = EXPLAINERS.get(name)
    assert cls.name == name
    flags = cls.flags()
    assert set(flags["granularities"]) <= set(GRANULARITIES) and flags["granularities"]
    for g in set(GRANULARITIES) - cls.granularities:
        assert cls.unsupported_reasons.get(g), f"{name} drops {g} without saying why"


def test_data_baselines_are_declared_model_blind():
    blind = {name for name in EXPLAINERS.names() if EXPLAINERS.get(name).flags()["model_blind"]}
    assert {"random", "similarity", "cooccurrence"} <= blind
    assert not blind & {"leave-one-out", "integrated-gradients", "exact-shapley", "attention", "lime"}


@pytest.mark.parametrize("name", EXPLAINERS.names())
def test_unknown_parameter_is_refused(name):
    with pytest.raises(ValueError, match="Unknown parameter"):
        EXPLAINERS.get(name)(n_sampels=3)


@pytest.mark.parametrize(("name", "granularity"), CELLS)
def test_contract(name, granularity, toy, data):
    explainer = make(name, data)
    supported, reason = explainer.supports(granularity)
    reqs = [request(HISTORY, target=5), request([11], target=6, user=1)]  # the second: a 1-item history
    first = explainer.explain(toy, reqs, granularity=granularity, seed=0)
    assert len(first) == len(reqs)
    if not supported:
        assert all(e.status == "skipped" and e.reason == reason and reason for e in first)
        return
    for req, exp in zip(reqs, first, strict=True):
        assert exp.ok, exp.reason
        task = toy.feature_task(granularity, user=req.user, history=req.history, target=req.target)
        assert exp.scores.shape == (task.n_features,)
        assert np.all(np.isfinite(exp.scores))
        assert exp.feature_labels == tuple(task.feature_labels)
        assert exp.n_evals >= 0 and exp.wall_time_s >= 0
        if explainer.model_blind:  # a data baseline never asks the model for a score
            assert exp.n_evals == 0
        assert (exp.granularity, exp.explainer, exp.user, exp.target) == (
            granularity,
            name,
            req.user,
            req.target,
        )
    again = explainer.explain(toy, reqs, granularity=granularity, seed=0)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a.scores, b.scores)
        assert a.n_evals == b.n_evals


def _seed_globals(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed)
    random.seed(seed)


def _draw_globals() -> tuple[float, float, float]:
    return torch.rand(1).item(), float(np.random.rand()), random.random()


@pytest.mark.parametrize(("name", "granularity"), CELLS)
def test_global_random_state_is_left_alone(name, granularity, toy, data):
    _seed_globals(123)
    expected = _draw_globals()
    _seed_globals(123)
    make(name, data).explain(toy, [request(HISTORY)], granularity=granularity, seed=0)
    assert _draw_globals() == expected


def test_random_depends_on_the_seed(toy, data):
    explainer = make("random", data)
    a, b = (explainer.explain(toy, [request(HISTORY)], granularity="history", seed=s)[0] for s in (0, 1))
    assert not np.array_equal(a.scores, b.scores)


@pytest.mark.parametrize("name", [n for n in EXPLAINERS.names() if EXPLAINERS.get(n).stochastic])
def test_stochastic_methods_use_the_request_seed(name, toy, data):
    """Same seed, same result, even after the global generators have moved on."""
    explainer = make(name, data)
    a = explainer.explain(toy, [request(HISTORY)], granularity="history", seed=7)[0]
    torch.rand(5)
    np.random.rand(5)
    b = explainer.explain(toy, [request(HISTORY)], granularity="history", seed=7)[0]
    np.testing.assert_array_equal(a.scores, b.scores)
