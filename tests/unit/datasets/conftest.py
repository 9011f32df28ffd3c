"""Fixtures of the dataset tests: a fresh data cache per test, and small files of the official formats
(MovieLens 1M, MIND-small, an Amazon 2018 category) laid out as ``HOST/PATH`` of their official URLs."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.helpers.hostile import Mirror, fresh_cache, zip_bytes
from xrec_bench.datasets.cards import Card, card_from_dict

ML1M_URL = "https://files.grouplens.org/datasets/movielens/ml-1m.zip"
MIND_URLS = {
    "train": "https://mind201910small.blob.core.windows.net/release/MINDsmall_train.zip",
    "dev": "https://mind201910small.blob.core.windows.net/release/MINDsmall_dev.zip",
}
AMAZON = "https://datarepo.eng.ucsd.edu/mcauley_group/data/amazon_v2"


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test gets its own empty cache and no mirror from the environment."""
    return fresh_cache(tmp_path, monkeypatch)


class MirrorFolder(Mirror):
    """A folder where the file of ``https://HOST/PATH`` lies at ``HOST/PATH``."""

    def put_zip(self, url: str, members: dict[str, bytes]) -> Path:
        return self.put(url, zip_bytes(members))

    def put_gz(self, url: str, lines: list) -> Path:
        text = "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines)
        return self.put(url, gzip.compress(text.encode("utf-8")))


@pytest.fixture
def mirror_folder(tmp_path: Path) -> MirrorFolder:
    return MirrorFolder(tmp_path / "mirror")


@pytest.fixture
def make_card(tmp_path: Path):
    """``make_card(files=[...], parser=..., options={...}) -> Card`` for a test-only dataset."""

    def make(files: list[dict], *, parser: str = "xrec_bench.datasets.movielens:parse_1m", options=None) -> Card:
        data = {
            "name": "test-data", "version": "1", "description": "test", "homepage": "https://example.org",
            "license": "test", "citation": "test", "parser": parser, "options": options or {}, "files": files,
        }
        return card_from_dict(data)

    return make


# --- MovieLens 1M -----------------------------------------------------------------------------------

ML1M_MOVIES = [
    "1::Toy Story (1995)::Animation|Children's|Comedy",
    "2::Jumanji (1995)::Adventure|Children's|Fantasy",
    "3::Usual Suspects, The (1995)::Crime|Thriller",
    "4::Cité des enfants perdus, La (1995)::Adventure|Sci-Fi",
    "5::Heat (1995)::Action|Crime|Thriller",
]
# user 1 rates 4 movies, user 2 three, user 3 two; ratings 1-5; timestamps out of order on purpose
ML1M_RATINGS = [
    "1::1::5::978300760", "1::2::3::978302109", "1::3::4::978301968", "1::4::5::978300275",
    "2::1::4::978298709", "2::5::5::978299026", "2::3::2::978299941",
    "3::5::4::978297867", "3::4::1::978298147",
]


def ml1m_zip(ratings: list[str] = ML1M_RATINGS, movies: list[str] = ML1M_MOVIES) -> bytes:
    return zip_bytes({
        "ml-1m/ratings.dat": ("\n".join(ratings) + "\n").encode("latin-1"),
        "ml-1m/movies.dat": ("\n".join(movies) + "\n").encode("latin-1"),
        "ml-1m/README": b"readme",
    })


# --- MIND-small --------------------------------------------------------------------------------------


def news_row(news_id: str, category: str, title: str, abstract: str = "") -> str:
    return "\t".join([news_id, category, f"{category}sub", title, abstract, f"https://assets.msn.com/{news_id}", "[]", "[]"])


MIND_NEWS = {
    "train": [news_row("N1", "sports", "Team wins", "A team won."), news_row("N2", "news", "Storm hits"),
              news_row("N3", "finance", "Stocks fall", "Markets dropped."), news_row("N4", "sports", "Coach quits")],
    "dev": [news_row("N3", "finance", "Stocks fall", "Markets dropped."), news_row("N5", "travel", "Best beaches")],
}
# N99 is named by behaviors but missing from news.tsv: a dangling reference (3 occurrences)
MIND_BEHAVIORS = {
    "train": [
        "1\tU1\t11/11/2019 9:05:58 AM\tN1 N2 N99\tN3-1 N4-0 N99-0",
        "2\tU2\t11/12/2019 3:00:00 PM\tN2\tN1-0 N4-1",
        "3\tU1\t11/13/2019 10:00:00 AM\tN1 N2 N99\tN4-1 N2-0",
    ],
    "dev": [
        "1\tU1\t11/15/2019 8:00:00 AM\tN1 N2\tN5-1 N3-0",
        "2\tU3\t11/15/2019 9:00:00 PM\t\tN5-0 N3-1",
    ],
}


def mind_zip(split: str, news: list[str] | None = None, behaviors: list[str] | None = None) -> bytes:
    news = MIND_NEWS[split] if news is None else news
    behaviors = MIND_BEHAVIORS[split] if behaviors is None else behaviors
    return zip_bytes({
        "news.tsv": ("\n".join(news) + "\n").encode(),
        "behaviors.tsv": ("\n".join(behaviors) + "\n").encode(),
        "entity_embedding.vec": b"",
    })


# --- Amazon 2018 ---------------------------------------------------------------------------------------


def amazon_reviews() -> list[dict]:
    rows = []
    for u, (user, items) in enumerate({"A1": "abc", "A2": "abd", "A3": "bcd"}.items()):
        for i, item in enumerate(items):
            rows.append({"reviewerID": user, "asin": f"B0{item.upper()}", "overall": float(5 - (u + i) % 3),
                         "unixReviewTime": 1_500_000_000 + 86400 * (3 * u + i), "reviewText": "ok"})
    return rows


def amazon_meta() -> list[dict]:
    return [
        {"asin": "B0A", "title": '<span class="a-size-medium a-color-secondary"', "brand": "Acme &amp; Co",
         "category": ["All Beauty", "Skin Care &amp; Face"], "description": ["<b>Soft</b> soap.", "<br>Smells good"]},
        {"asin": "B0A", "title": "duplicate row", "brand": "Acme", "category": [], "description": []},
        {"asin": "B0B", "title": "Shampoo &quot;Pro&quot;", "brand": "", "category": ["All Beauty"], "description": ""},
        {"asin": "B0C", "title": "Brush<br/>Set", "brand": "Combs Inc", "category": [], "description": ["Two brushes"]},
        {"asin": "B0Z", "title": "never reviewed", "brand": "", "category": [], "description": []},
        # B0D has no metadata row
    ]


def put_amazon(mirror: MirrorFolder, category: str, reviews=None, meta=None) -> None:
    mirror.put_gz(f"{AMAZON}/categoryFilesSmall/{category}_5.json.gz", reviews or amazon_reviews())
    mirror.put_gz(f"{AMAZON}/metaFiles2/meta_{category}.json.gz", meta or amazon_meta())


@pytest.fixture
def formats() -> SimpleNamespace:
    """Builders of small files in the official formats."""
    return SimpleNamespace(
        ml1m_zip=ml1m_zip, ml1m_ratings=ML1M_RATINGS, ml1m_movies=ML1M_MOVIES, ML1M_URL=ML1M_URL,
        mind_zip=mind_zip, news_row=news_row, MIND_URLS=MIND_URLS, MIND_NEWS=MIND_NEWS, MIND_BEHAVIORS=MIND_BEHAVIORS,
        amazon_reviews=amazon_reviews, amazon_meta=amazon_meta, put_amazon=put_amazon, AMAZON=AMAZON,
        zip_bytes=zip_bytes,
    )
