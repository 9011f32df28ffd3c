"""Shared steps between a parser's raw tables and the final :class:`Dataset`.

* :func:`index_dataset`: original ids -> contiguous indices (items in the parser's order, users in
  sorted id order); used by every parser.
* :func:`preprocess`, applied by the loader to every dataset, in this order:

  1. counts before conversion (``raw_interactions``, ``raw_users``, ``raw_items``: distinct users
     and items that occur in the raw interactions);
  2. explicit -> implicit: keep ``rating >= rating_threshold`` (``None``: keep all), ``rating`` set
     to 1.0, the original kept in ``raw_rating``;
  3. repeated (user, item) pairs: only the earliest is kept (``duplicate_interactions``), so a test
     item is never also in its own history;
  4. ``kcore``: repeatedly drop users and items with fewer than ``kcore`` interactions (0 = off);
  5. users and items left without interactions are dropped and indices made contiguous again (items
     shown in MIND impressions are kept as candidates); impressions and ground truth are re-mapped;
  6. interactions sorted by user, then time (ties keep source order).

  Nothing left -> :class:`EmptyDatasetError`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from xrec_bench.datasets.errors import DatasetError, EmptyDatasetError, MalformedDataError
from xrec_bench.datasets.schema import Dataset

logger = logging.getLogger(__name__)


def index_dataset(
    name: str,
    version: str,
    items: pd.DataFrame,
    interactions: pd.DataFrame,
    *,
    stats: Mapping[str, Any] | None = None,
) -> Dataset:
    """Build a :class:`Dataset` from frames keyed by original ids.

    ``items`` has ``item_id`` (unique) and the text columns incl. ``text``; ``interactions`` has
    ``user_id``, ``item_id``, ``timestamp`` (int seconds) and ``rating``; every interaction's item must
    be in ``items`` (parsers drop and count dangling rows first). Users are indexed in sorted order of
    their original ids (numeric ids sort numerically), items in the order of ``items``.
    """
    items = items.reset_index(drop=True)
    user_ids = np.sort(interactions["user_id"].unique())
    user_index = pd.Index(user_ids)
    item_index = pd.Index(items["item_id"])
    item_pos = item_index.get_indexer(interactions["item_id"])
    if (item_pos < 0).any():
        raise ValueError("index_dataset: interactions name items missing from the items table (parser bug).")
    frame = pd.DataFrame(
        {
            "user": user_index.get_indexer(interactions["user_id"]).astype(np.int64),
            "item": item_pos.astype(np.int64),
            "timestamp": interactions["timestamp"].to_numpy(dtype=np.int64),
            "rating": interactions["rating"].to_numpy(dtype=np.float64),
        }
    )
    items = items.assign(item_id=items["item_id"].astype(str))
    users = pd.DataFrame({"user_id": [str(u) for u in user_ids]})
    return Dataset(name, version, items, users, frame, checksums={}, stats=dict(stats or {}))


def preprocess(dataset: Dataset, options: Mapping[str, Any]) -> Dataset:
    """Apply the steps in the module docstring; ``options`` holds ``rating_threshold`` and ``kcore``."""
    inter = dataset.interactions
    stats = dict(dataset.stats)
    stats.update(
        raw_interactions=len(inter),
        raw_users=int(inter["user"].nunique()),
        raw_items=int(inter["item"].nunique()),
    )
    inter = inter.sort_values(["user", "timestamp"], kind="stable")
    threshold = options.get("rating_threshold")
    if threshold is not None:
        inter = inter[inter["rating"] >= threshold].assign(raw_rating=lambda d: d["rating"], rating=1.0)
    stats["rating_threshold"] = threshold
    stats["implicit_interactions"] = len(inter)
    duplicated = inter.duplicated(["user", "item"], keep="first")
    stats["duplicate_interactions"] = int(duplicated.sum())
    inter = inter[~duplicated]
    kcore = int(options.get("kcore") or 0)
    if kcore > 0:
        inter = _kcore(inter, kcore)
        stats["kcore"] = kcore
    if inter.empty:
        raise EmptyDatasetError(
            f"Dataset {dataset.name!r} is empty after preprocessing: {stats['raw_interactions']} raw interactions, "
            f"{stats['implicit_interactions']} with rating >= {threshold}, 0 left after {kcore}-core filtering. "
            "Lower rating_threshold or kcore."
        )
    dataset = _reindex(replace(dataset, interactions=inter.reset_index(drop=True)), keep_impression_items=kcore == 0)
    stats.update(interactions=len(dataset.interactions), users=dataset.n_users, items=dataset.n_items)
    if dataset.impressions is not None:
        stats["impressions"] = len(dataset.impressions)
    return replace(dataset, stats=stats, options={**dataset.options, **options})


def _kcore(inter: pd.DataFrame, k: int) -> pd.DataFrame:
    """Drop users and items with fewer than ``k`` interactions until none is left to drop."""
    while True:
        user_ok = inter.groupby("user")["item"].transform("size") >= k
        item_ok = inter.groupby("item")["user"].transform("size") >= k
        keep = user_ok & item_ok
        if keep.all():
            return inter
        inter = inter[keep]


def _reindex(dataset: Dataset, *, keep_impression_items: bool) -> Dataset:
    """Drop users and items without interactions; make indices contiguous; re-map every reference."""
    inter = dataset.interactions
    used_items = np.zeros(dataset.n_items, dtype=bool)
    used_items[inter["item"].to_numpy()] = True
    imp = dataset.impressions
    if imp is not None and keep_impression_items and len(imp):
        used_items[np.concatenate([*imp["candidates"], *imp["history"]]).astype(np.int64)] = True
    used_users = np.zeros(dataset.n_users, dtype=bool)
    used_users[inter["user"].to_numpy()] = True
    if used_items.all() and used_users.all():
        return replace(dataset, interactions=inter)
    item_map = np.where(used_items, np.cumsum(used_items) - 1, -1)
    user_map = np.where(used_users, np.cumsum(used_users) - 1, -1)
    inter = inter.assign(user=user_map[inter["user"].to_numpy()], item=item_map[inter["item"].to_numpy()])
    items = dataset.items[used_items].reset_index(drop=True)
    users = dataset.users[used_users].reset_index(drop=True)
    if imp is not None:
        imp = _remap_impressions(imp, user_map, item_map)
    truth = dataset.ground_truth
    if truth is not None:
        truth = truth.assign(user=user_map[truth["user"].to_numpy()], target=item_map[truth["target"].to_numpy()])
        truth = truth[(truth["user"] >= 0) & (truth["target"] >= 0)].reset_index(drop=True)
        truth["cause_items"] = [_remap(a, item_map) for a in truth["cause_items"]]
    logger.info("Dropped %d users and %d items left without interactions.", (~used_users).sum(), (~used_items).sum())
    return replace(dataset, items=items, users=users, interactions=inter, impressions=imp, ground_truth=truth)


def _remap(array: np.ndarray, mapping: np.ndarray) -> np.ndarray:
    mapped = mapping[np.asarray(array, dtype=np.int64)]
    return mapped[mapped >= 0]


def _remap_impressions(imp: pd.DataFrame, user_map: np.ndarray, item_map: np.ndarray) -> pd.DataFrame:
    imp = imp.assign(user=user_map[imp["user"].to_numpy()])
    imp = imp[imp["user"] >= 0].copy()
    candidates, labels = [], []
    for cand, lab in zip(imp["candidates"], imp["labels"], strict=True):
        mapped = item_map[np.asarray(cand, dtype=np.int64)]
        keep = mapped >= 0
        candidates.append(mapped[keep])
        labels.append(np.asarray(lab)[keep])
    imp["candidates"], imp["labels"] = candidates, labels
    imp["history"] = [_remap(h, item_map) for h in imp["history"]]
    return imp[[len(c) > 0 for c in candidates]].reset_index(drop=True)


# --- for parsers: rows that do not parse are counted, or refused in strict mode (reading: reading.py) ---


def refuse_or_count(
    stats: dict[str, Any],
    key: str,
    count: int,
    *,
    strict: bool,
    what: str,
    examples: list[Any] | None = None,
    error: type[DatasetError] = MalformedDataError,
) -> None:
    """Add ``count`` problems to ``stats[key]``; in strict mode, raise ``error`` if there are any."""
    stats[key] = int(stats.get(key, 0)) + int(count)
    if not count:
        return
    shown = f" (e.g. {', '.join(map(str, examples[:5]))})" if examples else ""
    message = f"{what}: {count}{shown}."
    if strict:
        raise error(f"{message} Strict mode refuses them; run without strict (--strict) to drop and count them.")
    logger.warning("%s Dropped; counted in stats[%r].", message, key)
