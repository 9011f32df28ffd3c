"""History-level feature task of an additive model, whose attributions are known exactly.

An additive model scores a candidate ``c`` for a history ``H`` as ``s(c) = b(c) + sum_{j in H} C[j, c]``:
each history item adds a fixed contribution that does not depend on the other items (item-kNN:
``C[j, c] = sim(j, c)``, ``b = 0``). With feature ``j`` kept with weight ``m_j`` the score is
``b + sum_j m_j C[j, c]``, so removing an item (``m_j = 0``) takes exactly its contribution away,
and the model is a linear game over its history items: every coalition's value is
``v(S) = b + sum_{j in S} C[j, c]``. Its exact Shapley value is then the contribution itself,
``phi_j = v(S + j) - v(S) = C[j, c]`` for every ``S`` (the weights of the Shapley formula sum to 1);
so is its leave-one-out drop, its integrated gradient from the empty history, and its
input x gradient. These closed-form values (:meth:`AdditiveHistoryTask.exact_attributions`) are
the ground truth that :mod:`xrec_bench.metrics.exact_agreement` compares explainers with.

Exactness needs the score to be a plain sum: a model that divides by the history length (a mean of
similarities) is not additive in the items (removing one changes every other item's share), and its
Shapley values differ from the per-item terms. Features must also be distinct items: a repeated item
counted once would make two features share one term. So the features here are the distinct history
items (ordered by their most recent occurrence, oldest first), and a model providing this task
must score a history as the sum over its distinct items.

Everything is computed in float64, so the exact values agree with an exact Shapley enumeration
(:class:`~xrec_bench.explainers.exact_shapley.ExactShapleyExplainer`) to rounding (1e-12).
"""

from __future__ import annotations

import numpy as np
import torch

from xrec_bench.models.features import FeatureTask


def distinct_recent(history: np.ndarray) -> np.ndarray:
    """The distinct items of ``history``, each at its most recent position, in chronological order."""
    history = np.asarray(history, dtype=np.int64).reshape(-1)
    last = {int(item): pos for pos, item in enumerate(history.tolist())}
    return np.array(sorted(last, key=last.__getitem__), dtype=np.int64)


class AdditiveHistoryTask(FeatureTask):
    """Features: distinct history items; the score of every item is ``bias + mask @ contributions``."""

    granularity = "history"
    differentiable = True  # linear in the mask: a weight in (0, 1) scales the item's contribution

    def __init__(
        self,
        *,
        user: int,
        target: int,
        history: np.ndarray,
        labels: list[str],
        contributions: np.ndarray,
        bias: np.ndarray | None = None,
        exclude: np.ndarray,
    ) -> None:
        """``contributions[j, c]``: what history item ``j`` adds to item ``c``'s score ``[F, n_items]``;
        ``bias[c]``: the score of ``c`` with an empty history (zeros when None)."""
        super().__init__(user=user, target=target, feature_ids=history, feature_labels=labels, exclude=exclude)
        contrib = np.asarray(contributions, dtype=np.float64)
        if contrib.ndim != 2 or contrib.shape[0] != len(labels):
            raise ValueError(
                f"contributions must be [n_features, n_items] = [{len(labels)}, n_items]; got {contrib.shape}."
            )
        self._contrib = torch.from_numpy(contrib)
        n_items = contrib.shape[1]
        self._bias = torch.from_numpy(
            np.zeros(n_items) if bias is None else np.asarray(bias, dtype=np.float64).reshape(n_items)
        )

    def exact_attributions(self) -> np.ndarray:
        """Each feature's exact contribution to the target's score, which is also its exact Shapley
        value, leave-one-out drop and integrated gradient (the model is linear in the mask)."""
        return self._contrib[:, self.target].numpy().copy()

    def _forward(self, mask: torch.Tensor) -> torch.Tensor:
        return mask.to(torch.float64) @ self._contrib[:, self.target] + self._bias[self.target]

    def _all_scores(self, mask: torch.Tensor) -> torch.Tensor:
        return mask.to(torch.float64) @ self._contrib + self._bias
