"""Ranks of items in full rankings, and NDCG: shared by the models' early stopping and the accuracy metrics.

Ties between equal scores are broken by item index, lower first (as :func:`xrec_bench.models.base.topk`).
"""

from __future__ import annotations

import numpy as np


def tie_aware_rank(scores: np.ndarray, target_score, target: int):
    """1-based rank of item ``target`` scored ``target_score`` among ``scores [..., n_items]``.

    Items scoring higher come first, and so do items of lower index with an equal score. The target's
    own column does not count (whether it holds ``target_score`` or has been masked to ``-inf``); mask
    excluded items to ``-inf`` before. Works on one row (returns an int) or a batch of rows.
    """
    value = np.asarray(target_score)[..., None]
    return 1 + (scores > value).sum(axis=-1) + (scores[..., :target] == value).sum(axis=-1)


def ndcg(hit_ranks: np.ndarray, n_relevant: int, k: int) -> float:
    """NDCG@k of one ranking: ``hit_ranks`` are the 1-based ranks of the relevant items, ascending.

    ``sum_{r <= k} 1/log2(r+1) / sum_{i < min(n_relevant, k)} 1/log2(i+2)``; ``n_relevant >= 1``.
    """
    r = hit_ranks[hit_ranks <= k]
    idcg = np.sum(1.0 / np.log2(np.arange(2, min(n_relevant, k) + 2)))
    return np.sum(1.0 / np.log2(r + 1)) / idcg
