"""Recommender-system baselines: "because you liked something similar" and "people who liked X also liked Y".

* ``similarity``: cosine between each history item's embedding and the target's, in the model's own
  item space (``task.feature_embeddings``, ``task.target_embedding``); no model calls.
* ``cooccurrence``: Jaccard index of the sets of training users of each history item and of the
  target, from ``split.train`` (``fit`` builds the item-user incidence matrix with scipy.sparse).

Both explain history items only: a word of the item text has no embedding in the item space and
no interactions of its own.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from xrec_bench.explainers._common import ConfiguredExplainer
from xrec_bench.explainers.base import ExplanationError
from xrec_bench.models.features import FeatureTask

_WORDS_REASON = (
    "{} compares history items with the target item; words and fields of the item text have no {} of their own"
)


class SimilarityExplainer(ConfiguredExplainer):
    name = "similarity"
    granularities = frozenset({"history"})
    model_agnostic = False
    model_blind = True  # reads the model's item embeddings, never how the model scores a history
    unsupported_reasons = {g: _WORDS_REASON.format("similarity", "item embedding") for g in ("tokens", "fields")}

    def _attribute(self, task: FeatureTask, rng: np.random.Generator) -> np.ndarray:
        if not hasattr(task, "feature_embeddings") or not hasattr(task, "target_embedding"):
            raise ExplanationError("this model's history task exposes no item embeddings to compare")
        history = np.asarray(task.feature_embeddings, dtype=np.float64)
        target = np.asarray(task.target_embedding, dtype=np.float64).reshape(-1)
        norms = np.linalg.norm(history, axis=1) * np.linalg.norm(target)
        dots = history @ target
        return np.divide(dots, norms, out=np.zeros_like(dots), where=norms > 0)


class CooccurrenceExplainer(ConfiguredExplainer):
    name = "cooccurrence"
    granularities = frozenset({"history"})
    model_blind = True  # training interactions only
    unsupported_reasons = {g: _WORDS_REASON.format("co-occurrence", "interactions") for g in ("tokens", "fields")}

    def fit(self, dataset, split) -> CooccurrenceExplainer:
        train = split.train
        users = train["user"].to_numpy(dtype=np.int64)
        items = train["item"].to_numpy(dtype=np.int64)
        incidence = sp.csr_matrix(
            (np.ones(len(users), dtype=np.float32), (items, users)), shape=(dataset.n_items, dataset.n_users)
        )
        incidence.data[:] = 1.0  # repeated interactions count once
        self.item_users_ = incidence
        self.item_counts_ = np.asarray(incidence.sum(axis=1)).ravel()
        return self

    def _attribute(self, task: FeatureTask, rng: np.random.Generator) -> np.ndarray:
        if not hasattr(self, "item_users_"):
            raise ExplanationError("cooccurrence is not fitted: call explainer.fit(dataset, split) first")
        history = np.asarray(task.feature_ids, dtype=np.int64)
        n_items = self.item_users_.shape[0]
        if not (0 <= task.target < n_items) or np.any((history < 0) | (history >= n_items)):
            raise ExplanationError(f"an item index is outside the {n_items} items cooccurrence was fitted on")
        both = np.asarray((self.item_users_[history] @ self.item_users_[task.target].T).todense()).ravel()
        union = self.item_counts_[history] + self.item_counts_[task.target] - both
        return np.divide(both, union, out=np.zeros_like(both, dtype=np.float64), where=union > 0)
