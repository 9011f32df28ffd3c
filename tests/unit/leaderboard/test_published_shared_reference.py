"""The published quick v5 compares every explainer of a user with the very same random reference.

``deletion_auc - deletion_auc_minus_random`` is the mean area of the random reference orders on that
user. Since quick v5 these are scored once per request and model and shared by every explainer, so
the difference is the same for every explainer of a user up to the records' 10 significant digits;
in quick v4 each explainer scored them beside its own masks, and they differed by up to 1.4e-6.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

RESULTS = Path(__file__).resolve().parents[3] / "results" / "quick"


def _reference_spread(version: str) -> tuple[int, float]:
    records = sorted((RESULTS / version / "records").glob("*.json"))
    if not records:
        pytest.skip(f"results/quick/{version}/records is not here")
    refs: dict[tuple, list[float]] = defaultdict(list)
    for cell in json.loads(records[0].read_text())["cells"]:
        metrics = cell.get("metrics", {})
        if cell["kind"] != "explainer" or "deletion_auc_minus_random" not in metrics:
            continue
        key = cell["key"]
        ref = np.asarray(metrics["deletion_auc"], float) - np.asarray(metrics["deletion_auc_minus_random"], float)
        for user, target, value in zip(cell["users"], cell["targets"], ref, strict=True):
            if np.isfinite(value):
                refs[(key["dataset"], key["model"], key["granularity"], user, target)].append(float(value))
    spreads = [max(v) - min(v) for v in refs.values() if len(v) > 1]
    return len(spreads), max(spreads)


def test_every_explainer_of_a_user_meets_the_same_random_reference_in_v5():
    n, spread = _reference_spread("v5")
    assert n >= 1000  # users explained by more than one explainer, over every model and granularity
    assert spread <= 1e-8


def test_in_v4_the_reference_moved_with_the_explainer_so_the_check_above_can_fail():
    n, spread = _reference_spread("v4")
    assert n >= 1000 and spread > 1e-7
