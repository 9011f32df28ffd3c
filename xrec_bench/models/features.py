"""Features of one recommendation, and what removing one means: defined once, by the model.

Every explainer and every faithfulness metric works through a :class:`FeatureTask`. A task holds
one (user, target item) pair at one granularity and exposes ``forward(mask)``: the model's score
of the target when feature ``j`` is kept with weight ``mask[:, j]`` (1 = present, 0 = removed).

Removal semantics (the same for every explainer and metric):

* ``history``: a history item with weight 0 is truly absent from the user tower (it gets no
  attention mass), not a zero vector averaged in. Weights in (0, 1] down-weight it smoothly, so
  gradients with respect to the mask are defined (``differentiable = True``).
* ``tokens``: features are the words of the target item's text (the tokenizer's pre-tokenised
  words; a word may span several word-pieces). A removed word has all its word-pieces dropped from
  the encoder's attention mask (and from mean pooling). Masks are binary at this granularity;
  gradient methods work on the word-piece embeddings instead (see ``forward_ids``).

Each call to :meth:`FeatureTask.forward` adds the number of mask rows to :attr:`n_evals`, so the
cost of an explanation in model evaluations is counted the same way for every explainer.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np
import torch

from xrec_bench._util.ranking import tie_aware_rank


class FeatureTask(ABC):
    granularity: ClassVar[str] = ""
    #: whether ``forward`` may be differentiated with respect to a mask in [0, 1]
    differentiable: ClassVar[bool] = False

    def __init__(
        self,
        *,
        user: int,
        target: int,
        feature_ids: np.ndarray,
        feature_labels: list[str],
        exclude: np.ndarray | None = None,
    ) -> None:
        self.user = int(user)
        self.target = int(target)
        self.feature_ids = np.asarray(feature_ids)
        self.feature_labels = list(feature_labels)
        self.exclude = np.asarray(exclude if exclude is not None else [], dtype=np.int64)
        self.n_evals = 0

    @property
    def n_features(self) -> int:
        return len(self.feature_labels)

    def forward(self, mask: torch.Tensor | np.ndarray) -> torch.Tensor:
        """Target scores for a batch of masks ``[B, n_features]`` -> ``[B]`` (counted in ``n_evals``)."""
        mask = torch.as_tensor(mask, dtype=torch.float32)
        if mask.dim() == 1:
            mask = mask.unsqueeze(0)
        if mask.shape[-1] != self.n_features:
            raise ValueError(f"mask has {mask.shape[-1]} features; this task has {self.n_features}.")
        self.n_evals += int(mask.shape[0])
        return self._forward(mask)

    @abstractmethod
    def _forward(self, mask: torch.Tensor) -> torch.Tensor:
        """Scores ``[B]`` of the target for masks ``[B, n_features]``."""

    def score_and_rank(self, mask: torch.Tensor | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Target score and its 1-based rank among all items not in ``exclude`` for each mask row.

        Ties rank by item index (lower first), as in :func:`xrec_bench.models.base.topk`.
        Counted in ``n_evals`` like :meth:`forward`.
        """
        mask = torch.as_tensor(mask, dtype=torch.float32)
        if mask.dim() == 1:
            mask = mask.unsqueeze(0)
        self.n_evals += int(mask.shape[0])
        with torch.no_grad():
            all_scores = self._all_scores(mask).double().numpy()  # [B, n_items]
        target = all_scores[:, self.target].copy()
        all_scores[:, self.exclude] = -np.inf
        all_scores[:, self.target] = -np.inf
        return target, tie_aware_rank(all_scores, target, self.target)

    def all_scores(self, mask: torch.Tensor | np.ndarray) -> torch.Tensor:
        """Scores of every item ``[B, n_items]`` under each mask row (counted in ``n_evals``)."""
        mask = torch.as_tensor(mask, dtype=torch.float32)
        if mask.dim() == 1:
            mask = mask.unsqueeze(0)
        self.n_evals += int(mask.shape[0])
        with torch.no_grad():
            return self._all_scores(mask)

    @abstractmethod
    def _all_scores(self, mask: torch.Tensor) -> torch.Tensor:
        """Scores of every item ``[B, n_items]`` under each mask row (the target column included)."""

    def full_mask(self, batch: int = 1) -> torch.Tensor:
        return torch.ones(batch, self.n_features)

    def describe(self) -> dict[str, Any]:
        return {
            "granularity": self.granularity,
            "user": self.user,
            "target": self.target,
            "n_features": self.n_features,
        }
