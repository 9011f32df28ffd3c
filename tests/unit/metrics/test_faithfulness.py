"""Deletion/insertion curves, AUC, ERASER and POS/NEG@K against hand-computed answers."""

import itertools

import numpy as np
import pytest
import torch

from tests.unit.metrics.conftest import ExactLinear, RandomScores, make_requests
from xrec_bench.explainers.base import Explainer, Request
from xrec_bench.metrics import EvalConfig, evaluate_explainer
from xrec_bench.metrics.config import count_at
from xrec_bench.metrics.faithfulness import trapezoid_auc
from xrec_bench.models.base import Recommender
from xrec_bench.models.features import FeatureTask

WEIGHTS = np.array([3.0, 2.0, 1.0, 0.0])


class HandTask(FeatureTask):
    """Target 0 scores ``mask . WEIGHTS``; item 1 always scores 4.0, item 2 always 2.5."""

    granularity = "history"
    differentiable = True

    def __init__(self):
        super().__init__(user=0, target=0, feature_ids=np.arange(10, 14), feature_labels=list("abcd"),
                         exclude=np.arange(10, 14))

    def _forward(self, mask):
        return mask @ torch.as_tensor(WEIGHTS, dtype=torch.float32)

    def _all_scores(self, mask):
        out = torch.zeros(mask.shape[0], 14)
        out[:, 0] = self._forward(mask)
        out[:, 1], out[:, 2], out[:, 3:] = 4.0, 2.5, -10.0
        return out


class HandModel(Recommender):
    name = "hand"

    def fit(self, dataset, split, *, seed=0):
        return self

    def score(self, users, histories):
        raise NotImplementedError

    def feature_task(self, granularity, *, user, history, target, exclude=None):
        return HandTask()


class Fixed(Explainer):
    name = "test-fixed"

    def __init__(self, scores):
        super().__init__()
        self.scores = np.asarray(scores, dtype=np.float64)

    def _attribute(self, task, rng):
        return self.scores


def _hand(scores, metrics=None):
    req = [Request(user=0, target=0, history=np.arange(10, 14))]
    return evaluate_explainer(HandModel(), Fixed(scores), req, granularity="history", seed=0, metrics=metrics)


def test_count_at_rounds_half_up():
    assert [count_at(f, 4) for f in (0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)] == [0, 0, 1, 1, 2, 2, 2, 3, 3, 4, 4]
    assert count_at(0.5, 3) == 2 and count_at(0.1, 15) == 2 and count_at(0.01, 4) == 0


def test_trapezoid_auc_by_hand():
    assert trapezoid_auc([0, 0.5, 1], [1, 0.5, 0]) == pytest.approx(0.5)
    assert trapezoid_auc([0, 0.5, 1], [1, 0, 0]) == pytest.approx(0.25)
    assert trapezoid_auc([0, 0, 1], [1, 1, 0]) == pytest.approx(0.5)  # repeated x adds no area
    assert np.isnan(trapezoid_auc([0, 1], [1, np.nan]))


def test_deletion_and_insertion_curves_by_hand():
    r = _hand(WEIGHTS)
    # F = 4: counts per fraction 0..1 are 0,0,1,1,2,2,2,3,3,4,4; removing in order 3,2,1,0 leaves 6,3,1,0,0
    expected_del = np.array([6, 6, 3, 3, 1, 1, 1, 0, 0, 0, 0]) / 6
    np.testing.assert_allclose(r.curves["deletion_score"][0], expected_del)
    expected_ins = np.array([0, 0, 3, 3, 5, 5, 5, 6, 6, 6, 6]) / 6
    np.testing.assert_allclose(r.curves["insertion_score"][0], expected_ins)
    # area over x = k/F: 0.25 * ((1 + .5) + (.5 + 1/6) + (1/6 + 0) + 0) / 2
    assert r.per_user["deletion_auc"][0] == pytest.approx(0.25 * (1.5 + 4 / 6 + 1 / 6) / 2)
    assert r.per_user["insertion_auc"][0] == pytest.approx(0.25 * ((0 + 0.5) + (0.5 + 5 / 6) + (5 / 6 + 1) + 2) / 2)
    # ranks: full 6 > 4.0 -> 1; 3 -> 2; 1 and 0 -> 3 (behind 4.0 and 2.5)
    np.testing.assert_array_equal(r.curves["deletion_rank"][0], [1, 1, 2, 2, 3, 3, 3, 3, 3, 3, 3])
    gain = 1 / np.log2(np.array([1, 2, 3, 3, 3]) + 1)
    np.testing.assert_allclose(r.curves["deletion_rank_gain"][0][[0, 2, 4, 7, 9]], gain)
    assert r.per_user["deletion_rank_auc"][0] == pytest.approx(np.trapezoid(gain, [0, .25, .5, .75, 1]))
    # fixed counts k = 0..5 (NaN beyond F = 4)
    np.testing.assert_allclose(r.curves["deletion_count_score"][0], [1, .5, 1 / 6, 0, 0, np.nan])


