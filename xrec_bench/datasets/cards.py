"""Dataset cards: each dataset is declared as data in ``datasets/<name>.toml`` and checked here.

A card names the dataset, its version, where its files come from (official URLs), the sha256 of
every file the loader reads, its license and citation, its parser and its default options::

    name = "movielens-100k"
    version = "1"
    description = "..."
    homepage = "https://grouplens.org/datasets/movielens/100k/"
    license = "..."
    citation = "..."
    parser = "xrec_bench.datasets.movielens:parse_100k"

    [options]             # defaults; callers override them (load_dataset(..., kcore=5))
    rating_threshold = 4
    kcore = 0

    [[files]]
    name = "archive"      # the key the parser receives ("archive/ml-100k/u.data" for members)
    urls = ["https://files.grouplens.org/datasets/movielens/ml-100k.zip"]
    [files.members]       # zip archive: pin each MEMBER the loader reads (mirrors repackage zips)
    "ml-100k/u.data" = "06416e59..."

A plain file pins ``sha256 = "<hex>"``. A checksum may instead be ``"tofu"`` (trust on first use):
the sha256 is recorded in the cache on first download, verified on every later use and reported as
"recorded, not pinned". URLs may hold ``{option}`` placeholders (``{category}`` for Amazon); then
``sha256`` may be a table keyed by the rendered file name, with ``"*"`` for every other name.
Unknown keys are refused, so a typo cannot silently unpin a file.

Every file is bounded in size, so that a file recorded on first use cannot be a decompression bomb:
``max_bytes`` (the download), ``max_unpacked_bytes`` (each zip member the loader reads, or the
decompressed content of a ``.gz`` file) and ``max_ratio`` (unpacked / packed size, checked for
members over 1 MiB). A card sets them per ``[[files]]`` entry; :data:`DEFAULT_LIMITS` fills the rest.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

from xrec_bench import paths
from xrec_bench.contract import Contract
from xrec_bench.datasets.errors import CardError
from xrec_bench.datasets.fields import FieldsError, check_fields
from xrec_bench.params import Int, Param, Real, Text
from xrec_bench.registry import Registry

TOFU = "tofu"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
#: values that may be put into a URL (and thus a cache path): no "/", no "..", no spaces
_URL_VALUE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")

_CARD_KEYS = {"name", "version", "description", "homepage", "license", "citation", "parser", "options", "files",
              "fields"}
_REQUIRED_KEYS = _CARD_KEYS - {"options", "files", "fields"}
_FILE_KEYS = {"name", "urls", "sha256", "members", "max_bytes", "max_unpacked_bytes", "max_ratio"}

#: options every card accepts (applied by ``preprocess``) and their defaults
PREPROCESS_OPTIONS: dict[str, Any] = {"rating_threshold": None, "kcore": 0}
_PREPROCESS_SCHEMA = {
    "rating_threshold": Param(None, (None, Real()), "keep interactions rated at least this (None: every one)"),
    "kcore": Param(0, (Int(0),), "drop users and items with fewer interactions, repeatedly (0: no filtering)"),
}


@dataclass(frozen=True)
class Limits:
    """Size bounds of one source file (see the module docstring); ``where`` names the card that set them."""

    max_bytes: int = 4 * 2**30
    max_unpacked_bytes: int = 16 * 2**30
    max_ratio: float = 100.0
    where: str = "its dataset card"


#: bounds of a file whose card sets none: generous for the largest Amazon categories, and a ratio no
#: text file reaches (MovieLens and Amazon files compress 2-5x) but a decompression bomb exceeds
DEFAULT_LIMITS = Limits()
_LIMIT_KEYS = ("max_bytes", "max_unpacked_bytes", "max_ratio")


@dataclass(frozen=True)
class ResolvedFile:
    """One source file of a card with its options filled in.

    ``sha256`` is the pinned hash of a plain file, or ``None`` when it is recorded on first use;
    ``members`` maps each zip member the loader reads to its pinned hash (or ``None``), and is
    ``None`` for a plain file. ``cache_path`` is ``HOST/PATH`` of the first official URL.
    ``limits`` bounds its size (download, each member, compression ratio).
    """

    name: str
    urls: tuple[str, ...]
    sha256: str | None
    members: Mapping[str, str | None] | None
    limits: Limits = DEFAULT_LIMITS

    @property
    def filename(self) -> str:
        return urlsplit(self.urls[0]).path.rsplit("/", 1)[-1]

    @property
    def cache_path(self) -> str:
        return url_to_relpath(self.urls[0])

    @property
    def is_zip(self) -> bool:
        return self.members is not None


@dataclass(frozen=True)
class Card:
    """A validated dataset card (see the module docstring)."""

    name: str
    version: str
    description: str
    homepage: str
    license: str
    citation: str
    parser: str
    options: Mapping[str, Any] = field(default_factory=dict)
    files: tuple[Mapping[str, Any], ...] = ()
    path: Path | None = None
    #: the item-text fields (``{"names": [...], "values": "module:function"}``, see
    #: :mod:`xrec_bench.datasets.fields`); empty when the dataset declares none
    fields: Mapping[str, Any] = field(default_factory=dict)

    def resolve_options(self, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The card's defaults (and the preprocessing defaults) updated with ``overrides``, checked."""
        known = {**PREPROCESS_OPTIONS, **self.options}
        overrides = dict(overrides or {})
        unknown = sorted(set(overrides) - set(known))
        if unknown:
            raise CardError(
                f"Dataset {self.name!r} got unknown option(s) {', '.join(unknown)}; "
                f"it accepts: {', '.join(sorted(known))}."
            )
        resolved = {**known, **overrides}
        _check_option_values(self.name, resolved, self.options)
        return resolved

    def resolve_files(self, options: Mapping[str, Any]) -> list[ResolvedFile]:
        """The card's files with ``{placeholders}`` filled from ``options``."""
        out = []
        for spec in self.files:
            urls = tuple(_render(self.name, u, options) for u in spec["urls"])
            filename = urlsplit(urls[0]).path.rsplit("/", 1)[-1]
            sha = spec.get("sha256")
            if isinstance(sha, Mapping):
                sha = sha.get(filename, sha.get("*"))
            members = spec.get("members")
            where = f"file {spec['name']!r} of the dataset card {self.path or self.name}"
            limits = Limits(**{k: spec.get(k, getattr(DEFAULT_LIMITS, k)) for k in _LIMIT_KEYS}, where=where)
            out.append(
                ResolvedFile(
                    name=spec["name"],
                    urls=urls,
                    sha256=None if sha in (None, TOFU) else sha,
                    members=None if members is None else {m: (None if h == TOFU else h) for m, h in members.items()},
                    limits=limits,
                )
            )
        return out

    def contract(self, source: str = "built-in") -> Contract:
        """The dataset's declaration (:mod:`xrec_bench.contract`): the card's version, its options with
        their defaults (accepted values follow the default's type, as :meth:`resolve_options` checks)."""
        params = {**_PREPROCESS_SCHEMA, **{k: Param(v, _accepts_like(v)) for k, v in self.options.items()
                                          if k not in _PREPROCESS_SCHEMA}}
        caps = {"granularities": ("history", "tokens", "fields") if self.fields else ("history", "tokens"), "deterministic": True, "pinned": self.fully_pinned}
        return Contract("dataset", self.name, str(self.version), params, caps,
                        self.description.split("\n")[0].strip(), source=source)

    @property
    def fully_pinned(self) -> bool:
        """True when every file of the card's default options is pinned (nothing recorded on first use)."""
        files = self.resolve_files(self.resolve_options())
        return all((f.sha256 is not None) if not f.is_zip else all(f.members.values()) for f in files)


