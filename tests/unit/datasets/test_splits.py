"""Splits: no leakage, time order, determinism, small users, case histories on hand-made data."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from xrec_bench.datasets import make_split
from xrec_bench.datasets.schema import Dataset
from xrec_bench.registry import UnknownNameError


def _dataset(rows: list[tuple[int, int, int]]) -> Dataset:
    """A dataset from (user, item, timestamp) rows, given in the order the frame should hold them."""
    frame = pd.DataFrame(rows, columns=["user", "item", "timestamp"])
    frame["timestamp"] = frame["timestamp"].astype("int64")
    frame["rating"] = 1.0
    n_users, n_items = int(frame["user"].max()) + 1, int(frame["item"].max()) + 1
    return Dataset(
        name="hand-made",
        version="1",
        items=pd.DataFrame(
            {"item_id": [f"i{i}" for i in range(n_items)], "text": [f"item {i}" for i in range(n_items)]}
        ),
        users=pd.DataFrame({"user_id": [f"u{u}" for u in range(n_users)]}),
        interactions=frame,
        checksums={},
    )


def _random_dataset(seed: int, n_users: int = 60, n_items: int = 40, n: int = 900) -> Dataset:
    rng = np.random.default_rng(seed)
    users = rng.integers(0, n_users, n)
    items = rng.integers(0, n_items, n)
    timestamps = rng.integers(0, 200, n)  # few distinct values: many ties
    frame = pd.DataFrame({"user": users, "item": items, "timestamp": timestamps})
    frame = frame.sort_values(["user", "timestamp"], kind="stable")
    return _dataset(list(frame.itertuples(index=False, name=None)))


# A hand-made example. User 0: five interactions with a tie at t=30 (frame order decides: item 3
# before item 4). User 1: two interactions (< 3: all train, no cases). User 2: three interactions.
HAND_ROWS = [
    (0, 1, 10),
    (0, 2, 20),
    (0, 3, 30),
    (0, 4, 30),
    (0, 5, 40),
    (1, 6, 5),
    (1, 7, 50),
    (2, 8, 1),
    (2, 2, 2),
    (2, 9, 3),
]


def test_leave_last_out_on_a_hand_made_example():
    split = make_split(_dataset(HAND_ROWS), "leave-last-out", ties="frame-order")
    as_set = lambda frame: set(frame[["user", "item"]].itertuples(index=False, name=None))  # noqa: E731
    assert as_set(split.test) == {(0, 5), (2, 9)}
    assert as_set(split.valid) == {(0, 4), (2, 2)}  # the tie at t=30 keeps frame order: 3 then 4
    assert as_set(split.train) == {(0, 1), (0, 2), (0, 3), (1, 6), (1, 7), (2, 8)}

    valid, test = split.cases("valid"), split.cases("test")
    assert valid.users.tolist() == [0, 2] and test.users.tolist() == [0, 2]
    assert [h.tolist() for h in valid.histories] == [[1, 2, 3], [8]]
    assert [t.tolist() for t in valid.targets] == [[4], [2]]
    assert [h.tolist() for h in test.histories] == [[1, 2, 3, 4], [8, 2]]
    assert [t.tolist() for t in test.targets] == [[5], [9]]
    assert split.options == {"min_interactions": 3, "ties": "frame-order"}


def test_leave_last_out_sorts_an_unsorted_frame_by_user_then_time():
    shuffled = [HAND_ROWS[i] for i in (9, 4, 0, 6, 2, 7, 1, 5, 8)] + [HAND_ROWS[3]]
    # item 4 now comes after item 3 in the frame too (both at t=30), so the answer is unchanged
    split = make_split(_dataset(shuffled), "leave-last-out", ties="frame-order")
    assert [h.tolist() for h in split.cases("test").histories] == [[1, 2, 3, 4], [8, 2]]


def test_leave_last_out_tie_rules():
    swapped = list(HAND_ROWS)
    swapped[2], swapped[3] = swapped[3], swapped[2]  # item 4 before item 3 in the frame (both t=30)
    valid_item = lambda split: split.cases("valid").targets[0].tolist()  # noqa: E731
    # frame order follows the file; item id does not
    assert valid_item(make_split(_dataset(HAND_ROWS), "leave-last-out", ties="frame-order")) == [4]
    assert valid_item(make_split(_dataset(swapped), "leave-last-out", ties="frame-order")) == [3]
    assert valid_item(make_split(_dataset(swapped), "leave-last-out", ties="item-id")) == [4]
    # the default, hashed, is independent of the frame's order and is the same on every call
    hashed = [valid_item(make_split(_dataset(rows), "leave-last-out")) for rows in (HAND_ROWS, swapped)]
    assert hashed[0] == hashed[1] and hashed[0] in ([3], [4])
    assert make_split(_dataset(HAND_ROWS), "leave-last-out").options["ties"] == "hashed"
    with pytest.raises(ValueError, match="'ties' option of leave-last-out must be one of.*Got 'latest'"):
        make_split(_dataset(HAND_ROWS), "leave-last-out", ties="latest")


def test_hashed_ties_are_independent_of_frame_order_on_many_ties():
    dataset = _random_dataset(0)
    frame = dataset.interactions.sample(frac=1.0, random_state=1).reset_index(drop=True)
    shuffled = dataclasses.replace(dataset, interactions=frame)
    a, b = make_split(dataset, "leave-last-out"), make_split(shuffled, "leave-last-out")
    for stage in ("valid", "test"):
        assert [t.tolist() for t in a.cases(stage).targets] == [t.tolist() for t in b.cases(stage).targets]
    # whereas frame order changes the held-out items of some users
    c = make_split(shuffled, "leave-last-out", ties="frame-order")
    assert [t.tolist() for t in a.cases("test").targets] != [t.tolist() for t in c.cases("test").targets]


def test_leave_last_out_min_interactions_option():
    split = make_split(_dataset(HAND_ROWS), "leave-last-out", min_interactions=4)
    assert split.cases("test").users.tolist() == [0]
    assert len(split.train) == 8  # user 2's three interactions all stay in train
    with pytest.raises(ValueError, match="min_interactions.*Got 2"):
        make_split(_dataset(HAND_ROWS), "leave-last-out", min_interactions=2)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_leave_last_out_has_no_leakage_and_keeps_time_order(seed):
    dataset = _random_dataset(seed)
    split = make_split(dataset, "leave-last-out")
    assert len(split.train) + len(split.valid) + len(split.test) == len(dataset.interactions)
    key = ["user", "item", "timestamp"]
    train_keys = set(split.train[key].itertuples(index=False, name=None))
    for stage in (split.valid, split.test):
        # a row can only appear in both if the very same (user, item, time) occurs twice in the data
        leaked = set(stage[key].itertuples(index=False, name=None)) & train_keys
        duplicates = set(
            dataset.interactions[dataset.interactions.duplicated(key)][key].itertuples(index=False, name=None)
        )
        assert leaked <= duplicates
    assert split.valid["user"].is_unique and split.test["user"].is_unique
    assert set(split.valid["user"]) == set(split.test["user"])
    last_train = split.train.groupby("user")["timestamp"].max()
    valid_t = split.valid.set_index("user")["timestamp"]
    test_t = split.test.set_index("user")["timestamp"]
    assert (last_train.reindex(valid_t.index) <= valid_t).all()
    assert (valid_t <= test_t.reindex(valid_t.index)).all()
    counts = dataset.interactions.groupby("user").size()
    assert set(split.test["user"]) == set(counts[counts >= 3].index)


@pytest.mark.parametrize("seed", [0, 1])
def test_leave_last_out_case_histories_are_the_earlier_interactions(seed):
    dataset = _random_dataset(seed)
    split = make_split(dataset, "leave-last-out")
    train_items = split.train.groupby("user")["item"].apply(list)
    valid_item = split.valid.set_index("user")["item"]
    test = split.cases("test")
    valid = split.cases("valid")
    for user, history, target in zip(valid.users, valid.histories, valid.targets, strict=True):
        assert history.tolist() == train_items[user]
        assert target.tolist() == [valid_item[user]]
    for user, history in zip(test.users, test.histories, strict=True):
        assert history.tolist() == train_items[user] + [valid_item[user]]


def test_leave_last_out_drops_a_case_whose_target_was_already_seen(caplog):
    rows = [(0, 1, 1), (0, 2, 2), (0, 1, 3), (1, 3, 1), (1, 4, 2), (1, 5, 3)]
    split = make_split(_dataset(rows), "leave-last-out")
    assert split.cases("test").users.tolist() == [1]
    assert split.test["user"].tolist() == [0, 1]  # the interaction is still held out
    assert "already in the user's history" in caplog.text


def test_temporal_on_a_hand_made_example():
    rows = [
        (0, 0, 1),
        (0, 1, 2),
        (0, 2, 8),
        (0, 3, 9),
        (1, 4, 3),
        (1, 0, 9),
        (1, 4, 10),
        (2, 5, 9),
        (2, 6, 10),
    ]
    rows += [(3, 7, t) for t in (4, 5, 6, 7)]
    split = make_split(_dataset(rows), "temporal", valid_fraction=0.2, test_fraction=0.3)
    t1, t2 = split.options["valid_start"], split.options["test_start"]
    assert (t1, t2) == (7, 9)  # quantiles 0.5 and 0.7 of the 13 timestamps, taken at a data point
    assert (split.train["timestamp"] < t1).all() and (split.test["timestamp"] >= t2).all()
    assert split.valid["timestamp"].between(t1, t2 - 1).all()
    valid, test = split.cases("valid"), split.cases("test")
    # user 0: valid target 2 (t=8) after history [0, 1]; user 3's item 7 at t=7 is already in history
    assert valid.users.tolist() == [0]
    assert [h.tolist() for h in valid.histories] == [[0, 1]]
    assert [t.tolist() for t in valid.targets] == [[2]]
    # user 2 has no train interaction: no case; user 1's item 4 at t=10 is already in its history
    assert test.users.tolist() == [0, 1]
    assert [h.tolist() for h in test.histories] == [[0, 1, 2], [4]]
    assert [t.tolist() for t in test.targets] == [[3], [0]]


@pytest.mark.parametrize("seed", [0, 1])
def test_temporal_has_no_leakage_and_keeps_time_order(seed):
    split = make_split(_random_dataset(seed), "temporal", valid_fraction=0.15, test_fraction=0.2)
    assert split.train["timestamp"].max() < split.valid["timestamp"].min()
    assert split.valid["timestamp"].max() < split.test["timestamp"].min()
    test = split.cases("test")
    for user, history, targets in zip(test.users, test.histories, test.targets, strict=True):
        assert len(targets) and not np.isin(targets, history).any()
        before = split.train[split.train["user"] == user]["item"].tolist()
        before += split.valid[split.valid["user"] == user]["item"].tolist()
        assert history.tolist() == before


@pytest.mark.parametrize("strategy", ["leave-last-out", "temporal"])
def test_splits_are_deterministic(strategy):
    first, second = make_split(_random_dataset(3), strategy), make_split(_random_dataset(3), strategy)
    for stage in ("train", "valid", "test"):
        pd.testing.assert_frame_equal(getattr(first, stage), getattr(second, stage))
    for a, b in zip(first.cases("test").histories, second.cases("test").histories, strict=True):
        np.testing.assert_array_equal(a, b)


def test_bad_strategy_and_options_get_clear_errors():
    dataset = _dataset(HAND_ROWS)
    with pytest.raises(UnknownNameError, match="Did you mean: leave-last-out"):
        make_split(dataset, "leave-one-out")
    with pytest.raises(TypeError, match="unknown option.*valid_fraction"):
        make_split(dataset, "leave-last-out", valid_fraction=0.1)
    with pytest.raises(ValueError, match="test_fraction.*Got 1.5"):
        make_split(dataset, "temporal", test_fraction=1.5)
    with pytest.raises(ValueError, match="below 1"):
        make_split(dataset, "temporal", valid_fraction=0.5, test_fraction=0.5)
