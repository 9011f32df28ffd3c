"""The store of explanation-independent probes, on a model whose values depend on their batch.

Real encoders round differently in different batches (a masked text encoded beside other texts
differs in the last bits), and text models reuse masked-item vectors inside a request's reuse scope.
This toy model makes both visible: every score carries ``1e-6 x`` the size of the batch it was
computed in, and inside a reuse scope a row computed once is served again. A store that let the
random reference reuse rows of the first explainer's own masks would make a later explainer's values
depend on which explainer ran first; these tests fail then.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np

from tests.helpers.toy import ToyModel
from tests.unit.metrics.conftest import ExactLinear, Position, RandomScores, make_requests
from xrec_bench.metrics import EvalConfig, evaluate_explainer
from xrec_bench.metrics.stages import SHARED_PROBES

METRICS = ["faithfulness", "eraser", "counterfactual"]


class BatchSensitive(ToyModel):
    name = "toy-batch-sensitive"

    @contextmanager
    def reuse_scope(self):
        previous = self.__dict__.get("_rows")
        self._rows = {}
        try:
            yield
        finally:
            self._rows = previous

    def feature_task(self, granularity, **kw):
        task = super().feature_task(granularity, **kw)
        plain, model = task._all_scores, self

        def _all_scores(mask):
            out = plain(mask) + 1e-6 * mask.shape[0]
            rows = model.__dict__.get("_rows")
            if rows is not None:
                for i, row in enumerate(mask):
                    out[i] = rows.setdefault(row.numpy().tobytes(), out[i].clone())
            return out

        task._all_scores = _all_scores
        task._forward = lambda mask: _all_scores(mask)[:, task.target]
        return task


def _values(model, explainer, requests):
    r = evaluate_explainer(model, explainer, requests, granularity="history", seed=0, metrics=METRICS,
                           config=EvalConfig())
    return {k: v for k, v in r.per_user.items() if k != "wall_time_s"}


def test_values_do_not_depend_on_which_explainer_filled_the_store():
    model = BatchSensitive(n_items=30, vocab=50, dim=8, seed=0)
    requests = make_requests(model, 6, length=8)
    SHARED_PROBES.clear()
    alone = _values(model, Position(), requests)
    for first in (ExactLinear(), RandomScores()):
        SHARED_PROBES.clear()
        _values(model, first, requests)
        hits = SHARED_PROBES.hits
        after = _values(model, Position(), requests)
        assert SHARED_PROBES.hits - hits == len(requests)
        for name, values in alone.items():
            np.testing.assert_array_equal(values, after[name], err_msg=f"{name} after {first.name}")


def test_the_toy_is_batch_sensitive_so_the_test_above_can_fail():
    """Scored with the explanation's own masks (the quick v4 path), the random reference does move with
    the explainer: the property above is not true by construction."""
    model = BatchSensitive(n_items=30, vocab=50, dim=8, seed=0)
    requests = make_requests(model, 6, length=8)
    with SHARED_PROBES.disabled():
        a = _values(model, ExactLinear(), requests)["deletion_auc_minus_random"] - _values(
            model, ExactLinear(), requests)["deletion_auc"]
        b = _values(model, Position(), requests)["deletion_auc_minus_random"] - _values(
            model, Position(), requests)["deletion_auc"]
    assert not np.array_equal(a, b)  # the random reference area differs between explainers
    assert np.allclose(a, b, atol=1e-3)


def test_unhashable_models_are_scored_without_the_store():
    class Unhashable(ToyModel):
        __hash__ = None

    model = Unhashable(n_items=30, vocab=50, dim=8, seed=0)
    requests = make_requests(model, 3, length=6)
    SHARED_PROBES.clear()
    first = _values(model, Position(), requests)
    second = _values(model, Position(), requests)
    assert SHARED_PROBES.hits == 0 and SHARED_PROBES.misses == 2 * len(requests)
    np.testing.assert_array_equal(first["deletion_auc_minus_random"], second["deletion_auc_minus_random"])


def test_entries_are_bounded_per_model():
    from xrec_bench.metrics.stages import SharedProbes

    store, model = SharedProbes(max_entries=2), ToyModel(n_items=5, vocab=10, dim=2)
    for key in range(4):
        store.get(model, (key,), lambda key=key: key)
    assert store.get(model, (3,), lambda: "again") == 3 and store.get(model, (0,), lambda: "again") == "again"


def test_a_model_changed_in_place_is_not_served_what_it_scored_before():
    model = ToyModel(n_items=30, vocab=50, dim=8, seed=0)
    requests = make_requests(model, 6, length=8)
    SHARED_PROBES.clear()
    before = _values(model, Position(), requests)
    model.A[:] = np.random.default_rng(5).normal(size=model.A.shape)  # e.g. fitted again, in place
    after = _values(model, Position(), requests)
    fresh = ToyModel(n_items=30, vocab=50, dim=8, seed=0)
    fresh.A[:] = model.A
    SHARED_PROBES.clear()
    expected = _values(fresh, Position(), requests)
    assert not np.array_equal(before["deletion_auc_minus_random"], expected["deletion_auc_minus_random"])
    for name, values in expected.items():
        np.testing.assert_array_equal(values, after[name], err_msg=name)
