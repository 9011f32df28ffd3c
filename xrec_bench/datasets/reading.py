"""Reading raw source files for the parsers: streaming, line by line, and never trusting a value.

* :func:`lines` yields each line of a (plain or gzip) file as bytes, with its 1-based number; a line
  longer than :data:`MAX_LINE` bytes is skipped and reported, so memory never holds more than one line
  of text.
* :func:`iter_rows` splits decoded lines into fields (``sep`` or CSV quoting); a line that does not
  decode or has the wrong number of fields is reported by number instead of raising.
* :func:`read_table` streams a delimited file in chunks into typed columns, checking every
  numeric value against a :class:`Number` range *before* casting (so ``10^20`` is a bad row, never
  ``INT64_MIN``); memory is the output's plus one chunk.
* :func:`number` checks one value of a JSON record the same way.

The position of the line being read is kept per thread (:func:`last_position`), so that the loader
can name file and line in the error it raises for anything a parser did not handle.
"""

from __future__ import annotations

import csv
import gzip
import math
import threading
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from xrec_bench.datasets.errors import MalformedDataError

#: the longest line (bytes) a parser accepts; longer ones are malformed rows
MAX_LINE = 16 * 2**20
#: rows converted at once by :func:`read_table`
CHUNK_ROWS = 65_536


@dataclass(frozen=True)
class Number:
    """A numeric column: ``kind`` ``"int"`` (integral values, stored as int64) or ``"float"``; values
    outside ``[low, high]``, NaN and infinities make the row malformed."""

    kind: str
    low: float
    high: float

    def accepts(self, value: float) -> bool:
        return self.low <= value <= self.high and (self.kind == "float" or value == math.floor(value))


#: seconds since the epoch: 1970-01-01 up to 2100-01-01 (every source's times lie in between)
TIMESTAMP = Number("int", 0, 4_102_444_800)
#: numeric ids; 2**53 keeps them exact through the float parse
ID = Number("int", 0, 2**53)

_position = threading.local()


def last_position() -> tuple[str | None, int | None]:
    """(file name, line number) most recently read in this thread."""
    return getattr(_position, "file", None), getattr(_position, "line", None)


def lines(path: str | Path) -> Iterator[tuple[int, bytes | None]]:
    """(line number, the line's bytes without its newline) of each line; ``None`` for an overlong line.

    A file that cannot be read to its end (truncated or corrupt gzip, I/O error) raises
    :class:`MalformedDataError` naming the file and the line reached.
    """
    name = Path(path).name
    opener = gzip.open if str(path).endswith(".gz") else open
    lineno = 0
    _position.file, _position.line = name, 0
    try:
        with opener(path, "rb") as fh:
            while line := fh.readline(MAX_LINE):
                lineno += 1
                _position.line = lineno
                if len(line) == MAX_LINE and not line.endswith(b"\n"):
                    while (rest := fh.readline(MAX_LINE)) and not rest.endswith(b"\n"):
                        pass
                    yield lineno, None
                    continue
                yield lineno, line.rstrip(b"\n")
    except (OSError, EOFError, zlib.error) as exc:
        raise MalformedDataError(
            f"{name}: cannot be read past line {lineno} ({type(exc).__name__}: {exc}). The file is truncated "
            "or corrupt: delete it from the data cache (xrec-bench datasets info shows where) and download it "
            "again.",
            file=name,
            line=lineno,
        ) from None


def iter_rows(
    path: str | Path, *, sep: str | None, n_fields: int, encoding: str = "utf-8", header: bool = False
) -> Iterator[tuple[int, list[str] | None]]:
    """(line number, fields) of each non-blank line; fields is ``None`` when the line does not decode
    in ``encoding``, is overlong, or does not have exactly ``n_fields`` fields. ``sep=None`` reads CSV
    with quoting (a quoted field may span lines; the row then gets its first line's number)."""
    current = [0]

    def decoded() -> Iterator[str]:
        for lineno, raw in lines(path):
            current[0] = lineno
            if raw is None:
                yield "\x00overlong"
                continue
            try:
                yield raw.decode(encoding).rstrip("\r") if sep is not None else raw.decode(encoding) + "\n"
            except UnicodeDecodeError:
                yield "\x00undecodable"

    source = decoded()
    rows: Iterator[list[str]] = csv.reader(source) if sep is None else (line.split(sep) for line in source)
    skip_header = header
    while True:
        start = current[0] + 1
        try:
            parts = next(rows)
        except StopIteration:
            return
        except csv.Error:  # e.g. a NUL byte inside CSV text
            yield start, None
            continue
        if skip_header:
            skip_header = False
            continue
        if parts == [""] or not parts:
            continue
        if len(parts) != n_fields or parts[0].startswith("\x00"):
            yield start, None
        else:
            yield start, parts


