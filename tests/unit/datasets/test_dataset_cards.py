"""Rules over the shipped dataset cards, and the card validator's refusals."""

from __future__ import annotations

import importlib.util

import pytest

from xrec_bench.datasets.cards import TOFU, card_from_dict, cards_dir, get_card, list_cards, load_card
from xrec_bench.datasets.errors import CardError
from xrec_bench.registry import UnknownNameError


def test_every_card_file_is_registered():
    """The registry is the cards folder: every card file under its own name (and nothing else built in)."""
    shipped = {p.stem for p in cards_dir().glob("*.toml")}
    assert shipped and shipped <= set(list_cards())


@pytest.mark.parametrize("name", list_cards())
def test_every_card_is_licensed_cited_and_checksummed(name):
    card = get_card(name)
    assert card.license and card.citation and card.homepage
    options = card.resolve_options()
    for f in card.resolve_files(options):
        assert all(u.startswith("https://") for u in f.urls)
        raw = next(spec for spec in card.files if spec["name"] == f.name)
        values = raw["members"].values() if f.is_zip else [raw["sha256"]] if isinstance(raw["sha256"], str) else raw[
            "sha256"].values()
        assert all(v == TOFU or len(v) == 64 for v in values)
    module = card.parser.partition(":")[0]
    if name != "synthetic" or importlib.util.find_spec(module) is not None:
        assert importlib.util.find_spec(module) is not None, card.parser


def test_pinned_cards_pin_every_member_they_read():
    for name in ("movielens-100k", "movielens-latest-small", "amazon-2018"):
        assert get_card(name).fully_pinned, name
    for name in ("movielens-1m", "mind-small"):
        assert not get_card(name).fully_pinned, name  # not available here: recorded on first download


def test_amazon_category_pins_only_the_pinned_category():
    card = get_card("amazon-2018")
    pinned = card.resolve_files(card.resolve_options())
    assert [f.sha256 is not None for f in pinned] == [True, True]
    assert pinned[0].urls[0].endswith("categoryFilesSmall/Magazine_Subscriptions_5.json.gz")
    other = card.resolve_files(card.resolve_options({"category": "All_Beauty"}))
    assert [f.sha256 for f in other] == [None, None]
    assert other[1].urls[0].endswith("metaFiles2/meta_All_Beauty.json.gz")


def test_unknown_dataset_name_gets_did_you_mean():
    with pytest.raises(UnknownNameError, match="Did you mean: movielens-100k"):
        get_card("movielens-100")


def _card(**changes):
    data = {
        "name": "x", "version": "1", "description": "d", "homepage": "h", "license": "l", "citation": "c",
        "parser": "m:f", "files": [{"name": "a", "urls": ["https://h.org/a.csv"], "sha256": TOFU}],
    }
    data.update(changes)
    return data


def test_unknown_keys_are_refused():
    with pytest.raises(CardError, match="unknown key.*checksum"):
        card_from_dict(_card(checksum="abc"))
    with pytest.raises(CardError, match="unknown key.*sha265"):
        card_from_dict(_card(files=[{"name": "a", "urls": ["https://h.org/a"], "sha265": TOFU}]))


@pytest.mark.parametrize(
    "files, options, message",
    [
        ([{"name": "a", "urls": ["https://h.org/a"]}], {}, "exactly one of sha256"),
        ([{"name": "a", "urls": ["https://h.org/a"], "sha256": "abc"}], {}, "64 lowercase hex"),
        ([{"name": "a", "urls": ["https://h.org/a.zip"], "members": {"m": ""}}], {}, "64 lowercase hex"),
        ([{"name": "a", "urls": ["ftp://h.org/a"], "sha256": TOFU}], {}, "must be http"),
        ([{"name": "a", "urls": ["https://h.org/{cat}"], "sha256": TOFU}], {}, "not in \\[options\\]"),
        ([{"name": "a", "urls": ["https://h.org/{cat}"], "sha256": {"x": TOFU}}], {"cat": "c"}, "'\\*' entry"),
    ],
)
def test_unpinned_or_malformed_files_are_refused(files, options, message):
    with pytest.raises(CardError, match=message):
        card_from_dict(_card(files=files, options=options))


def test_card_name_must_match_file_name(tmp_path):
    path = tmp_path / "other.toml"
    path.write_text(
        'name = "x"\nversion = "1"\ndescription = "d"\nhomepage = "h"\nlicense = "l"\ncitation = "c"\nparser = "m:f"\n'
    )
    with pytest.raises(CardError, match="must equal the file name 'other'"):
        load_card(path)


def test_options_are_checked():
    card = get_card("amazon-2018")
    with pytest.raises(CardError, match="unknown option.*categry.*accepts: category, kcore, rating_threshold"):
        card.resolve_options({"categry": "Books"})
    with pytest.raises(CardError, match="cannot go into a URL"):
        card.resolve_files(card.resolve_options({"category": "../../etc"}))
    with pytest.raises(CardError, match="kcore must be an int >= 0"):
        card.resolve_options({"kcore": -1})
    with pytest.raises(CardError, match="rating_threshold must be a number"):
        card.resolve_options({"rating_threshold": "4"})
    with pytest.raises(CardError, match="category must be a str"):
        card.resolve_options({"category": 3})
    assert card.resolve_options({"rating_threshold": None})["rating_threshold"] is None


def test_cards_live_in_the_repository_datasets_folder():
    assert cards_dir().name == "datasets"
    assert sorted(p.stem for p in cards_dir().glob("*.toml")) == list_cards()
