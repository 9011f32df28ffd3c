"""A 'concentration' metric: the share of the attribution mass on the ``k`` top-ranked features.

A compact explanation puts most of its weight on a few features (Quantus calls this family
"complexity"): 1.0 when all of the absolute attribution sits on the top ``k`` features, ``k / F`` when
it is spread evenly. It needs no model call: it reads the explanation only.

Its own parameter ``k`` is set in a suite with ``[metric_options] extra = { k = 5 }``.
"""

from __future__ import annotations

import numpy as np

from xrec_bench.contract import Output
from xrec_bench.metrics.stages import TaskMetric
from xrec_bench.params import Int, Param


class Concentration(TaskMetric):
    """Share of the absolute attribution mass on the k top-ranked features (higher: more compact)."""

    name = "concentration"  # its registry name (the entry point uses the same)
    version = "1"
    needs = frozenset()  # reads the explanation only, never the model
    parameters = {"k": Param(3, (Int(1),), "how many top-ranked features count")}
    outputs = (
        Output("top_k_share", "higher", "complexity", "share of the absolute attribution mass",
               "Share of the absolute attribution on the k top-ranked features (1: all of it; k/F: spread evenly)."),
    )

    def run_task(self, task, explanation, ref, cfg, seed: int) -> dict[str, float]:
        mass = np.abs(np.asarray(explanation.scores, dtype=np.float64))
        total = float(mass.sum())
        if total <= 0:
            return {"top_k_share": float("nan")}  # an all-zero explanation ranks nothing
        top = explanation.ranking()[: self.option(cfg, "k")]
        return {"top_k_share": float(mass[top].sum() / total)}
