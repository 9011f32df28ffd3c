"""Agreement of attributions with planted causes (synthetic dataset).

``ground_truth`` is the dataset's frame (``user``, ``target``, ``cause_items``, ``cause_words``).
History: a feature is relevant if its item id (``explanation.feature_ids``) is a cause item.
Tokens: a feature is relevant if its word (``explanation.feature_labels``), lower-cased and with
surrounding punctuation stripped, is a cause word (every occurrence counts). A request whose
target is not the planted target, or whose features contain no cause, gets NaN and a reason.

precision@k: share of the top ``k`` features (the explanation's ranking; ``min(k, F)`` when
``F < k``) that are relevant. Average precision: ``sklearn.metrics.average_precision_score`` of
the attributions against the relevance labels (tied scores form one threshold).
"""

from __future__ import annotations

import string

import numpy as np
from sklearn.metrics import average_precision_score

from xrec_bench.metrics.base import declare
from xrec_bench.metrics.stages import STAGES, Context, Stage, StageOutput

declare("gt_precision@k", higher_is_better=True, group="ground-truth",
        description="Share of the k top-ranked features that are planted causes (synthetic data).")
declare("gt_ap", higher_is_better=True, group="ground-truth",
        description="Average precision of the attributions against the planted causes (synthetic data).")


def normalise_word(word: str) -> str:
    return str(word).strip().strip(string.punctuation).lower()


def relevance(explanation, causes_row, granularity: str) -> np.ndarray:
    """0/1 per feature: is it a planted cause?"""
    if granularity == "history":
        causes = {int(i) for i in np.asarray(causes_row["cause_items"]).reshape(-1)}
        return np.array([int(i) in causes for i in explanation.feature_ids], dtype=np.int64)
    causes = {normalise_word(w) for w in causes_row["cause_words"]}
    return np.array([normalise_word(w) in causes for w in explanation.feature_labels], dtype=np.int64)


def precision_at_k(ranking: np.ndarray, relevant: np.ndarray, k: int) -> float:
    top = np.asarray(ranking)[: min(k, len(ranking))]
    return float(np.mean(np.asarray(relevant)[top])) if len(top) else float("nan")


def average_precision(scores: np.ndarray, relevant: np.ndarray) -> float:
    relevant = np.asarray(relevant)
    if relevant.sum() == 0:
        return float("nan")
    if relevant.all():
        return 1.0
    return float(average_precision_score(relevant, np.asarray(scores, dtype=np.float64)))


def _run(ctx: Context) -> StageOutput:
    n = len(ctx.requests)
    names = [f"gt_precision@{k}" for k in ctx.config.gt_ks] + ["gt_ap"]
    out = StageOutput(per_user={name: np.full(n, np.nan) for name in names})
    gt = ctx.ground_truth
    by_user = {int(row["user"]): row for _, row in gt.iterrows()}
    for i, (req, expl) in enumerate(zip(ctx.requests, ctx.explanations, strict=True)):
        if not expl.ok:
            continue
        row = by_user.get(int(req.user))
        if row is None or int(row["target"]) != int(req.target):
            out.skipped.append((req.user, "ground truth: the request's target is not the planted target"))
            continue
        rel = relevance(expl, row, ctx.granularity)
        if rel.sum() == 0:
            out.skipped.append((req.user, "ground truth: none of the planted causes is among the features"))
            continue
        ranking = expl.ranking()
        for k in ctx.config.gt_ks:
            out.per_user[f"gt_precision@{k}"][i] = precision_at_k(ranking, rel, k)
        out.per_user["gt_ap"][i] = average_precision(expl.scores, rel)
    return out


STAGES.register("ground-truth", Stage(
    name="ground-truth",
    kind="batch",
    metric_names=lambda cfg: tuple(f"gt_precision@{k}" for k in cfg.gt_ks) + ("gt_ap",),
    run_batch=_run,
    needs_ground_truth=True,
))
