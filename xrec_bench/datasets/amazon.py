"""Amazon Review Data (2018): one category's 5-core reviews plus its item metadata (JSON lines, gzip).

Interactions: ``reviewerID`` x ``asin`` with ``overall`` (1-5) at ``unixReviewTime`` (day resolution,
so many ties; ties keep file order). Items are the asins that occur in the reviews, sorted.

Metadata is cleaned (:func:`~xrec_bench.datasets.text.clean_html`): entities unescaped, then HTML tags
(also a tag cut off at the end of a field, which is how most raw titles look:
``<span class="a-size-medium a-color-secondary"``) removed, control characters dropped and whitespace
collapsed, so ``&lt;script&gt;`` never becomes a tag; repeated asin rows are dropped (``duplicate_meta_rows``; the first is kept).
Item fields: ``title``, ``brand``, ``category`` (the category path joined with " > "),
``description``, ``has_metadata``; ``text`` = "Title. Brand: X. Category: Y. Description", the root
category left out and empty parts skipped. Decisions for missing data, counted in ``stats``:

* an item without a metadata row (``items_without_metadata``) gets ``title`` = its asin and
  ``text`` = "Amazon item <asin>." so every item still has a non-empty text;
* a title that is empty after cleaning (``items_without_title``) stays empty; the text then starts
  with the brand.

Lines are malformed (counted, refused in strict mode) when they are not JSON objects with the needed
fields of the needed types: review ``reviewerID`` and ``asin`` printable string ids, ``overall`` a
number in [1, 5], ``unixReviewTime`` an integral number of seconds in [1970, 2100); metadata
``asin`` a string id, ``title``/``brand``/``description`` strings or lists of strings, ``category``
a list of strings. Lines that are not UTF-8, or longer than 16 MiB, are malformed too. Files are
read line by line; only the parsed values are kept.
"""

from __future__ import annotations

import json
from array import array
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from xrec_bench.datasets.preprocess import index_dataset, refuse_or_count
from xrec_bench.datasets.reading import TIMESTAMP, Number, is_id, lines, number
from xrec_bench.datasets.schema import Dataset
from xrec_bench.datasets.text import clean_html

__all__ = ["clean_html", "parse_2018"]

#: bump when the parsed output changes for the same files (retires processed-cache entries)
PARSER_VERSION = "2"

RATING = Number("float", 1, 5)


def parse_2018(card: Any, files: Mapping[str, Path], options: Mapping[str, Any], *, strict: bool = False) -> Dataset:
    stats: dict[str, Any] = {"category": options.get("category")}
    users: list[str] = []
    item_ids: list[str] = []
    ratings, times = array("d"), array("q")
    bad = []
    for lineno, row in _json_lines(files["reviews"]):
        review = _review(row)
        if review is None:
            bad.append(lineno)
            continue
        users.append(review[0])
        item_ids.append(review[1])
        ratings.append(review[2])
        times.append(review[3])
    refuse_or_count(
        stats, "malformed_rows", len(bad), strict=strict, what=f"review lines of {Path(files['reviews']).name} that are "
        "not JSON objects with string ids reviewerID and asin, overall in [1, 5] and unixReviewTime in [1970, 2100)",
        examples=[f"line {n}" for n in bad],
    )
    interactions = pd.DataFrame({"user_id": users, "item_id": item_ids,
                                 "rating": np.frombuffer(ratings, dtype=np.float64),
                                 "timestamp": np.frombuffer(times, dtype=np.int64)})
    del users, item_ids
    asins = sorted(interactions["item_id"].unique())
    wanted = set(asins)
    meta: dict[str, dict] = {}
    bad, duplicates, seen = [], 0, set()
    for lineno, row in _json_lines(files["meta"]):
        asin = row.get("asin") if isinstance(row, dict) else None
        if not is_id(asin) or not _meta_ok(row):
            bad.append(lineno)
        elif asin in seen:
            duplicates += 1
        else:
            seen.add(asin)
            if asin in wanted:
                meta[asin] = row
    refuse_or_count(stats, "malformed_meta_rows", len(bad), strict=strict,
                    what=f"metadata lines of {Path(files['meta']).name} without a string asin, or with "
                    "fields of the wrong type",
                    examples=[f"line {n}" for n in bad])
    stats["duplicate_meta_rows"] = duplicates  # expected in the raw files: counted, never refused
    items = pd.DataFrame([_item(asin, meta.get(asin)) for asin in asins])
    stats["items_without_metadata"] = int((~items["has_metadata"]).sum())
    stats["items_without_title"] = int((items["has_metadata"] & (items["title"] == "")).sum())
    return index_dataset(card.name, card.version, items, interactions, stats=stats)


def _item(asin: str, row: dict | None) -> dict[str, Any]:
    if row is None:
        return {"item_id": asin, "title": asin, "brand": "", "category": "", "description": "",
                "has_metadata": False, "text": f"Amazon item {asin}."}
    title, brand = clean_html(row.get("title")), clean_html(row.get("brand"))
    path = [c for c in (clean_html(c) for c in row.get("category") or []) if c]
    description = clean_html(row.get("description"))
    parts = [title, f"Brand: {brand}" if brand else "", f"Category: {' > '.join(path[1:] or path)}" if path else "",
             description]
    text = ". ".join(p.rstrip(".") if i < 3 else p for i, p in enumerate(parts) if p)
    if text and text[-1] not in ".!?":
        text += "."
    return {"item_id": asin, "title": title, "brand": brand, "category": " > ".join(path), "description": description,
            "has_metadata": True, "text": text or f"Amazon item {asin}."}


def field_values(row: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The fields :func:`_item` rendered into an item's text, in order: title, brand, each category level
    shown (the top level is left out when there are others), description."""
    if not row.get("has_metadata", True):
        return []
    path = [c for c in str(row.get("category") or "").split(" > ") if c]
    out = [("title", str(row.get("title") or "")), ("brand", str(row.get("brand") or ""))]
    out += [("category", c) for c in (path[1:] or path)]
    return out + [("description", str(row.get("description") or ""))]


def _review(row: Any) -> tuple[str, str, float, int] | None:
    if not isinstance(row, dict):
        return None
    user, asin = row.get("reviewerID"), row.get("asin")
    rating, time = number(row.get("overall"), RATING), number(row.get("unixReviewTime"), TIMESTAMP)
    if not (is_id(user) and is_id(asin)) or rating is None or time is None:
        return None
    return user, asin, rating, time


def _meta_ok(row: dict) -> bool:
    """The fields an item is rendered from have the types the format documents (or are absent)."""
    for key in ("title", "brand", "description", "category"):
        value = row.get(key)
        text_ok = key != "category" and isinstance(value, str)
        if not (value is None or text_ok or (isinstance(value, list) and all(isinstance(v, str) for v in value))):
            return False
    return True


def _json_lines(path: Path) -> Iterator[tuple[int, Any]]:
    """(line number, parsed object or None) of each non-blank line of a gzip (or plain) JSON-lines file,
    read one line at a time; a line that is not UTF-8, not JSON, nested too deep or overlong gives None."""
    for lineno, raw in lines(path):
        if raw is not None and not raw.strip():
            continue
        try:
            yield lineno, json.loads(raw.decode("utf-8")) if raw is not None else None
        except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            yield lineno, None
