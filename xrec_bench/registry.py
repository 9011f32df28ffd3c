"""One generic registry for datasets, models, explainers and metrics.

Entries are registered by name with a decorator; unknown names get a "did you mean" answer;
duplicate names are refused. An entry may be registered lazily as ``"module:attribute"`` so that
heavy imports (torch, transformers) happen only when the entry is used.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class UnknownNameError(KeyError):
    """Raised for a name that no registry entry carries. ``str()`` gives the full message."""

    def __str__(self) -> str:  # KeyError quotes its argument; we want the sentence as written
        return str(self.args[0]) if self.args else ""


class Registry(Generic[T]):
    """A named collection of components of one kind (``kind`` is used in messages)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T | str] = {}

    def register(self, name: str, obj: T | str | None = None) -> Callable[[T], T] | T | str:
        """Register ``obj`` under ``name``; used bare as a decorator when ``obj`` is omitted.

        ``obj`` may be a ``"package.module:attribute"`` string, resolved on first :meth:`get`.
        """
        if name in self._entries:
            raise ValueError(f"A {self.kind} named {name!r} is already registered; names must be unique.")
        if obj is not None:
            self._entries[name] = obj
            return obj

        def decorator(target: T) -> T:
            if name in self._entries:
                raise ValueError(f"A {self.kind} named {name!r} is already registered; names must be unique.")
            self._entries[name] = target
            return target

        return decorator

    def get(self, name: str) -> T:
        """Return the entry called ``name``, importing it if it was registered lazily."""
        try:
            entry = self._entries[name]
        except KeyError:
            raise UnknownNameError(self.unknown_message(name)) from None
        if isinstance(entry, str):
            module_name, _, attr = entry.partition(":")
            entry = getattr(importlib.import_module(module_name), attr)
            self._entries[name] = entry
        return entry  # type: ignore[return-value]

    def unknown_message(self, name: str) -> str:
        close = difflib.get_close_matches(name, list(self._entries), n=3, cutoff=0.5)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        return f"Unknown {self.kind} {name!r}.{hint} Known {self.kind}s: {', '.join(sorted(self._entries))}."

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)
