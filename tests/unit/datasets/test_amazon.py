"""Amazon 2018: the pinned Magazine_Subscriptions files (mirror) and a generated second category."""

from __future__ import annotations

import gzip
import json

import pytest

from xrec_bench.datasets.amazon import clean_html
from xrec_bench.datasets.errors import MalformedDataError
from xrec_bench.datasets.loader import load_dataset


def test_clean_html():
    assert clean_html('<span class="a-size-medium a-color-secondary"') == ""
    assert clean_html("Guns &amp; Ammo <b>monthly</b>") == "Guns & Ammo monthly"
    assert clean_html(["<p>One.</p>", "", "Two"]) == "One. Two"
    assert clean_html(None) == ""


def test_magazine_subscriptions_over_http(mirror_server, test_mirror):
    ds = load_dataset("amazon-2018", mirror=mirror_server, progress=False)
    assert (ds.stats["raw_interactions"], ds.stats["raw_users"], ds.stats["raw_items"]) == (2375, 348, 157)
    assert ds.stats["checksum_status"] == {
        "Magazine_Subscriptions_5.json.gz": "pinned", "meta_Magazine_Subscriptions.json.gz": "pinned"}
    meta = test_mirror / "datarepo.eng.ucsd.edu/mcauley_group/data/amazon_v2/metaFiles2/meta_Magazine_Subscriptions.json.gz"
    rows = [json.loads(line) for line in gzip.open(meta)]
    assert ds.stats["duplicate_meta_rows"] == len(rows) - len({r["asin"] for r in rows})
    for column in ("title", "text", "brand", "category", "description"):
        assert not ds.items[column].str.contains("<|&amp;|&quot;", regex=True).any(), column
    assert ds.items["item_id"].is_unique
    reviews = test_mirror / "datarepo.eng.ucsd.edu/mcauley_group/data/amazon_v2/categoryFilesSmall/Magazine_Subscriptions_5.json.gz"
    reviewed = {json.loads(line)["asin"] for line in gzip.open(reviews)}
    assert ds.stats["items_without_metadata"] == len(reviewed - {r["asin"] for r in rows}) == 6
    assert (ds.items["text"].str.len() > 0).all()


def test_second_category_through_the_same_code_path(mirror_folder, formats, serve):
    formats.put_amazon(mirror_folder, "All_Beauty")
    ds = load_dataset("amazon-2018", category="All_Beauty", mirror=serve(mirror_folder.root), progress=False,
                      rating_threshold=None)
    assert ds.stats["checksum_status"] == {
        "All_Beauty_5.json.gz": "recorded, not pinned", "meta_All_Beauty.json.gz": "recorded, not pinned"}
    assert (ds.n_users, ds.n_items, len(ds.interactions)) == (3, 4, 9)
    items = ds.items.set_index("item_id")
    assert items.loc["B0A", "title"] == ""  # the raw title is only a cut-off HTML tag
    assert items.loc["B0A", "text"] == "Brand: Acme & Co. Category: Skin Care & Face. Soft soap. Smells good."
    assert items.loc["B0B", "text"] == 'Shampoo "Pro". Category: All Beauty.'
    assert items.loc["B0C", "title"] == "Brush Set"
    assert (items.loc["B0D", "title"], items.loc["B0D", "text"], items.loc["B0D", "has_metadata"]) == (
        "B0D", "Amazon item B0D.", False)
    assert ds.stats["duplicate_meta_rows"] == 1 and ds.stats["items_without_metadata"] == 1
    assert ds.stats["items_without_title"] == 1


def test_malformed_review_lines_counted_or_refused(mirror_folder, formats):
    reviews = [*formats.amazon_reviews(), "{not json", {"reviewerID": "A9", "asin": "B0A"}]
    formats.put_amazon(mirror_folder, "All_Beauty", reviews=reviews)
    ds = load_dataset("amazon-2018", category="All_Beauty", mirror=str(mirror_folder.root), progress=False,
                      rating_threshold=None)
    assert ds.stats["malformed_rows"] == 2 and len(ds.interactions) == 9
    with pytest.raises(MalformedDataError, match="review lines .*: 2 \\(e.g. line 10, line 11\\)"):
        load_dataset("amazon-2018", category="All_Beauty", mirror=str(mirror_folder.root), progress=False, strict=True)
