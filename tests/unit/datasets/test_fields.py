"""Item-text fields: card validation, locating rendered values, and every shipped dataset's field
function against the text its own parser renders."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import pytest

from xrec_bench.datasets import amazon, mind, movielens
from xrec_bench.datasets.cards import card_from_dict, get_card, list_cards
from xrec_bench.datasets.errors import CardError
from xrec_bench.datasets.fields import FieldsError, item_fields, locate
from xrec_bench.datasets.synthetic import make_synthetic

CARD = {"name": "x", "version": "1", "description": "d", "homepage": "h", "license": "l", "citation": "c",
        "parser": "m:f"}


def test_every_shipped_card_declares_fields_with_an_importable_function():
    for name in list_cards():
        fields = get_card(name).fields
        assert fields["names"], name
        module, _, attr = fields["values"].partition(":")
        assert callable(getattr(__import__(module, fromlist=[attr]), attr)), name


@pytest.mark.parametrize("fields, message", [
    ("title", "must be a table"),
    ({"names": ["title"]}, "values must be 'package.module:function'"),
    ({"names": [], "values": "m:f"}, "non-empty list of lower-case identifiers"),
    ({"names": ["Title"], "values": "m:f"}, "lower-case identifiers"),
    ({"names": ["a", "a"], "values": "m:f"}, "unique"),
    ({"names": ["a"], "values": "m:f", "sep": ","}, "unknown key"),
])
def test_bad_field_tables_are_refused(fields, message):
    with pytest.raises(CardError, match=message):
        card_from_dict({**CARD, "fields": fields})


def test_locate_scans_forward_and_skips_what_is_absent():
    text = "Drama (1995). Genres: Drama, Comedy."
    spans = locate(text, [("title", "Drama"), ("year", "1995"), ("genre", "Drama"), ("genre", "Horror"),
                          ("genre", "Comedy"), ("genre", "")])
    assert [(s.label, text[s.start:s.end]) for s in spans] == [
        ("title: Drama", "Drama"), ("year: 1995", "1995"), ("genre: Drama", "Drama"), ("genre: Comedy", "Comedy")]
    assert spans[2].start == text.index("Genres: ") + len("Genres: ")  # the genre, not the title again


def _all_found(texts, rows, function):
    for text, row in zip(texts, rows, strict=True):
        wanted = [(n, str(v).strip()) for n, v in function(row) if str(v).strip()]
        found = [(s.name, s.value) for s in locate(text, wanted)]
        assert found == wanted, (text, wanted, found)
        assert all(text[s.start:s.end] == s.value for s in locate(text, wanted))


def test_movielens_fields_are_what_the_parser_rendered():
    raw = pd.DataFrame({"item_id": [1, 2, 3], "genres": ["Animation|Children's|Comedy", "unknown", "Drama"],
                        "title": ["Toy Story (1995)", "Bird, The (1999)", "No Year"]})
    items = movielens._items(raw, {}, strict=False)
    rows = items.to_dict("records")
    _all_found(items["text"], rows, movielens.field_values)
    assert [n for n, _ in movielens.field_values(rows[0])] == ["title", "year", "genre", "genre", "genre"]
    assert movielens.field_values(rows[1]) == [("title", "The Bird"), ("year", "1999")]


def test_amazon_fields_are_what_the_parser_rendered():
    rows = [amazon._item("A1", {"title": "Wired", "brand": "Conde", "category": ["Magazines", "Tech", "Gadgets"],
                                "description": "Ideas. Technology."}),
            amazon._item("A2", {"title": "Solo", "category": ["Magazines"]}),
            amazon._item("A3", None)]
    _all_found([r["text"] for r in rows], rows, amazon.field_values)
    assert amazon.field_values(rows[0])[2:4] == [("category", "Tech"), ("category", "Gadgets")]  # as shown
    assert amazon.field_values(rows[2]) == []


def test_mind_fields_are_what_the_parser_rendered():
    row = {"title": "Stocks rally.", "category": "finance", "subcategory": "markets", "abstract": "A good day."}
    text = f"{row['title'].rstrip('.')}. Category: {row['category']}, {row['subcategory']}. {row['abstract']}"
    _all_found([text], [row], mind.field_values)


def test_synthetic_fields_hold_the_planted_cause_word():
    ds = make_synthetic(n_users=50, n_items=60, min_length=4, max_length=8)
    fields = item_fields(ds)
    assert all(len(f) == 3 for f in fields)
    for row in ds.ground_truth.itertuples():
        values = [s.value for s in fields[row.target] if s.name == "keyword"]
        assert row.cause_words[0] in values


def test_a_function_returning_undeclared_fields_is_an_error():
    ds = make_synthetic(n_users=20, n_items=40, min_length=4, max_length=6)
    bad = replace(ds, fields={"names": ["keyword"], "values": "xrec_bench.datasets.synthetic:field_values"})
    with pytest.raises(FieldsError, match="genre"):
        item_fields(bad)
    assert item_fields(replace(ds, fields={})) is None
