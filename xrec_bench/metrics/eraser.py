"""ERASER comprehensiveness and sufficiency as AOPC (DeYoung et al., ACL 2020).

For each bin ``b`` of ``EvalConfig.eraser_bins`` (1%, 5%, 10%, 20%, 50%), the rationale is the
top ``k_b = max(1, count_at(b, F))`` features (at least one feature, rounded half up):

* comprehensiveness = mean over bins of ``s_full - s(without the rationale)`` (higher is better),
* sufficiency = mean over bins of ``s_full - s(rationale only)`` (lower is better),

each divided by the standard deviation of all items' scores with the full input so that values
compare across users (ERASER uses class probabilities, which are already on one scale;
recommender scores are not). Not by ``s_full - s_empty``: the empty input is a state the models
never train on (see :mod:`xrec_bench.metrics.faithfulness`).

Tokens are treated as ferret does (the same AOPC over bins of the words of the text; a removed
word leaves the attention mask, see :mod:`xrec_bench.models.features`). ferret's ``only_pos``
(only features with a positive attribution can be in a rationale) is ``eraser_only_positive``.
"""

from __future__ import annotations

import numpy as np

from xrec_bench.contract import Output
from xrec_bench.metrics.base import register
from xrec_bench.metrics.config import EvalConfig, count_at
from xrec_bench.metrics.stages import ProbeMetric, Reference, order_masks

_SD = "sd of all items' scores"
OUTPUTS = (
    Output("comprehensiveness", "higher", "faithfulness", _SD,
           "ERASER AOPC comprehensiveness: score drop (in sd of all items' scores) when the top 1/5/10/20/50% "
           "features are removed."),
    Output("sufficiency", "lower", "faithfulness", _SD,
           "ERASER AOPC sufficiency: score drop (in sd of all items' scores) when only the top 1/5/10/20/50% "
           "features are kept."),
)


def bin_counts(n_features: int, cfg: EvalConfig, attributions: np.ndarray | None = None) -> list[int]:
    """Rationale size per bin: at least 1, at most the number of eligible features."""
    eligible = n_features
    if cfg.eraser_only_positive and attributions is not None:
        eligible = int(np.sum(np.asarray(attributions) > 0))
    return [min(eligible, max(1, count_at(b, n_features))) for b in cfg.eraser_bins]


def _masks(order: np.ndarray, attributions, n_features: int, cfg: EvalConfig) -> dict[str, np.ndarray]:
    counts = bin_counts(n_features, cfg, attributions)
    return {
        "comprehensiveness": order_masks(order, counts, n_features, keep_top=False),
        "sufficiency": order_masks(order, counts, n_features, keep_top=True),
    }


def aopc(s_full: float, scores: np.ndarray, scale: float) -> float:
    """Mean of ``(s_full - s_b) / scale`` over bins (ERASER's area over the perturbation curve)."""
    return float(np.mean((s_full - np.asarray(scores, dtype=np.float64)) / scale))


def _values(probed, ref: Reference, order, attributions, n_features: int, cfg: EvalConfig):
    return {
        name: aopc(ref.s_full, probed[name][0], ref.scale) for name in ("comprehensiveness", "sufficiency")
    }, {}


@register
class Eraser(ProbeMetric):
    """ERASER comprehensiveness and sufficiency (DeYoung et al. 2020) as areas over rationale sizes."""

    name = "eraser"
    outputs = OUTPUTS
    options = ("eraser_bins", "eraser_only_positive")
    masks = staticmethod(_masks)
    values = staticmethod(_values)
