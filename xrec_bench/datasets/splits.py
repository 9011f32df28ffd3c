"""Deterministic train / validation / test splits and the evaluation cases they imply.

Strategies live in a registry (``SPLIT_STRATEGIES``); each is a function of the interaction frame
and keyword options that returns a :class:`~xrec_bench.datasets.schema.Split`.

* ``leave-last-out``: per user, ordered by timestamp, equal timestamps ordered by the ``ties`` rule
  (below): the last interaction -> test, the one before -> validation, the rest -> train. Users with fewer than
  ``min_interactions`` interactions keep everything in train and get no cases. A validation case's
  history is the user's train items; a test case's history is the train and validation items; both
  chronological. Histories are never truncated here (models may keep the last ``max_history``).
* ``temporal``: global cut-offs ``t1 <= t2`` at time quantiles ``1 - valid_fraction - test_fraction``
  and ``1 - test_fraction``: train = ``timestamp < t1``, valid = ``t1 <= timestamp < t2``, test =
  ``timestamp >= t2``. Cases go to users with at least one train interaction: the history is all of
  the user's interactions before the stage's cut-off, the targets are the user's items in the stage
  that are not already in that history (each once, in order of first appearance); users with no
  such target get no case at that stage.

Timestamps tie heavily in some datasets (MovieLens users rate many films in the same second;
Amazon review times are days), so "the last item" depends on how ties are ordered, and a rule that
follows the file's order or the item id leaks the publisher's ordering (often by popularity or
release) into the held-out item. ``ties`` is explicit:

* ``"hashed"`` (default): equal timestamps ordered by a fixed hash of (user, item): arbitrary but
  deterministic, independent of the file's order and of item ids;
* ``"frame-order"``: the order of the rows in the parsed frame (the rule of splits before it);
* ``"item-id"``: ascending item index.

Each dataset card states how much its baselines' accuracy moves between these rules.

Everything is vectorised with numpy/pandas: splitting MovieLens-1M (1M rows) takes well under a
second. Nothing here is random.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from xrec_bench.datasets.schema import INTERACTION_COLUMNS, Dataset, EvalCases, Split
from xrec_bench.registry import Registry

logger = logging.getLogger(__name__)

SplitFunction = Callable[..., Split]
SPLIT_STRATEGIES: Registry[SplitFunction] = Registry("split")

_STAGES = ("train", "valid", "test")


def make_split(dataset: Dataset, strategy: str = "leave-last-out", **options: Any) -> Split:
    """Split ``dataset.interactions`` with the registered ``strategy`` (see the module docstring)."""
    function = SPLIT_STRATEGIES.get(strategy)
    accepted = [p.name for p in inspect.signature(function).parameters.values() if p.kind is p.KEYWORD_ONLY]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise TypeError(
            f"Split strategy {strategy!r} got unknown option(s) {', '.join(unknown)}; "
            f"it accepts: {', '.join(accepted) or 'no options'}."
        )
    interactions = _ordered(dataset.interactions)
    return function(interactions, **options)


def split_problems(strategy: str, options: dict[str, Any]) -> list[str]:
    """What is wrong with ``options`` for ``strategy`` (unknown names, bad values), before any data is loaded.

    The values are checked by running the strategy itself on a tiny frame (4 users x 6 interactions),
    so the check and the split can never disagree about what is valid."""
    try:
        function = SPLIT_STRATEGIES.get(strategy)
    except (KeyError, ValueError) as exc:
        return [str(exc)]
    accepted = [p.name for p in inspect.signature(function).parameters.values() if p.kind is p.KEYWORD_ONLY]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        return [f"split strategy {strategy!r} got unknown option(s) {', '.join(unknown)}; "
                f"it accepts: {', '.join(accepted) or 'no options'}."]
    n_users, per_user = 4, 6
    tiny = pd.DataFrame({
        "user": np.repeat(np.arange(n_users), per_user), "item": np.arange(n_users * per_user) % 10,
        "timestamp": np.arange(n_users * per_user, dtype=np.int64), "rating": np.ones(n_users * per_user),
    })
    try:
        function(_ordered(tiny), **options)
    except (TypeError, ValueError) as exc:
        return [f"split {strategy!r}: {exc}"]
    return []


def _ordered(interactions: pd.DataFrame) -> pd.DataFrame:
    """The interactions sorted by user, then time, ties kept in frame order, with a fresh index."""
    missing = [c for c in INTERACTION_COLUMNS[:3] if c not in interactions.columns]
    if missing:
        raise ValueError(
            f"The interactions frame lacks column(s) {', '.join(missing)}; expected at least "
            f"{', '.join(INTERACTION_COLUMNS[:3])}. Got columns: {', '.join(map(str, interactions.columns))}."
        )
    if len(interactions) == 0:
        raise ValueError(
            "The dataset has no interactions to split; check its filtering options (k-core, threshold)."
        )
    order = np.lexsort(
        (np.arange(len(interactions)), interactions["timestamp"].to_numpy(), interactions["user"].to_numpy())
    )
    return interactions.iloc[order].reset_index(drop=True)


# -- leave-last-out ---------------------------------------------------------------------------


TIE_RULES = ("hashed", "frame-order", "item-id")


def _tie_keys(interactions: pd.DataFrame, rule: str) -> np.ndarray:
    """A key that orders rows with equal (user, timestamp) under ``rule`` (see the module docstring)."""
    if rule == "frame-order":
        return np.arange(len(interactions))
    items = interactions["item"].to_numpy().astype(np.uint64)
    if rule == "item-id":
        return items
    # splitmix64 of (user, item): a fixed, seedless mixing hash, vectorised in numpy
    x = (interactions["user"].to_numpy().astype(np.uint64) << np.uint64(32)) ^ items
    with np.errstate(over="ignore"):
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


@SPLIT_STRATEGIES.register("leave-last-out")
def leave_last_out(interactions: pd.DataFrame, *, min_interactions: int = 3, ties: str = "hashed") -> Split:
    if ties not in TIE_RULES:
        raise ValueError(
            f"The 'ties' option of leave-last-out must be one of {', '.join(map(repr, TIE_RULES))}. "
            f"Got {ties!r} instead."
        )
    order = np.lexsort((
        _tie_keys(interactions, ties), interactions["timestamp"].to_numpy(), interactions["user"].to_numpy()
    ))
    interactions = interactions.iloc[order].reset_index(drop=True)
    if (
        isinstance(min_interactions, bool)
        or not isinstance(min_interactions, (int, np.integer))
        or min_interactions < 3
    ):
        raise ValueError(
            "The 'min_interactions' option of leave-last-out must be an int in the range [3, inf) "
            f"(so that every case has a non-empty history). Got {min_interactions!r} instead."
        )
    users = interactions["user"].to_numpy()
    counts = interactions.groupby("user", sort=False)["user"].transform("size").to_numpy()
    from_end = interactions.groupby("user", sort=False).cumcount(ascending=False).to_numpy()
    eligible = counts >= min_interactions
    stage = np.zeros(len(interactions), dtype=np.int8)  # 0 train, 1 valid, 2 test
    stage[eligible & (from_end == 1)] = 1
    stage[eligible & (from_end == 0)] = 2

    items = interactions["item"].to_numpy()
    valid_rows = np.flatnonzero(stage == 1)
    test_rows = np.flatnonzero(stage == 2)
    # Within one eligible user rows are train..., valid, test; so the history of a valid case is
    # the user's rows before the valid row and that of a test case the rows before the test row.
    valid_cases = _cases_before(users, items, valid_rows, counts, min_interactions, offset_from_end=1)
    test_cases = _cases_before(users, items, test_rows, counts, min_interactions, offset_from_end=0)
    return _build_split(
        "leave-last-out",
        interactions,
        stage,
        {"min_interactions": int(min_interactions), "ties": ties},
        valid_cases,
        test_cases,
    )


def _cases_before(
    users: np.ndarray,
    items: np.ndarray,
    target_rows: np.ndarray,
    counts: np.ndarray,
    min_interactions: int,
    *,
    offset_from_end: int,
) -> EvalCases:
    """One case per target row: its history is the same user's rows from the user's first row to it."""
    n_history = counts[target_rows] - 1 - offset_from_end
    starts = target_rows - n_history
    histories = [items[s:e] for s, e in zip(starts.tolist(), target_rows.tolist(), strict=True)]
    targets = [items[r : r + 1] for r in target_rows.tolist()]
    cases = EvalCases(users=users[target_rows].copy(), histories=histories, targets=targets)
    return _drop_seen_targets(cases)


def _drop_seen_targets(cases: EvalCases) -> EvalCases:
    """Drop cases whose only target is already in the history (it could never be ranked: seen
    items are excluded from rankings). Only repeated interactions cause this; it is logged."""
    keep = [
        i
        for i, (h, t) in enumerate(zip(cases.histories, cases.targets, strict=True))
        if not np.isin(t, h).all()
    ]
    if len(keep) == len(cases):
        return cases
    logger.warning(
        "%d case(s) dropped: the held-out item was already in the user's history (repeated interaction).",
        len(cases) - len(keep),
    )
    return EvalCases(
        users=cases.users[keep],
        histories=[cases.histories[i] for i in keep],
        targets=[cases.targets[i] for i in keep],
    )


# -- temporal ---------------------------------------------------------------------------------


@SPLIT_STRATEGIES.register("temporal")
def temporal(interactions: pd.DataFrame, *, valid_fraction: float = 0.1, test_fraction: float = 0.1) -> Split:
    for name, value in (("valid_fraction", valid_fraction), ("test_fraction", test_fraction)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 < float(value) < 1.0:
            raise ValueError(
                f"The {name!r} option of the temporal split must be a float in the range (0, 1). Got {value!r} instead."
            )
    if valid_fraction + test_fraction >= 1.0:
        raise ValueError(
            "valid_fraction + test_fraction must be below 1 so that something is left to train on. "
            f"Got {valid_fraction} + {test_fraction} = {valid_fraction + test_fraction} instead."
        )
    timestamps = interactions["timestamp"].to_numpy()
    t1, t2 = np.quantile(
        timestamps, [1.0 - valid_fraction - test_fraction, 1.0 - test_fraction], method="lower"
    )
    stage = np.where(timestamps < t1, 0, np.where(timestamps < t2, 1, 2)).astype(np.int8)
    if not (stage == 0).any():
        raise ValueError(
            f"The temporal split left nothing to train on: every timestamp is >= the first cut-off {t1}. "
            "Use a dataset whose interactions span more than one timestamp, or smaller fractions."
        )
    users = interactions["user"].to_numpy()
    items = interactions["item"].to_numpy()
    trains = np.zeros(int(users.max()) + 1, dtype=bool)
    trains[users[stage == 0]] = True
    has_train = trains[users]
    valid_cases = _temporal_cases(users, items, stage, has_train, cut_stage=1)
    test_cases = _temporal_cases(users, items, stage, has_train, cut_stage=2)
    options = {
        "valid_fraction": float(valid_fraction),
        "test_fraction": float(test_fraction),
        "valid_start": int(t1),
        "test_start": int(t2),
    }
    return _build_split("temporal", interactions, stage, options, valid_cases, test_cases)


def _temporal_cases(
    users: np.ndarray, items: np.ndarray, stage: np.ndarray, has_train: np.ndarray, *, cut_stage: int
) -> EvalCases:
    """Cases of stage ``cut_stage``: history = the user's rows of earlier stages, targets = the
    user's items of this stage not in that history (first appearance order)."""
    n_items = int(items.max()) + 1
    keys = users.astype(np.int64) * n_items + items
    in_history = has_train & (stage < cut_stage)
    # pandas' hash-based isin: several times faster than np.isin's sort on a million rows
    seen = pd.Series(keys).isin(pd.Index(keys[in_history]).unique()).to_numpy()
    candidate = has_train & (stage == cut_stage) & ~seen
    rows = np.flatnonzero(candidate)
    rows = rows[~pd.Series(keys[rows]).duplicated().to_numpy()]
    case_users = np.unique(users[rows])
    histories = _group_by_user(users[in_history], items[in_history], case_users)
    targets = _group_by_user(users[rows], items[rows], case_users)
    return EvalCases(users=case_users, histories=histories, targets=targets)


