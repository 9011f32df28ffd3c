"""MovieLens parsers: 100K (``u.data``, ``u.item``, ``u.genre``), 1M (``ratings.dat``,
``movies.dat``) and latest-small (``ratings.csv``, ``movies.csv``).

Items: ``item_id`` (MovieLens movie id), ``title`` (without the year, a trailing article moved to the
front: "Usual Suspects, The" -> "The Usual Suspects"), ``year`` (from the title, else from the
100K release date; 0 if unknown), ``genres`` ("A|B"), and ``text`` = "Title (Year). Genres: A, B."
("unknown" / "(no genres listed)" are left out). The 100K and 1M files are latin-1.
Ratings for movies missing from the movie table are dangling references (counted, or refused in
strict mode); rows that do not parse are malformed (likewise): a wrong number of fields, text that
does not decode, or a number out of its range (ids in [0, 2**53], ratings in [0.5, 5], timestamps in
[1970, 2100)), checked before any cast. Ratings are streamed in chunks (memory: the parsed columns
plus one chunk); titles and genres are made plain printable text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from xrec_bench.datasets.errors import DanglingReferenceError
from xrec_bench.datasets.preprocess import index_dataset, refuse_or_count
from xrec_bench.datasets.reading import ID, TIMESTAMP, Number, numeric_columns, read_rows, read_table
from xrec_bench.datasets.schema import Dataset
from xrec_bench.datasets.text import plain_text

#: bump when the parsed output changes for the same files (retires processed-cache entries)
PARSER_VERSION = "2"

_YEAR = re.compile(r"\s*\((\d{4})\)\s*$")
_ARTICLE = re.compile(r"^(?P<rest>.*), (?P<article>The|A|An|Les|La|Le|L'|Il|Das|Der|Die|El)$")
_NO_GENRE = {"unknown", "(no genres listed)"}
_RATING_COLUMNS = {"user_id": ID, "item_id": ID, "rating": Number("float", 0.5, 5), "timestamp": TIMESTAMP}


def parse_100k(card: Any, files: Mapping[str, Path], options: Mapping[str, Any], *, strict: bool = False) -> Dataset:
    stats: dict[str, Any] = {}
    genre_rows, _ = read_rows(files["archive/ml-100k/u.genre"], sep="|", n_fields=2, encoding="latin-1")
    genre_names = {int(i): name for name, i in genre_rows if i.isdigit() and len(i) < 4}
    rows, bad = read_rows(files["archive/ml-100k/u.item"], sep="|", n_fields=5 + len(genre_names), encoding="latin-1")
    refuse_or_count(stats, "malformed_item_rows", len(bad), strict=strict, what="u.item rows that do not parse (24 fields)",
                    examples=[f"line {n}" for n in bad])
    movies = []
    for row in rows:
        genres = [genre_names.get(i, "unknown") for i, flag in enumerate(row[5:]) if flag == "1"]
        release_year = row[2][-4:] if row[2][-4:].isdigit() else ""
        movies.append((row[0], row[1], release_year, "|".join(genres)))
    items = _items(pd.DataFrame(movies, columns=["item_id", "title", "release_year", "genres"]), stats, strict)
    ratings = _ratings(files["archive/ml-100k/u.data"], "\t", "latin-1", stats, strict)
    return _dataset(card, items, ratings, stats, strict)


def parse_1m(card: Any, files: Mapping[str, Path], options: Mapping[str, Any], *, strict: bool = False) -> Dataset:
    stats: dict[str, Any] = {}
    rows, bad = read_rows(files["archive/ml-1m/movies.dat"], sep="::", n_fields=3, encoding="latin-1")
    refuse_or_count(stats, "malformed_item_rows", len(bad), strict=strict, what="movies.dat rows that do not parse (3 fields)",
                    examples=[f"line {n}" for n in bad])
    items = _items(pd.DataFrame(rows, columns=["item_id", "title", "genres"]), stats, strict)
    ratings = _ratings(files["archive/ml-1m/ratings.dat"], "::", "latin-1", stats, strict)
    return _dataset(card, items, ratings, stats, strict)


def parse_latest_small(
    card: Any, files: Mapping[str, Path], options: Mapping[str, Any], *, strict: bool = False
) -> Dataset:
    stats: dict[str, Any] = {}
    rows, bad = read_rows(files["archive/ml-latest-small/movies.csv"], sep=None, n_fields=3, header=True)
    refuse_or_count(stats, "malformed_item_rows", len(bad), strict=strict, what="movies.csv rows that do not parse (3 fields)",
                    examples=[f"line {n}" for n in bad])
    items = _items(pd.DataFrame(rows, columns=["item_id", "title", "genres"]), stats, strict)
    ratings = _ratings(files["archive/ml-latest-small/ratings.csv"], None, "utf-8", stats, strict, header=True)
    return _dataset(card, items, ratings, stats, strict)


def _ratings(path: Path, sep: str | None, encoding: str, stats: dict, strict: bool, header: bool = False) -> pd.DataFrame:
    frame, bad_lines = read_table(path, _RATING_COLUMNS, sep=sep, encoding=encoding, header=header)
    refuse_or_count(
        stats, "malformed_rows", len(bad_lines), strict=strict, what=f"{Path(path).name} rows that do not parse",
        examples=[f"line {n}" for n in bad_lines],
    )
    return frame


def _items(movies: pd.DataFrame, stats: dict, strict: bool) -> pd.DataFrame:
    movies, bad = numeric_columns(movies, {"item_id": ID})
    refuse_or_count(stats, "malformed_item_rows", int(bad.sum()), strict=strict, what="movie rows whose id is not an integer in [0, 2**53]")
    movies = movies.assign(title=[plain_text(t) for t in movies["title"]], genres=[plain_text(g) for g in movies["genres"]])
    duplicated = movies["item_id"].duplicated()
    refuse_or_count(stats, "duplicate_item_rows", int(duplicated.sum()), strict=strict, what="repeated movie ids")
    movies = movies[~duplicated]
    titles, years, texts = [], [], []
    fallback = movies["release_year"] if "release_year" in movies else pd.Series("", index=movies.index)
    for raw, genres, release in zip(movies["title"], movies["genres"], fallback, strict=True):
        match = _YEAR.search(raw)
        year = int(match.group(1)) if match else int(release) if release else 0
        title = _front_article(raw[: match.start()] if match else raw.strip())
        shown = [g for g in genres.split("|") if g and g not in _NO_GENRE]
        head = f"{title} ({year})" if year else title
        titles.append(title)
        years.append(year)
        texts.append(f"{head}. Genres: {', '.join(shown)}." if shown else f"{head}.")
    return pd.DataFrame(
        {"item_id": movies["item_id"].to_numpy(), "title": titles, "year": years, "genres": movies["genres"].to_numpy(), "text": texts}
    )


def field_values(row: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The fields :func:`_items` rendered into an item's text, in order: title, year, each shown genre."""
    out = [("title", str(row["title"]))]
    if row.get("year"):
        out.append(("year", str(row["year"])))
    genres = str(row.get("genres") or "")
    return out + [("genre", g) for g in genres.split("|") if g and g not in _NO_GENRE]


def _front_article(title: str) -> str:
    match = _ARTICLE.match(title.strip())
    if not match:
        return title.strip()
    article = match.group("article")
    return f"{article}{'' if article.endswith(chr(39)) else ' '}{match.group('rest')}"


def _dataset(card: Any, items: pd.DataFrame, ratings: pd.DataFrame, stats: dict, strict: bool) -> Dataset:
    known = ratings["item_id"].isin(items["item_id"])
    missing = ratings.loc[~known, "item_id"].unique()
    refuse_or_count(
        stats, "dangling_references", int((~known).sum()), strict=strict,
        what="ratings of movies missing from the movie table", examples=list(missing), error=DanglingReferenceError,
    )
    items = items.sort_values("item_id", kind="stable")
    return index_dataset(card.name, card.version, items, ratings[known], stats=stats)
