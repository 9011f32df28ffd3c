"""Deletion/insertion curves, AUC, ERASER and POS/NEG@K against hand-computed answers."""

import itertools

import numpy as np
import pytest
import torch

from tests.unit.metrics.conftest import ExactLinear, RandomScores, make_requests
from xrec_bench.explainers.base import Explainer, Request
from xrec_bench.metrics import EvalConfig, evaluate_explainer
from xrec_bench.metrics.config import count_at
from xrec_bench.metrics.counterfactual import step_counts
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


#: HandTask's item scores with the full input: the target 6, items 1 and 2, then 11 items at -10
SD = float(np.std([6.0, 4.0, 2.5] + [-10.0] * 11, ddof=1))


def test_deletion_and_insertion_curves_by_hand():
    r = _hand(WEIGHTS)
    # F = 4: counts per fraction 0..1 are 0,0,1,1,2,2,2,3,3,4,4; removing in order 3,2,1,0 leaves 6,3,1,0,0
    raw_del = np.array([6, 6, 3, 3, 1, 1, 1, 0, 0, 0, 0], dtype=float)
    np.testing.assert_allclose(r.curves["deletion_score_raw"][0], raw_del)
    np.testing.assert_allclose(r.curves["deletion_score"][0], (raw_del - 6) / SD)  # no empty-input anchor
    raw_ins = np.array([0, 0, 3, 3, 5, 5, 5, 6, 6, 6, 6], dtype=float)
    np.testing.assert_allclose(r.curves["insertion_score"][0], (raw_ins - 6) / SD)
    # area over x = k/F: raw areas 0.25 * ((6+3) + (3+1) + (1+0) + 0) / 2 and 0.25 * (3 + 8 + 11 + 12) / 2
    assert r.per_user["deletion_auc"][0] == pytest.approx((0.25 * 14 / 2 - 6) / SD)
    assert r.per_user["insertion_auc"][0] == pytest.approx((0.25 * 34 / 2 - 6) / SD)
    # ranks: full 6 > 4.0 -> 1; 3 -> 2; 1 and 0 -> 3 (behind 4.0 and 2.5)
    np.testing.assert_array_equal(r.curves["deletion_rank"][0], [1, 1, 2, 2, 3, 3, 3, 3, 3, 3, 3])
    gain = 1 / np.log2(np.array([1, 2, 3, 3, 3]) + 1)
    np.testing.assert_allclose(r.curves["deletion_rank_gain"][0][[0, 2, 4, 7, 9]], gain)
    assert r.per_user["deletion_rank_auc"][0] == pytest.approx(np.trapezoid(gain, [0, .25, .5, .75, 1]))


def test_area_minus_random_against_every_order():
    # with many random orders the reference is the mean over all 24 orders of the 4 features
    cfg = EvalConfig(random_orders=3000)
    r = evaluate_explainer(HandModel(), Fixed(WEIGHTS), [Request(user=0, target=0, history=np.arange(10, 14))],
                           granularity="history", seed=0, metrics=["faithfulness"], config=cfg)
    x = np.array([0, .25, .5, .75, 1])
    dels, inss = [], []
    for perm in itertools.permutations(range(4)):
        left = [WEIGHTS.sum() - WEIGHTS[list(perm[:k])].sum() for k in range(5)]
        dels.append(np.trapezoid((np.array(left) - 6) / SD, x))
        present = [WEIGHTS[list(perm[:k])].sum() for k in range(5)]
        inss.append(np.trapezoid((np.array(present) - 6) / SD, x))
    tol = 4 * np.std(dels) / np.sqrt(3000)
    assert r.per_user["deletion_auc_minus_random"][0] == pytest.approx(r.per_user["deletion_auc"][0] - np.mean(dels),
                                                                        abs=tol)
    assert r.per_user["deletion_auc_minus_random"][0] < 0 < r.per_user["insertion_auc_minus_random"][0]
    tol = 4 * np.std(inss) / np.sqrt(3000)
    assert r.per_user["insertion_auc_minus_random"][0] == pytest.approx(
        r.per_user["insertion_auc"][0] - np.mean(inss), abs=tol)


def test_random_reference_is_the_same_for_every_explainer(toy, requests):
    exact = evaluate_explainer(toy, ExactLinear(), requests, granularity="history", seed=0, metrics=["faithfulness"])
    rand = evaluate_explainer(toy, RandomScores(), requests, granularity="history", seed=0, metrics=["faithfulness"])
    for name in ("deletion_auc", "insertion_rank_auc"):
        np.testing.assert_allclose(exact.per_user[f"{name}_minus_random"] - rand.per_user[f"{name}_minus_random"],
                                   exact.per_user[name] - rand.per_user[name], atol=1e-12)


def test_eraser_by_hand():
    r = _hand(WEIGHTS, metrics=["comprehensiveness", "sufficiency"])
    # bins 1/5/10/20/50% of 4 features -> rationale sizes 1,1,1,1,2 (at least one); drops in sd units
    assert r.per_user["comprehensiveness"][0] == pytest.approx((4 * 3 + 5) / 5 / SD)
    assert r.per_user["sufficiency"][0] == pytest.approx((4 * 3 + 1) / 5 / SD)
    worst = _hand(-WEIGHTS, metrics=["comprehensiveness", "sufficiency"])
    # reversed order: the rationales are {d} (weight 0) and {d, c} (weights 0 and 1)
    assert worst.per_user["comprehensiveness"][0] == pytest.approx((4 * 0 + 1) / 5 / SD)
    assert worst.per_user["sufficiency"][0] == pytest.approx((4 * 6 + 5) / 5 / SD)