def url_to_relpath(url: str) -> str:
    """``https://HOST/PATH`` -> ``HOST/PATH``: the mirror and cache layout of a URL."""
    parts = urlsplit(url)
    rel = f"{parts.netloc}{parts.path}"
    if not parts.netloc or ".." in rel.split("/") or rel.endswith("/"):
        raise CardError(f"URL {url!r} cannot be mapped to a file path (expected https://HOST/PATH/FILE).")
    return rel


def _accepts_like(default: Any) -> tuple[Any, ...]:
    if isinstance(default, bool):
        return (True, False)
    if isinstance(default, int):
        return (Int(),)
    if isinstance(default, float):
        return (Real(),)
    if isinstance(default, str):
        return (Text(),)
    return ()


def cards_dir() -> Path:
    return paths.shipped_dir("datasets")


def _check_card(obj: Any) -> str | None:
    if isinstance(obj, Card) or (isinstance(obj, Path) and obj.suffix == ".toml"):
        return None
    return f"expected a dataset Card (xrec_bench.datasets.cards.card_from_dict) or the Path of a card file. Got {obj!r}."


def _registry(directory: Path | None = None) -> Registry[Path | Card]:
    """The shipped cards, and the cards of installed packages (entry-point group ``xrec_bench.datasets``:
    a ``Card`` or the ``Path`` of a card file)."""
    registry: Registry[Path | Card] = Registry("dataset", check=_check_card, entry_points="xrec_bench.datasets")
    for path in sorted((directory or cards_dir()).glob("*.toml")):
        registry.register(path.stem, path)
    return registry


