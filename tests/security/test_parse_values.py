"""Threat: a source file (recorded on first use, or from a careless mirror) holds values crafted to crash
the parser or to corrupt the data silently. Each bad row must be counted like any malformed row, or
refused in strict mode by a ``MalformedDataError`` naming file and line, and never reach the arrays."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from tests.helpers.hostile import Mirror, card, fresh_cache
from xrec_bench.datasets import reading
from xrec_bench.datasets.amazon import parse_2018
from xrec_bench.datasets.cards import TOFU, get_card
from xrec_bench.datasets.errors import MalformedDataError
from xrec_bench.datasets.loader import load_dataset
from xrec_bench.datasets.mind import parse_small
from xrec_bench.datasets.movielens import parse_1m, parse_latest_small

ML_MOVIES = b"1::Toy Story (1995)::Animation\n2::Heat (1995)::Action\n"
GOOD = [b"1::1::5::978300760", b"1::2::4::978302109", b"2::1::3::978298709"]


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    return fresh_cache(tmp_path, monkeypatch)


def ml1m(tmp_path: Path, bad: bytes, *, strict: bool = False):
    ratings = tmp_path / "ratings.dat"
    ratings.write_bytes(b"\n".join(GOOD[:2] + [bad] + GOOD[2:]) + b"\n")  # the bad row is line 3
    movies = tmp_path / "movies.dat"
    movies.write_bytes(ML_MOVIES)
    files = {"archive/ml-1m/ratings.dat": ratings, "archive/ml-1m/movies.dat": movies}
    return parse_1m(get_card("movielens-1m"), files, {}, strict=strict)


@pytest.mark.parametrize("bad", [
    b"1::2::4::100000000000000000000",  # 10^20: was cast to INT64_MIN, moving the item first in the history
    b"1::2::4::-5",  # before 1970
    b"1::2::4::5000000000",  # after 2100
    b"1::2::4::97830.5",  # not a whole second
    b"1::2::nan::978300760",  # NaN rating
    b"1::2::inf::978300760",
    b"1::2::9::978300760",  # outside 0.5-5
    b"1::1e30::4::978300760",  # an id that does not fit
    b"-1::2::4::978300760",
    b"1::2::4",  # missing field
])
def test_movielens_value_out_of_range_is_a_counted_malformed_row(tmp_path, bad):
    dataset = ml1m(tmp_path, bad)
    assert dataset.stats["malformed_rows"] == 1
    inter = dataset.interactions
    assert len(inter) == 3
    assert inter["timestamp"].between(0, 4_102_444_800).all() and np.isfinite(inter["rating"]).all()
    assert inter["rating"].between(0.5, 5).all()


def test_movielens_strict_mode_refuses_naming_file_and_line(tmp_path):
    with pytest.raises(MalformedDataError, match=r"ratings.dat rows that do not parse: 1 \(e.g. line 3\).*Strict"):
        ml1m(tmp_path, b"1::2::4::100000000000000000000", strict=True)


def test_invalid_utf8_in_a_utf8_csv_is_a_malformed_row(tmp_path):
    ratings = tmp_path / "ratings.csv"
    ratings.write_bytes(b"userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,\xff\xfe,4.0,964981247\n2,1,5.0,964982224\n")
    movies = tmp_path / "movies.csv"
    movies.write_bytes(b'movieId,title,genres\n1,"Toy Story (1995)",Animation\n2,\xc3\x28 (1990),Drama\n')
    files = {"archive/ml-latest-small/ratings.csv": ratings, "archive/ml-latest-small/movies.csv": movies}
    dataset = parse_latest_small(get_card("movielens-latest-small"), files, {})
    assert dataset.stats["malformed_rows"] == 1 and dataset.stats["malformed_item_rows"] == 1
    assert len(dataset.interactions) == 2
    with pytest.raises(MalformedDataError, match="movies.csv rows that do not parse .*: 1 \\(e.g. line 3\\)"):
        parse_latest_small(get_card("movielens-latest-small"), files, {}, strict=True)
    movies.write_bytes(b'movieId,title,genres\n1,"Toy Story (1995)",Animation\n')
    with pytest.raises(MalformedDataError, match="ratings.csv rows that do not parse: 1 \\(e.g. line 3\\)"):
        parse_latest_small(get_card("movielens-latest-small"), files, {}, strict=True)


REVIEW = {"reviewerID": "A1", "asin": "B01", "overall": 5.0, "unixReviewTime": 1_500_000_000}
META = {"asin": "B01", "title": "Good", "brand": "Acme", "category": ["Books", "Maps"], "description": ["Fine."]}


def amazon(tmp_path: Path, reviews: list, meta: list, *, strict: bool = False):
    def gz(name: str, rows: list) -> Path:
        path = tmp_path / name
        path.write_bytes(gzip.compress(b"".join((r if isinstance(r, bytes) else json.dumps(r).encode()) + b"\n"
                                                for r in rows)))
        return path

    files = {"reviews": gz("Books_5.json.gz", reviews), "meta": gz("meta_Books.json.gz", meta)}
    return parse_2018(get_card("amazon-2018"), files, {"category": "Books"}, strict=strict)


@pytest.mark.parametrize("bad", [
    {**REVIEW, "unixReviewTime": 1e300},  # was OverflowError
    {**REVIEW, "unixReviewTime": 10**20},
    {**REVIEW, "unixReviewTime": "soon"},
    {**REVIEW, "overall": float("nan")},  # json writes NaN, json.loads reads it back
    {**REVIEW, "overall": 7},
    {**REVIEW, "overall": True},
    {**REVIEW, "asin": {"a": 1}},  # was turned into the item id "{'a': 1}"
    {**REVIEW, "asin": ""},
    {**REVIEW, "reviewerID": ["A1"]},
    {k: v for k, v in REVIEW.items() if k != "overall"},
    [REVIEW],
    b'{"reviewerID": "A1", "asin": "B\xff\xfe", "overall": 5.0, "unixReviewTime": 1500000000}',  # not UTF-8
    b"[" * 100_000 + b"]" * 100_000,  # nesting deeper than the JSON decoder's recursion
    b"{not json",
])
def test_amazon_bad_review_is_a_counted_malformed_row(tmp_path, bad):
    reviews = [{**REVIEW, "reviewerID": "A0"}, bad, {**REVIEW, "reviewerID": "A2", "unixReviewTime": 1_500_086_400}]
    dataset = amazon(tmp_path, reviews, [META])
    assert dataset.stats["malformed_rows"] == 1
    assert dataset.items["item_id"].tolist() == ["B01"] and dataset.users["user_id"].tolist() == ["A0", "A2"]
    assert dataset.interactions["timestamp"].tolist() == [1_500_000_000, 1_500_086_400]
    with pytest.raises(MalformedDataError, match=r"review lines of Books_5.json.gz .*: 1 \(e.g. line 2\)"):
        amazon(tmp_path, reviews, [META], strict=True)


@pytest.mark.parametrize("field, value", [("category", 5), ("category", "Books"), ("title", {"x": 1}),
                                          ("description", [1, 2]), ("brand", 3.5), ("asin", {"a": 1})])
def test_amazon_metadata_of_the_wrong_type_is_a_counted_malformed_row(tmp_path, field, value):
    dataset = amazon(tmp_path, [REVIEW], [{**META, field: value}])  # was TypeError (category 5)
    assert dataset.stats["malformed_meta_rows"] == 1
    item = dataset.items.iloc[0]
    assert item["item_id"] == "B01" and not item["has_metadata"] and item["text"] == "Amazon item B01."
    with pytest.raises(MalformedDataError, match=r"metadata lines of meta_Books.json.gz .*: 1 \(e.g. line 1\)"):
        amazon(tmp_path, [REVIEW], [{**META, field: value}], strict=True)


def test_overlong_line_is_skipped_as_malformed_and_the_next_lines_still_parse(tmp_path, monkeypatch):
    monkeypatch.setattr(reading, "MAX_LINE", 1024)
    long = json.dumps({**REVIEW, "reviewText": "x" * 5000}).encode()
    dataset = amazon(tmp_path, [long, REVIEW], [META])
    assert dataset.stats["malformed_rows"] == 1 and len(dataset.interactions) == 1


def test_truncated_gzip_names_file_and_line(tmp_path):
    path = tmp_path / "Books_5.json.gz"
    path.write_bytes(gzip.compress(b"".join(json.dumps(REVIEW).encode() + b"\n" for _ in range(20000)))[:3000])
    meta = tmp_path / "meta_Books.json.gz"
    meta.write_bytes(gzip.compress(json.dumps(META).encode()))
    with pytest.raises(MalformedDataError, match=r"Books_5.json.gz: cannot be read past line \d+ .*truncated") as info:
        parse_2018(get_card("amazon-2018"), {"reviews": path, "meta": meta}, {"category": "Books"})
    assert info.value.file == "Books_5.json.gz" and info.value.line > 0


def news(news_id: str, title: str) -> str:
    return "\t".join([news_id, "sports", "sportsub", title, "", "https://x", "[]", "[]"])


@pytest.mark.parametrize("bad", [
    b"99999999999999999999999\tU2\t11/12/2019 3:00:00 PM\tN1\tN2-1",  # impression id: was OverflowError
    "\u00b2\tU2\t11/12/2019 3:00:00 PM\tN1\tN2-1".encode(),  # a Unicode digit int() refuses
    b"7\tU2\t11/12/2199 3:00:00 PM\tN1\tN2-1",  # after 2100
    b"7\tU2\tyesterday\tN1\tN2-1",
    b"7\t\tU2 \t11/12/2019 3:00:00 PM\tN1\tN2-1",
    b"7\tU\xff2\t11/12/2019 3:00:00 PM\tN1\tN2-1",  # not UTF-8
    b"7\tU2\t11/12/2019 3:00:00 PM\tN1\tN2-7",
])
def test_mind_bad_behaviors_row_is_counted(tmp_path, bad):
    def write(name: str, data: bytes) -> Path:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
        return tmp_path / name

    news_tsv = ("\n".join([news("N1", "One"), news("N2", "Two")]) + "\n").encode()
    good = b"1\tU1\t11/11/2019 9:05:58 AM\tN1\tN2-1"
    files = {}
    for split in ("train", "dev"):
        files[f"{split}/news.tsv"] = write(f"{split}/news.tsv", news_tsv)
        rows = [good, bad] if split == "train" else [good]
        files[f"{split}/behaviors.tsv"] = write(f"{split}/behaviors.tsv", b"\n".join(rows) + b"\n")
    dataset = parse_small(get_card("mind-small"), files, {})
    assert dataset.stats["malformed_rows"] == 1 and dataset.stats["raw_impressions"] == 2
    with pytest.raises(MalformedDataError, match=r"behaviors.tsv rows that do not parse: 1 \(e.g. train line 2\)"):
        parse_small(get_card("mind-small"), files, {}, strict=True)


def broken_parser(card, files, options):
    """A parser with a bug: it indexes past the fields of its third line."""
    for lineno, raw in reading.lines(files["data"]):
        if lineno == 3:
            return raw.split(b",")[7]
    return None


def test_an_error_the_parser_did_not_handle_becomes_a_dataset_error_naming_file_and_line(tmp_path):
    url = "https://data.example.org/v1/table.csv"
    mirror = Mirror(tmp_path / "mirror")
    mirror.put(url, b"a,b\n1,2\n3,4\n5,6\n")
    broken = card([{"name": "data", "urls": [url], "sha256": TOFU}], parser=f"{__name__}:broken_parser")
    with pytest.raises(MalformedDataError, match=r"could not be parsed \(the last line read: table.csv, line 3\): "
                                                 r"IndexError") as info:
        load_dataset(broken, mirror=str(mirror.root), progress=False)
    assert info.value.file == "table.csv" and info.value.line == 3
