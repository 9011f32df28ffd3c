"""Random attribution: the floor every explainer must beat (uniform scores from the request's seed)."""

from __future__ import annotations

import numpy as np

from xrec_bench.explainers._common import ConfiguredExplainer
from xrec_bench.models.features import FeatureTask


class RandomExplainer(ConfiguredExplainer):
    name = "random"
    stochastic = True
    model_blind = True

    def _attribute(self, task: FeatureTask, rng: np.random.Generator) -> np.ndarray:
        return rng.random(task.n_features)
