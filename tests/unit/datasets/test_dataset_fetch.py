"""Fetching: the real HTTP path (loopback server), mirrors, and every way a download can be bad.
After each failure the cache must hold no file at all (no partial download, no extracted member)."""

from __future__ import annotations

import gzip
import hashlib
import shutil
from pathlib import Path

import pytest

from xrec_bench.datasets.cards import TOFU, get_card
from xrec_bench.datasets.errors import ChecksumMismatchError, CorruptArchiveError, DownloadError
from xrec_bench.datasets.fetch import describe_checksums, fetch_files, known_checksums, raw_dir
from xrec_bench.io import UnsafeArchiveError

URL = "https://data.example.org/release/v1/data.zip"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def files_in(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def test_official_files_download_over_http_and_verify_pinned_members(mirror_server, unused_port):
    card = get_card("movielens-100k")
    files = card.resolve_files(card.resolve_options())
    assert known_checksums(files) is not None  # all pinned: known without any download
    fetched = fetch_files(files, mirror=mirror_server, progress=False)
    by_key = {f.key: f for f in fetched}
    assert set(by_key) == {"archive/ml-100k/u.data", "archive/ml-100k/u.item", "archive/ml-100k/u.genre"}
    for f in fetched:
        assert f.pinned and f.path.is_file()
        assert sha(f.path.read_bytes()) == f.sha256 == card.files[0]["members"][f.source.split("/", 1)[1]]
    assert (raw_dir() / "files.grouplens.org/datasets/movielens/ml-100k.zip").is_file()
    # a second fetch uses the cache: a dead mirror is never asked
    again = fetch_files(files, mirror=f"http://127.0.0.1:{unused_port}", progress=False)
    assert [f.path for f in again] == [f.path for f in fetched]


def test_plain_file_checksum_mismatch_names_file_expected_got_and_deletes(make_card, mirror_folder, serve):
    mirror_folder.put("https://data.example.org/a/ratings.csv", b"user,item\n1,2\n")
    wrong = sha(b"something else")
    card = make_card([{"name": "ratings", "urls": ["https://data.example.org/a/ratings.csv"], "sha256": wrong}])
    with pytest.raises(ChecksumMismatchError) as info:
        fetch_files(card.resolve_files({}), mirror=serve(mirror_folder.root), progress=False)
    message = str(info.value)
    assert "ratings.csv" in message and wrong in message and sha(b"user,item\n1,2\n") in message
    assert info.value.got == sha(b"user,item\n1,2\n") and info.value.expected == wrong
    assert "deleted" in message
    assert files_in(raw_dir()) == []


def test_zip_member_checksum_mismatch_deletes_archive(make_card, mirror_folder, formats):
    mirror_folder.put_zip(URL, {"d/ratings.dat": b"1::2::3::4\n", "d/movies.dat": b"2::A (1990)::Drama\n"})
    card = make_card([{"name": "archive", "urls": [URL],
                       "members": {"d/ratings.dat": sha(b"1::2::3::4\n"), "d/movies.dat": "0" * 64}}])
    with pytest.raises(ChecksumMismatchError, match="data.zip/d/movies.dat.*expected sha256 0{64}.*got [0-9a-f]{64}"):
        fetch_files(card.resolve_files({}), mirror=str(mirror_folder.root), progress=False)
    assert files_in(raw_dir()) == []


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_truncated_or_corrupt_zip_leaves_nothing(make_card, mirror_folder, formats, damage):
    data = formats.zip_bytes({"d/ratings.dat": b"1::2::3::4\n" * 2000})
    data = data[: len(data) // 2] if damage == "truncate" else data[:100] + bytes(b ^ 0xFF for b in data[100:140]) + data[140:]
    mirror_folder.put(URL, data)
    card = make_card([{"name": "archive", "urls": [URL], "members": {"d/ratings.dat": TOFU}}])
    with pytest.raises(CorruptArchiveError, match="data.zip .*truncated or corrupt.*deleted"):
        fetch_files(card.resolve_files({}), mirror=str(mirror_folder.root), progress=False)
    assert files_in(raw_dir()) == []


def test_truncated_gzip_recorded_on_first_use_is_refused(make_card, mirror_folder):
    data = gzip.compress(b'{"a": 1}\n' * 5000)
    url = "https://data.example.org/r/reviews.json.gz"
    mirror_folder.put(url, data[: len(data) - 20])
    card = make_card([{"name": "reviews", "urls": [url], "sha256": TOFU}])
    with pytest.raises(CorruptArchiveError, match="reviews.json.gz .*truncated or corrupt"):
        fetch_files(card.resolve_files({}), mirror=str(mirror_folder.root), progress=False)
    assert files_in(raw_dir()) == []  # neither the file nor a recorded checksum


def test_zip_with_path_traversal_member_is_refused(make_card, mirror_folder, formats, tmp_path):
    mirror_folder.put_zip(URL, {"d/ratings.dat": b"1::2::3::4\n", "../../../evil.txt": b"owned"})
    card = make_card([{"name": "archive", "urls": [URL], "members": {"d/ratings.dat": TOFU}}])
    with pytest.raises(UnsafeArchiveError, match="evil.txt.*outside"):
        fetch_files(card.resolve_files({}), mirror=str(mirror_folder.root), progress=False)
    assert files_in(raw_dir()) == []
    assert not list(tmp_path.rglob("evil.txt"))


def test_zip_missing_a_member_is_refused(make_card, mirror_folder):
    mirror_folder.put_zip(URL, {"d/other.dat": b"x"})
    card = make_card([{"name": "archive", "urls": [URL], "members": {"d/ratings.dat": TOFU}}])
    with pytest.raises(CorruptArchiveError, match="lacks member.*d/ratings.dat"):
        fetch_files(card.resolve_files({}), mirror=str(mirror_folder.root), progress=False)
    assert files_in(raw_dir()) == []


def test_offline_without_mirror_names_the_url_and_the_mirror_setting(make_card, unused_port):
    url = f"http://127.0.0.1:{unused_port}/datasets/data.zip"
    card = make_card([{"name": "archive", "urls": [url], "members": {"d/ratings.dat": TOFU}}])
    with pytest.raises(DownloadError) as info:
        fetch_files(card.resolve_files({}), progress=False)
    message = str(info.value)
    assert url in message and "XREC_BENCH_MIRROR" in message and "--mirror" in message
    assert files_in(raw_dir()) == []


def test_mirror_folder_without_the_file_and_missing_mirror_folder(make_card, mirror_folder, tmp_path):
    (mirror_folder.root).mkdir(parents=True)
    card = make_card([{"name": "archive", "urls": [URL], "members": {"d/ratings.dat": TOFU}}])
    with pytest.raises(DownloadError, match="data.example.org/release/v1/data.zip.*not in the mirror"):
        fetch_files(card.resolve_files({}), mirror=str(mirror_folder.root), progress=False)
    with pytest.raises(DownloadError, match="neither an http\\(s\\) URL nor an existing folder"):
        fetch_files(card.resolve_files({}), mirror=str(tmp_path / "nowhere"), progress=False)


def test_falls_back_to_the_next_official_url(make_card, mirror_folder, serve):
    second = "https://mirror.example.net/pub/data.zip"
    mirror_folder.put_zip(second, {"d/ratings.dat": b"1::2::3::4\n"})
    card = make_card([{"name": "archive", "urls": [URL, second], "members": {"d/ratings.dat": TOFU}}])
    (fetched,) = fetch_files(card.resolve_files({}), mirror=serve(mirror_folder.root), progress=False)
    assert fetched.path.read_bytes() == b"1::2::3::4\n"
    # cached under the first official URL's HOST/PATH whichever URL answered
    assert (raw_dir() / "data.example.org/release/v1/data.zip").is_file()


def test_recorded_on_first_use_then_verified(make_card, mirror_folder, formats):
    mirror_folder.put(formats.ML1M_URL, formats.ml1m_zip())
    card = make_card([{"name": "archive", "urls": [formats.ML1M_URL],
                       "members": {"ml-1m/ratings.dat": TOFU, "ml-1m/movies.dat": TOFU}}])
    files = card.resolve_files({})
    assert known_checksums(files) is None
    assert {d["status"] for d in describe_checksums(files)} == {"not pinned, recorded on first download"}
    mirror = f"file://{mirror_folder.root}"
    fetched = fetch_files(files, mirror=mirror, progress=False)
    assert {f.pinned for f in fetched} == {False}
    ratings = next(f for f in fetched if f.key == "archive/ml-1m/ratings.dat")
    assert ratings.sha256 == sha(("\n".join(formats.ml1m_ratings) + "\n").encode("latin-1"))
    assert known_checksums(files)["ml-1m.zip/ml-1m/ratings.dat"] == (ratings.sha256, False)
    assert {d["status"] for d in describe_checksums(files)} == {"recorded, not pinned"}
    # the publisher's file changes: the re-download no longer matches what was recorded
    archive = raw_dir() / "files.grouplens.org/datasets/movielens/ml-1m.zip"
    archive.unlink()
    shutil.rmtree(archive.with_name("ml-1m.zip.d"))  # only the recorded checksums stay
    mirror_folder.put(formats.ML1M_URL, formats.ml1m_zip(ratings=formats.ml1m_ratings[:-1]))
    with pytest.raises(ChecksumMismatchError, match="ml-1m.zip/ml-1m/ratings.dat.*recorded on its first download"):
        fetch_files(files, mirror=mirror, progress=False)
    assert not archive.exists() and not archive.with_name("ml-1m.zip.d").exists()
