"""item-kNN is additive in its history items: its exact attributions are the similarities, equal to
exact Shapley values, and every history-level explainer runs on it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from xrec_bench.explainers import Request, get_explainer
from xrec_bench.models import get_model
from xrec_bench.models.additive import distinct_recent


@pytest.fixture(scope="module")
def knn(tiny):
    ds, split = tiny
    return get_model("item-knn", neighbors=8).fit(ds, split, seed=0)


def _requests(model, split, n=None):
    cases = split.cases("test")
    users, hists = cases.users[:n], cases.histories[:n]
    top = model.recommend(users, hists, 1, exclude=hists)[:, 0]
    return [Request(int(u), int(t), h) for u, h, t in zip(users, hists, top, strict=True)]


def test_exact_attributions_equal_exact_shapley(knn, tiny):
    requests = _requests(knn, tiny[1])
    explained = get_explainer("exact-shapley").explain(knn, requests, granularity="history", seed=0)
    checked = 0
    for req, expl in zip(requests, explained, strict=True):
        assert expl.ok, expl.reason
        exact = knn.exact_attributions(user=req.user, history=req.history, target=req.target)
        np.testing.assert_allclose(expl.scores, exact, rtol=0, atol=1e-9)
        np.testing.assert_array_equal(expl.feature_ids, distinct_recent(req.history))
        checked += np.ptp(exact) > 0
    assert checked >= 3  # not a trivially all-zero comparison


def test_task_scores_are_the_model_scores_and_removal_is_deletion(knn, tiny):
    req = _requests(knn, tiny[1], 1)[0]
    task = knn.feature_task("history", user=req.user, history=req.history, target=req.target)
    full = knn.score(np.array([req.user]), [req.history])[0]
    assert task.forward(task.full_mask()).item() == pytest.approx(float(full[req.target]), abs=1e-6)
    np.testing.assert_allclose(task.all_scores(task.full_mask())[0].numpy(), full, atol=1e-6)
    for j in range(task.n_features):
        mask = task.full_mask()
        mask[0, j] = 0.0
        without = knn.score(np.array([req.user]), [np.delete(req.history, j)])[0]
        assert task.forward(mask).item() == pytest.approx(float(without[req.target]), abs=1e-6)
    assert task.forward(torch.zeros(1, task.n_features)).item() == 0.0


def test_repeated_item_is_one_feature_counted_once(knn, tiny):
    req = _requests(knn, tiny[1], 1)[0]
    doubled = np.concatenate([req.history, req.history[:1]])
    task = knn.feature_task("history", user=req.user, history=doubled, target=req.target)
    assert task.n_features == len(np.unique(req.history))
    assert task.feature_ids[-1] == req.history[0]  # at its most recent position
    np.testing.assert_allclose(knn.score(np.array([0]), [doubled]), knn.score(np.array([0]), [req.history]))


def test_max_history_bounds_score_and_features(tiny):
    ds, split = tiny
    model = get_model("item-knn", max_history=2).fit(ds, split, seed=0)
    h = split.cases("test").histories[0]
    np.testing.assert_allclose(model.score(np.array([0]), [h]), model.score(np.array([0]), [h[-2:]]))
    target = int(model.recommend(np.array([0]), [h], 1, exclude=[h])[0, 0])
    assert model.feature_task("history", user=0, history=h, target=target).n_features == 2


@pytest.mark.parametrize("name", ["leave-one-out", "integrated-gradients", "input-x-gradient", "saliency",
                                  "gradient-shap", "shapley-sampling", "kernel-shap", "lime", "random",
                                  "cooccurrence"])
def test_every_history_explainer_runs(knn, tiny, name):
    ds, split = tiny
    explainer = get_explainer(name).fit(ds, split)
    out = explainer.explain(knn, _requests(knn, split, 3), granularity="history", seed=0)
    assert all(e.ok for e in out), [e.reason for e in out]


def test_tokens_are_refused_with_a_reason(knn, tiny):
    req = _requests(knn, tiny[1], 1)[0]
    with pytest.raises(ValueError, match="reads no item text"):
        knn.feature_task("tokens", user=req.user, history=req.history, target=req.target)


def test_randomized_copy_changes_the_scores(knn, tiny):
    cases = tiny[1].cases("test")
    other = knn.randomized(1)
    assert not np.allclose(other.score(cases.users, cases.histories), knn.score(cases.users, cases.histories))
    assert other.sim_.nnz == knn.sim_.nnz
