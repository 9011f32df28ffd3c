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
  Rows that do not parse are malformed (``malformed_rows``, ``malformed_news_rows``): a wrong number
  of fields, text that is not UTF-8, an impression id that is not an integer below 2**53, a user id
  that is empty or has spaces, a time that does not parse or lies outside [1970, 2100), or a
  candidate that is not "N123-0"/"N123-1". Files are read line by line (behaviors in chunks whose
  times are parsed together); text fields are made plain printable text.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import replace
from itertools import islice
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from xrec_bench.datasets.errors import DanglingReferenceError
from xrec_bench.datasets.preprocess import index_dataset, refuse_or_count
from xrec_bench.datasets.reading import ID, TIMESTAMP, in_range, is_id, iter_rows
from xrec_bench.datasets.schema import Dataset
from xrec_bench.datasets.text import plain_text

#: bump when the parsed output changes for the same files (retires processed-cache entries)
PARSER_VERSION = "2"
#: behaviors rows whose times are parsed at once
_CHUNK = 20_000

SPLITS = ("train", "dev")
_TIME_FORMAT = "%m/%d/%Y %I:%M:%S %p"


def parse_small(card: Any, files: Mapping[str, Path], options: Mapping[str, Any], *, strict: bool = False) -> Dataset:
    stats: dict[str, Any] = {}
    items = _news(files, stats, strict)
    position = {news_id: i for i, news_id in enumerate(items["item_id"])}
    rows, dangling, malformed = [], Counter(), []
    for split in SPLITS:
        rows.extend(_behaviors(files[f"{split}/behaviors.tsv"], split, position, dangling, malformed))
    refuse_or_count(stats, "malformed_rows", len(malformed), strict=strict, what="behaviors.tsv rows that do not parse",
                    examples=malformed)
    refuse_or_count(
        stats, "dangling_references", sum(dangling.values()), strict=strict, error=DanglingReferenceError,
        what=f"references in behaviors.tsv to news missing from news.tsv ({len(dangling)} distinct ids)",
        examples=sorted(dangling)[:5],
    )
    stats["dangling_news_ids"] = len(dangling)
    rows.sort(key=lambda r: r.timestamp)  # stable: equal times keep file order (train before dev)
    interactions = _clicks(rows, items["item_id"].to_numpy())
    dataset = index_dataset(card.name, card.version, items, interactions, stats=stats)
    stats["impressions_without_known_news"] = sum(1 for r in rows if not len(r.candidates))
    stats["raw_impressions"] = len(rows)
    return replace(dataset, impressions=_impressions(rows, dataset), stats=stats)


