"""Agreement of attributions with a model's exact attributions, on real data.

For a model whose attributions are known in closed form (an additive model such as item-kNN: each
history item's exact contribution, equal to its exact Shapley value; see
:mod:`xrec_bench.models.additive`), the feature task offers ``exact_attributions()`` and the model
lists the granularity in ``exact_granularities``. Unlike planted causes
(:mod:`xrec_bench.metrics.ground_truth`) this ground truth refers to the model itself, so it needs
no test of whether the model uses it, and it exists for every user of every dataset.

Per request (NaN where it is not informative, see below):

* ``exact_spearman`` / ``exact_kendall``: Spearman's rho / Kendall's tau-b (scipy) between the
  explanation's scores and the exact attributions. NaN with fewer than 3 features, or when the
  exact attributions are all equal; an explanation with all-equal scores orders nothing and gets 0.
* ``exact_precision@k``: share of the explanation's top ``k`` features (its ranking, ties to the
  lower position) that are among the exact top ``k``, where "among the exact top k" includes every
  feature tied with the k-th largest exact value (so no explainer is penalised for the order of
  exact ties). NaN when ``F <= k`` (every ranking scores 1).
* ``exact_chance@k``: the expected ``exact_precision@k`` of a uniformly random ranking (the number
  of exact-top-``k`` features over ``F``), the floor; the ``random`` explainer measures the same floor
  empirically. Not ranked.

The ``k`` are ``EvalConfig.gt_ks`` (the cut-offs of the other ground-truth precision).

Ties: additive models have many exactly tied contributions (item-kNN: every history item outside the
target's neighbourhood contributes exactly 0), and an explainer that computes them through sums of
model scores gets rounding noise instead (1e-17 for 0). Ranking that noise would break exact ties at
random and cost a perfectly right explainer agreement (on Amazon Magazine, exact-shapley's Spearman
fell to 0.976). So both vectors are first rounded to ``TIE_TOLERANCE`` times their largest absolute
value: values closer than that are ties. The tolerance is far below any estimation error.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import spearmanr

from xrec_bench.contract import Output
from xrec_bench.metrics.base import register
from xrec_bench.metrics.config import EvalConfig
from xrec_bench.metrics.stability import kendall_tau
from xrec_bench.metrics.stages import Reference, TaskMetric

_CORR = "rank correlation in [-1, 1]"
_SHARE = "share of the top k features"
OUTPUTS = (
    Output("exact_spearman", "higher", "ground-truth", _CORR,
           "Spearman rho between the attributions and the model's exact attributions (additive models: each "
           "history item's exact contribution = exact Shapley value), per user."),
    Output("exact_kendall", "higher", "ground-truth", _CORR,
           "Kendall tau-b between the attributions and the model's exact attributions, per user."),
    Output("exact_precision@k", "higher", "ground-truth", _SHARE,
           "Share of the k top-ranked features that are among the k features with the largest exact "
           "attributions (ties with the k-th included).", k_from="gt_ks"),
    Output("exact_chance@k", "higher", "ground-truth", _SHARE,
           "Expected exact_precision@k of a uniformly random ranking (the floor).", ranked=False, k_from="gt_ks"),
)

MIN_FEATURES = 3
#: values closer than this fraction of a vector's largest absolute value are tied (float rounding)
TIE_TOLERANCE = 1e-9


def snap(values) -> np.ndarray:
    """``values`` rounded to ``TIE_TOLERANCE`` times their largest absolute value (rounding noise tied)."""
    values = np.asarray(values, dtype=np.float64)
    scale = float(np.max(np.abs(values))) if values.size else 0.0
    if scale == 0.0 or not np.isfinite(scale):
        return values
    step = TIE_TOLERANCE * scale
    return np.round(values / step) * step


def rank_agreement(scores, exact) -> tuple[float, float]:
    """``(spearman, kendall)`` of ``scores`` against ``exact`` (NaN when undefined, 0 for constant scores)."""
    scores, exact = snap(scores), snap(exact)
    if len(exact) < MIN_FEATURES or np.ptp(exact) == 0:
        return float("nan"), float("nan")
    if np.ptp(scores) == 0:
        return 0.0, 0.0
    return float(spearmanr(scores, exact).statistic), kendall_tau(scores, exact)


def exact_top(exact, k: int) -> np.ndarray:
    """0/1 per feature: is its exact value at least the ``k``-th largest (ties included)?"""
    exact = snap(exact)
    kth = np.sort(exact)[::-1][min(k, len(exact)) - 1]
    return (exact >= kth).astype(np.int64)


def top_k_precision(scores, exact, k: int) -> tuple[float, float]:
    """``(precision@k, chance@k)`` of the ranking by ``scores`` against the exact top ``k``."""
    scores = snap(scores)
    if len(scores) <= k:
        return float("nan"), float("nan")
    relevant = exact_top(exact, k)
    top = np.argsort(-scores, kind="stable")[:k]
    return float(relevant[top].mean()), float(relevant.sum() / len(relevant))


def agreement(scores, exact, ks) -> dict[str, float]:
    """Every agreement value of one explanation against the exact attributions."""
    rho, tau = rank_agreement(scores, exact)
    out = {"exact_spearman": rho, "exact_kendall": tau}
    for k in ks:
        out[f"exact_precision@{k}"], out[f"exact_chance@{k}"] = top_k_precision(scores, exact, int(k))
    return out


@register
class ExactAgreement(TaskMetric):
    """Agreement of the attributions with an additive model's exact attributions (rank correlation, top-k)."""

    name = "exact-agreement"
    outputs = OUTPUTS
    options = ("gt_ks",)

    def run_task(self, task, explanation, ref: Reference, cfg: EvalConfig, seed: int) -> dict[str, float]:
        exact = getattr(task, "exact_attributions", None)
        if exact is None:
            raise ValueError(f"the model's {task.granularity} task has no exact attributions")
        exact = np.asarray(exact(), dtype=np.float64)
        if exact.shape != explanation.scores.shape:
            raise ValueError(f"{len(exact)} exact attributions for {len(explanation.scores)} explanation scores")
        return agreement(explanation.scores, exact, cfg.gt_ks)

    @staticmethod
    def applies(model, granularity: str) -> bool:
        """Only where the model knows its exact attributions (additive models, e.g. item-kNN at history)."""
        return granularity in getattr(model, "exact_granularities", ())
