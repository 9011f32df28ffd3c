"""``load_dataset``: card -> fetch (verified) -> parse -> preprocess -> processed cache.

The processed dataset is cached under ``cache_dir()/processed/<name>/<key>/`` where ``key`` hashes the
card's name and version, the parser and its ``PARSER_VERSION``, the sha256 of every source file, the
options and strict mode. When all those
checksums are known (pinned in the card or recorded on an earlier download) a cached entry is
returned without touching the network, the raw files or the parser.
"""

from __future__ import annotations

import importlib
import inspect
import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from xrec_bench import paths
from xrec_bench._util.hashing import json_sha256
from xrec_bench.datasets import cache
from xrec_bench.datasets.cards import Card, get_card
from xrec_bench.datasets.errors import DatasetError, MalformedDataError
from xrec_bench.datasets.fetch import fetch_files, known_checksums
from xrec_bench.datasets.preprocess import preprocess
from xrec_bench.datasets.reading import last_position
from xrec_bench.datasets.schema import Dataset

logger = logging.getLogger(__name__)

PINNED, RECORDED = "pinned", "recorded, not pinned"


@dataclass(frozen=True)
class Prepared:
    """A loaded dataset and how it was obtained (``cached``: read from the processed cache)."""

    dataset: Dataset
    cached: bool
    path: Path


def load_dataset(
    name: str | Card,
    *,
    mirror: str | None = None,
    strict: bool = False,
    progress: bool = True,
    **options: Any,
) -> Dataset:
    """Fetch (or read from cache), verify, parse and preprocess the dataset ``name``.

    ``mirror`` overrides ``$XREC_BENCH_MIRROR``; ``strict`` refuses malformed rows and dangling
    references instead of dropping and counting them; ``options`` override the card's defaults
    (e.g. ``category=``, ``rating_threshold=``, ``kcore=``).
    """
    return prepare_dataset(name, mirror=mirror, strict=strict, progress=progress, **options).dataset


def prepare_dataset(
    name: str | Card,
    *,
    mirror: str | None = None,
    strict: bool = False,
    progress: bool = True,
    **options: Any,
) -> Prepared:
    """Like :func:`load_dataset`, and says whether the result came from the processed cache."""
    card = name if isinstance(name, Card) else get_card(name)
    resolved = card.resolve_options(options)
    files = card.resolve_files(resolved)
    parser = _resolve(card.parser)
    known = known_checksums(files)
    if known is not None:
        folder = _entry(card, {s: sha for s, (sha, _) in known.items()}, resolved, strict)
        hit = cache.load(folder)
        if hit is not None:
            logger.info("Loaded %s from the processed cache %s.", card.name, folder)
            return Prepared(replace(hit, fields=dict(card.fields) or dict(hit.fields)), True, folder)
    fetched = fetch_files(files, mirror=mirror, progress=progress)
    checksums = {f.source: f.sha256 for f in fetched}
    status = {f.source: PINNED if f.pinned else RECORDED for f in fetched}
    kwargs = {"strict": strict} if "strict" in inspect.signature(parser).parameters else {}
    logger.info("Parsing %s.", card.name)
    raw = _parse(card, parser, {f.key: f.path for f in fetched}, dict(resolved), kwargs)
    dataset = preprocess(raw, resolved)
    dataset = replace(
        dataset,
        name=card.name,
        version=card.version,
        checksums=checksums,
        options={**raw.options, **resolved},
        stats={**dataset.stats, "checksum_status": status},
        fields=dict(card.fields) or dict(dataset.fields),
    )
    folder = _entry(card, checksums, resolved, strict)
    try:
        cache.save(dataset, folder)
    except OSError as exc:  # e.g. another process wrote the same entry at the same moment
        logger.warning("Could not write the processed cache %s: %s", folder, exc)
    return Prepared(dataset, False, folder)


def _parse(card: Card, parser: Any, files: dict[str, Path], options: dict[str, Any], kwargs: dict) -> Dataset:
    """Run ``parser``; an error it did not turn into a :class:`DatasetError` itself is reported as
    :class:`MalformedDataError` naming the file and line being read when it happened."""
    try:
        return parser(card, files, options, **kwargs)
    except DatasetError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, OverflowError, RecursionError, UnicodeError) as exc:
        file, line = last_position()
        where = f" (the last line read: {file}, line {line})" if file else ""
        raise MalformedDataError(
            f"Dataset {card.name!r} could not be parsed{where}: {type(exc).__name__}: {exc}. The file does not "
            "have the format the parser expects; check that the mirror serves the official file, or delete it "
            "from the data cache and download it again.",
            file=file,
            line=line,
        ) from exc


def option_problems(name: str, options: Mapping[str, Any], split: str = "leave-last-out",
                    split_options: Mapping[str, Any] | None = None) -> list[str]:
    """Every problem with a dataset's options and its split's options, found without loading anything:
    unknown or mistyped options (the card), out-of-range values (the parser's ``check_options``, if it
    has one), and the split strategy's options."""
    from xrec_bench.datasets.splits import split_problems

    problems: list[str] = []
    try:
        card = get_card(name)
        resolved = card.resolve_options(options)
        card.resolve_files(resolved)
        check = getattr(importlib.import_module(card.parser.partition(":")[0]), "check_options", None)
        if check is not None:
            check(resolved)
    except (DatasetError, ValueError, TypeError, KeyError) as exc:
        problems.append(str(exc).strip("'\""))
    return problems + split_problems(split, dict(split_options or {}))


def _entry(card: Card, checksums: Mapping[str, str], options: Mapping[str, Any], strict: bool) -> Path:
    """The cache folder of this card, parser code version, source checksums, options and strict mode.

    A parser module may declare ``PARSER_VERSION`` (or ``GENERATOR_VERSION``); bumping it when the
    parsed output changes retires the old cache entries.
    """
    module = importlib.import_module(card.parser.partition(":")[0])
    code_version = getattr(module, "PARSER_VERSION", None) or getattr(module, "GENERATOR_VERSION", None)
    key = json_sha256(
        {
            "name": card.name,
            "version": card.version,
            "parser": card.parser,
            "parser_version": code_version,
            "checksums": dict(checksums),
            "options": dict(options),
            "strict": strict,
            "format": cache.FORMAT,
        },
        length=16,
    )
    return paths.cache_dir() / "processed" / card.name / key


def _resolve(spec: str) -> Any:
    module, _, attr = spec.partition(":")
    return getattr(importlib.import_module(module), attr)
