"""Threat: item text from a source file is shown by ``explain``, put into HTML and read by models. Markup
(also markup hidden in entities), terminal escapes and invisible control or bidi characters must not
survive parsing: item text is plain, printable text."""

from __future__ import annotations

import gzip
import json

import pytest

from tests.helpers.hostile import fresh_cache
from xrec_bench.datasets.amazon import parse_2018
from xrec_bench.datasets.cards import get_card
from xrec_bench.datasets.mind import parse_small
from xrec_bench.datasets.movielens import parse_1m
from xrec_bench.datasets.text import clean_html, plain_text


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    return fresh_cache(tmp_path, monkeypatch)


@pytest.mark.parametrize("raw", [
    "&lt;script&gt;alert(1)&lt;/script&gt;",  # was unescaped after stripping: a live <script>
    "<<script>script>alert(1)<</script>/script>",  # nested: one pass of stripping reassembles a tag
    "&lt;<b>img</b> src=x onerror=alert(1)&gt;",
    "&#60;iframe src=javascript:alert(1)&#62;",
    "&amp;lt;script&amp;gt;",  # double-encoded: decodes to the text "&lt;script&gt;", not a tag
])
def test_markup_never_survives_clean_html(raw):
    text = clean_html(raw)
    assert "<" not in text.replace("< ", "") and "<script" not in text.lower() and "<iframe" not in text.lower()
    assert text.isprintable()


def test_clean_html_keeps_the_text_and_drops_controls():
    assert clean_html("Guns &amp; Ammo <b>monthly</b>") == "Guns & Ammo monthly"
    assert clean_html("&lt;b&gt;Bold&lt;/b&gt; title") == "Bold title"
    assert clean_html("Red\x1b[31m alert\x07\x00 here\u202eevil") == "Red[31m alert hereevil"
    assert clean_html("tab\tand\nline&nbsp;break") == "tab and line break"
    assert clean_html(["<p>One.</p>", 5, "Two"]) == "One. Two"
    assert clean_html({"title": "x"}) == ""


def test_plain_text_leaves_printable_text_alone():
    for text in ("Cité des enfants perdus", "東京物語", "Amélie (2001)", "a < b > c"):
        assert plain_text(text) == text
    assert plain_text("a\x1b]0;owned\x07b\u200bc\ufeff") == "a]0;ownedbc"


def test_amazon_items_from_hostile_metadata_are_plain_printable_text(tmp_path):
    reviews = tmp_path / "Books_5.json.gz"
    reviews.write_bytes(gzip.compress(json.dumps(
        {"reviewerID": "A1", "asin": "B01", "overall": 5.0, "unixReviewTime": 1_500_000_000}).encode() + b"\n"))
    meta = tmp_path / "meta_Books.json.gz"
    meta.write_bytes(gzip.compress(json.dumps({
        "asin": "B01", "title": "&lt;script&gt;steal()&lt;/script&gt;Atlas\x1b[2J", "brand": "Acme\u202e",
        "category": ["Books", "&lt;img src=x onerror=alert(1)&gt;Maps"], "description": ["\x00Fine &amp; dandy."],
    }).encode() + b"\n"))
    dataset = parse_2018(get_card("amazon-2018"), {"reviews": reviews, "meta": meta}, {"category": "Books"})
    item = dataset.items.iloc[0]
    assert item["title"] == "steal() Atlas[2J"
    assert item["text"] == "steal() Atlas[2J. Brand: Acme. Category: Maps. Fine & dandy."
    for column in ("title", "brand", "category", "description", "text"):
        assert "<" not in item[column] and item[column].isprintable()


def test_movielens_and_mind_text_is_printable(tmp_path):
    (tmp_path / "ratings.dat").write_bytes(b"1::1::5::978300760\n")
    (tmp_path / "movies.dat").write_bytes(b"1::Toy\x1b[31m Story\x85 (1995)::Animation\x07|Comedy\n")
    files = {"archive/ml-1m/ratings.dat": tmp_path / "ratings.dat", "archive/ml-1m/movies.dat": tmp_path / "movies.dat"}
    item = parse_1m(get_card("movielens-1m"), files, {}).items.iloc[0]
    assert item["text"] == "Toy[31m Story (1995). Genres: Animation, Comedy."
    news = "\t".join(["N1", "sports\x1b", "golf", "Title\u202e here\x00", "An\x0babstract\u200b.", "https://x", "[]", "[]"])
    behaviors = "1\tU1\t11/11/2019 9:05:58 AM\t\tN1-1"
    files = {}
    for split in ("train", "dev"):
        for name, text in (("news.tsv", news), ("behaviors.tsv", behaviors)):
            path = tmp_path / split / name
            path.parent.mkdir(exist_ok=True)
            path.write_text(text + "\n", encoding="utf-8")
            files[f"{split}/{name}"] = path
    dataset = parse_small(get_card("mind-small"), files, {})
    row = dataset.items.iloc[0]
    assert row["text"] == "Title here. Category: sports, golf. An abstract."
    assert all(dataset.items[c].map(str.isprintable).all() for c in ("title", "category", "subcategory", "abstract"))
