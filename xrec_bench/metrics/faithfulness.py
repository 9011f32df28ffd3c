"""Deletion and insertion curves (RISE, Petsiuk et al. 2018; for recommenders as in LXR, Barkan et al. 2023).

Deletion removes features in the explanation's order (most important first) from the full input;
insertion adds them back in that order starting from the empty input. At each fraction ``f`` of
``EvalConfig.fractions`` (0, 0.1, ..., 1) the first ``count_at(f, F)`` features (rounded half up)
are removed / present, and the target's score and rank among all items are recorded. Extra curves
at fixed counts ``k = 1..5`` (NaN where ``k > F``) are kept for plots. Curves per user:
``{deletion,insertion}_score`` (normalised), ``_score_raw``, ``_rank``, ``_rank_gain`` on the
fraction grid, and ``_count_score`` / ``_count_rank`` at k = 0..5.

Normalisation (per user, so that curves compare across users): the score curve is rescaled so
that the empty input is 0 and the full input 1, ``(s - s_empty) / (s_full - s_empty)``, NaN when
``|s_full - s_empty|`` is below ``EvalConfig.min_span`` (0.5) standard deviations of all items'
scores (the features barely move the target, and rescaling would turn small score changes into
huge values that dominate means). Values can leave [0, 1]: removing features can push the score
below the empty-input score, and subsets can score above the full input. The rank curve uses
the gain ``1 / log2(rank + 1)`` (1 at rank 1), already comparable across users, not rescaled.

Area under the curve: trapezoid rule over the fraction of features actually removed, ``k / F``
(not the nominal fraction), so rounding at small ``F`` does not distort the area; the x-axis
runs over [0, 1]. A deletion area is lower-is-better, an insertion area higher-is-better; with
a model linear in the mask, a random order has expected deletion and insertion areas of 0.5.
"""

from __future__ import annotations

import numpy as np

from xrec_bench.metrics.base import declare
from xrec_bench.metrics.config import EvalConfig, count_at
from xrec_bench.metrics.stages import STAGES, Reference, Stage, order_masks, rank_gain

declare("deletion_auc", higher_is_better=False, group="faithfulness",
        description="Area under the normalised score curve as the most important features are removed first.")
declare("insertion_auc", higher_is_better=True, group="faithfulness",
        description="Area under the normalised score curve as the most important features are added first "
                    "to the empty input.")
declare("deletion_rank_auc", higher_is_better=False, group="faithfulness",
        description="Area under the rank-gain curve 1/log2(rank+1) of the target under deletion.")
declare("insertion_rank_auc", higher_is_better=True, group="faithfulness",
        description="Area under the rank-gain curve 1/log2(rank+1) of the target under insertion.")


def trapezoid_auc(x, y) -> float:
    """Area under ``y(x)`` by the trapezoid rule; NaN if any ``y`` is not finite."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if not np.all(np.isfinite(y)):
        return float("nan")
    return float(np.trapezoid(y, x))


def fraction_counts(cfg: EvalConfig, n_features: int) -> np.ndarray:
    return np.array([count_at(f, n_features) for f in cfg.fractions], dtype=np.int64)


def _masks(order: np.ndarray, attributions: np.ndarray, n_features: int, cfg: EvalConfig) -> dict[str, np.ndarray]:
    counts = fraction_counts(cfg, n_features)
    fixed = [k for k in cfg.counts if k <= n_features]
    return {
        "deletion": order_masks(order, counts, n_features, keep_top=False),
        "insertion": order_masks(order, counts, n_features, keep_top=True),
        "deletion_count": order_masks(order, fixed, n_features, keep_top=False),
        "insertion_count": order_masks(order, fixed, n_features, keep_top=True),
    }


def _pad(values: np.ndarray, length: int) -> np.ndarray:
    out = np.full(length, np.nan)
    out[: len(values)] = values
    return out


def _values(probed, ref: Reference, order, attributions, n_features: int, cfg: EvalConfig):
    x = fraction_counts(cfg, n_features) / n_features
    values, curves = {}, {}
    for kind in ("deletion", "insertion"):
        scores, ranks = probed[kind]
        norm = ref.normalise(scores)
        gain = rank_gain(ranks)
        values[f"{kind}_auc"] = trapezoid_auc(x, norm)
        values[f"{kind}_rank_auc"] = trapezoid_auc(x, gain)
        curves[f"{kind}_score"] = norm
        curves[f"{kind}_score_raw"] = scores
        curves[f"{kind}_rank"] = ranks.astype(np.float64)
        curves[f"{kind}_rank_gain"] = gain
        # fixed counts k = 0..max(counts); k = 0 is the full (deletion) / empty (insertion) input
        c_scores, c_ranks = probed[f"{kind}_count"]
        start_s, start_r = (ref.s_full, ref.rank_full) if kind == "deletion" else (ref.s_empty, ref.rank_empty)
        length = 1 + max(cfg.counts)
        curves[f"{kind}_count_score"] = _pad(ref.normalise(np.r_[start_s, c_scores]), length)
        curves[f"{kind}_count_rank"] = _pad(np.r_[start_r, c_ranks].astype(np.float64), length)
    return values, curves


def _curve_names(cfg: EvalConfig) -> dict[str, int]:
    n, c = len(cfg.fractions), 1 + max(cfg.counts)
    out = {}
    for kind in ("deletion", "insertion"):
        out.update({f"{kind}_score": n, f"{kind}_score_raw": n, f"{kind}_rank": n, f"{kind}_rank_gain": n,
                    f"{kind}_count_score": c, f"{kind}_count_rank": c})
    return out


STAGES.register("faithfulness", Stage(
    name="faithfulness",
    kind="probe",
    metric_names=lambda cfg: ("deletion_auc", "insertion_auc", "deletion_rank_auc", "insertion_rank_auc"),
    masks=_masks,
    values=_values,
    curve_names=_curve_names,
))
