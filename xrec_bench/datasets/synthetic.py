"""The synthetic dataset: shipped with the package (generated from a seed, no download), with the
reason for every user's last item planted and recorded. It is the ground truth for explanation
correctness at both granularities (history items and words of the item text).

Generative model
----------------
* Vocabulary: a fixed list of common English nouns (``KEYWORDS``), each a single word-piece of the
  BERT uncased vocabulary, so that a pretrained tokenizer reads them as whole words.
* Catalogue: every item carries two distinct keywords; the ``n_items`` items are the edges of a
  random multigraph over the keywords in which every keyword has (almost) the same degree
  (``keyword_degree``, ~3 items per keyword), and no two items share both keywords. An item's text
  is short and readable: ``"<kw1> <kw2>. Genre: <genre>."``, e.g. ``"lantern falcon. Genre:
  drama."``; the genre comes from a small shared list, carries no signal and is a distractor for
  token-level explanations. Items also get a popularity weight (log-normal, ``popularity_sigma``).
* Users: a sequence of ``min_length..max_length`` items with strictly increasing timestamps.
  It opens with ``n_seed_items`` uncaused items; every later item is *caused* by one earlier item:
  pick an earlier item (uniformly) and one of its keywords, then the next item is an unseen item
  (drawn by popularity) that has that keyword and whose other keyword is new to the user. So every
  transition in the training data follows the rule "the next item shares a word with one item of
  the history", which a text-based model can learn.
* The last item (the test item under leave-last-out) follows the same rule with one extra
  condition: the shared keyword occurs in exactly ONE history item. That item is the planted cause
  (``ground_truth.cause_items``) and the shared keyword, a single word of the target's text, is the
  planted cause word (``ground_truth.cause_words``). No other history item carries either keyword
  of the target, so both granularities have exactly one right answer. The cause is drawn
  uniformly among eligible history items, so it is not biased towards the most recent one.

Generation is deterministic by ``seed`` and takes well under a second for the default size
(1000 users, 800 items, ~22 interactions per user).

How the signal was checked (frozen all-MiniLM-L6-v2 and a small trained model on top of it) is in
``tests/unit/datasets/test_synthetic.py`` (run it as a script for the full figures).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from xrec_bench.datasets.schema import Dataset

logger = logging.getLogger(__name__)

#: Bump when the generated data changes for the same options (it is part of ``Dataset.options``).
GENERATOR_VERSION = "2"

#: Keywords: common English nouns, each one word-piece of the BERT uncased vocabulary (checked
#: with the all-MiniLM-L6-v2 tokenizer when the list was made; a test checks it again).
KEYWORDS: tuple[str, ...] = tuple(
    """
    apple banana cherry grape lemon mango orange peach pear plum berry olive onion garlic pepper
    potato tomato carrot cabbage bean corn rice wheat bread butter cheese cream honey sugar salt
    flour soup salad pizza pasta cookie cake pie candy chocolate coffee tea juice milk wine beer
    whiskey lion tiger bear wolf fox deer rabbit horse donkey camel zebra elephant monkey gorilla
    panda kangaroo squirrel mouse rat beaver otter seal whale dolphin shark salmon trout octopus
    crab lobster shrimp oyster turtle frog snake lizard crocodile eagle hawk falcon owl parrot
    pigeon crow swan goose duck penguin chicken rooster turkey sheep goat pig cow bull cat dog puppy
    kitten bee ant spider butterfly beetle hammer axe saw drill shovel rake ladder rope chain hook
    nail screw bolt magnet compass lantern candle torch mirror clock watch bell whistle drum guitar
    violin piano flute trumpet harp banjo organ cello castle palace tower bridge temple church
    chapel cathedral harbor port dock pier lighthouse mill farm barn garden orchard vineyard meadow
    forest jungle desert canyon valley glacier volcano island lagoon beach river lake pond swamp
    waterfall cave mountain hill cliff prairie ship boat canoe yacht submarine train tram bus truck
    tractor bicycle wagon carriage rocket satellite helicopter airplane balloon parachute king queen
    prince princess knight wizard witch pirate sailor soldier captain doctor nurse farmer baker
    butcher hunter fisherman miner pilot driver judge lawyer priest monk nun poet painter sculptor
    dancer singer actor clown thief detective spy ghost vampire dragon giant dwarf angel demon robot
    alien cowboy sheriff diamond ruby emerald pearl crystal gold silver copper iron steel bronze
    marble granite clay sand stone coal oil sword shield spear bow arrow dagger cannon rifle pistol
    helmet armor crown ring necklace bracelet scarf glove boot hat coat jacket shirt dress skirt
    sock shoe umbrella blanket pillow carpet curtain planet comet meteor galaxy moon sun star nebula
    asteroid orbit eclipse rain snow storm thunder lightning wind fog cloud rainbow frost ice hail
    tornado hurricane flood drought winter summer autumn spring dawn dusk midnight noon chess poker
    football soccer baseball tennis golf hockey rugby cricket boxing wrestling skiing surfing
    sailing fishing hunting camping hiking climbing library museum theater cinema hospital school
    university prison factory market bakery hotel restaurant cafe casino stadium airport station
    garage kitchen bedroom attic cellar basement book letter map diary poem novel song ballad opera
    symphony painting statue photograph newspaper magazine journal engine motor wheel gear lever
    pump valve pipe wire cable battery bulb switch radio camera telephone computer keyboard printer
    television rose lily daisy orchid lotus violet cactus bamboo oak pine maple willow cedar palm
    fern moss ivy mushroom tent cabin cottage mansion villa hut fort bunker bishop pawn rook coin
    wallet treasure key lock door window gate fence wall roof chimney staircase feather fur wool
    silk cotton leather velvet raven sparrow robin heron peacock vulture jaguar leopard panther lynx
    bison buffalo moose elk circus carnival festival parade wedding funeral feast banquet picnic
    earthquake avalanche tsunami pharaoh emperor samurai ninja viking warrior sultan
    """.split()
)

#: The genre of an item: shared, signal-free words of the item text.
GENRES: tuple[str, ...] = tuple(
    """drama comedy thriller romance documentary fantasy horror western musical animation crime
    mystery adventure family war history biography sport satire noir""".split()
)

#: The options of :func:`generate` and their defaults.
DEFAULTS: dict[str, Any] = {
    "seed": 0,
    "n_users": 1000,
    "n_items": 800,
    "min_length": 15,
    "max_length": 30,
    "n_seed_items": 2,
    "keyword_degree": 3.2,
    "popularity_sigma": 1.0,
    "start_time": 1_577_836_800,  # 2020-01-01 UTC
}

_DAY = 86_400


def make_synthetic(seed: int = 0, **options: Any) -> Dataset:
    """The synthetic dataset for ``seed`` and ``options`` (see :data:`DEFAULTS`), built in memory."""
    unknown = sorted(set(options) - set(DEFAULTS))
    if unknown:
        raise TypeError(
            f"make_synthetic got unknown option(s) {', '.join(unknown)}; it accepts: {', '.join(DEFAULTS)}."
        )
    return _generate("synthetic", GENERATOR_VERSION, {**options, "seed": seed})


def generate(card: Any, files: Mapping[str, Any] | None, options: Mapping[str, Any]) -> Dataset:
    """The dataset-card parser: ``files`` is ignored (nothing is downloaded); of ``card`` only the
    name and version are used; of ``options`` the keys of :data:`DEFAULTS` (other keys, such as the
    preprocessing options every card accepts, are left to the loader)."""
    name = getattr(card, "name", None) or "synthetic"
    version = str(getattr(card, "version", None) or GENERATOR_VERSION)
    return _generate(name, version, {k: v for k, v in options.items() if k in DEFAULTS})


def check_options(options: Mapping[str, Any]) -> None:
    """Raise ValueError if the generator's options (the keys of :data:`DEFAULTS`) are out of range."""
    _Params.check({k: v for k, v in options.items() if k in DEFAULTS})


