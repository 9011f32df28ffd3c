"""Counterfactual rank metrics POS@K and NEG@K, as LXR defines them (Barkan et al. 2023,
DeltaLabTLV/LXR ``code/metrics.ipynb``).

The features are cut into ``EvalConfig.pos_neg_bins`` (10) bins along the explanation's order,
with LXR's bin sizes (``numpy.array_split`` of the ``F`` features into 10 parts, larger parts
first; parts are empty when ``F < 10``). Step ``i = 0..10`` removes the first ``i`` bins, i.e. a
cumulative 0%, 10%, ..., 100% of the features: the most important first for POS, the least
important first for NEG. After each step the target's rank among all items (the history masked
out, as at the full input) is compared with K; a user's POS@K / NEG@K is the share of the 11 steps
after which the target is still in the top K. As in LXR (``bins = [0] + array_split sizes``, a
loop over every entry, the mean over steps), step 0 is the full input and the last step removes
every feature; both count for POS and NEG alike, so only the 9 steps between separate explainers.

The target is meant to be the model's own top-1 recommendation (the benchmark's default target):
then it is in the top K at the full input for every user and every explained user counts. With
another target (``test-item``), a user whose target is not in the top K at the full input gets
NaN: a target that is not recommended cannot stop being recommended.

POS@K is lower-is-better (removing what the explanation calls important should knock the target
out early), NEG@K higher-is-better (removing the unimportant should keep it). Earlier versions
removed a fixed k = 1..5 features; with a median of ~40 history items that left the top-1
recommendation in place for every explainer (random included), so that form is dropped.
"""

from __future__ import annotations

import numpy as np

from xrec_bench.contract import Output
from xrec_bench.metrics.base import register
from xrec_bench.metrics.config import EvalConfig
from xrec_bench.metrics.stages import ProbeMetric, Reference, order_masks

_SHARE = "share of the removal steps"
OUTPUTS = (
    Output("pos@k", "lower", "faithfulness", _SHARE,
           "LXR POS@K: share of the 11 cumulative removals (0%, 10%, ..., 100% of the features, most "
           "important first) after which the target is still in the top K.", k_from="cutoffs"),
    Output("neg@k", "higher", "faithfulness", _SHARE,
           "LXR NEG@K: share of the 11 cumulative removals (0%, 10%, ..., 100% of the features, least "
           "important first) after which the target is still in the top K.", k_from="cutoffs"),
)


def step_counts(n_features: int, bins: int = 10) -> np.ndarray:
    """How many features are removed after each of the ``bins + 1`` steps: LXR's cumulative bin sizes."""
    sizes = [0] + [len(part) for part in np.array_split(np.arange(n_features), bins)]
    return np.cumsum(sizes).astype(np.int64)


def _masks(order: np.ndarray, attributions, n_features: int, cfg: EvalConfig) -> dict[str, np.ndarray]:
    counts = step_counts(n_features, cfg.pos_neg_bins)
    return {
        "pos": order_masks(order, counts, n_features, keep_top=False),
        "neg": order_masks(order[::-1], counts, n_features, keep_top=False),
    }


def _values(probed, ref: Reference, order, attributions, n_features: int, cfg: EvalConfig):
    values = {}
    for kind in ("pos", "neg"):
        _, ranks = probed[kind]
        for cutoff in cfg.cutoffs:
            ok = len(ranks) > 0 and ref.rank_full <= cutoff
            values[f"{kind}@{cutoff}"] = float(np.mean(ranks <= cutoff)) if ok else float("nan")
    return values, {}


@register
class Counterfactual(ProbeMetric):
    """LXR's POS@K and NEG@K: is the target still in the top K as features are removed?"""

    name = "counterfactual"
    outputs = OUTPUTS
    options = ("pos_neg_bins", "cutoffs")
    masks = staticmethod(_masks)
    values = staticmethod(_values)
