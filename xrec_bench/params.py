"""Declared parameter constraints (scikit-learn's ``_parameter_constraints``, in small).

A component declares, per parameter, the values it accepts: :class:`Int` / :class:`Real` ranges, or
literal values such as ``None`` or ``"auto"``. :func:`check_params` reports every violation at once in
scikit-learn's words: "The 'max_epochs' parameter of bpr-mf must be an int in the range [1, inf) or
'auto'. Got 'abc' instead."
"""

from __future__ import annotations

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
