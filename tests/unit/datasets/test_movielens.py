"""MovieLens parsers: the official 100K and latest-small files (from the mirror), and generated 1M files."""

from __future__ import annotations

import numpy as np
import pytest

from xrec_bench.datasets.errors import DanglingReferenceError, MalformedDataError
from xrec_bench.datasets.loader import load_dataset


def test_movielens_100k_over_http(mirror_server):
    ds = load_dataset("movielens-100k", mirror=mirror_server, progress=False, rating_threshold=None)
    assert (ds.stats["raw_interactions"], ds.stats["raw_users"], ds.stats["raw_items"]) == (100000, 943, 1682)
    assert (len(ds.interactions), ds.n_users, ds.n_items) == (100000, 943, 1682)
    toy = ds.items[ds.items["item_id"] == "1"].iloc[0]
    assert (toy["title"], toy["year"]) == ("Toy Story", 1995)
    assert toy["text"] == "Toy Story (1995). Genres: Animation, Children's, Comedy."
    assert ds.items["text"].str.contains("Ã").sum() == 0  # latin-1 decoded, not mojibake
    assert ds.items["text"].str.contains("é").sum() > 0
    assert set(ds.interactions["rating"]) == {1.0, 2.0, 3.0, 4.0, 5.0}
    assert ds.stats["checksum_status"] == dict.fromkeys(ds.checksums, "pinned")


def test_movielens_latest_small_from_mirror_folder(test_mirror):
    ds = load_dataset("movielens-latest-small", mirror=str(test_mirror), progress=False)
    assert (ds.stats["raw_interactions"], ds.stats["raw_users"], ds.stats["raw_items"]) == (100836, 610, 9724)
    # implicit: exactly the ratings >= 4 remain
    assert ds.stats["implicit_interactions"] == len(ds.interactions) == int((ds.interactions["raw_rating"] >= 4).sum())
    assert ds.interactions["raw_rating"].min() >= 4 and set(ds.interactions["rating"]) == {1.0}
    recruit = ds.items[ds.items["title"] == "The Recruit"]
    assert recruit["text"].tolist() == ["The Recruit (2003). Genres: Action, Thriller."]


def test_movielens_1m_generated_files(mirror_folder, formats):
    mirror_folder.put(formats.ML1M_URL, formats.ml1m_zip())
    ds = load_dataset("movielens-1m", mirror=str(mirror_folder.root), progress=False, rating_threshold=None)
    assert (ds.n_users, ds.n_items, len(ds.interactions)) == (3, 5, 9)
    assert ds.stats["checksum_status"] == {
        "ml-1m.zip/ml-1m/ratings.dat": "recorded, not pinned", "ml-1m.zip/ml-1m/movies.dat": "recorded, not pinned"}
    titles = dict(zip(ds.items["item_id"], ds.items["text"], strict=True))
    assert titles["3"] == "The Usual Suspects (1995). Genres: Crime, Thriller."
    assert titles["4"] == "La Cité des enfants perdus (1995). Genres: Adventure, Sci-Fi."
    # sorted by user, then time
    user0 = ds.interactions[ds.interactions["user"] == 0]
    assert np.all(np.diff(user0["timestamp"].to_numpy()) >= 0)
    assert ds.items["item_id"].iloc[user0["item"]].tolist() == ["4", "1", "3", "2"]


def test_movielens_1m_malformed_rows_counted_or_refused(mirror_folder, formats):
    ratings = [*formats.ml1m_ratings, "4::1::5", "", "4::x::5::978300760", "4::2::4::978300761::extra"]
    mirror_folder.put(formats.ML1M_URL, formats.ml1m_zip(ratings=ratings))
    ds = load_dataset("movielens-1m", mirror=str(mirror_folder.root), progress=False, rating_threshold=None)
    assert ds.stats["malformed_rows"] == 3 and len(ds.interactions) == 9
    with pytest.raises(MalformedDataError, match="ratings.dat rows that do not parse: 3 \\(e.g. line 10, line 12, line 13\\).*strict"):
        load_dataset("movielens-1m", mirror=str(mirror_folder.root), progress=False, strict=True)


def test_movielens_1m_ratings_of_unknown_movies_are_dangling(mirror_folder, formats):
    mirror_folder.put(formats.ML1M_URL, formats.ml1m_zip(ratings=[*formats.ml1m_ratings, "1::77::5::978300000"]))
    ds = load_dataset("movielens-1m", mirror=str(mirror_folder.root), progress=False, rating_threshold=None)
    assert ds.stats["dangling_references"] == 1 and "77" not in set(ds.items["item_id"])
    with pytest.raises(DanglingReferenceError, match="missing from the movie table: 1 \\(e.g. 77\\)"):
        load_dataset("movielens-1m", mirror=str(mirror_folder.root), progress=False, strict=True)
