"""Accuracy metrics: hand-computed cases, agreement with sklearn's ndcg_score, edge cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import ndcg_score

from xrec_bench.datasets.schema import EvalCases
from xrec_bench.metrics.accuracy import evaluate_ranking, impression_metrics, summarize
from xrec_bench.metrics.base import spec


class FixedScores:
    """A model that returns a fixed score matrix row per user index."""

    def __init__(self, scores):
        self.scores = np.asarray(scores, dtype=np.float64)

    def score(self, users, histories):
        return self.scores[np.asarray(users)]


def cases(histories, targets):
    return EvalCases(
        np.arange(len(targets)),
        [np.asarray(h, dtype=np.int64) for h in histories],
        [np.asarray(t, dtype=np.int64) for t in targets],
    )


def test_hand_computed_single_target():
    # items 0..5; user 0 history {0}; ranking after masking: 5, 4, 3, 2, 1 -> target 3 at rank 3
    model = FixedScores([[9.0, 1.0, 2.0, 3.0, 4.0, 5.0]])
    out = evaluate_ranking(model, cases([[0]], [[3]]), ks=(2, 3, 5))
    assert out["hit@2"][0] == 0 and out["ndcg@2"][0] == 0 and out["mrr@2"][0] == 0
    assert out["ndcg@3"][0] == pytest.approx(1 / np.log2(4))
    assert out["recall@3"][0] == 1 and out["hit@3"][0] == 1
    assert out["mrr@5"][0] == pytest.approx(1 / 3)


def test_hand_computed_two_targets_and_history_masked():
    # item 0 has the best score but is in the history: masked. Ranking: 1, 2, 3, 4 ; targets {1, 4}
    model = FixedScores([[10.0, 4.0, 3.0, 2.0, 1.0]])
    out = evaluate_ranking(model, cases([[0]], [[1, 4]]), ks=(2, 4))
    assert out["recall@2"][0] == pytest.approx(0.5)
    assert out["ndcg@2"][0] == pytest.approx(1.0 / (1 + 1 / np.log2(3)))
    assert out["ndcg@4"][0] == pytest.approx((1 + 1 / np.log2(5)) / (1 + 1 / np.log2(3)))
    assert out["mrr@4"][0] == 1.0


def test_ties_go_to_the_lower_index():
    model = FixedScores([[1.0, 1.0, 1.0, 1.0]])
    low = evaluate_ranking(model, cases([[]], [[0]]), ks=(1,))
    high = evaluate_ranking(model, cases([[]], [[3]]), ks=(1, 4))
    assert low["hit@1"][0] == 1 and high["hit@1"][0] == 0
    assert high["mrr@4"][0] == pytest.approx(1 / 4)


def test_agrees_with_sklearn_ndcg_on_random_inputs():
    rng = np.random.default_rng(0)
    n_users, n_items = 40, 30
    scores = rng.normal(size=(n_users, n_items))
    targets = [rng.choice(n_items, size=int(rng.integers(1, 4)), replace=False) for _ in range(n_users)]
    out = evaluate_ranking(FixedScores(scores), cases([[]] * n_users, targets), ks=(5, 10), batch_size=7)
    for k in (5, 10):
        for u in range(n_users):
            rel = np.zeros((1, n_items))
            rel[0, targets[u]] = 1
            assert out[f"ndcg@{k}"][u] == pytest.approx(ndcg_score(rel, scores[u : u + 1], k=k)), (k, u)


def test_user_without_relevant_item_is_nan_and_excluded_from_the_mean():
    model = FixedScores([[3.0, 2.0, 1.0], [3.0, 2.0, 1.0]])
    out = evaluate_ranking(model, cases([[0], [1]], [[0], [0]]), ks=(2,))  # user 0's target is in its history
    assert np.isnan(out["ndcg@2"][0]) and out["ndcg@2"][1] == 1.0
    assert summarize(out)["ndcg@2"].mean == 1.0 and summarize(out)["ndcg@2"].n == 1


def test_k_larger_than_the_catalogue_ranks_everything():
    model = FixedScores([[3.0, 2.0, 1.0]])
    out = evaluate_ranking(model, cases([[]], [[2]]), ks=(50,))
    assert out["recall@50"][0] == 1 and out["ndcg@50"][0] == pytest.approx(1 / np.log2(4))


def test_bad_k_is_refused():
    with pytest.raises(ValueError, match="ks"):
        evaluate_ranking(FixedScores([[1.0]]), cases([[]], [[0]]), ks=(0,))


def test_metrics_are_declared():
    for name in ("ndcg@10", "recall@20", "hit@10", "mrr@10", "impression-auc", "impression-ndcg@5"):
        s = spec(name)
        assert s.group == "accuracy" and s.higher_is_better


def test_impression_metrics_hand_computed():
    # candidates 0, 1, 2 with scores 0.9, 0.1, 0.5; clicked: 2 -> rank 2
    model = FixedScores([[0.9, 0.1, 0.5]])
    imp = pd.DataFrame(
        {
            "user": [0, 0],
            "history": [np.array([], dtype=np.int64)] * 2,
            "candidates": [np.array([0, 1, 2]), np.array([0, 1])],
            "labels": [np.array([0, 0, 1]), np.array([1, 1])],
        }
    )
    out = impression_metrics(model, imp)
    assert out["impression-auc"][0] == pytest.approx(0.5)
    assert out["impression-mrr"][0] == pytest.approx(0.5)
    assert out["impression-ndcg@5"][0] == pytest.approx(1 / np.log2(3))
    assert np.isnan(out["impression-auc"][1])  # all clicked: undefined