def test_eraser_by_hand():
    r = _hand(WEIGHTS, metrics=["comprehensiveness", "sufficiency"])
    # bins 1/5/10/20/50% of 4 features -> rationale sizes 1,1,1,1,2 (at least one)
    assert r.per_user["comprehensiveness"][0] == pytest.approx((4 * 3 / 6 + 5 / 6) / 5)
    assert r.per_user["sufficiency"][0] == pytest.approx((4 * 3 / 6 + 1 / 6) / 5)
    worst = _hand(-WEIGHTS, metrics=["comprehensiveness", "sufficiency"])
    # reversed order: the rationales are {d} (weight 0) and {d, c} (weights 0 and 1)
    assert worst.per_user["comprehensiveness"][0] == pytest.approx((4 * 0 + 1 / 6) / 5)
    assert worst.per_user["sufficiency"][0] == pytest.approx((4 * 1 + 5 / 6) / 5)


def test_eraser_only_positive_limits_the_rationale():
    req = [Request(user=0, target=0, history=np.arange(10, 14))]
    cfg = EvalConfig(eraser_only_positive=True)
    r = evaluate_explainer(HandModel(), Fixed([1.0, -1, -2, -3]), req, granularity="history", seed=0,
                           metrics=["comprehensiveness"], config=cfg)
    assert r.per_user["comprehensiveness"][0] == pytest.approx(0.5)  # only feature 0 may be removed


def test_pos_neg_at_k_by_hand():
    r = _hand(WEIGHTS, metrics=["pos@1", "neg@1"])
    # k = 1,2,3 (< F): removing the top k leaves 3, 1, 0 -> ranks 2, 3, 3; the bottom k leaves 6, 5, 3 -> 1, 1, 2
    assert r.per_user["pos@1"][0] == 0.0
    assert r.per_user["neg@1"][0] == pytest.approx(2 / 3)
    assert r.per_user["pos@5"][0] == 1.0 and r.per_user["neg@5"][0] == 1.0


def test_exact_attribution_gives_the_best_possible_curves(toy):
    reqs = make_requests(toy, 8, length=5)
    r = evaluate_explainer(toy, ExactLinear(), reqs, granularity="history", seed=0, metrics=["faithfulness"])
    cfg = EvalConfig()
    for i, req in enumerate(reqs):
        w = toy.A[req.history, req.target]
        f = len(w)
        # brute force over every subset of each size: lowest remaining score (deletion), highest (insertion)
        best_del, best_ins = [], []
        for frac in cfg.fractions:
            k = count_at(frac, f)
            sums = [w[list(s)].sum() for s in itertools.combinations(range(f), k)]
            best_del.append(w.sum() - max(sums))
            best_ins.append(max(sums))
        np.testing.assert_allclose(r.curves["deletion_score_raw"][i], best_del, atol=1e-5)
        np.testing.assert_allclose(r.curves["insertion_score_raw"][i], best_ins, atol=1e-5)


def test_random_order_gives_the_expected_curve(toy, requests):
    # linear model with s_empty = 0: E[normalised deletion score after k of F removed] = 1 - k/F
    exact = evaluate_explainer(toy, ExactLinear(), requests, granularity="history", seed=0, metrics=["deletion_auc"])
    curves, aucs = [], []
    for seed in range(30):
        r = evaluate_explainer(toy, RandomScores(), requests, granularity="history", seed=seed,
                               metrics=["faithfulness"])
        assert np.all(r.per_user["deletion_auc"] >= exact.per_user["deletion_auc"] - 1e-9)
        curves.append(r.curves["deletion_score"])
        aucs.append(r.per_user["deletion_auc"])
    f = len(requests[0].history)
    expected = 1 - np.array([count_at(x, f) for x in EvalConfig().fractions]) / f
    curves, aucs = np.concatenate(curves), np.concatenate(aucs)
    se = curves.std(axis=0) / np.sqrt(len(curves))  # tolerance: 4 standard errors of the mean
    assert np.all(np.abs(curves.mean(axis=0) - expected) <= 4 * se + 1e-12)
    assert abs(aucs.mean() - 0.5) <= 4 * aucs.std() / np.sqrt(len(aucs))
    assert np.mean(exact.per_user["deletion_auc"]) < 0.3


def test_zero_score_range_gives_nan_and_a_reason():
    class Flat(HandTask):
        def _forward(self, mask):
            return torch.zeros(mask.shape[0])

    class FlatModel(HandModel):
        def feature_task(self, granularity, **kw):
            return Flat()

    req = [Request(user=0, target=0, history=np.arange(10, 14))]
    r = evaluate_explainer(FlatModel(), Fixed(WEIGHTS), req, granularity="history", seed=0, metrics=["faithfulness"])
    assert np.isnan(r.per_user["deletion_auc"][0])
    assert not np.isnan(r.per_user["deletion_rank_auc"][0])
    assert any("differ by less than" in reason for _, reason in r.skipped)


def test_span_small_against_the_item_score_spread_gives_nan():
    # HandTask: span 6; all item scores at the full input have sd ~6.5 -> NaN from min_span ~0.93 up
    req = [Request(user=0, target=0, history=np.arange(10, 14))]
    kept = evaluate_explainer(HandModel(), Fixed(WEIGHTS), req, granularity="history", seed=0,
                              metrics=["deletion_auc"], config=EvalConfig(min_span=0.9))
    dropped = evaluate_explainer(HandModel(), Fixed(WEIGHTS), req, granularity="history", seed=0,
                                 metrics=["deletion_auc"], config=EvalConfig(min_span=1.0))
    assert np.isfinite(kept.per_user["deletion_auc"][0]) and np.isnan(dropped.per_user["deletion_auc"][0])
    assert np.isfinite(dropped.per_user["deletion_rank_auc"][0])
