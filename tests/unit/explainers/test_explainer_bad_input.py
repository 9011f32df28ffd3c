"""Bad input gives a recorded, explained skip; nothing crashes a batch."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from tests.unit.explainers.conftest import make, request
from xrec_bench.explainers import EXPLAINERS
from xrec_bench.models.base import GRANULARITIES

CELLS = [(name, g) for name in EXPLAINERS.names() for g in GRANULARITIES]


@pytest.fixture(scope="module")
def nan_model(toy):
    """The toy model with NaN weights at both granularities."""
    bad = copy.deepcopy(toy)
    bad.A = np.full_like(bad.A, np.nan)
    bad.user_vec = np.full_like(bad.user_vec, np.nan)
    return bad


@pytest.fixture(scope="module")
def textless_model(toy):
    bad = copy.deepcopy(toy)
    bad.texts = [list(t) for t in bad.texts]
    bad.texts[8] = []
    return bad


@pytest.mark.parametrize(("name", "granularity"), CELLS)
def test_a_batch_of_bad_requests_does_not_crash(name, granularity, toy, data):
    explainer = make(name, data)
    reqs = [
        request([], target=5),  # empty history
        request([1, 999], target=5),  # unknown history item
        request([1, 2, 5], target=5),  # target already in the history
        request([1, 2], target=999),  # unknown target
        request([1, 2, 3], target=5),  # a good one, last
    ]
    out = explainer.explain(toy, reqs, granularity=granularity, seed=0)
    assert len(out) == len(reqs)
    supported, _ = explainer.supports(granularity)
    if not supported:
        return
    skipped = {i for i, e in enumerate(out) if not e.ok}
    assert all(out[i].reason for i in skipped)
    assert {2, 3} <= skipped  # a target in the history, an unknown target
    if granularity == "history":  # the toy's token task never reads the history
        assert {0, 1} <= skipped and "no features" in out[0].reason
    assert out[4].ok, out[4].reason


@pytest.mark.parametrize(("name", "granularity"), CELLS)
def test_a_model_returning_nan_is_skipped_with_a_reason(name, granularity, nan_model, data):
    out = make(name, data).explain(
        nan_model, [request([1, 2, 3], target=5)], granularity=granularity, seed=0
    )[0]
    if out.ok:  # only a method that never calls the model may succeed, and then with finite scores
        assert out.n_evals == 0 and np.all(np.isfinite(out.scores))
    else:
        assert out.reason
        if EXPLAINERS.get(name).supports(granularity)[0] and name not in ("attention",):
            assert "NaN" in out.reason or "nan" in out.reason.lower()


@pytest.mark.parametrize("name", EXPLAINERS.names())
def test_a_text_with_no_words_is_skipped(name, textless_model, data):
    out = make(name, data).explain(textless_model, [request([1, 2], target=8)], granularity="tokens", seed=0)[
        0
    ]
    assert not out.ok and out.reason


def test_exact_shapley_refuses_too_many_features(toy, data):
    out = make("exact-shapley", data, max_features=4).explain(
        toy, [request([1, 2, 3, 4, 7])], granularity="history", seed=0
    )
    assert not out[0].ok and "at most 4 features" in out[0].reason


def test_unfitted_cooccurrence_says_what_to_do(toy):
    out = EXPLAINERS.get("cooccurrence")().explain(toy, [request([1, 2])], granularity="history", seed=0)[0]
    assert not out.ok and "fit(dataset, split)" in out.reason


@pytest.mark.parametrize("bad", [0, -3, 2.5])
def test_bad_sample_counts_are_refused(bad):
    with pytest.raises(ValueError, match="n_samples"):
        EXPLAINERS.get("kernel-shap")(n_samples=bad)
