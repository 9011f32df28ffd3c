"""Model-intrinsic explanation: the user tower's attention weights over the history items."""

from __future__ import annotations

import numpy as np

from xrec_bench.explainers._common import ConfiguredExplainer
from xrec_bench.explainers.base import ExplanationError
from xrec_bench.models.features import FeatureTask


class AttentionExplainer(ConfiguredExplainer):
    """The attention mass the user tower puts on each history item (``task.attention()``), no model calls."""

    name = "attention"
    granularities = frozenset({"history"})
    model_agnostic = False
    unsupported_reasons = {
        "tokens": (
            "attention is read off the user tower's attention over history items; the item text is "
            "mean-pooled after 6 layers x 12 heads of self-attention, whose raw weights are not an "
            "attribution of the item's score to its words"
        ),
        "fields": (
            "attention is read off the user tower's attention over history items; the item text's fields "
            "get no attention weights of their own"
        ),
    }

    def _attribute(self, task: FeatureTask, rng: np.random.Generator) -> np.ndarray:
        attention = getattr(task, "attention", None)
        if attention is None:
            raise ExplanationError(f"this model's {task.granularity} task exposes no attention weights")
        return np.asarray(attention(), dtype=np.float64)
