"""Deletion and insertion curves (RISE, Petsiuk et al. 2018; for recommenders as in LXR, Barkan et al. 2023).

Deletion removes features in the explanation's order (most important first) from the full input;
insertion adds them back in that order starting from the empty input. At each fraction ``f`` of
``EvalConfig.fractions`` (0, 0.1, ..., 1) the first ``count_at(f, F)`` features (rounded half up)
are removed / present, and the target's score and rank among all items are recorded. Curves per
user on the fraction grid: ``{deletion,insertion}_score`` (scaled, below), ``_score_raw``,
``_rank`` and ``_rank_gain``.

Scale, and why not the empty input: the score curve is ``(s - s_full) / sd``, the change from
the full input in units of the standard deviation of all items' scores with the full input (how
far apart the model puts items for this user). It is 0 at the full input and negative where the
target lost score. Earlier versions rescaled between the empty input and the full one; but the
models never see an empty history (or a text without words) in training, and attention pooling
re-averages whatever remains, so the empty state is arbitrary: random's deletion curve stayed near
1 until the last step, and one number (``s_empty``) set every user's scale. The sd scale uses only
states the model was trained on and never divides by a small difference.

Areas: trapezoid rule over the fraction of features actually removed, ``k / F`` (so rounding at
small ``F`` does not distort the area), x on [0, 1]:

* ``deletion_auc`` (lower is better) and ``insertion_auc`` (higher is better): areas under the
  scaled score curve;
* ``deletion_rank_auc`` / ``insertion_rank_auc``: areas under the rank gain ``1 / log2(rank + 1)``
  (1 at rank 1), scale-free;
* ``<area>_minus_random``: the area minus the mean area of ``EvalConfig.random_orders`` random
  orders on the same user. The random orders are drawn inside the metric from
  ``EvalConfig.random_seed`` and ``F`` only, so every explainer on a user is compared with the very
  same reference (a paired, per-user control that needs no random explainer in the run and keeps
  the metrics layer free of the harness). 0 means "no better than chance"; below 0 is better for
  deletion, above 0 for insertion. A mean over users with a bootstrap CI that excludes 0 is the
  claim "better than random" on this model.
"""

from __future__ import annotations

import numpy as np

from xrec_bench.contract import Output
from xrec_bench.metrics.base import register
from xrec_bench.metrics.config import EvalConfig, count_at
from xrec_bench.metrics.stages import ProbeMetric, Reference, order_masks, rank_gain

_SCALE = "the target's score change from the full history, in standard deviations of all items' scores " \
         "(no empty-input anchor: the models never train on an empty input)"
_SD, _GAIN = "sd of all items' scores (area over the fraction removed)", "rank gain 1/log2(rank+1) (area)"
_AREA_OUTPUTS = (
    Output("deletion_auc", "lower", "faithfulness", _SD,
           f"Area under {_SCALE} as the most important features are removed first."),
    Output("insertion_auc", "higher", "faithfulness", _SD,
           f"Area under {_SCALE} as the most important features are added first to the empty input."),
    Output("deletion_rank_auc", "lower", "faithfulness", _GAIN,
           "Area under the rank-gain curve 1/log2(rank+1) of the target under deletion."),
    Output("insertion_rank_auc", "higher", "faithfulness", _GAIN,
           "Area under the rank-gain curve 1/log2(rank+1) of the target under insertion."),
)
OUTPUTS = _AREA_OUTPUTS + tuple(
    Output(f"{o.name}_minus_random", o.direction, o.group, o.unit,
           f"{o.name} minus the mean {o.name} of random orders on the same user (the same random orders for every "
           "explainer, drawn from a fixed seed and the number of features); 0 is chance.")
    for o in _AREA_OUTPUTS)

AREAS = ("deletion_auc", "insertion_auc", "deletion_rank_auc", "insertion_rank_auc")


def trapezoid_auc(x, y) -> float:
    """Area under ``y(x)`` by the trapezoid rule; NaN if any ``y`` is not finite."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if not np.all(np.isfinite(y)):
        return float("nan")
    return float(np.trapezoid(y, x))


def fraction_counts(cfg: EvalConfig, n_features: int) -> np.ndarray:
    return np.array([count_at(f, n_features) for f in cfg.fractions], dtype=np.int64)


def random_orders(cfg: EvalConfig, n_features: int) -> list[np.ndarray]:
    """The random reference orders of a user with ``n_features`` features: a function of the config's
    seed and ``F`` only, so that every explainer of that user is compared with the same orders."""
    gen = np.random.default_rng([int(cfg.random_seed), int(n_features)])
    return [gen.permutation(n_features) for _ in range(cfg.random_orders)]


def _masks(order: np.ndarray, attributions: np.ndarray, n_features: int, cfg: EvalConfig) -> dict[str, np.ndarray]:
    counts = fraction_counts(cfg, n_features)
    return {
        "deletion": order_masks(order, counts, n_features, keep_top=False),
        "insertion": order_masks(order, counts, n_features, keep_top=True),
    }


def _random_masks(n_features: int, cfg: EvalConfig) -> dict[str, np.ndarray]:
    """The random reference's masks: the same for every explainer of a request (scored once)."""
    counts = fraction_counts(cfg, n_features)
    out = {}
    for r, rand in enumerate(random_orders(cfg, n_features)):
        out[f"random{r}/deletion"] = order_masks(rand, counts, n_features, keep_top=False)
        out[f"random{r}/insertion"] = order_masks(rand, counts, n_features, keep_top=True)
    return out


def _areas(x: np.ndarray, scores: np.ndarray, ranks: np.ndarray, ref: Reference, kind: str) -> dict[str, float]:
    return {f"{kind}_auc": trapezoid_auc(x, ref.scaled_change(scores)),
            f"{kind}_rank_auc": trapezoid_auc(x, rank_gain(ranks))}


def _values(probed, ref: Reference, order, attributions, n_features: int, cfg: EvalConfig):
    x = fraction_counts(cfg, n_features) / n_features
    values, curves = {}, {}
    for kind in ("deletion", "insertion"):
        scores, ranks = probed[kind]
        values.update(_areas(x, scores, ranks, ref, kind))
        curves[f"{kind}_score"] = ref.scaled_change(scores)
        curves[f"{kind}_score_raw"] = scores
        curves[f"{kind}_rank"] = ranks.astype(np.float64)
        curves[f"{kind}_rank_gain"] = rank_gain(ranks)
        reference = [_areas(x, *probed[f"random{r}/{kind}"], ref, kind) for r in range(cfg.random_orders)]
        for name in (f"{kind}_auc", f"{kind}_rank_auc"):
            values[f"{name}_minus_random"] = values[name] - float(np.mean([a[name] for a in reference]))
    return values, curves


def _curve_names(cfg: EvalConfig) -> dict[str, int]:
    n = len(cfg.fractions)
    return {f"{kind}_{c}": n for kind in ("deletion", "insertion") for c in ("score", "score_raw", "rank", "rank_gain")}


@register
class Faithfulness(ProbeMetric):
    """Deletion and insertion curves and their areas, also relative to random orders (RISE; LXR)."""

    name = "faithfulness"
    outputs = OUTPUTS
    options = ("fractions", "random_orders", "random_seed")
    masks = staticmethod(_masks)
    values = staticmethod(_values)

    def shared_masks(self, n_features: int, cfg: EvalConfig) -> dict[str, np.ndarray]:
        return _random_masks(n_features, cfg)

    @classmethod
    def curve_names(cls, cfg: EvalConfig) -> dict[str, int]:
        return _curve_names(cfg)
