"""Accuracy of recommendations: full-ranking top-K metrics per user, and MIND impression metrics.

Top-K metrics rank ALL items (no sampled negatives: sampled metrics inflate and reorder models),
with the user's history masked out and ties broken by item index (lower first, as
:func:`xrec_bench.models.base.topk`). Per user, with ``T`` the relevant (target) items that are
not in the history, hits at 1-based positions ``r <= K`` of the ranking:

* ``ndcg@K``   = sum_hits 1/log2(r+1) / sum_{i<min(|T|,K)} 1/log2(i+2)
* ``recall@K`` = #hits / |T|
* ``hit@K``    = 1 if any hit else 0
* ``mrr@K``    = 1/r of the first hit (0 if none)

A user with no relevant item left (no target, or every target already in the history, which can
happen with repeat consumption) gets NaN for every metric: it is excluded from means and
bootstrap intervals (:func:`xrec_bench.metrics.stats.bootstrap_ci` drops non-finite values).
K larger than the catalogue ranks the whole catalogue.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from xrec_bench._util.ranking import ndcg
from xrec_bench.contract import Output
from xrec_bench.metrics.base import DeclaredMetric, register
from xrec_bench.metrics.stats import Estimate, bootstrap_ci
from xrec_bench.models.base import topk

FAMILIES = ("ndcg", "recall", "hit", "mrr")



@register
class Accuracy(DeclaredMetric):
    """Ranking accuracy of the recommender on the held-out items (the harness's accuracy cells)."""

    name = "accuracy"
    needs = frozenset({"model"})
    granularities = frozenset({"history", "tokens", "fields"})
    outputs = (
        Output("ndcg@k", "higher", "accuracy", "nDCG",
               "Normalised discounted cumulative gain of the held-out items in the full top-K ranking."),
        Output("recall@k", "higher", "accuracy", "share of held-out items",
               "Share of the held-out items found in the full top-K ranking."),
        Output("hit@k", "higher", "accuracy", "share of users",
               "1 if any held-out item is in the full top-K ranking, else 0."),
        Output("mrr@k", "higher", "accuracy", "reciprocal rank",
               "Reciprocal rank of the first held-out item within the top K (0 beyond K)."),
        Output("impression-auc", "higher", "accuracy", "ROC AUC",
               "MIND impressions: ROC AUC of the clicked vs non-clicked candidates, per impression."),
        Output("impression-mrr", "higher", "accuracy", "reciprocal rank",
               "MIND impressions: mean reciprocal rank of the clicked candidates, per impression."),
        Output("impression-ndcg@k", "higher", "accuracy", "nDCG",
               "MIND impressions: nDCG@K over the impression's candidates."),
    )


def ranking_metrics(
    ranked: np.ndarray, targets: Sequence[np.ndarray], exclude: Sequence[np.ndarray], ks: Sequence[int]
) -> dict[str, np.ndarray]:
    """Per-row metrics from top-``max(ks)`` lists ``ranked [B, >=max(ks)]`` (history already masked)."""
    out = {f"{f}@{k}": np.full(len(targets), np.nan) for f in FAMILIES for k in ks}
    for row, (tgt, exc) in enumerate(zip(targets, exclude, strict=True)):
        rel = np.setdiff1d(np.asarray(tgt, dtype=np.int64), np.asarray(exc, dtype=np.int64))
        if rel.size == 0:
            continue
        hit = np.isin(ranked[row], rel)
        positions = np.flatnonzero(hit) + 1  # 1-based ranks of the hits
        for k in ks:
            r = positions[positions <= k]
            out[f"ndcg@{k}"][row] = ndcg(positions, rel.size, k)
            out[f"recall@{k}"][row] = r.size / rel.size
            out[f"hit@{k}"][row] = float(r.size > 0)
            out[f"mrr@{k}"][row] = 1.0 / r[0] if r.size else 0.0
    return out


def evaluate_ranking(
    model, cases, *, ks: Sequence[int] = (10, 20), batch_size: int = 256
) -> dict[str, np.ndarray]:
    """Per-user ``ndcg@K``, ``recall@K``, ``hit@K``, ``mrr@K`` of ``model`` on ``cases``
    (:class:`~xrec_bench.datasets.schema.EvalCases`), aligned with ``cases.users``."""
    ks = [int(k) for k in ks]
    if not ks or min(ks) < 1:
        raise ValueError(
            f"The 'ks' parameter of evaluate_ranking must hold ints in [1, inf). Got {ks} instead."
        )
    if batch_size < 1:
        raise ValueError(f"The 'batch_size' parameter must be an int in [1, inf). Got {batch_size} instead.")
    parts: list[dict[str, np.ndarray]] = []
    n = len(cases.users)
    for s in range(0, n, batch_size):
        users = np.asarray(cases.users[s : s + batch_size])
        hist = cases.histories[s : s + batch_size]
        scores = np.array(model.score(users, hist), dtype=np.float64)
        for row, items in enumerate(hist):
            scores[row, np.asarray(items, dtype=np.int64)] = -np.inf
        ranked = topk(scores, max(ks))
        parts.append(ranking_metrics(ranked, cases.targets[s : s + batch_size], hist, ks))
    if not parts:
        return {f"{f}@{k}": np.zeros(0) for f in FAMILIES for k in ks}
    return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}


def summarize(per_user: dict[str, np.ndarray], *, seed: int = 0) -> dict[str, Estimate]:
    """Mean and 95% bootstrap CI over users of each metric (NaN users excluded)."""
    return {name: bootstrap_ci(values, seed=seed) for name, values in per_user.items()}


def _dcg(labels_by_score: np.ndarray, k: int) -> float:
    top = labels_by_score[:k]
    return float(np.sum((2.0**top - 1) / np.log2(np.arange(2, top.size + 2))))


def impression_metrics(model, impressions, *, batch_size: int = 256) -> dict[str, np.ndarray]:
    """Per-impression ``impression-auc``, ``impression-mrr``, ``impression-ndcg@5``, ``impression-ndcg@10`` (the MIND
    competition's definitions) on the impression candidates; ``impressions`` is a frame with
    ``user``, ``history``, ``candidates``, ``labels`` (``Dataset.impressions``).

    An impression whose labels are all 0 or all 1 gets NaN (AUC, MRR and nDCG are undefined).
    Ties in score are ordered by candidate position (stable sort).
    """
    from sklearn.metrics import roc_auc_score

    n = len(impressions)
    out = {
        key: np.full(n, np.nan)
        for key in ("impression-auc", "impression-mrr", "impression-ndcg@5", "impression-ndcg@10")
    }
    users = impressions["user"].to_numpy(np.int64)
    histories = impressions["history"].tolist()
    cands = impressions["candidates"].tolist()
    labels = impressions["labels"].tolist()
    for s in range(0, n, batch_size):
        scores = np.asarray(
            model.score(users[s : s + batch_size], histories[s : s + batch_size]), dtype=np.float64
        )
        for row in range(scores.shape[0]):
            i = s + row
            y = np.asarray(labels[i], dtype=np.float64)
            if y.size == 0 or y.min() == y.max():
                continue
            sc = scores[row, np.asarray(cands[i], dtype=np.int64)]
            order = np.argsort(-sc, kind="stable")
            ranked = y[order]
            out["impression-auc"][i] = roc_auc_score(y, sc)
            out["impression-mrr"][i] = float(np.sum(ranked / np.arange(1, ranked.size + 1)) / np.sum(y))
            ideal = np.sort(y)[::-1]
            for k in (5, 10):
                out[f"impression-ndcg@{k}"][i] = _dcg(ranked, k) / _dcg(ideal, k)
    return out
