"""Item-kNN baseline: cosine similarity of item columns of the binary user-item training matrix;
a user's score for item ``c`` is the sum of the similarities of ``c`` to the user's history items
(each history item keeps only its ``neighbors`` most similar items)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.metrics.pairwise import cosine_similarity

from xrec_bench.models.base import NotFittedError, Recommender
from xrec_bench.params import Int

DEFAULTS: dict[str, Any] = {"neighbors": 200}  # None keeps every neighbour


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
    version: ClassVar[str] = "1"

    defaults = DEFAULTS
    constraints = {"neighbors": (Int(1), None)}

    def fit(self, dataset, split, *, seed: int = 0, progress: bool = False) -> ItemKNN:
        train = split.train.drop_duplicates(["user", "item"])
        x = sp.csr_matrix(
            (np.ones(len(train), dtype=np.float32), (train["user"].to_numpy(), train["item"].to_numpy())),
            shape=(dataset.n_users, dataset.n_items),
        )
        sim = cosine_similarity(x.T, dense_output=False)
        k = self.params["neighbors"]
        self.sim_ = _keep_top(sp.csr_matrix(sim, dtype=np.float32), None if k is None else int(k))
        return self

    def score(self, users: np.ndarray, histories: Sequence[np.ndarray]) -> np.ndarray:
        if getattr(self, "sim_", None) is None:
            raise NotFittedError("ItemKNN is not fitted: call fit(dataset, split) first.")
        n = self.sim_.shape[0]
        rows = np.repeat(np.arange(len(histories)), [len(np.unique(h)) for h in histories])
        cols = (
            np.concatenate([np.unique(np.asarray(h, dtype=np.int64)) for h in histories])
            if len(histories)
            else []
        )
        if len(cols) and (np.min(cols) < 0 or np.max(cols) >= n):
            raise ValueError(f"Unknown item index in a history: this model knows items 0..{n - 1}.")
        h = sp.csr_matrix((np.ones(len(cols), dtype=np.float32), (rows, cols)), shape=(len(histories), n))
        return np.asarray((h @ self.sim_).todense(), dtype=np.float32)

    def _fitted_config(self) -> dict[str, Any]:
        return {"shape": list(self.sim_.shape)}

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
