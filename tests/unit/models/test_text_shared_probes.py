"""Explainers of one request share the scores of the masks that do not depend on the explanation (the
random reference orders): scored once per request and model, with values that never depend on which
explainer, cell or shard asked first."""

from __future__ import annotations

import numpy as np
import pytest

from xrec_bench.explainers import Request, get_explainer
from xrec_bench.metrics import EvalConfig, evaluate_explainer
from xrec_bench.metrics.stages import SHARED_PROBES
from xrec_bench.models import get_model

METRICS = ["faithfulness", "eraser", "counterfactual", "infidelity"]
CFG = EvalConfig(infidelity_samples=4)


@pytest.fixture(scope="module")
def model(tiny, tiny_bert):
    ds, split = tiny
    return get_model("bert-two-tower", encoder=tiny_bert, max_epochs=1, train_layers=1, batch_size=16,
                     device="cpu").fit(ds, split, seed=0)


@pytest.fixture(scope="module")
def requests(tiny):
    cases = tiny[1].cases("test")
    return [Request(user=int(cases.users[i]), target=int(cases.targets[i][0]), history=cases.histories[i])
            for i in range(3)]


def _run(model, requests, explainer, granularity="tokens", config=CFG):
    params = {"lime": {"n_samples": 30}}.get(explainer, {})
    return evaluate_explainer(model, get_explainer(explainer, **params), requests, granularity=granularity,
                              seed=1, metrics=METRICS, config=config)


def _assert_same(a, b):
    assert a.per_user.keys() == b.per_user.keys()
    for name, values in a.per_user.items():
        if name != "wall_time_s":  # measured
            np.testing.assert_array_equal(values, b.per_user[name], err_msg=name)
    for name, values in a.curves.items():
        np.testing.assert_array_equal(values, b.curves[name], err_msg=name)


@pytest.mark.parametrize("granularity", ["tokens", "history"])  # (the tiny dataset declares no fields)
def test_a_second_explainer_reuses_the_random_reference_with_identical_values(model, requests, granularity):
    SHARED_PROBES.clear()
    alone = _run(model, requests, "leave-one-out", granularity)
    assert SHARED_PROBES.hits == 0 and SHARED_PROBES.misses == len(requests)
    SHARED_PROBES.clear()
    _run(model, requests, "lime", granularity)
    after = _run(model, requests, "leave-one-out", granularity)
    assert SHARED_PROBES.hits == len(requests)  # the second explainer scored none of the random masks
    _assert_same(alone, after)
    assert np.isfinite(after.per_user["deletion_auc_minus_random"]).all()


def test_another_reference_config_is_not_served_from_the_store(model, requests):
    SHARED_PROBES.clear()
    _run(model, requests, "leave-one-out")
    fewer = _run(model, requests, "leave-one-out", config=EvalConfig(infidelity_samples=4, random_orders=2))
    assert SHARED_PROBES.hits == 0 and SHARED_PROBES.misses == 2 * len(requests)
    SHARED_PROBES.clear()
    np.testing.assert_array_equal(fewer.per_user["deletion_auc_minus_random"],
                                  _run(model, requests, "leave-one-out",
                                       config=EvalConfig(infidelity_samples=4, random_orders=2)
                                       ).per_user["deletion_auc_minus_random"])


def test_a_randomised_copy_does_not_read_the_originals_entries(model, requests):
    SHARED_PROBES.clear()
    _run(model, requests, "leave-one-out")
    other = model.randomized(0)
    _run(other, requests, "leave-one-out")
    assert SHARED_PROBES.hits == 0


def test_sharing_moves_values_only_by_float_rounding(model, requests):
    """Scored apart from the explanation's own masks, the random reference meets other batch partners
    than in quick v4 (one call for every mask): the values agree within float rounding."""
    SHARED_PROBES.clear()
    shared = _run(model, requests, "lime")
    with SHARED_PROBES.disabled():
        v4 = _run(model, requests, "lime")
    assert SHARED_PROBES.misses == len(requests)  # the disabled run neither read nor filled the store
    for name, values in shared.per_user.items():
        if name != "wall_time_s":
            np.testing.assert_allclose(values, v4.per_user[name], rtol=1e-4, atol=1e-5, equal_nan=True, err_msg=name)
