"""MIND-small (train + dev): ``news.tsv`` (8 tab-separated columns: id, category, subcategory, title,
abstract, url, title entities, abstract entities) and ``behaviors.tsv`` (impression id, user,
time "M/D/YYYY h:mm:ss AM", space-separated click history, candidates "N123-1 N456-0").

* Items: every news row of train and dev (first occurrence of an id kept), sorted by id;
  ``text`` = "Title. Category: category, subcategory. Abstract".
* Interactions are clicks (rating 1.0): the clicked candidates of each impression at the impression
  time, and the click history. History clicks carry no time in MIND; they are placed, in their
  order, in the seconds just before the user's first impression (``t_first - n + i``). A user's
  history is the one of their earliest impression row, followed by ids that only later rows' histories
  add. Times are read as UTC.
* ``impressions`` keeps every shown candidate with its 0/1 label (``source`` = "train" / "dev",
  ``impression_id`` as in the file), for impression-based evaluation.
* News ids that behaviors name but news.tsv lacks are dangling references: each occurrence is
  counted (``dangling_references``; distinct ids in ``dangling_news_ids``) and dropped, or refused in
  strict mode; impressions left without candidates are dropped (``impressions_without_known_news``).
  Rows that do not parse are malformed (``malformed_rows``, ``malformed_news_rows``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from xrec_bench.datasets.errors import DanglingReferenceError
from xrec_bench.datasets.preprocess import index_dataset, read_rows, refuse_or_count
from xrec_bench.datasets.schema import Dataset

#: bump when the parsed output changes for the same files (retires processed-cache entries)
PARSER_VERSION = "1"

SPLITS = ("train", "dev")
_TIME_FORMAT = "%m/%d/%Y %I:%M:%S %p"
_CANDIDATE = re.compile(r"^(\S+)-([01])$")


def parse_small(card: Any, files: Mapping[str, Path], options: Mapping[str, Any], *, strict: bool = False) -> Dataset:
    stats: dict[str, Any] = {}
    items = _news(files, stats, strict)
    known = set(items["item_id"])
    rows, dangling, malformed = [], [], []
    for split in SPLITS:
        rows.extend(_behaviors(files[f"{split}/behaviors.tsv"], split, known, dangling, malformed))
    refuse_or_count(stats, "malformed_rows", len(malformed), strict=strict, what="behaviors.tsv rows that do not parse",
                    examples=malformed)
    refuse_or_count(
        stats, "dangling_references", len(dangling), strict=strict, error=DanglingReferenceError,
        what=f"references in behaviors.tsv to news missing from news.tsv ({len(set(dangling))} distinct ids)",
        examples=sorted(set(dangling))[:5],
    )
    stats["dangling_news_ids"] = len(set(dangling))
    rows.sort(key=lambda r: r["timestamp"])  # stable: equal times keep file order (train before dev)
    interactions = _clicks(rows)
    dataset = index_dataset(card.name, card.version, items, interactions, stats=stats)
    impressions = _impressions(rows, dataset)
    stats["impressions_without_known_news"] = sum(1 for r in rows if not r["candidates"])
    stats["raw_impressions"] = len(rows)
    return replace(dataset, impressions=impressions, stats=stats)


def _news(files: Mapping[str, Path], stats: dict, strict: bool) -> pd.DataFrame:
    news: dict[str, list[str]] = {}
    for split in SPLITS:
        rows, bad = read_rows(files[f"{split}/news.tsv"], sep="\t", n_fields=8)
        refuse_or_count(stats, "malformed_news_rows", len(bad), strict=strict,
                        what=f"{split}/news.tsv rows without 8 tab-separated fields", examples=[f"line {n}" for n in bad])
        for row in rows:
            news.setdefault(row[0], row)
    ids = sorted(news, key=lambda s: (len(s), s))  # N2 < N10
    records = []
    for news_id in ids:
        _, category, subcategory, title, abstract = (v.strip() for v in news[news_id][:5])
        head = f"{title.rstrip('.')}. Category: {category}, {subcategory}."
        records.append({"item_id": news_id, "title": title, "category": category, "subcategory": subcategory,
                        "abstract": abstract, "text": f"{head} {abstract}".strip()})
    return pd.DataFrame(records, columns=["item_id", "title", "category", "subcategory", "abstract", "text"])


def _behaviors(path: Path, split: str, known: set[str], dangling: list[str], malformed: list[str]) -> list[dict]:
    rows, bad = read_rows(path, sep="\t", n_fields=5)
    malformed.extend(f"{split} line {n}" for n in bad)
    times = pd.to_datetime(pd.Series([r[2] for r in rows], dtype=object), format=_TIME_FORMAT, errors="coerce")
    seconds = ((times - pd.Timestamp("1970-01-01")) // pd.Timedelta(seconds=1)).to_numpy(dtype=float, na_value=np.nan)
    out = []
    for lineno, (row, ts) in enumerate(tqdm(list(zip(rows, seconds, strict=True)), desc=f"MIND {split} behaviors",
                                           unit="rows", disable=None, leave=False), 1):
        impression_id, user, _, history, shown = row
        pairs = [_CANDIDATE.match(tok) for tok in shown.split()]
        if np.isnan(ts) or not impression_id.isdigit() or not user or not pairs or not all(pairs):
            malformed.append(f"{split} row {lineno}")
            continue
        hist = history.split()
        dangling.extend(n for n in hist if n not in known)
        dangling.extend(m.group(1) for m in pairs if m.group(1) not in known)
        kept = [(m.group(1), int(m.group(2))) for m in pairs if m.group(1) in known]
        out.append({"source": split, "impression_id": int(impression_id), "user_id": user, "timestamp": int(ts),
                    "history": [n for n in hist if n in known], "candidates": [c for c, _ in kept],
                    "labels": [label for _, label in kept]})
    return out


def _clicks(rows: list[dict]) -> pd.DataFrame:
    """Click interactions: each user's history before their first impression, then clicked candidates."""
    first: dict[str, int] = {}
    history: dict[str, list[str]] = {}
    for r in rows:  # rows are in time order
        user = r["user_id"]
        first.setdefault(user, r["timestamp"])
        seen = history.setdefault(user, [])
        if not seen:
            seen.extend(r["history"])
        elif r["history"]:
            have = set(seen)
            seen.extend(n for n in r["history"] if n not in have)
    records = []
    for user, items in history.items():
        n = len(items)
        records.extend((user, item, first[user] - n + i, 1.0) for i, item in enumerate(items))
    for r in rows:
        records.extend((r["user_id"], c, r["timestamp"], 1.0) for c, label in zip(r["candidates"], r["labels"], strict=True) if label)
    frame = pd.DataFrame(records, columns=["user_id", "item_id", "timestamp", "rating"])
    return frame.sort_values(["user_id", "timestamp"], kind="stable")


def _impressions(rows: list[dict], dataset: Dataset) -> pd.DataFrame:
    users = pd.Index(dataset.users["user_id"])
    items = pd.Index(dataset.items["item_id"])
    kept = [r for r in rows if r["candidates"]]
    user = users.get_indexer([r["user_id"] for r in kept])

    def indices(ids: list[str]) -> np.ndarray:
        return items.get_indexer(ids).astype(np.int64) if ids else np.zeros(0, dtype=np.int64)

    frame = pd.DataFrame({
        "impression_id": np.array([r["impression_id"] for r in kept], dtype=np.int64),
        "source": [r["source"] for r in kept],
        "user": user.astype(np.int64),
        "timestamp": np.array([r["timestamp"] for r in kept], dtype=np.int64),
        "history": pd.Series([indices(r["history"]) for r in kept], dtype=object),
        "candidates": pd.Series([indices(r["candidates"]) for r in kept], dtype=object),
        "labels": pd.Series([np.array(r["labels"], dtype=np.int64) for r in kept], dtype=object),
    })
    return frame[frame["user"] >= 0].reset_index(drop=True)
