"""Threat: a file recorded on first use ("tofu") is whatever the server or mirror serves. A small zip
or gzip that inflates to gigabytes, or a runaway download, must be refused before the excess is
written, with a message naming the file, the bound and how to raise it, and nothing left in the cache."""

from __future__ import annotations

import gzip
import os

import pytest

from tests.helpers.hostile import Mirror, card, files_in, fresh_cache, zip_bomb, zip_bytes
from xrec_bench.datasets.cards import DEFAULT_LIMITS, TOFU, get_card
from xrec_bench.datasets.errors import CardError, TooLargeError
from xrec_bench.datasets.fetch import fetch_files, raw_dir
from xrec_bench.datasets.loader import load_dataset

URL = "https://data.example.org/release/v1/data.zip"
GZ_URL = "https://data.example.org/release/v1/reviews.json.gz"


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    return fresh_cache(tmp_path, monkeypatch)


@pytest.fixture
def mirror(tmp_path) -> Mirror:
    return Mirror(tmp_path / "mirror")


def test_zip_bomb_member_is_refused_by_the_ratio_bound_and_nothing_is_kept(mirror, serve):
    bomb = zip_bomb("ml-1m/ratings.dat", 32 * 2**20)  # 32 MiB of zeros in about 32 KB
    assert len(bomb) < 100_000
    mirror.put(URL, bomb)
    files = card([{"name": "archive", "urls": [URL], "members": {"ml-1m/ratings.dat": TOFU}}]).resolve_files({})
    with pytest.raises(TooLargeError) as info:
        fetch_files(files, mirror=serve(mirror.root), progress=False)
    message = str(info.value)
    assert "data.zip/ml-1m/ratings.dat" in message and "max_ratio = 100" in message
    assert "raise max_ratio" in message and "file 'archive' of the dataset card" in message
    assert info.value.file == "data.zip/ml-1m/ratings.dat" and info.value.limit == DEFAULT_LIMITS.max_ratio
    assert files_in(raw_dir()) == []  # no archive, no extracted member, no checksum recorded


def test_the_movielens_1m_card_refuses_a_bomb_in_place_of_its_archive(mirror):
    mirror.put("https://files.grouplens.org/datasets/movielens/ml-1m.zip",
               zip_bytes({"ml-1m/ratings.dat": bytes(32 * 2**20), "ml-1m/movies.dat": b"1::A (1990)::Drama\n"}))
    with pytest.raises(TooLargeError, match="ml-1m.zip/ml-1m/ratings.dat.*max_ratio = 100.*movielens-1m.toml"):
        load_dataset("movielens-1m", mirror=str(mirror.root), progress=False)
    assert files_in(raw_dir()) == []


def test_member_over_max_unpacked_bytes_is_refused_before_extraction(mirror):
    data = os.urandom(200_000)  # incompressible: only the size bound can catch it
    mirror.put(URL, zip_bytes({"d/ratings.dat": data}))
    files = card([{"name": "archive", "urls": [URL], "members": {"d/ratings.dat": TOFU},
                   "max_unpacked_bytes": 100_000}]).resolve_files({})
    with pytest.raises(TooLargeError, match=r"d/ratings.dat.*max_unpacked_bytes = 100000 bytes.*raise max_unpacked_bytes"):
        fetch_files(files, mirror=str(mirror.root), progress=False)
    assert files_in(raw_dir()) == []


@pytest.mark.parametrize("via", ["http", "folder"])
def test_download_over_max_bytes_stops_at_the_bound_and_leaves_nothing(mirror, serve, via):
    mirror.put(URL, zip_bytes({"d/ratings.dat": os.urandom(300_000)}))
    files = card([{"name": "archive", "urls": [URL], "members": {"d/ratings.dat": TOFU},
                   "max_bytes": 100_000}]).resolve_files({})
    source = serve(mirror.root) if via == "http" else str(mirror.root)
    with pytest.raises(TooLargeError, match=r"data.zip.*download is larger than the bound max_bytes = 100000") as info:
        fetch_files(files, mirror=source, progress=False)
    assert info.value.limit == 100_000
    assert files_in(raw_dir()) == []  # pooch's temporary file went too


def test_gzip_bomb_recorded_on_first_use_is_refused_and_deleted(mirror, serve):
    mirror.put(GZ_URL, gzip.compress(b" " * (64 * 2**20)))
    files = card([{"name": "reviews", "urls": [GZ_URL], "sha256": TOFU}],
                 parser="xrec_bench.datasets.amazon:parse_2018").resolve_files({})
    with pytest.raises(TooLargeError, match="reviews.json.gz.*compression ratio over the bound max_ratio"):
        fetch_files(files, mirror=serve(mirror.root), progress=False)
    assert files_in(raw_dir()) == []


def test_genuine_files_are_within_the_shipped_bounds(mirror_server):
    dataset = load_dataset("movielens-100k", mirror=mirror_server, progress=False)
    assert dataset.stats["raw_interactions"] == 100_000


def test_every_shipped_card_bounds_the_size_of_each_file():
    from xrec_bench.datasets.cards import list_cards

    for name in list_cards():
        c = get_card(name)
        for spec, f in zip(c.files, c.resolve_files(c.resolve_options()), strict=True):
            assert "max_bytes" in spec and "max_unpacked_bytes" in spec, (name, f.name)
            assert f.limits.max_bytes <= f.limits.max_unpacked_bytes and f.limits.max_ratio <= 1000


@pytest.mark.parametrize("key, value", [("max_bytes", "64 MiB"), ("max_bytes", True), ("max_unpacked_bytes", 10),
                                        ("max_ratio", 0.5), ("max_ratio", None)])
def test_card_bounds_must_be_numbers_in_range(key, value):
    with pytest.raises(CardError, match=key):
        card([{"name": "archive", "urls": [URL], "members": {"d/x": TOFU}, key: value}])