def read_rows(
    path: str | Path, *, sep: str | None, n_fields: int, encoding: str = "utf-8", header: bool = False
) -> tuple[list[list[str]], list[int]]:
    """The good rows of a small delimited file (item tables) and the line numbers of the bad ones."""
    good, bad = [], []
    for lineno, parts in iter_rows(path, sep=sep, n_fields=n_fields, encoding=encoding, header=header):
        (good.append(parts) if parts is not None else bad.append(lineno))
    return good, bad


def read_table(
    path: str | Path,
    columns: Mapping[str, Number | None],
    *,
    sep: str | None,
    encoding: str = "utf-8",
    header: bool = False,
    chunk_rows: int = CHUNK_ROWS,
) -> tuple[pd.DataFrame, list[int]]:
    """Stream a delimited file into a frame of ``columns`` (a :class:`Number`, or None for text).

    Returns the frame of the good rows, in file order, and the line numbers of the bad ones (wrong
    field count, undecodable, a number that does not parse or is out of range).
    """
    names = list(columns)
    parts: dict[str, list[np.ndarray]] = {name: [] for name in names}
    bad: list[int] = []
    chunk: list[list[str]] = []
    chunk_lines: list[int] = []

    def flush() -> None:
        fields = list(zip(*chunk, strict=True))
        ok = np.ones(len(chunk), dtype=bool)
        converted = {}
        for name, spec, values in zip(names, columns.values(), fields, strict=True):
            if spec is None:
                converted[name] = np.array(values, dtype=object)
                continue
            numbers = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy(
                dtype=np.float64, na_value=np.nan
            )
            ok &= in_range(numbers, spec)
            converted[name] = numbers
        bad.extend(np.asarray(chunk_lines)[~ok].tolist())
        for name, spec in columns.items():
            kept = converted[name][ok]
            parts[name].append(kept.astype(np.int64) if spec is not None and spec.kind == "int" else kept)
        chunk.clear()
        chunk_lines.clear()

    for lineno, row in iter_rows(path, sep=sep, n_fields=len(names), encoding=encoding, header=header):
        if row is None:
            bad.append(lineno)
            continue
        chunk.append(row)
        chunk_lines.append(lineno)
        if len(chunk) >= chunk_rows:
            flush()
    if chunk:
        flush()
    data = {}
    for name, spec in columns.items():
        empty = np.zeros(0, dtype=object if spec is None else np.int64 if spec.kind == "int" else np.float64)
        data[name] = np.concatenate(parts[name]) if parts[name] else empty
    return pd.DataFrame(data), sorted(bad)


def in_range(values: np.ndarray, spec: Number) -> np.ndarray:
    """Mask of ``values`` (float64) that ``spec`` accepts; NaN fails every comparison."""
    with np.errstate(invalid="ignore"):
        ok = (values >= spec.low) & (values <= spec.high)
        if spec.kind == "int":
            ok &= values == np.floor(values)
    return ok


def numeric_columns(frame: pd.DataFrame, columns: Mapping[str, Number]) -> tuple[pd.DataFrame, np.ndarray]:
    """Convert ``columns`` of a small frame to numbers in their ranges; returns the good rows and the mask
    of bad ones (to be counted as malformed)."""
    bad = np.zeros(len(frame), dtype=bool)
    out = frame.copy()
    for name, spec in columns.items():
        values = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        bad |= ~in_range(values, spec)
        out[name] = values
    out = out[~bad]
    for name, spec in columns.items():
        out[name] = out[name].astype(np.int64 if spec.kind == "int" else np.float64)
    return out, bad


def number(value: Any, spec: Number) -> float | int | None:
    """A JSON value as a number ``spec`` accepts (int for ``"int"``), or None. Numbers and numeric
    strings are accepted; booleans, containers, NaN, infinities and out-of-range values are not."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        as_float = float(value)
    except (ValueError, OverflowError):
        return None
    if not spec.accepts(as_float):
        return None
    return int(as_float) if spec.kind == "int" else as_float


def is_id(value: Any, max_length: int = 256) -> bool:
    """A usable string id: non-empty, printable, no whitespace, at most ``max_length`` characters."""
    return (
        isinstance(value, str) and 0 < len(value) <= max_length and value.isprintable() and not any(
            c.isspace() for c in value)
    )