def dataset_source(name: str) -> str:
    """``built-in`` for a shipped card, else ``plugin <package> <version>``."""
    found = _registry().plugin(name)
    return f"plugin {found['package']} {found['version']}" if found else "built-in"


def list_cards() -> list[str]:
    """Names of every dataset with a card."""
    return _registry().names()


def get_card(name: str) -> Card:
    """The validated card called ``name``; unknown names raise ``UnknownNameError`` with "did you mean"."""
    found = _registry().get(name)
    card = found if isinstance(found, Card) else load_card(found)
    if card.name != name and ":" not in name:
        raise CardError(f"The dataset registered as {name!r} has a card named {card.name!r}; they must match.")
    return card


def load_card(path: str | Path) -> Card:
    """Read and validate one card file."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise CardError(f"Dataset card {path} is not valid TOML: {exc}.") from None
    return card_from_dict(data, path=path)


def card_from_dict(data: Mapping[str, Any], *, path: Path | None = None) -> Card:
    """Validate a card given as a mapping (what ``tomllib`` returns)."""
    where = f"Dataset card {path or data.get('name', '?')}"
    unknown = sorted(set(data) - _CARD_KEYS)
    if unknown:
        raise CardError(f"{where} has unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(_CARD_KEYS))}.")
    missing = sorted(k for k in _REQUIRED_KEYS if not isinstance(data.get(k), str) or not data[k].strip())
    if missing:
        raise CardError(f"{where} lacks (or has an empty) {', '.join(missing)}; every card needs them as strings.")
    if path is not None and data["name"] != path.stem:
        raise CardError(f"{where} declares name {data['name']!r}; the name must equal the file name {path.stem!r}.")
    if ":" not in data["parser"]:
        raise CardError(f"{where}: parser must be 'package.module:function'. Got {data['parser']!r}.")
    options = data.get("options", {})
    if not isinstance(options, Mapping):
        raise CardError(f"{where}: [options] must be a table. Got {type(options).__name__}.")
    files = data.get("files", [])
    if not isinstance(files, list):
        raise CardError(f"{where}: files must be an array of tables ([[files]]).")
    names = [_check_file(where, spec, options) for spec in files]
    if len(set(names)) != len(names):
        raise CardError(f"{where}: file names must be unique. Got {names}.")
    try:
        fields = check_fields(where, data["fields"]) if "fields" in data else {}
    except FieldsError as exc:
        raise CardError(str(exc)) from None
    return Card(
        name=data["name"],
        version=data["version"],
        description=data["description"].strip(),
        homepage=data["homepage"],
        license=data["license"].strip(),
        citation=data["citation"].strip(),
        parser=data["parser"],
        options=dict(options),
        files=tuple(dict(f) for f in files),
        path=path,
        fields=fields,
    )


def _check_file(where: str, spec: Any, options: Mapping[str, Any]) -> str:
    if not isinstance(spec, Mapping):
        raise CardError(f"{where}: each [[files]] entry must be a table.")
    name = spec.get("name")
    where = f"{where}, file {name!r}"
    unknown = sorted(set(spec) - _FILE_KEYS)
    if unknown:
        raise CardError(f"{where} has unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(_FILE_KEYS))}.")
    if not isinstance(name, str) or not _URL_VALUE.match(name):
        raise CardError(f"{where}: name must be a simple identifier (letters, digits, _ . -).")
    urls = spec.get("urls")
    if not isinstance(urls, list) or not urls or not all(isinstance(u, str) for u in urls):
        raise CardError(f"{where}: urls must be a non-empty list of official URLs.")
    for url in urls:
        if urlsplit(url).scheme not in ("https", "http"):
            raise CardError(f"{where}: URL {url!r} must be http(s).")
        for field_name in _placeholders(url):
            if field_name not in options:
                raise CardError(f"{where}: URL {url!r} uses {{{field_name}}}, which is not in [options].")
    for key in _LIMIT_KEYS:
        value = spec.get(key, getattr(DEFAULT_LIMITS, key))
        number = int | float if key == "max_ratio" else int
        if isinstance(value, bool) or not isinstance(value, number) or value < (1 if key == "max_ratio" else 1024):
            raise CardError(
                f"{where}: {key} must be {'a number >= 1' if key == 'max_ratio' else 'an int of bytes >= 1024'} "
                f"(default {getattr(DEFAULT_LIMITS, key)}). Got {value!r}."
            )
    has_sha, has_members = "sha256" in spec, "members" in spec
    if has_sha == has_members:
        raise CardError(
            f"{where}: give exactly one of sha256 (a plain file) or members (a zip archive: the sha256 of "
            "each member the loader reads). Use the value 'tofu' to record it on first download."
        )
    if has_members:
        members = spec["members"]
        if not isinstance(members, Mapping) or not members:
            raise CardError(f"{where}: members must be a non-empty table of 'member path' = sha256.")
        for member, value in members.items():
            _check_hash(f"{where}, member {member!r}", value)
    else:
        sha = spec["sha256"]
        templated = bool(_placeholders(urls[0]))
        if isinstance(sha, Mapping):
            if not templated or "*" not in sha:
                raise CardError(
                    f"{where}: a sha256 table (keyed by rendered file name) needs a templated URL and a '*' "
                    "entry for every other file name ('tofu' or a hash)."
                )
            for key, value in sha.items():
                _check_hash(f"{where}, sha256[{key!r}]", value)
        else:
            _check_hash(where, sha)
    return name


def _check_hash(where: str, value: Any) -> None:
    if value != TOFU and not (isinstance(value, str) and _SHA256.match(value)):
        raise CardError(
            f"{where}: checksum must be 64 lowercase hex digits (sha256) or 'tofu' (recorded on first "
            f"download). Got {value!r}."
        )


def _placeholders(template: str) -> list[str]:
    return [f for _, f, _, _ in string.Formatter().parse(template) if f]


def _render(card: str, template: str, options: Mapping[str, Any]) -> str:
    values = {}
    for name in _placeholders(template):
        value = str(options[name])
        if not _URL_VALUE.match(value) or ".." in value:
            raise CardError(
                f"Dataset {card!r}: option {name}={value!r} cannot go into a URL; expected letters, digits, "
                "'_', '.', '-' (e.g. category='Magazine_Subscriptions')."
            )
        values[name] = value
    return template.format(**values)


def _check_option_values(card: str, options: Mapping[str, Any], defaults: Mapping[str, Any]) -> None:
    threshold = options.get("rating_threshold")
    if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, int | float)):
        raise CardError(f"Dataset {card!r}: rating_threshold must be a number or None. Got {threshold!r}.")
    kcore = options.get("kcore")
    if isinstance(kcore, bool) or not isinstance(kcore, int) or kcore < 0:
        raise CardError(f"Dataset {card!r}: kcore must be an int >= 0 (0 = no filtering). Got {kcore!r}.")
    for key, default in defaults.items():
        value = options[key]
        if key in PREPROCESS_OPTIONS or value is None or default is None:
            continue
        if isinstance(default, bool) or isinstance(value, bool):
            same = isinstance(default, bool) and isinstance(value, bool)
        elif isinstance(default, float):
            same = isinstance(value, int | float)
        else:
            same = type(value) is type(default)
        if not same:
            raise CardError(
                f"Dataset {card!r}: option {key} must be a {type(default).__name__} (default {default!r}). "
                f"Got {value!r}."
            )
