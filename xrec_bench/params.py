"""Declared parameter constraints (scikit-learn's ``_parameter_constraints``, in small).

A component declares, per parameter, the values it accepts: :class:`Int` / :class:`Real` ranges, or
literal values such as ``None`` or ``"auto"``. :func:`check_params` reports every violation at once in
scikit-learn's words: "The 'max_epochs' parameter of bpr-mf must be an int in the range [1, inf) or
'auto'. Got 'abc' instead."
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Int:
    low: int | None = None
    high: int | None = None

    def accepts(self, value: Any) -> bool:
        return (isinstance(value, int) and not isinstance(value, bool)
                and (self.low is None or value >= self.low) and (self.high is None or value <= self.high))

    def __str__(self) -> str:
        lo = "(-inf" if self.low is None else f"[{self.low}"
        hi = "inf)" if self.high is None else f"{self.high}]"
        return f"an int in the range {lo}, {hi}"


@dataclass(frozen=True)
class Real:
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def accepts(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            return False
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return not (self.high is not None and (value >= self.high if self.high_open else value > self.high))

    def __str__(self) -> str:
        lo = "(" if self.low_open or self.low is None else "["
        hi = ")" if self.high_open or self.high is None else "]"
        return (f"a number in the range {lo}{'-inf' if self.low is None else self.low}, "
                f"{'inf' if self.high is None else self.high}{hi}")


class Text:
    """Any non-empty string (e.g. a model name or a folder)."""

    def accepts(self, value: Any) -> bool:
        return isinstance(value, str) and bool(value.strip())

    def __str__(self) -> str:
        return "a non-empty string"


def _accepts(option: Any, value: Any) -> bool:
    if hasattr(option, "accepts"):
        return option.accepts(value)
    return type(value) is type(option) and value == option  # a literal (None, "auto"); True != 1


def check_params(owner: str, params: Mapping[str, Any], constraints: Mapping[str, Sequence[Any]]) -> list[str]:
    """Every parameter of ``params`` that its constraints refuse, as one message each."""
    problems = []
    for name, value in params.items():
        options = constraints.get(name)
        if options is None or any(_accepts(o, value) for o in options):
            continue
        expected = " or ".join(str(o) if hasattr(o, "accepts") else repr(o) for o in options)
        problems.append(f"The {name!r} parameter of {owner} must be {expected}. Got {value!r} instead.")
    return problems


@dataclass(frozen=True)
class Param:
    """One declared parameter: its default, the values it accepts (:class:`Int`, :class:`Real`,
    :class:`Text` or literals; empty: any value) and a line of help."""

    default: Any
    accepts: tuple[Any, ...] = ()
    help: str = ""

    def describe(self) -> str:
        """What the parameter accepts, in words (``"an int in the range [1, inf)"``); "any value" if undeclared."""
        return " or ".join(str(o) if hasattr(o, "accepts") else repr(o) for o in self.accepts) or "any value"


#: a component's parameters by name
Schema = Mapping[str, Param]


def schema_from(defaults: Mapping[str, Any] | None, constraints: Mapping[str, Sequence[Any]] | None = None,
                help: Mapping[str, str] | None = None) -> dict[str, Param]:
    """A schema from the older separate declarations: ``defaults``, ``constraints`` and ``help`` by name."""
    constraints, help = constraints or {}, help or {}
    return {name: Param(default, tuple(constraints.get(name, ())), help.get(name, ""))
            for name, default in (defaults or {}).items()}


def check_schema(owner: str, params: Mapping[str, Any], schema: Schema) -> list[str]:
    """Every problem with ``params`` under ``schema``, all at once: unknown names (with a "did you
    mean"), then values their declaration refuses."""
    problems = []
    for name in sorted(set(params) - set(schema)):
        close = difflib.get_close_matches(name, sorted(schema), n=2, cutoff=0.5)
        problems.append(f"Unknown parameter {name!r} for {owner}." + (f" Did you mean: {', '.join(close)}?" if close else "")
                        + f" It takes: {', '.join(sorted(schema)) or 'no parameters'}.")
    known = {k: v for k, v in params.items() if k in schema}
    return problems + check_params(owner, known, {k: p.accepts for k, p in schema.items() if p.accepts})
