"""Implicit conversion, de-duplication, k-core filtering and re-indexing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from xrec_bench.datasets.errors import EmptyDatasetError
from xrec_bench.datasets.preprocess import index_dataset, preprocess
from xrec_bench.datasets.schema import Dataset


def make(rows: list[tuple], n_items: int = 6) -> Dataset:
    items = pd.DataFrame({"item_id": [f"i{k}" for k in range(n_items)], "text": [f"item {k}" for k in range(n_items)]})
    inter = pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"])
    return index_dataset("toy", "1", items, inter)


ROWS = [
    ("a", "i0", 5, 10), ("a", "i1", 2, 11), ("a", "i2", 4, 12), ("a", "i0", 4, 13),
    ("b", "i1", 5, 20), ("b", "i2", 4, 21), ("b", "i0", 4, 22),
    ("c", "i3", 1, 30), ("c", "i0", 5, 31),
]


def test_threshold_keeps_ratings_at_or_above_and_counts_before():
    ds = preprocess(make(ROWS), {"rating_threshold": 4, "kcore": 0})
    s = ds.stats
    assert (s["raw_interactions"], s["raw_users"], s["raw_items"]) == (9, 3, 4)
    assert s["implicit_interactions"] == 7 and s["duplicate_interactions"] == 1
    assert set(ds.interactions["rating"]) == {1.0} and ds.interactions["raw_rating"].min() >= 4
    # item i3 (only rated 1) and items never rated are gone; indices are contiguous again
    assert ds.items["item_id"].tolist() == ["i0", "i1", "i2"]
    assert ds.n_items == 3 and ds.interactions["item"].max() == 2
    a = ds.interactions[ds.interactions["user"] == 0]
    assert a["timestamp"].tolist() == [10, 12]  # the repeated (a, i0) keeps its earliest time


def test_no_threshold_keeps_ratings():
    ds = preprocess(make(ROWS), {"rating_threshold": None, "kcore": 0})
    assert ds.stats["implicit_interactions"] == 9 and len(ds.interactions) == 8
    assert sorted(set(ds.interactions["rating"])) == [1.0, 2.0, 4.0, 5.0]


def test_kcore_leaves_only_users_and_items_with_k_interactions():
    rng = np.random.default_rng(0)
    rows = [(f"u{u}", f"i{i}", 5, t) for t, (u, i) in enumerate(rng.integers(0, 30, size=(400, 2)))]
    ds = preprocess(make(rows, n_items=30), {"rating_threshold": None, "kcore": 5})
    assert ds.interactions.groupby("user").size().min() >= 5
    assert ds.interactions.groupby("item").size().min() >= 5
    assert ds.interactions["user"].max() == ds.n_users - 1 and ds.interactions["item"].max() == ds.n_items - 1
    # sorted by user then time
    assert (ds.interactions.sort_values(["user", "timestamp"], kind="stable").index == ds.interactions.index).all()


def test_empty_after_filtering_is_a_clear_error():
    with pytest.raises(EmptyDatasetError, match="empty after preprocessing: 9 raw interactions, 7 with rating >= 4.*Lower"):
        preprocess(make(ROWS), {"rating_threshold": 4, "kcore": 3})
    with pytest.raises(EmptyDatasetError, match="0 with rating >= 6"):
        preprocess(make(ROWS), {"rating_threshold": 6, "kcore": 0})


def test_impressions_and_ground_truth_follow_the_reindexing():
    ds = make(ROWS)
    ds = Dataset(
        **{**ds.__dict__,
           "impressions": pd.DataFrame({
               "impression_id": [1, 2], "user": [2, 0], "timestamp": [31, 13],
               "history": [np.array([3]), np.array([0, 1])],
               "candidates": [np.array([3, 5]), np.array([2, 4])], "labels": [np.array([1, 0]), np.array([1, 0])]}),
           "ground_truth": pd.DataFrame({"user": [0, 2], "target": [2, 3], "cause_items": [np.array([0, 1]), np.array([0])],
                                         "cause_words": [("a",), ("b",)]})}
    )
    out = preprocess(ds, {"rating_threshold": 4, "kcore": 0})
    ids = out.items["item_id"].to_numpy()
    # items shown in impressions stay as candidates even without a click
    assert set(ids) == {"i0", "i1", "i2", "i3", "i4", "i5"}
    out = preprocess(ds, {"rating_threshold": 4, "kcore": 2})
    ids = out.items["item_id"].to_numpy()
    users = out.users["user_id"].to_numpy()
    assert users.tolist() == ["a", "b"] and ids.tolist() == ["i0", "i2"]
    assert out.impressions["impression_id"].tolist() == [2]  # user c is gone
    assert ids[out.impressions["candidates"][0]].tolist() == ["i2"] and out.impressions["labels"][0].tolist() == [1]
    assert ids[out.impressions["history"][0]].tolist() == ["i0"]
    assert out.ground_truth["user"].tolist() == [0] and ids[out.ground_truth["target"]].tolist() == ["i2"]
    assert ids[out.ground_truth["cause_items"][0]].tolist() == ["i0"]
