"""Counterfactual rank metrics POS@K and NEG@K (as in LXR, Barkan et al. 2023).

For each count ``k`` in ``EvalConfig.counts`` (1..5) with ``k < F`` (so that some feature stays
and removing the most and the least important differ), remove the ``k`` most important features
(POS) or the ``k`` least important ones (NEG) and check whether the target is still in the top K.
A user's value is the share of those counts for which it stays; the table's mean is then the
share of (user, k) cases in which the target survives.

Only users whose target is in the top K with every feature present count (NaN otherwise): a
target that is not recommended cannot stop being recommended. POS@K is lower-is-better (removing
what the explanation calls important should knock the target out), NEG@K higher-is-better.
"""

from __future__ import annotations

import numpy as np

from xrec_bench.metrics.base import declare
from xrec_bench.metrics.config import EvalConfig
from xrec_bench.metrics.stages import STAGES, Reference, Stage, order_masks

declare("pos@k", higher_is_better=False, group="faithfulness",
        description="Share of removals of the k=1..5 most important features after which the target is "
                    "still in the top K (users with the target in the top K only).")
declare("neg@k", higher_is_better=True, group="faithfulness",
        description="Share of removals of the k=1..5 least important features after which the target is "
                    "still in the top K (users with the target in the top K only).")


def _counts(n_features: int, cfg: EvalConfig) -> list[int]:
    return [k for k in cfg.counts if k < n_features]


def _masks(order: np.ndarray, attributions, n_features: int, cfg: EvalConfig) -> dict[str, np.ndarray]:
    counts = _counts(n_features, cfg)
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


STAGES.register("counterfactual", Stage(
    name="counterfactual",
    kind="probe",
    metric_names=lambda cfg: tuple(f"{kind}@{k}" for kind in ("pos", "neg") for k in cfg.cutoffs),
    masks=_masks,
    values=_values,
))
