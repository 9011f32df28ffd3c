"""Errors of the dataset layer. Each message says what was wrong, what was expected, what was got
and what to do; the CLI shows them without a traceback."""

from __future__ import annotations


class DatasetError(Exception):
    """Base class of every error the dataset layer raises for bad input or bad data."""


class CardError(DatasetError):
    """A dataset card (``datasets/*.toml``) is malformed, or options do not fit the card."""


class DownloadError(DatasetError):
    """No URL (official or mirror) gave the file."""


class ChecksumMismatchError(DatasetError):
    """A downloaded file (or archive member) does not have the pinned or recorded sha256."""

    def __init__(self, message: str, *, file: str, expected: str, got: str) -> None:
        super().__init__(message)
        self.file, self.expected, self.got = file, expected, got


class CorruptArchiveError(DatasetError):
    """A zip or gzip file is truncated, corrupt or lacks a member the card names."""


class TooLargeError(DatasetError):
    """A download, or a member or decompressed stream of it, exceeds a size or compression-ratio bound.

    Raised before the excess is written; ``file`` names it, ``limit`` the bound in bytes (or the ratio).
    """

    def __init__(self, message: str, *, file: str, limit: float) -> None:
        super().__init__(message)
        self.file, self.limit = file, limit


class MalformedDataError(DatasetError):
    """Rows that do not parse (refused in strict mode; otherwise counted in ``Dataset.stats``), or a
    source file that cannot be read at all (``file`` and ``line`` say where, when known)."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None) -> None:
        super().__init__(message)
        self.file, self.line = file, line


class DanglingReferenceError(DatasetError):
    """Rows that name ids missing from the source's own tables (refused in strict mode)."""


class EmptyDatasetError(DatasetError):
    """Nothing is left after conversion to implicit feedback and filtering."""
