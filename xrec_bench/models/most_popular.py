"""Most-popular baseline: every user gets the items ranked by their number of training interactions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch

from xrec_bench.models.base import NotFittedError, Recommender

DEFAULTS: dict[str, Any] = {}


class MostPopular(Recommender):
    name = "most-popular"
    version: ClassVar[str] = "1"

    defaults = DEFAULTS

    def fit(self, dataset, split, *, seed: int = 0, progress: bool = False) -> MostPopular:
        items = split.train["item"].to_numpy(np.int64)
        self.counts_ = np.bincount(items, minlength=dataset.n_items).astype(np.float32)
        return self

    def score(self, users: np.ndarray, histories: Sequence[np.ndarray]) -> np.ndarray:
        if getattr(self, "counts_", None) is None:
            raise NotFittedError("MostPopular is not fitted: call fit(dataset, split) first.")
        return np.broadcast_to(self.counts_, (len(histories), self.counts_.size)).copy()

    def _fitted_config(self) -> dict[str, Any]:
        return {}

    def _state_tensors(self) -> dict[str, torch.Tensor]:
        return {"counts": torch.from_numpy(self.counts_)}

    def _restore(self, fitted: dict[str, Any], tensors: dict[str, torch.Tensor]) -> None:
        self.counts_ = tensors["counts"].numpy()
