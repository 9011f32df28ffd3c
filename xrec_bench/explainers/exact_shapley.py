"""Exact Shapley values by enumerating every coalition: the model-agnostic oracle for small F.

Written by hand because captum has only sampled estimators (``ShapleyValueSampling``,
``KernelShap``) and no exact variant. All ``2**F`` masks are scored in batches through
``task.forward`` (the model's removal semantics), then

    phi_j = sum_{S containing j} w(|S| - 1) v(S)  -  sum_{S not containing j} w(|S|) v(S),
    w(s) = s! (F - s - 1)! / F!,

which is one matrix-vector product over the coalition matrix.
"""

from __future__ import annotations

from math import factorial

import numpy as np

from xrec_bench.explainers._common import DEFAULT_BATCH_SIZE, ConfiguredExplainer, score_masks
from xrec_bench.models.features import FeatureTask

DEFAULT_MAX_FEATURES = 12


def coalitions(n: int) -> np.ndarray:
    """All ``2**n`` binary masks ``[2**n, n]``; row ``i`` has feature ``j`` iff bit ``j`` of ``i`` is set."""
    return ((np.arange(2**n)[:, None] >> np.arange(n)[None, :]) & 1).astype(np.float32)


def shapley_matrix(masks: np.ndarray) -> np.ndarray:
    """``W [2**n, n]`` such that the Shapley values are ``v @ W`` for coalition values ``v [2**n]``."""
    n = masks.shape[1]
    weights = np.array([factorial(s) * factorial(n - s - 1) / factorial(n) for s in range(n)])
    size = masks.sum(axis=1).astype(np.int64)
    with_j = weights[np.clip(size - 1, 0, n - 1)][:, None]  # j in S: S = T + {j}, |T| = |S| - 1
    without_j = weights[np.clip(size, 0, n - 1)][:, None]  # j not in S: |S| <= n - 1
    return np.where(masks > 0, with_j, -without_j)


class ExactShapleyExplainer(ConfiguredExplainer):
    name = "exact-shapley"
    max_features = DEFAULT_MAX_FEATURES
    defaults = {"max_features": DEFAULT_MAX_FEATURES, "batch_size": DEFAULT_BATCH_SIZE}

    def __init__(self, **params):
        super().__init__(**params)
        self.max_features = self.params["max_features"]  # 2**F model evaluations per explanation

    def _attribute(self, task: FeatureTask, rng: np.random.Generator) -> np.ndarray:
        masks = coalitions(task.n_features)
        values = score_masks(task, masks, self.params["batch_size"])
        return values @ shapley_matrix(masks)
