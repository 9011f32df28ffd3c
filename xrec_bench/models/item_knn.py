"""Item-kNN baseline: cosine similarity of item columns of the binary user-item training matrix;
a user's score for item ``c`` is the sum of the similarities of ``c`` to the user's distinct history
items (each history item keeps only its ``neighbors`` most similar items; ``max_history`` bounds the
history to its most recent items, None: all).

The score is a plain sum (no normalisation by the history length), so the model is additive in its
history items and each item's exact contribution -- and exact Shapley value -- is its similarity to
the candidate (:mod:`xrec_bench.models.additive`): :meth:`ItemKNN.exact_attributions` gives the
ground truth that explainers are compared with on real data."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.metrics.pairwise import cosine_similarity

from xrec_bench.models.additive import AdditiveHistoryTask, distinct_recent
from xrec_bench.models.base import NotFittedError, Recommender
from xrec_bench.models.text_base import item_labels
from xrec_bench.params import Int

# neighbors: None keeps every neighbour; max_history: the most recent history items read (None: all)
DEFAULTS: dict[str, Any] = {"neighbors": 200, "max_history": None}


def _keep_top(sim: sp.csr_matrix, k: int | None) -> sp.csr_matrix:
    """Keep the ``k`` largest entries of each row (ties to the lower column index)."""
    sim = sim.tocsr()
    sim.setdiag(0.0)
    sim.eliminate_zeros()
    if k is None:
        return sim
    data, indices, indptr = [], [], [0]
    for r in range(sim.shape[0]):
        lo, hi = sim.indptr[r], sim.indptr[r + 1]
        d, c = sim.data[lo:hi], sim.indices[lo:hi]
        if len(d) > k:
            order = np.lexsort((c, -d))[:k]
            d, c = d[order], c[order]
        data.append(d)
        indices.append(c)
        indptr.append(indptr[-1] + len(d))
    return sp.csr_matrix(
        (np.concatenate(data) if data else [], np.concatenate(indices) if indices else [], indptr),
        shape=sim.shape,
    )


class ItemKNN(Recommender):
    name = "item-knn"
    version: ClassVar[str] = "2"  # 2: item labels stored; max_history
    explainable_granularities = ("history",)
    #: granularities at which :meth:`exact_attributions` gives each feature's exact contribution
    exact_granularities: ClassVar[tuple[str, ...]] = ("history",)

    defaults = DEFAULTS
    constraints = {"neighbors": (Int(1), None), "max_history": (Int(1), None)}

    def fit(self, dataset, split, *, seed: int = 0, progress: bool = False) -> ItemKNN:
        train = split.train.drop_duplicates(["user", "item"])
        x = sp.csr_matrix(
            (np.ones(len(train), dtype=np.float32), (train["user"].to_numpy(), train["item"].to_numpy())),
            shape=(dataset.n_users, dataset.n_items),
        )
        sim = cosine_similarity(x.T, dense_output=False)
        k = self.params["neighbors"]
        self.sim_ = _keep_top(sp.csr_matrix(sim, dtype=np.float32), None if k is None else int(k))
        self.item_labels_ = item_labels(dataset)
        return self

    def _used(self, history) -> np.ndarray:
        """The distinct items the score reads: of the last ``max_history`` items, chronological."""
        history = np.asarray(history, dtype=np.int64).reshape(-1)
        m = self.params.get("max_history")
        return distinct_recent(history if m is None else history[-int(m):])

    def score(self, users: np.ndarray, histories: Sequence[np.ndarray]) -> np.ndarray:
        if getattr(self, "sim_", None) is None:
            raise NotFittedError("ItemKNN is not fitted: call fit(dataset, split) first.")
        n = self.sim_.shape[0]
        used = [self._used(h) for h in histories]
        rows = np.repeat(np.arange(len(histories)), [len(u) for u in used])
        cols = np.concatenate(used) if len(histories) else []
        if len(cols) and (np.min(cols) < 0 or np.max(cols) >= n):
            raise ValueError(f"Unknown item index in a history: this model knows items 0..{n - 1}.")
        h = sp.csr_matrix((np.ones(len(cols), dtype=np.float32), (rows, cols)), shape=(len(histories), n))
        return np.asarray((h @ self.sim_).todense(), dtype=np.float32)

    # ---- explanation -------------------------------------------------------------------------------
    def feature_task(self, granularity: str, *, user: int, history: np.ndarray, target: int,
                     exclude: np.ndarray | None = None) -> AdditiveHistoryTask:
        """History level: the distinct history items the score reads, each adding its similarity."""
        if getattr(self, "sim_", None) is None:
            raise NotFittedError("ItemKNN is not fitted: call fit(dataset, split) first.")
        if granularity not in self.explainable_granularities:
            raise ValueError(f"Unknown granularity {granularity!r} for item-knn; it explains "
                             f"{list(self.explainable_granularities)} (it reads no item text).")
        history = np.asarray(history, dtype=np.int64).reshape(-1)
        n = self.sim_.shape[0]
        if not 0 <= int(target) < n or np.any((history < 0) | (history >= n)):
            raise ValueError(f"Unknown item index in the request: this model knows items 0..{n - 1}.")
        if int(target) in set(history.tolist()):
            raise ValueError(
                f"Target item {int(target)} is already in the history of user {user}; an explanation of "
                "recommending a seen item is undefined. Pick a target outside the history."
            )
        used = self._used(history)
        labels = getattr(self, "item_labels_", None) or [str(i) for i in range(n)]
        return AdditiveHistoryTask(
            user=user, target=int(target), history=used, labels=[labels[i] for i in used],
            contributions=self.sim_[used].toarray(), exclude=history if exclude is None else exclude,
        )

    def exact_attributions(self, *, user: int, history: np.ndarray, target: int,
                           granularity: str = "history") -> np.ndarray:
        """Each feature's exact contribution to ``target``'s score (= its exact Shapley value),
        aligned with ``feature_task(granularity, ...).feature_ids``."""
        return self.feature_task(granularity, user=user, history=history, target=target).exact_attributions()

    def randomized(self, seed: int) -> ItemKNN:
        """A copy whose similarity matrix is random: each item keeps its number of neighbours, but
        the neighbours are drawn uniformly and the similarity values are shuffled across all entries."""
        if getattr(self, "sim_", None) is None:
            raise NotFittedError("ItemKNN is not fitted: call fit(dataset, split) first.")
        rng = np.random.default_rng(seed)
        n = self.sim_.shape[0]
        counts = np.diff(self.sim_.indptr)
        cols = [np.sort(rng.choice(n, size=int(c), replace=False)) for c in counts]
        data = rng.permutation(self.sim_.data)
        clone = copy.copy(self)
        clone.sim_ = sp.csr_matrix(
            (data, np.concatenate(cols) if cols else [], self.sim_.indptr.copy()), shape=self.sim_.shape
        )
        return clone

    def _fitted_config(self) -> dict[str, Any]:
        return {"shape": list(self.sim_.shape), "item_labels": getattr(self, "item_labels_", None)}

    def _state_tensors(self) -> dict[str, torch.Tensor]:
        s = self.sim_
        return {
            "data": torch.from_numpy(np.ascontiguousarray(s.data, dtype=np.float32)),
            "indices": torch.from_numpy(np.ascontiguousarray(s.indices, dtype=np.int64)),
            "indptr": torch.from_numpy(np.ascontiguousarray(s.indptr, dtype=np.int64)),
        }

    def _restore(self, fitted: dict[str, Any], tensors: dict[str, torch.Tensor]) -> None:
        self.sim_ = sp.csr_matrix(
            (tensors["data"].numpy(), tensors["indices"].numpy(), tensors["indptr"].numpy()),
            shape=tuple(fitted["shape"]),
        )
        self.item_labels_ = fitted.get("item_labels")
