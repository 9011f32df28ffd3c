"""evaluate_explainer: selection, alignment, cost, declarations; relative_to random."""

import numpy as np
import pytest

from tests.unit.metrics.conftest import ExactLinear, RandomScores
from xrec_bench.metrics import EvalConfig, evaluate_explainer, relative_to
from xrec_bench.metrics.base import spec
from xrec_bench.metrics.evaluate import select_stages


def test_every_computed_metric_is_declared():
    cfg = EvalConfig()
    for metric in select_stages(None, "history", cfg, has_ground_truth=True):
        for name in metric.names(cfg):
            declared = spec(name)
            assert declared.group in {"faithfulness", "ground-truth", "stability", "sanity", "cost"}
            assert declared.metric == metric.name and declared.unit
    assert spec("pos@10").higher_is_better is False and spec("neg@10").higher_is_better is True
    assert spec("deletion_auc").higher_is_better is False and spec("insertion_auc").higher_is_better is True
    assert spec("n_evals").group == "cost" and spec("gt_precision@3").name == "gt_precision@k"


def test_default_runs_all_applicable_metrics_aligned_with_requests(toy, requests):
    r = evaluate_explainer(toy, ExactLinear(), requests, granularity="history", seed=0,
                           config=EvalConfig(stability_users=2, sanity_users=2))
    assert "gt_ap" not in r.per_user  # no ground truth given
    for name, values in r.per_user.items():
        assert values.shape == (len(requests),), name
    assert r.curves["deletion_score"].shape == (len(requests), 11)
    np.testing.assert_array_equal(r.users, [q.user for q in requests])
    # the exact linear explainer costs F + 1 evaluations
    np.testing.assert_array_equal(r.per_user["n_evals"], [len(q.history) + 1 for q in requests])
    assert np.isnan(r.per_user["sanity_spearman"][2:]).all() and np.isfinite(r.per_user["sanity_spearman"][:2]).all()
    assert r.cost["n_explained"] == len(requests) and r.cost["wall_time_p95_s"] >= r.cost["wall_time_p50_s"]
    assert r.cost["device"]
    est = r.summary()["deletion_auc"]
    assert est.low <= est.mean <= est.high and est.n == len(requests)


def test_unknown_metric_is_refused_with_a_suggestion(toy, requests):
    with pytest.raises(ValueError, match="deletion_auc"):
        evaluate_explainer(toy, ExactLinear(), requests, granularity="history", seed=0, metrics=["deletion_acu"])


def test_relative_to_random_is_paired_and_signed(toy, requests):
    exact = evaluate_explainer(toy, ExactLinear(), requests, granularity="history", seed=0, metrics=["faithfulness"])
    rand = evaluate_explainer(toy, RandomScores(), requests, granularity="history", seed=0, metrics=["faithfulness"])
    diff = relative_to(exact, rand)
    assert diff["deletion_auc"].diff < 0 and diff["deletion_auc"].significant
    assert diff["insertion_auc"].diff > 0
    other = evaluate_explainer(toy, RandomScores(), requests[:3], granularity="history", seed=0, metrics=["faithfulness"])
    with pytest.raises(ValueError, match="same"):
        relative_to(exact, other)


def test_given_explanations_are_measured_without_rerunning(toy, requests):
    explanations = ExactLinear().explain(toy, requests, granularity="history", seed=0)
    r = evaluate_explainer(toy, ExactLinear(), requests, granularity="history", seed=0, metrics=["deletion_auc"],
                           explanations=explanations)
    assert r.explanations == explanations
    with pytest.raises(ValueError, match="one per request"):
        evaluate_explainer(toy, ExactLinear(), requests, granularity="history", seed=0, explanations=explanations[:2])
