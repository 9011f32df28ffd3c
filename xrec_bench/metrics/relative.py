"""Each explainer against a baseline (the random explainer) on the same users: paired differences.

Used by the ``evaluate`` command's table and by the leaderboard: ``explainer - baseline`` per
metric with a paired bootstrap CI and p-value (:func:`xrec_bench.metrics.stats.paired_bootstrap`).
The difference is signed as measured; read it with the metric's direction (``spec(name)``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from xrec_bench.metrics.stats import PairedComparison, paired_bootstrap

#: the metrics the "relative to random" view shows by default
FAITHFULNESS_AUCS = ("deletion_auc", "insertion_auc", "deletion_rank_auc", "insertion_rank_auc")


def relative_to(result, baseline, *, metrics: Sequence[str] | None = None, seed: int = 0,
                n_boot: int = 2000) -> dict[str, PairedComparison]:
    """Paired ``result - baseline`` for each metric both have (default: the faithfulness AUCs)."""
    if not (np.array_equal(result.users, baseline.users) and np.array_equal(result.targets, baseline.targets)):
        raise ValueError(
            f"{result.explainer} and {baseline.explainer} were measured on different requests; "
            "a paired comparison needs the same (user, target) pairs in the same order. Evaluate both "
            "on the same request list."
        )
    names = FAITHFULNESS_AUCS if metrics is None else metrics
    return {
        name: paired_bootstrap(result.per_user[name], baseline.per_user[name], seed=seed, n_boot=n_boot)
        for name in names
        if name in result.per_user and name in baseline.per_user
    }
