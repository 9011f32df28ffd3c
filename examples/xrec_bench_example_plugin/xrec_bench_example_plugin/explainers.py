"""A 'recency' explainer: the later a history item, the more it is credited for the recommendation.

It never looks at the model (``model_blind``): a data baseline that shows how far "the user's latest
items" goes as an explanation. At the ``tokens`` granularity it has no idea of its own and gives
every word the same score.
"""

from __future__ import annotations

import numpy as np

from xrec_bench.explainers import Explainer


class RecencyExplainer(Explainer):
    name = "recency"  # the default label of its rows in suites and leaderboards
    model_blind = True  # its scores never depend on the model: tables mark it and never crown it

    def __init__(self, *, decay: float = 0.8) -> None:
        if not isinstance(decay, (int, float)) or isinstance(decay, bool) or not 0 < decay <= 1:
            raise ValueError(f"The 'decay' parameter of recency must be a number in (0, 1]. Got {decay!r} instead.")
        super().__init__(decay=float(decay))
        self.decay = float(decay)

    def _attribute(self, task, rng: np.random.Generator) -> np.ndarray:
        n = task.n_features
        if task.granularity == "history":  # features are the history in chronological order
            return self.decay ** np.arange(n - 1, -1, -1, dtype=np.float64)
        return np.full(n, 1.0 / n)
