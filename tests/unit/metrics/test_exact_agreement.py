"""Agreement with exact attributions: the definitions by hand, and the stage on item-kNN."""

import numpy as np
import pytest

from tests.unit.metrics.conftest import ExactLinear
from tests.unit.models.conftest import leave_last_out, tiny_dataset
from xrec_bench.explainers import Request, get_explainer
from xrec_bench.metrics import EvalConfig, evaluate_explainer
from xrec_bench.metrics.exact_agreement import agreement, exact_top, rank_agreement, top_k_precision
from xrec_bench.models import get_model


def test_rank_agreement_edge_cases():
    exact = np.array([0.1, 0.5, 0.3, 0.0])
    assert rank_agreement(exact * 3 + 1, exact) == pytest.approx((1.0, 1.0))
    assert rank_agreement(-exact, exact) == pytest.approx((-1.0, -1.0))
    assert rank_agreement(np.ones(4), exact) == (0.0, 0.0)  # orders nothing
    assert np.isnan(rank_agreement([1.0, 2.0], [1.0, 2.0])).all()  # too few features
    assert np.isnan(rank_agreement([1.0, 2.0, 3.0], [1.0, 1.0, 1.0])).all()  # no exact order


def test_rounding_noise_does_not_break_exact_ties():
    exact = np.array([0.4, 0.0, 0.0, 0.0, 0.2])
    noisy = exact + np.array([0.0, 1e-17, -2e-17, 3e-18, 0.0])  # what sums of scores give for 0
    assert rank_agreement(noisy, exact) == pytest.approx((1.0, 1.0))
    assert rank_agreement(exact + np.array([0.0, 1e-3, -1e-3, 0.0, 0.0]), exact)[0] < 1.0  # real error counts


def test_top_k_precision_counts_exact_ties_and_chance():
    exact = np.array([0.9, 0.5, 0.5, 0.1, 0.0])
    assert exact_top(exact, 2).tolist() == [1, 1, 1, 0, 0]  # tied with the 2nd largest
    assert top_k_precision(np.array([0.0, 1.0, 2.0, 3.0, 4.0]), exact, 2) == (0.0, 3 / 5)
    assert top_k_precision(np.array([5.0, 0.0, 1.0, 0.0, 0.0]), exact, 2) == (1.0, 3 / 5)
    assert top_k_precision(np.array([0.0, 9.0, 0.0, 8.0, 0.0]), exact, 2)[0] == 0.5
    assert np.isnan(top_k_precision(np.array([1.0, 2.0]), np.array([1.0, 2.0]), 3)).all()  # F <= k
    out = agreement(exact, exact, (1, 3))
    assert out["exact_precision@1"] == 1.0 and out["exact_precision@3"] == 1.0 and out["exact_spearman"] == 1.0


@pytest.fixture(scope="module")
def knn_requests():
    ds = tiny_dataset(n_users=20, n_items=30, length=9, seed=3)
    split = leave_last_out(ds)
    model = get_model("item-knn").fit(ds, split, seed=0)
    cases = split.cases("test")
    top = model.recommend(cases.users, cases.histories, 1, exclude=cases.histories)[:, 0]
    reqs = [Request(int(u), int(t), h) for u, h, t in zip(cases.users, cases.histories, top, strict=True)]
    return model, reqs


def test_exact_explainers_agree_perfectly_and_random_does_not(knn_requests):
    model, reqs = knn_requests
    metrics = ["exact_spearman", "exact_kendall", "exact_precision@1", "exact_precision@3", "exact_chance@3"]
    exact = evaluate_explainer(model, get_explainer("leave-one-out"), reqs, granularity="history", seed=0,
                               metrics=metrics)
    rho = exact.per_user["exact_spearman"]
    assert np.isfinite(rho).sum() >= 10 and np.nanmin(rho) == pytest.approx(1.0)
    assert np.nanmin(exact.per_user["exact_precision@3"]) == 1.0
    rand = evaluate_explainer(model, get_explainer("random"), reqs, granularity="history", seed=0, metrics=metrics)
    assert np.nanmean(rand.per_user["exact_spearman"]) < 0.5
    assert np.nanmean(rand.per_user["exact_precision@3"]) < 1.0
    np.testing.assert_array_equal(rand.per_user["exact_chance@3"], exact.per_user["exact_chance@3"])


def test_default_selection_includes_exact_metrics_only_where_they_apply(knn_requests, toy, requests):
    model, reqs = knn_requests
    cfg = EvalConfig(stability_users=2, sanity_users=2)
    on_knn = evaluate_explainer(model, get_explainer("leave-one-out"), reqs[:4], granularity="history", seed=0,
                                config=cfg)
    assert "exact_spearman" in on_knn.per_user and "deletion_auc" in on_knn.per_user
    on_toy = evaluate_explainer(toy, ExactLinear(), requests, granularity="history", seed=0, config=cfg)
    assert "exact_spearman" not in on_toy.per_user
    with pytest.raises(ValueError, match="do not apply to model"):
        evaluate_explainer(toy, ExactLinear(), requests, granularity="history", seed=0, metrics=["exact_spearman"])