@dataclass(frozen=True)
class _Params:
    seed: int
    n_users: int
    n_items: int
    min_length: int
    max_length: int
    n_seed_items: int
    keyword_degree: float
    popularity_sigma: float
    start_time: int

    @classmethod
    def check(cls, options: Mapping[str, Any]) -> _Params:
        values = {**DEFAULTS, **options}
        ints = ("seed", "n_users", "n_items", "min_length", "max_length", "n_seed_items", "start_time")
        lower = {"seed": 0, "n_users": 1, "n_items": 20, "min_length": 3, "n_seed_items": 1, "start_time": 0}
        for key in ints:
            value = values[key]
            low = lower.get(key, values["min_length"])  # max_length >= min_length
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                raise ValueError(
                    f"The {key!r} option of the synthetic dataset must be an int in the range [{low}, inf). "
                    f"Got {value!r} instead."
                )
        if values["n_seed_items"] >= values["min_length"] - 1:
            raise ValueError(
                "n_seed_items must be below min_length - 1 so that every user has caused items. "
                f"Got n_seed_items={values['n_seed_items']}, min_length={values['min_length']}."
            )
        if values["max_length"] > values["n_items"] // 4:
            raise ValueError(
                f"max_length ({values['max_length']}) must be at most n_items / 4 ({values['n_items'] // 4}) "
                "so that users' histories do not exhaust the catalogue. Raise n_items or lower max_length."
            )
        for key, low in (("keyword_degree", 2.0), ("popularity_sigma", 0.0)):
            value = values[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < low:
                raise ValueError(
                    f"The {key!r} option of the synthetic dataset must be a number >= {low}. Got {value!r} instead."
                )
        return cls(**{k: values[k] for k in DEFAULTS})


def _generate(name: str, version: str, options: Mapping[str, Any]) -> Dataset:
    params = _Params.check(options)
    rng = np.random.default_rng(params.seed)
    catalogue = _Catalogue.build(params, rng)
    users, retries, uncaused = [], 0, 0
    for _ in range(params.n_users):
        length = int(rng.integers(params.min_length, params.max_length + 1))
        for _attempt in range(100):
            walk = _walk(catalogue, params, length, rng)
            if walk is not None:
                break
            retries += 1
        else:
            raise RuntimeError(
                f"Could not generate a user of {length} items with a uniquely caused last item in 100 "
                f"attempts (n_items={params.n_items}, keyword_degree={params.keyword_degree}). "
                "Raise n_items or lower max_length."
            )
        users.append(walk)
        uncaused += walk.uncaused
    interactions = _interactions(users, params, rng)
    n_users = len(users)
    ground_truth = pd.DataFrame(
        {
            "user": np.arange(n_users, dtype=np.int64),
            "target": np.array([w.items[-1] for w in users], dtype=np.int64),
            "cause_items": [np.array([w.cause], dtype=np.int64) for w in users],
            "cause_words": [(catalogue.vocabulary[w.cause_keyword],) for w in users],
        }
    )
    stats = {
        "n_users": n_users,
        "n_items": params.n_items,
        "n_keywords": len(catalogue.vocabulary),
        "raw_interactions": len(interactions),
        "uncaused_interactions": uncaused,
        "regenerated_users": retries,
    }
    logger.info("synthetic dataset: %s", stats)
    return Dataset(
        name=name,
        version=version,
        items=catalogue.frame,
        users=pd.DataFrame({"user_id": [f"u{u:05d}" for u in range(n_users)]}),
        interactions=interactions,
        checksums={},  # nothing is read: the data is a function of the options below
        options={
            **DEFAULTS,
            **{k: getattr(params, k) for k in DEFAULTS},
            "generator_version": GENERATOR_VERSION,
        },
        stats=stats,
        ground_truth=ground_truth,
        fields=dict(FIELDS),
    )


#: The item text's fields: each keyword of the title is its own field value (the planted cause word is
#: one of them, so the field-level cause is "keyword: <cause word>"), and the signal-free genre.
FIELDS = {"names": ["keyword", "genre"], "values": "xrec_bench.datasets.synthetic:field_values"}


def field_values(row: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The fields of an item's text ``"<kw1> <kw2>. Genre: <genre>."``: both keywords, then the genre."""
    return [("keyword", w) for w in str(row["title"]).split()] + [("genre", str(row["genre"]))]


@dataclass(frozen=True)
class _Catalogue:
    vocabulary: tuple[str, ...]  # the keywords in use
    keywords: np.ndarray  # [n_items, 2] keyword indices of each item
    items_of: tuple[tuple[int, ...], ...]  # keyword index -> items that carry it
    popularity: np.ndarray  # [n_items] sampling weights, sum 1
    frame: pd.DataFrame

    @classmethod
    def build(cls, params: _Params, rng: np.random.Generator) -> _Catalogue:
        n = params.n_items
        n_keywords = min(len(KEYWORDS), max(3, round(2 * n / params.keyword_degree)))
        vocabulary = tuple(KEYWORDS[i] for i in rng.choice(len(KEYWORDS), n_keywords, replace=False))
        keywords = _pair_up(np.resize(np.arange(n_keywords), 2 * n), rng).reshape(n, 2)
        items_of: list[list[int]] = [[] for _ in range(n_keywords)]
        for item, (a, b) in enumerate(keywords.tolist()):
            items_of[a].append(item)
            items_of[b].append(item)
        popularity = rng.lognormal(0.0, params.popularity_sigma, n)
        genre = rng.integers(0, len(GENRES), n)
        titles = [f"{vocabulary[a]} {vocabulary[b]}" for a, b in keywords.tolist()]
        frame = pd.DataFrame(
            {
                "item_id": [f"i{i:05d}" for i in range(n)],
                "title": titles,
                "genre": [GENRES[g] for g in genre],
                "text": [f"{t}. Genre: {GENRES[g]}." for t, g in zip(titles, genre, strict=True)],
            }
        )
        return cls(vocabulary, keywords, tuple(map(tuple, items_of)), popularity / popularity.sum(), frame)


def _pair_up(slots: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Shuffle keyword slots into pairs so that no pair repeats a keyword and no two pairs are equal.

    A configuration model: shuffle, then re-draw the slots of bad pairs until none is left.
    """
    slots = rng.permutation(slots)
    for _ in range(1000):
        pairs = np.sort(slots.reshape(-1, 2), axis=1)
        bad = pairs[:, 0] == pairs[:, 1]
        bad |= pd.DataFrame(pairs).duplicated().to_numpy()
        if not bad.any():
            return slots
        for pair in np.flatnonzero(bad):  # swap one slot of each bad pair with a random slot
            other = rng.integers(0, len(slots))
            slots[[2 * pair, other]] = slots[[other, 2 * pair]]
    raise RuntimeError("Could not pair keywords into distinct items; raise keyword_degree or lower n_items.")


@dataclass(frozen=True)
class _Walk:
    items: list[int]  # the user's items in time order; the last one is the planted target
    cause: int  # the item of the history that caused the target
    cause_keyword: int  # the keyword the target shares with it (and with no other history item)
    uncaused: int  # later items that had no possible cause and were drawn fresh (rare)


def _walk(catalogue: _Catalogue, params: _Params, length: int, rng: np.random.Generator) -> _Walk | None:
    """One user's item sequence by the generative rule (module docstring); None if the final,
    uniquely caused step is impossible (the caller then draws the user again)."""
    keywords = catalogue.keywords
    cdf = np.cumsum(catalogue.popularity)
    history: list[int] = []
    seen: set[int] = set()
    count: dict[int, int] = {}  # keyword -> how many history items carry it
    uncaused = 0
    cause = cause_keyword = -1
    for step in range(length):
        chosen = None
        if step >= params.n_seed_items:
            chosen = _caused_next(catalogue, history, seen, count, rng, unique=step == length - 1)
        if chosen is not None:
            item, cause, cause_keyword = chosen
        elif step == length - 1:
            return None
        else:
            item = _fresh_item(cdf, keywords, seen, count, rng)
            if item is None:
                return None
            uncaused += step >= params.n_seed_items
        history.append(item)
        seen.add(item)
        for k in keywords[item]:
            count[k] = count.get(k, 0) + 1
    return _Walk(history, cause, cause_keyword, uncaused)


def _caused_next(
    catalogue: _Catalogue,
    history: list[int],
    seen: set[int],
    count: dict[int, int],
    rng: np.random.Generator,
    *,
    unique: bool,
) -> tuple[int, int, int] | None:
    """(next item, its cause, the shared keyword): a uniformly drawn history item and keyword with
    at least one unseen item that carries the keyword and whose other keyword is new to the user.
    With ``unique``, the keyword must occur in no other history item."""
    keywords = catalogue.keywords
    for position in rng.permutation(len(history)).tolist():
        cause = history[position]
        for k in rng.permutation(keywords[cause]).tolist():
            if unique and count[k] != 1:
                continue
            candidates = [
                i
                for i in catalogue.items_of[k]
                if i not in seen
                and count.get(keywords[i][0] if keywords[i][1] == k else keywords[i][1], 0) == 0
            ]
            if candidates:
                weights = np.cumsum(catalogue.popularity[candidates])
                pick = int(np.searchsorted(weights, rng.random() * weights[-1], side="right"))
                return candidates[min(pick, len(candidates) - 1)], cause, k
    return None


def _fresh_item(
    cdf: np.ndarray, keywords: np.ndarray, seen: set[int], count: dict[int, int], rng: np.random.Generator
) -> int | None:
    """An unseen item, drawn by popularity, sharing no keyword with the history (None after 200 tries)."""
    for _ in range(200):
        item = min(int(np.searchsorted(cdf, rng.random() * cdf[-1], side="right")), len(cdf) - 1)
        if item not in seen and not any(count.get(k, 0) for k in keywords[item]):
            return item
    return None


def _interactions(walks: list[_Walk], params: _Params, rng: np.random.Generator) -> pd.DataFrame:
    """Rows (user, item, timestamp, rating=1) sorted by user then time. Each user starts within
    30 days of ``start_time`` and is active for 330-365 days; the user's timestamps are sorted
    uniform draws over that period, plus one hour per step so that they strictly increase. Users'
    activity overlaps, so a global temporal split leaves most users with a training history and
    held-out items."""
    lengths = np.array([len(w.items) for w in walks])
    users = np.repeat(np.arange(len(walks), dtype=np.int64), lengths)
    starts = params.start_time + rng.integers(0, 30 * _DAY, len(walks))
    spans = np.repeat(rng.integers(330 * _DAY, 365 * _DAY, len(walks)), lengths)
    offsets = (rng.random(len(users)) * spans).astype(np.int64)
    offsets = np.sort(offsets + users * (400 * _DAY))  # sorts within each user, users stay apart
    offsets -= users * (400 * _DAY)
    step = np.arange(len(users)) - np.repeat(np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
    return pd.DataFrame(
        {
            "user": users,
            "item": np.concatenate([w.items for w in walks]).astype(np.int64),
            "timestamp": (np.repeat(starts, lengths) + offsets + 3600 * step).astype(np.int64),
            "rating": np.ones(len(users)),
        }
    )