def test_eraser_only_positive_limits_the_rationale():
    req = [Request(user=0, target=0, history=np.arange(10, 14))]
    cfg = EvalConfig(eraser_only_positive=True)
    r = evaluate_explainer(HandModel(), Fixed([1.0, -1, -2, -3]), req, granularity="history", seed=0,
                           metrics=["comprehensiveness"], config=cfg)
    assert r.per_user["comprehensiveness"][0] == pytest.approx(3 / SD)  # only feature 0 may be removed


def test_pos_neg_at_k_by_hand():
    r = _hand(WEIGHTS, metrics=["pos@1", "neg@1"])
    # LXR bins of F = 4 into 10: sizes 1,1,1,1,0,...; removed after steps 0..10: 0,1,2,3,4,4,4,4,4,4,4
    # POS removes weights 3,2,1,0 in turn: scores 6,3,1,0,0... -> ranks 1,2,3,3,3,...
    assert r.per_user["pos@1"][0] == pytest.approx(1 / 11)
    assert r.per_user["pos@5"][0] == 1.0
    # NEG removes weights 0,1,2,3 in turn: scores 6,6,5,3,0,... -> ranks 1,1,1,2,3,...
    assert r.per_user["neg@1"][0] == pytest.approx(3 / 11)
    assert r.per_user["neg@5"][0] == 1.0
    assert r.per_user["neg@1"][0] > r.per_user["pos@1"][0]
    worse = _hand(-WEIGHTS, metrics=["pos@1", "neg@1"])  # the reversed order swaps them
    assert worse.per_user["pos@1"][0] == pytest.approx(3 / 11) and worse.per_user["neg@1"][0] == pytest.approx(1 / 11)


def test_pos_neg_steps_follow_lxr_bins():
    assert step_counts(4).tolist() == [0, 1, 2, 3, 4, 4, 4, 4, 4, 4, 4]
    assert step_counts(15).tolist() == [0, 2, 4, 6, 8, 10, 11, 12, 13, 14, 15]  # array_split: larger bins first
    assert step_counts(40)[1:].tolist() == list(range(4, 41, 4))


def test_pos_at_k_is_nan_when_the_target_is_not_in_the_top_k():
    class Second(HandTask):  # item 1 outranks the target even with every feature present
        def _all_scores(self, mask):
            out = super()._all_scores(mask)
            out[:, 1] = 100.0
            return out

    class SecondModel(HandModel):
        def feature_task(self, granularity, **kw):
            return Second()

    req = [Request(user=0, target=0, history=np.arange(10, 14))]
    r = evaluate_explainer(SecondModel(), Fixed(WEIGHTS), req, granularity="history", seed=0, metrics=["pos@1"])
    assert np.isnan(r.per_user["pos@1"][0]) and np.isnan(r.per_user["neg@1"][0])
    # in the top 5: POS@5 steps 0..10 leave scores 6,3,1,0,... -> ranks 2,3,4,4,...: all within 5
    assert r.per_user["pos@5"][0] == 1.0


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
    # linear model: E[score after k of F removed] = s_full * (1 - k/F), and random's area minus random ~ 0
    exact = evaluate_explainer(toy, ExactLinear(), requests, granularity="history", seed=0, metrics=["deletion_auc"])
    curves, aucs, minus = [], [], []
    for seed in range(30):
        r = evaluate_explainer(toy, RandomScores(), requests, granularity="history", seed=seed,
                               metrics=["faithfulness"])
        assert np.all(r.per_user["deletion_auc"] >= exact.per_user["deletion_auc"] - 1e-9)
        curves.append(r.curves["deletion_score_raw"] / r.curves["deletion_score_raw"][:, :1])
        aucs.append(r.per_user["deletion_auc"])
        minus.append(r.per_user["deletion_auc_minus_random"])
    f = len(requests[0].history)
    expected = 1 - np.array([count_at(x, f) for x in EvalConfig().fractions]) / f
    curves, minus = np.concatenate(curves), np.concatenate(minus)
    se = curves.std(axis=0) / np.sqrt(len(curves))  # tolerance: 4 standard errors of the mean
    assert np.all(np.abs(curves.mean(axis=0) - expected) <= 4 * se + 1e-12)
    assert abs(minus.mean()) <= 4 * minus.std() / np.sqrt(len(minus))
    assert np.all(exact.per_user["deletion_auc_minus_random"] < 0)


def test_equal_item_scores_give_nan_and_a_reason():
    class Flat(HandTask):
        def _all_scores(self, mask):
            return torch.zeros(mask.shape[0], 14)

        def _forward(self, mask):
            return torch.zeros(mask.shape[0])

    class FlatModel(HandModel):
        def feature_task(self, granularity, **kw):
            return Flat()

    req = [Request(user=0, target=0, history=np.arange(10, 14))]
    r = evaluate_explainer(FlatModel(), Fixed(WEIGHTS), req, granularity="history", seed=0, metrics=["faithfulness"])
    assert np.isnan(r.per_user["deletion_auc"][0])
    assert not np.isnan(r.per_user["deletion_rank_auc"][0])
    assert any("score sd 0" in reason for _, reason in r.skipped)
