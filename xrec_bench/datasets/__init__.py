"""Datasets: cards (declared as data in the repository's ``datasets/`` folder), download through
pooch with pinned checksums, parsing into :class:`~xrec_bench.datasets.schema.Dataset`, and splits.

The public entry points are imported lazily so that ``import xrec_bench.datasets`` stays cheap.
"""

from __future__ import annotations

from typing import Any

from xrec_bench.datasets.schema import Dataset, EvalCases, Split

__all__ = ["Dataset", "EvalCases", "Split", "load_dataset", "make_split", "list_datasets"]


def load_dataset(name: str, **options: Any) -> Dataset:
    """Fetch (or read from cache), verify, parse and preprocess the dataset ``name``."""
    from xrec_bench.datasets.loader import load_dataset as _load

    return _load(name, **options)


def make_split(dataset: Dataset, strategy: str = "leave-last-out", **options: Any) -> Split:
    """Split ``dataset`` deterministically (``leave-last-out`` or ``temporal``)."""
    from xrec_bench.datasets.splits import make_split as _split

    return _split(dataset, strategy, **options)


def list_datasets() -> list[str]:
    from xrec_bench.datasets.cards import list_cards

    return list_cards()
