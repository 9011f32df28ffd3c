"""Kendall / Jaccard / Spearman edge cases, and precision@k / average precision by hand."""

import numpy as np
import pandas as pd
import pytest

from tests.unit.metrics.conftest import ExactLinear, RandomScores
from xrec_bench.explainers.base import Request
from xrec_bench.metrics import evaluate_explainer
from xrec_bench.metrics.ground_truth import average_precision, normalise_word, precision_at_k
from xrec_bench.metrics.sanity import abs_spearman
from xrec_bench.metrics.stability import kendall_tau, topk_jaccard


def test_kendall_edge_cases():
    a = np.array([0.3, 0.1, 0.9, 0.5])
    assert kendall_tau(a, a) == 1.0
    assert kendall_tau(a, -a) == pytest.approx(-1.0)
    assert kendall_tau(a, 2 * a + 1) == pytest.approx(1.0)  # only the order counts
    assert kendall_tau([2.0, 2.0, 2.0], [2.0, 2.0, 2.0]) == 1.0  # identical, all tied
    assert kendall_tau([1.0, 1.0, 1.0], [1.0, 2.0, 3.0]) == 0.0  # one side has no order
    # ties handled by tau-b: one tied pair in b
    assert kendall_tau([1, 2, 3], [1, 2, 2]) == pytest.approx(2 / np.sqrt(3 * 2))
    with pytest.raises(ValueError, match="one length"):
        kendall_tau([1, 2], [1, 2, 3])


def test_kendall_single_feature_is_identical_ranking():
    assert kendall_tau([0.7], [0.7]) == 1.0
    assert kendall_tau([0.7], [-3.0]) == 1.0  # one feature has one possible ranking
    assert np.isnan(abs_spearman([0.7], [-3.0]))


def test_jaccard_edge_cases():
    a, b = np.array([5.0, 4, 3, 2, 1]), np.array([5.0, 1, 4, 3, 2])
    assert topk_jaccard(a, a, 2) == 1.0
    assert topk_jaccard(a, b, 2) == pytest.approx(1 / 3)  # {0,1} vs {0,2}
    assert topk_jaccard(a, b, 10) == 1.0  # k > F: every feature on both sides
    assert topk_jaccard([1.0, 1.0, 1.0], [1.0, 1.0, 1.0], 1) == 1.0  # ties: stable order, same set
    assert topk_jaccard([1.0, 1.0, 0.0], [0.0, 1.0, 1.0], 1) == 0.0  # {0} vs {1}


def test_spearman_edge_cases():
    a = np.array([0.3, 0.1, 0.9, 0.5])
    assert abs_spearman(a, a) == 1.0
    assert abs_spearman(a, -a) == pytest.approx(1.0)  # absolute value: a flipped sign is no change
    assert abs_spearman(a, np.array([1.0, 1, 1, 1])) == 0.0


def test_precision_and_average_precision_by_hand():
    rel = np.array([1, 0, 1, 0])
    scores = np.array([0.9, 0.8, 0.1, 0.5])  # ranking 0, 1, 3, 2
    ranking = np.argsort(-scores, kind="stable")
    assert precision_at_k(ranking, rel, 1) == 1.0
    assert precision_at_k(ranking, rel, 3) == pytest.approx(1 / 3)
    assert precision_at_k(ranking, rel, 10) == pytest.approx(2 / 4)  # k > F: over all F features
    assert average_precision(scores, rel) == pytest.approx((1 / 1 + 2 / 4) / 2)
    assert average_precision(scores, np.ones(4)) == 1.0
    assert np.isnan(average_precision(scores, np.zeros(4)))


def test_words_match_case_and_punctuation_insensitively():
    assert normalise_word("Space,") == normalise_word("space") == "space"


def test_ground_truth_through_evaluate(toy):
    hist = np.array([0, 1, 2, 3, 4])
    target = 7
    w = toy.A[hist, target]
    causes = hist[np.argsort(-w)[:2]]  # the two largest exact attributions are the "planted" causes (used)
    gt = pd.DataFrame({"user": [0, 1], "target": [target, 99], "cause_items": [causes, np.array([0])],
                       "cause_words": [("x",), ("y",)]})
    reqs = [Request(0, target, hist), Request(1, 8, hist)]
    r = evaluate_explainer(toy, ExactLinear(), reqs, granularity="history", seed=0, metrics=["gt_ap"], ground_truth=gt)
    assert r.per_user["gt_precision@1"][0] == 1.0
    assert r.per_user["gt_ap"][0] == 1.0
    assert np.isnan(r.per_user["gt_ap"][1])  # target is not the planted one
    assert any("not the planted target" in why for _, why in r.skipped)
    rand = evaluate_explainer(toy, RandomScores(), reqs, granularity="history", seed=3, metrics=["gt_ap"],
                              ground_truth=gt)
    assert 0.0 < rand.per_user["gt_ap"][0] <= 1.0


def test_token_ground_truth_uses_labels(toy):
    target = 5
    labels = [f"w{w}" for w in toy.texts[target]]
    gt = pd.DataFrame({"user": [0], "target": [target], "cause_items": [np.array([], dtype=int)],
                       "cause_words": [(labels[0].upper(),)]})
    r = evaluate_explainer(toy, ExactLinear(), [Request(0, target, np.array([1, 2]))], granularity="tokens", seed=0,
                           metrics=["gt_ap"], ground_truth=gt)
    assert np.isfinite(r.per_user["gt_ap"][0])


def test_ground_truth_metric_without_ground_truth_is_refused(toy, requests):
    with pytest.raises(ValueError, match="ground_truth="):
        evaluate_explainer(toy, ExactLinear(), requests, granularity="history", seed=0, metrics=["gt_ap"])
