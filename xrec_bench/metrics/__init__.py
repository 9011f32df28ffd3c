"""Explanation metrics (faithfulness, ground truth, stability, sanity, cost) and accuracy.

Importing this package registers every built-in metric class (``xrec_bench.metrics.base.METRICS``:
each declares its name, outputs, options and needs); :func:`evaluate_explainer` runs an explainer and
measures its explanations.
"""

from __future__ import annotations

import importlib

from xrec_bench.metrics import (  # noqa: F401  (each module declares its metrics)
    cost,
    counterfactual,
    eraser,
    exact_agreement,
    faithfulness,
    ground_truth,
    infidelity,
    sanity,
    stability,
)
from xrec_bench.metrics.config import EvalConfig
from xrec_bench.metrics.evaluate import ExplainerResult, evaluate_explainer
from xrec_bench.metrics.relative import relative_to

try:  # accuracy metrics belong to the models layer's issue; declared here when present
    importlib.import_module("xrec_bench.metrics.accuracy")
except ModuleNotFoundError as exc:  # pragma: no cover - depends on what is merged
    if exc.name != "xrec_bench.metrics.accuracy":
        raise

__all__ = ["EvalConfig", "ExplainerResult", "evaluate_explainer", "relative_to"]
