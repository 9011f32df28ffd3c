"""The cost profile: counts are exact, ratios defined only for methods that call the model."""

from __future__ import annotations

import math

from tests.unit.explainers.conftest import make, request
from xrec_bench.explainers.profile import format_table, profile_explainers


def test_profile_rows(toy, data):
    requests = [request([1, 2, 3, 4], target=5), request([6, 7], target=8), request([], target=9)]
    names = ["leave-one-out", "random", "attention", "exact-shapley"]
    rows = profile_explainers(
        toy, requests, "history", explainers=[make(n, data) for n in names], n_reference=1
    )
    by = {r.explainer: r for r in rows}
    assert [r.explainer for r in rows] == names
    assert by["leave-one-out"].n_ok == 2 and by["leave-one-out"].n_skipped == 1  # the empty history
    assert by["leave-one-out"].evals_median == (5 + 3) / 2
    assert by["exact-shapley"].evals_median == (16 + 4) / 2
    assert by["leave-one-out"].overhead_ratio > 0 and math.isfinite(by["leave-one-out"].model_time_median_s)
    assert math.isnan(by["random"].overhead_ratio) and by["random"].evals_median == 0
    assert len(by["attention"].explanations) == 3
    table = format_table(rows)
    assert "leave-one-out" in table and "n/a" in table
