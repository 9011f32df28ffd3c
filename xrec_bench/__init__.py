"""xrec-bench: a reproducible benchmark for explanations of text-based recommender systems.

Data flows one way: ``datasets -> models -> explainers -> metrics -> harness -> leaderboard``.
A layer imports only the layers to its left, plus the small shared modules
(:mod:`xrec_bench.registry`, :mod:`xrec_bench.seeding`, :mod:`xrec_bench.io`, :mod:`xrec_bench.paths`).
"""

__version__ = "0.1.0"

__all__ = ["__version__", "evaluate"]


def evaluate(explainer, **kwargs):
    """Score an explainer as a one-cell suite; see :func:`xrec_bench.api.evaluate` (imported on use, so
    that ``import xrec_bench`` stays light)."""
    from xrec_bench.api import evaluate as _evaluate

    return _evaluate(explainer, **kwargs)