def _group_by_user(users: np.ndarray, items: np.ndarray, wanted: np.ndarray) -> list[np.ndarray]:
    """``items`` grouped by ``users`` (both sorted by user, rows of a user in order) for each wanted user."""
    bounds = np.searchsorted(users, wanted, side="left"), np.searchsorted(users, wanted, side="right")
    return [items[s:e] for s, e in zip(bounds[0].tolist(), bounds[1].tolist(), strict=True)]


# -- shared -----------------------------------------------------------------------------------


def _build_split(
    strategy: str,
    interactions: pd.DataFrame,
    stage: np.ndarray,
    options: dict[str, Any],
    valid_cases: EvalCases,
    test_cases: EvalCases,
) -> Split:
    frames = {name: interactions[stage == code].reset_index(drop=True) for code, name in enumerate(_STAGES)}
    logger.info(
        "%s split: %d train, %d valid, %d test interactions; %d valid and %d test cases",
        strategy,
        len(frames["train"]),
        len(frames["valid"]),
        len(frames["test"]),
        len(valid_cases),
        len(test_cases),
    )
    return Split(
        strategy=strategy,
        train=frames["train"],
        valid=frames["valid"],
        test=frames["test"],
        options=options,
        valid_cases=valid_cases,
        test_cases=test_cases,
    )