def field_values(row: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The fields :func:`_news` rendered into an item's text, in order: title, category, subcategory, abstract."""
    return [("title", str(row.get("title") or "").rstrip(".")), ("category", str(row.get("category") or "")),
            ("subcategory", str(row.get("subcategory") or "")), ("abstract", str(row.get("abstract") or ""))]


def _news(files: Mapping[str, Path], stats: dict, strict: bool) -> pd.DataFrame:
    news: dict[str, list[str]] = {}
    for split in SPLITS:
        bad = []
        for lineno, row in iter_rows(files[f"{split}/news.tsv"], sep="\t", n_fields=8):
            if row is None or not is_id(row[0]):
                bad.append(lineno)
            elif row[0] not in news:
                news[row[0]] = row[:5]  # the rest (url, entities) is not used: not kept
        refuse_or_count(stats, "malformed_news_rows", len(bad), strict=strict,
                        what=f"{split}/news.tsv rows without 8 tab-separated fields", examples=[f"line {n}" for n in bad])
    ids = sorted(news, key=lambda s: (len(s), s))  # N2 < N10
    records = []
    for news_id in ids:
        _, category, subcategory, title, abstract = (plain_text(v).strip() for v in news[news_id])
        head = f"{title.rstrip('.')}. Category: {category}, {subcategory}."
        records.append({"item_id": news_id, "title": title, "category": category, "subcategory": subcategory,
                        "abstract": abstract, "text": f"{head} {abstract}".strip()})
    return pd.DataFrame(records, columns=["item_id", "title", "category", "subcategory", "abstract", "text"])


class _Row(NamedTuple):
    source: str
    impression_id: int
    user_id: str
    timestamp: int
    history: np.ndarray  # item positions, dangling ids dropped
    candidates: np.ndarray
    labels: np.ndarray


def _chunks(path: Path, malformed: list[str], split: str) -> Iterator[tuple[list[tuple[int, list[str]]], np.ndarray]]:
    """Chunks of (line number, fields) of the good rows of a behaviors file, with each row's time in
    seconds (NaN if it does not parse or is out of range); bad lines go to ``malformed``."""
    def good() -> Iterator[tuple[int, list[str]]]:
        for lineno, row in iter_rows(path, sep="\t", n_fields=5):
            if row is None:
                malformed.append(f"{split} line {lineno}")
            else:
                yield lineno, row

    rows = good()
    while chunk := list(islice(rows, _CHUNK)):
        times = pd.to_datetime(pd.Series([r[2] for _, r in chunk], dtype=object), format=_TIME_FORMAT, errors="coerce")
        seconds = ((times - pd.Timestamp("1970-01-01")) // pd.Timedelta(seconds=1)).to_numpy(dtype=float, na_value=np.nan)
        seconds = np.where(in_range(seconds, TIMESTAMP), seconds, np.nan)
        yield chunk, seconds


def _behaviors(path: Path, split: str, position: dict[str, int], dangling: Counter, malformed: list[str]) -> list[_Row]:
    out = []
    progress = tqdm(desc=f"MIND {split} behaviors", unit="rows", disable=None, leave=False)
    for chunk, seconds in _chunks(path, malformed, split):
        progress.update(len(chunk))
        out.extend(_impressions_of(chunk, seconds, split, position, dangling, malformed))
    progress.close()
    return out


def _impressions_of(chunk: list[tuple[int, list[str]]], seconds: np.ndarray, split: str, position: dict[str, int],
                    dangling: Counter, malformed: list[str]) -> Iterator[_Row]:
    for (lineno, row), ts in zip(chunk, seconds, strict=True):
        impression_id, user, _, history, shown = row
        tokens = shown.split()
        # a candidate is "N123-1" or "N123-0" (faster than a regular expression on millions of tokens)
        if (np.isnan(ts) or not (impression_id.isascii() and impression_id.isdigit()) or len(impression_id) > 16 or int(impression_id) > ID.high
                or not is_id(user) or not tokens
                or not all(len(t) > 2 and t[-2] == "-" and t[-1] in "01" for t in tokens)):
            malformed.append(f"{split} line {lineno}")
            continue
        hist = [position.get(n, -1) for n in history.split()]
        cand = [position.get(t[:-2], -1) for t in tokens]
        if -1 in hist or -1 in cand:
            dangling.update(n for n in history.split() if n not in position)
            dangling.update(t[:-2] for t in tokens if t[:-2] not in position)
        labels = np.fromiter((t[-1] == "1" for t in tokens), dtype=np.int64, count=len(tokens))
        cand_arr = np.asarray(cand, dtype=np.int64)
        keep = cand_arr >= 0
        hist_arr = np.asarray(hist, dtype=np.int64)
        yield _Row(split, int(impression_id), user, int(ts), hist_arr[hist_arr >= 0], cand_arr[keep], labels[keep])


def _clicks(rows: list[_Row], item_ids: np.ndarray) -> pd.DataFrame:
    """Click interactions: each user's history before their first impression, then clicked candidates."""
    first: dict[str, int] = {}
    history: dict[str, list[int]] = {}
    for r in rows:  # rows are in time order
        first.setdefault(r.user_id, r.timestamp)
        seen = history.setdefault(r.user_id, [])
        if not seen:
            seen.extend(r.history.tolist())
        elif len(r.history):
            have = set(seen)
            seen.extend(n for n in r.history.tolist() if n not in have)
    users, items, times = [], [], []
    for user, hist in history.items():
        n = len(hist)
        users += [user] * n
        items += hist
        times += range(first[user] - n, first[user])
    for r in rows:
        clicked = r.candidates[r.labels == 1].tolist()
        users += [r.user_id] * len(clicked)
        items += clicked
        times += [r.timestamp] * len(clicked)
    frame = pd.DataFrame({"user_id": users, "item_id": item_ids[np.asarray(items, dtype=np.int64)],
                          "timestamp": np.asarray(times, dtype=np.int64), "rating": 1.0})
    return frame.sort_values(["user_id", "timestamp"], kind="stable")


def _impressions(rows: list[_Row], dataset: Dataset) -> pd.DataFrame:
    kept = [r for r in rows if len(r.candidates)]
    user = pd.Index(dataset.users["user_id"]).get_indexer([r.user_id for r in kept]).astype(np.int64)
    frame = pd.DataFrame({
        "impression_id": np.array([r.impression_id for r in kept], dtype=np.int64),
        "source": [r.source for r in kept],
        "user": user,
        "timestamp": np.array([r.timestamp for r in kept], dtype=np.int64),
        "history": pd.Series([r.history for r in kept], dtype=object),
        "candidates": pd.Series([r.candidates for r in kept], dtype=object),
        "labels": pd.Series([r.labels for r in kept], dtype=object),
    })
    return frame[frame["user"] >= 0].reset_index(drop=True)
