"""Ground truth that refers to the model: coverage by leave-one-out margin, chance level, and the
randomised-model control (on the linear toy model, whose leave-one-out drops are A[h, target])."""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score

from tests.unit.metrics.conftest import ExactLinear, RandomScores
from xrec_bench.explainers.base import Explainer, Request
from xrec_bench.metrics import evaluate_explainer
from xrec_bench.metrics.config import EvalConfig
from xrec_bench.metrics.ground_truth import NOT_USED, expected_random_ap, model_uses


class KnowsTheCause(Explainer):
    """A model-blind 'data oracle': puts the planted cause first whatever the model does."""

    name = "test-knows-cause"
    causes: dict[int, int] = {}

    def _attribute(self, task, rng):
        return (np.asarray(task.feature_ids) == self.causes[task.user]).astype(np.float64)


def test_expected_random_ap_matches_simulation():
    rng = np.random.default_rng(0)
    for n, r in [(2, 1), (5, 1), (10, 3), (40, 1), (7, 7)]:
        rel = np.zeros(n, dtype=int)
        rel[:r] = 1
        sims = [average_precision_score(rel, rng.random(n)) if r < n else 1.0 for _ in range(4000)]
        assert expected_random_ap(n, r) == pytest.approx(np.mean(sims), abs=0.01)
    assert expected_random_ap(5, 1) == pytest.approx((1 + 1 / 2 + 1 / 3 + 1 / 4 + 1 / 5) / 5)
    assert expected_random_ap(1, 1) == 1.0 and np.isnan(expected_random_ap(4, 0))


def test_model_uses_needs_the_cause_first_by_a_margin():
    drops = np.array([0.5, 0.2, 0.45, -1.0])
    assert model_uses(drops, np.array([1, 0, 0, 0]), 0.0)
    assert model_uses(drops, np.array([1, 0, 0, 0]), 0.04)
    assert not model_uses(drops, np.array([1, 0, 0, 0]), 0.1)  # leads 0.45 by 0.05 only
    assert not model_uses(drops, np.array([0, 1, 0, 0]), 0.0)  # another item matters more
    assert model_uses(drops, np.array([0, 0, 1, 1]), 0.0) is False  # 0.5 (not a cause) is first
    assert not model_uses(drops, np.zeros(4), 0.0)


def _requests(toy, n, *, used: bool, seed: int = 0):
    """Requests with one planted cause: the history item the model weighs most (``used``) or least."""
    rng = np.random.default_rng(seed)
    reqs, causes = [], []
    while len(reqs) < n:
        items = rng.permutation(toy.n_items)
        hist, target = items[:8], int(items[8])
        w = toy.A[hist, target]
        gap = np.sort(w)[-1] - np.sort(w)[-2]
        if used and gap < 0.6:  # 0.1 sd of the item scores is about 0.3 here
            continue
        reqs.append(Request(user=len(reqs), target=target, history=hist))
        causes.append(int(hist[np.argmax(w)] if used else hist[np.argmin(w)]))
    gt = pd.DataFrame({"user": [r.user for r in reqs], "target": [r.target for r in reqs],
                       "cause_items": [np.array([c]) for c in causes], "cause_words": [("x",)] * n})
    return reqs, gt, causes


def test_agreement_is_scored_only_where_the_model_uses_the_cause(toy):
    used, gt_used, _ = _requests(toy, 3, used=True)
    unused, gt_unused, _ = _requests(toy, 3, used=False, seed=1)
    unused = [Request(r.user + 3, r.target, r.history) for r in unused]
    gt = pd.concat([gt_used, gt_unused.assign(user=gt_unused["user"] + 3)], ignore_index=True)
    r = evaluate_explainer(toy, ExactLinear(), used + unused, granularity="history", seed=0, metrics=["gt_ap"],
                           ground_truth=gt)
    assert r.per_user["gt_coverage"].tolist() == [1, 1, 1, 0, 0, 0]
    assert r.per_user["gt_ap"][:3].tolist() == [1.0, 1.0, 1.0] and np.isnan(r.per_user["gt_ap"][3:]).all()
    assert np.allclose(r.per_user["gt_ap_chance"][:3], expected_random_ap(8, 1))
    assert sum(why == NOT_USED for _, why in r.skipped) == 3


def test_randomised_model_control_falls_to_chance_unless_the_explainer_is_model_blind(toy):
    reqs, gt, causes = _requests(toy, 80, used=True)
    cfg = EvalConfig(gt_control_users=None)
    exact = evaluate_explainer(toy, ExactLinear(), reqs, granularity="history", seed=0, metrics=["gt_ap"],
                               ground_truth=gt, config=cfg)
    assert np.nanmean(exact.per_user["gt_coverage"]) == 1.0
    assert np.nanmean(exact.per_user["gt_ap"]) == 1.0
    chance = np.nanmean(exact.per_user["gt_ap_chance"])
    assert np.nanmean(exact.per_user["gt_ap_randomized"]) == pytest.approx(chance, abs=0.12)
    assert np.nanmean(exact.per_user["gt_coverage_randomized"]) < 0.5  # the random model weighs other items
    KnowsTheCause.causes = dict(enumerate(causes))
    blind = evaluate_explainer(toy, KnowsTheCause(), reqs, granularity="history", seed=0, metrics=["gt_ap"],
                               ground_truth=gt, config=cfg)
    assert np.nanmean(blind.per_user["gt_ap_randomized"]) == 1.0  # recovers the cause from the data alone
    rand = evaluate_explainer(toy, RandomScores(), reqs, granularity="history", seed=0, metrics=["gt_ap"],
                              ground_truth=gt, config=EvalConfig(gt_control_users=10))
    assert np.isfinite(rand.per_user["gt_ap_randomized"]).sum() == 10  # the control's budget
