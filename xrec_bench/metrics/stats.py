"""Bootstrap confidence intervals and paired comparisons: see :mod:`xrec_bench._util.stats` (kept there,
below every layer, so that the leaderboard reads them without importing the metrics and torch)."""

from xrec_bench._util.stats import Estimate, PairedComparison, adjust_p_values, bootstrap_ci, paired_bootstrap

__all__ = ["Estimate", "PairedComparison", "adjust_p_values", "bootstrap_ci", "paired_bootstrap"]
