"""Amazon Review Data (2018): one category's 5-core reviews plus its item metadata (JSON lines, gzip).

Interactions: ``reviewerID`` x ``asin`` with ``overall`` (1-5) at ``unixReviewTime`` (day resolution,
so many ties; ties keep file order). Items are the asins that occur in the reviews, sorted.

Metadata is cleaned: HTML tags (also a tag cut off at the end of a field, which is how most raw titles
look: ``<span class="a-size-medium a-color-secondary"``) are removed, entities unescaped and
whitespace collapsed; repeated asin rows are dropped (``duplicate_meta_rows``; the first is kept).
Item fields: ``title``, ``brand``, ``category`` (the category path joined with " > "),
``description``, ``has_metadata``; ``text`` = "Title. Brand: X. Category: Y. Description", the root
category left out and empty parts skipped. Decisions for missing data, counted in ``stats``:

* an item without a metadata row (``items_without_metadata``) gets ``title`` = its asin and
  ``text`` = "Amazon item <asin>." so every item still has a non-empty text;
* a title that is empty after cleaning (``items_without_title``) stays empty; the text then starts
  with the brand.

Lines that are not JSON objects with the needed fields are malformed (counted, refused in strict mode).
"""

from __future__ import annotations

import gzip
import html
import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from xrec_bench.datasets.preprocess import index_dataset, refuse_or_count
from xrec_bench.datasets.schema import Dataset

#: bump when the parsed output changes for the same files (retires processed-cache entries)
PARSER_VERSION = "1"

_TAG = re.compile(r"<[^<>]*(?:>|$)")
_SPACE = re.compile(r"\s+")


def clean_html(value: Any) -> str:
    """Text without HTML tags or entities, whitespace collapsed (lists are joined with spaces)."""
    if isinstance(value, list):
        value = " ".join(v for v in value if isinstance(v, str))
    if not isinstance(value, str):
        return ""
    return _SPACE.sub(" ", html.unescape(_TAG.sub(" ", value))).strip()


def parse_2018(card: Any, files: Mapping[str, Path], options: Mapping[str, Any], *, strict: bool = False) -> Dataset:
    stats: dict[str, Any] = {"category": options.get("category")}
    reviews, bad = [], []
    for lineno, row in _json_lines(files["reviews"]):
        try:
            reviews.append((str(row["reviewerID"]), str(row["asin"]), float(row["overall"]), int(row["unixReviewTime"])))
        except (KeyError, TypeError, ValueError):
            bad.append(lineno)
    refuse_or_count(
        stats, "malformed_rows", len(bad), strict=strict, what="review lines that are not JSON objects with "
        "reviewerID, asin, overall, unixReviewTime", examples=[f"line {n}" for n in bad],
    )
    interactions = pd.DataFrame(reviews, columns=["user_id", "item_id", "rating", "timestamp"])
    asins = sorted(interactions["item_id"].unique())
    wanted = set(asins)
    meta: dict[str, dict] = {}
    bad, duplicates, seen = [], 0, set()
    for lineno, row in _json_lines(files["meta"]):
        asin = row.get("asin") if isinstance(row, dict) else None
        if not isinstance(asin, str):
            bad.append(lineno)
        elif asin in seen:
            duplicates += 1
        else:
            seen.add(asin)
            if asin in wanted:
                meta[asin] = row
    refuse_or_count(stats, "malformed_meta_rows", len(bad), strict=strict, what="metadata lines without an asin",
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


def _json_lines(path: Path) -> Iterator[tuple[int, Any]]:
    """(line number, parsed object or None) of each non-blank line of a gzip (or plain) JSON-lines file."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                yield lineno, json.loads(line)
            except json.JSONDecodeError:
                yield lineno, None
