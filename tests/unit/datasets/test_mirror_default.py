"""Which addresses downloads go to when there is, or is not, a mirror (no network is reached: the
HTTP transport is intercepted)."""

from __future__ import annotations

import configparser
from pathlib import Path

import pooch
import pytest
import requests

from xrec_bench import paths
from xrec_bench.datasets.cards import get_card
from xrec_bench.datasets.errors import DownloadError
from xrec_bench.datasets.fetch import fetch_files

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def requested(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every URL the real downloader asks its HTTP transport for; each request fails as if offline."""
    urls: list[str] = []

    def offline(self, url, output_file, pooch_obj, check_only=False):
        urls.append(url)
        raise requests.ConnectionError(f"intercepted: {url}")

    monkeypatch.setattr(pooch.HTTPDownloader, "__call__", offline)
    return urls


def test_a_clone_without_the_workplace_mirror_downloads_from_the_official_urls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, requested: list[str]
):
    # what tox.ini sets in a clone that has no ../shared/mirror beside it
    monkeypatch.setenv("XREC_BENCH_OPTIONAL_MIRROR", str(tmp_path / "shared" / "mirror"))
    assert paths.mirror() is None
    files = get_card("movielens-100k").resolve_files({})
    with pytest.raises(DownloadError, match="official URL"):
        fetch_files(files, progress=False)
    official = [url for f in files for url in f.urls]
    assert official and all(url.startswith("https://files.grouplens.org/") for url in official)
    assert requested == official


def test_the_optional_mirror_is_used_where_it_exists(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    folder = tmp_path / "shared" / "mirror"
    folder.mkdir(parents=True)
    monkeypatch.setenv("XREC_BENCH_OPTIONAL_MIRROR", str(folder))
    assert paths.mirror() == str(folder)
    monkeypatch.setenv("XREC_BENCH_MIRROR", "http://127.0.0.1:9/")  # explicit wins
    assert paths.mirror() == "http://127.0.0.1:9/"


def test_an_explicit_mirror_that_does_not_exist_stays_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, requested: list[str]
):
    monkeypatch.setenv("XREC_BENCH_MIRROR", str(tmp_path / "nowhere"))
    monkeypatch.setenv("XREC_BENCH_OPTIONAL_MIRROR", str(tmp_path))  # exists, but the explicit one wins
    with pytest.raises(DownloadError, match="nowhere.*neither an http\\(s\\) URL nor an existing folder"):
        fetch_files(get_card("movielens-100k").resolve_files({}), progress=False)
    assert requested == []  # nothing was downloaded from anywhere else instead


def test_tox_sets_only_the_optional_mirror():
    """tox.ini must not point XREC_BENCH_MIRROR at a folder most clones lack (issue: `tox -e bench`
    failed at its first download everywhere but in this project's CI workplace)."""
    ini = configparser.ConfigParser(interpolation=None)
    ini.read(REPO / "tox.ini")
    for section in ini.sections():
        set_env = ini[section].get("set_env", "")
        names = [line.split("=", 1)[0].strip() for line in set_env.splitlines() if "=" in line]
        assert "XREC_BENCH_MIRROR" not in names, section
    assert "XREC_BENCH_OPTIONAL_MIRROR" in ini["testenv:bench"]["set_env"]
