"""Fields of an item's text: the knowledge-level features (title, each genre or category, brand, ...).

A dataset card declares its fields::

    [fields]
    names = ["title", "year", "genre"]               # the field names, in the order they are rendered
    values = "xrec_bench.datasets.movielens:field_values"

``values`` is a function ``(item row as a dict) -> [(field name, value), ...]`` that lists the values
the parser rendered into the row's ``text``, in rendered order; a multi-valued field (genres,
category levels) gives one pair per value, so each genre is its own feature ("because it is a
Comedy"). :func:`item_fields` locates each value in the text (scanning forward, so a value that
also occurs earlier is not taken from the wrong place) and returns character spans. Text between
fields ("Genres:", punctuation) belongs to no field and is never removed. A value the function
lists but the text does not hold (e.g. cut off by a length limit) is left out of that item's fields.

The span function is written by hand per dataset because only the parser knows how it rendered
the text; locating rendered values in the text is shared here.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

_NAME = re.compile(r"[a-z][a-z0-9_]*")


class FieldsError(ValueError):
    """A dataset's field declaration (or its value function) is invalid; the message says what to fix."""


@dataclass(frozen=True)
class FieldSpan:
    """One field value of one item's text: ``text[start:end] == value``."""

    name: str
    value: str
    start: int
    end: int

    @property
    def label(self) -> str:
        """How explanations show it, e.g. ``genre: Comedy``."""
        return f"{self.name}: {self.value}"


def check_fields(where: str, spec: Any) -> dict[str, Any]:
    """Validate a card's ``[fields]`` table; returns ``{"names": [...], "values": "module:function"}``."""
    if not isinstance(spec, Mapping):
        raise FieldsError(f"{where}: [fields] must be a table with 'names' and 'values'.")
    unknown = sorted(set(spec) - {"names", "values"})
    if unknown:
        raise FieldsError(f"{where}: [fields] has unknown key(s) {', '.join(unknown)}; allowed: names, values.")
    names = spec.get("names")
    if not isinstance(names, list) or not names or not all(isinstance(n, str) and _NAME.fullmatch(n) for n in names):
        raise FieldsError(f"{where}: [fields] names must be a non-empty list of lower-case identifiers, "
                          f"e.g. [\"title\", \"genre\"]. Got {names!r}.")
    if len(set(names)) != len(names):
        raise FieldsError(f"{where}: [fields] names must be unique. Got {names}.")
    values = spec.get("values")
    if not isinstance(values, str) or ":" not in values:
        raise FieldsError(f"{where}: [fields] values must be 'package.module:function'. Got {values!r}.")
    return {"names": list(names), "values": values}


def _resolve(spec: str):
    module, _, attr = spec.partition(":")
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise FieldsError(f"The field function {spec!r} cannot be loaded ({exc}); fix [fields] values in the "
                          "dataset card.") from None


def locate(text: str, values: Sequence[tuple[str, str]]) -> list[FieldSpan]:
    """Character spans of ``values`` (``(name, value)`` in rendered order) in ``text``, scanning forward."""
    spans, cursor = [], 0
    for name, value in values:
        value = str(value).strip()
        if not value:
            continue
        start = text.find(value, cursor)
        if start < 0:
            continue
        spans.append(FieldSpan(name, value, start, start + len(value)))
        cursor = start + len(value)
    return spans


def item_fields(dataset) -> list[tuple[FieldSpan, ...]] | None:
    """The located fields of every item of ``dataset`` (None when its card declares no fields)."""
    spec = getattr(dataset, "fields", None) or {}
    if not spec:
        return None
    values_of = _resolve(spec["values"])
    names = set(spec["names"])
    out = []
    for row in dataset.items.to_dict("records"):
        pairs = list(values_of(row))
        undeclared = sorted({n for n, _ in pairs} - names)
        if undeclared:
            raise FieldsError(f"Dataset {dataset.name!r}: its field function {spec['values']} returned field(s) "
                              f"{', '.join(undeclared)} that [fields] names does not declare ({sorted(names)}).")
        out.append(tuple(locate(str(row["text"]), pairs)))
    return out
