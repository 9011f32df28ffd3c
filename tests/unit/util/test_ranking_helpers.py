"""Tie-aware ranks and NDCG: one definition for the models' early stopping and the accuracy metrics."""

import numpy as np
import pytest

from xrec_bench._util.ranking import ndcg, tie_aware_rank
from xrec_bench.metrics.accuracy import ranking_metrics
from xrec_bench.models.base import topk
from xrec_bench.models.ranking import ndcg_at_k


def _old_ndcg_at_k(scores, targets, exclude, k):
    """models/ranking.py's NDCG before it used the shared helpers (kept here as the reference)."""
    scores = np.array(scores, dtype=np.float64, copy=True)
    values = []
    for row, (tgt, exc) in enumerate(zip(targets, exclude, strict=True)):
        s = scores[row]
        s[np.asarray(exc, dtype=np.int64)] = -np.inf
        tgt = np.setdiff1d(np.asarray(tgt, dtype=np.int64), np.asarray(exc, dtype=np.int64))
        if tgt.size == 0:
            continue
        idx = np.arange(s.size)
        ranks = [1 + int((s > s[t]).sum() + ((s == s[t]) & (idx < t)).sum()) for t in tgt]
        dcg = sum(1.0 / np.log2(r + 1) for r in ranks if r <= k)
        idcg = sum(1.0 / np.log2(i + 2) for i in range(min(len(tgt), k)))
        values.append(dcg / idcg)
    return float(np.mean(values)) if values else 0.0


def test_rank_breaks_ties_by_lower_index_and_skips_the_target_itself():
    s = np.array([0.5, 0.9, 0.5, 0.9, 0.1])
    assert [int(tie_aware_rank(s, s[t], t)) for t in range(5)] == [3, 1, 4, 2, 5]
    masked = s.copy()
    masked[2] = -np.inf  # a masked target column does not count either
    assert int(tie_aware_rank(masked, s[2], 2)) == 4


def test_rank_agrees_with_topk_on_random_scores_with_ties():
    r = np.random.default_rng(0)
    scores = r.integers(0, 5, size=(20, 30)).astype(float)  # many ties
    order = topk(scores, 30)
    for row in range(20):
        for t in range(30):
            assert int(tie_aware_rank(scores[row], scores[row, t], t)) == int(np.flatnonzero(order[row] == t)[0]) + 1


def test_batched_rank_equals_row_by_row():
    r = np.random.default_rng(1)
    scores = r.integers(0, 4, size=(6, 12)).astype(float)
    target = scores[:, 5].copy()
    batched = tie_aware_rank(scores, target, 5)
    assert batched.tolist() == [int(tie_aware_rank(scores[i], target[i], 5)) for i in range(6)]


@pytest.mark.parametrize(("ranks", "n", "k", "expected"), [
    ([1], 1, 10, 1.0),
    ([3], 1, 10, 0.5),
    ([11], 1, 10, 0.0),
    ([1, 2], 2, 10, 1.0),
    ([2], 2, 1, 0.0),
])
def test_ndcg_values(ranks, n, k, expected):
    assert ndcg(np.array(ranks), n, k) == pytest.approx(expected)


def test_models_validation_ndcg_is_the_accuracy_metric():
    r = np.random.default_rng(2)
    scores = r.normal(size=(40, 25)).round(1)  # ties
    targets = [r.choice(25, size=r.integers(1, 6), replace=False) for _ in range(40)]
    exclude = [r.choice(25, size=3, replace=False) for _ in range(40)]
    masked = scores.copy()
    for row, exc in enumerate(exclude):
        masked[row, exc] = -np.inf
    per_user = ranking_metrics(topk(masked, 10), targets, exclude, [10])["ndcg@10"]
    assert ndcg_at_k(scores, targets, exclude, 10) == np.mean(per_user[np.isfinite(per_user)])


def test_models_validation_ndcg_unchanged_for_one_held_out_item():
    """Leave-last-out validation (one item per user; every shipped suite): bit for bit the old value."""
    r = np.random.default_rng(3)
    for _ in range(20):
        scores = r.normal(size=(30, 50)).round(2)
        targets = [np.array([r.integers(50)]) for _ in range(30)]
        exclude = [r.choice(50, size=r.integers(0, 6), replace=False) for _ in range(30)]
        assert ndcg_at_k(scores, targets, exclude, 10) == _old_ndcg_at_k(scores, targets, exclude, 10)


def test_models_validation_ndcg_within_rounding_of_the_old_value_for_many_items():
    """Several held-out items: the sums now run in rank order (as the metric's), so the last bit may move."""
    r = np.random.default_rng(4)
    scores = r.normal(size=(30, 40))
    targets = [r.choice(40, size=r.integers(1, 15), replace=False) for _ in range(30)]
    exclude = [np.array([], dtype=np.int64)] * 30
    assert ndcg_at_k(scores, targets, exclude, 10) == pytest.approx(_old_ndcg_at_k(scores, targets, exclude, 10), abs=1e-15)
