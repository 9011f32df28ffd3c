"""Canonical JSON and its sha256: the one way the package turns a value into a cache key or fingerprint.

Two spellings of canonical JSON are in use, and both are kept byte for byte: changing either would
change every existing cache key (and so recompute every cached dataset, model and cell).

* ``compact=True``: ``separators=(",", ":")`` (suite content hashes, cell cache keys);
* ``compact=False``: json's default separators ``", "`` and ``": "`` (dataset, model and parameter
  fingerprints).

Keys are sorted in both. ``default`` turns what JSON cannot hold into text (``str``, the default), or
is ``None`` to refuse it (a suite file's content must be plain data).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any


def canonical_json(obj: Any, *, compact: bool = False, default: Callable[[Any], Any] | None = str) -> str:
    """``obj`` as JSON with sorted keys (see the module docstring for ``compact`` and ``default``)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":") if compact else None, default=default)


def json_sha256(obj: Any, *, compact: bool = False, default: Callable[[Any], Any] | None = str,
                length: int | None = None) -> str:
    """Hex sha256 of :func:`canonical_json` of ``obj`` (its first ``length`` characters when given)."""
    digest = hashlib.sha256(canonical_json(obj, compact=compact, default=default).encode()).hexdigest()
    return digest if length is None else digest[:length]
