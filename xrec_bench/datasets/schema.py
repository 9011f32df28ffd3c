"""The one schema every dataset is parsed into, and the split that models are trained and tested on.

Users and items are addressed by contiguous integer indices (``0..n_users-1``, ``0..n_items-1``);
the original ids are kept in ``users.user_id`` and ``items.item_id``. Layers hand these frozen
dataclasses to each other, never open files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from xrec_bench._util.hashing import json_sha256

#: Columns every ``interactions`` frame has (extra columns are allowed).
INTERACTION_COLUMNS = ("user", "item", "timestamp", "rating")


@dataclass(frozen=True)
class Dataset:
    """A dataset in the common schema.

    Attributes:
        name, version: the card's name and version (e.g. ``movielens-100k``, ``1``).
        items: one row per item, index ``0..n_items-1``; columns ``item_id`` (str), ``text`` (the
            rendered item text the encoder reads, e.g. "Toy Story (1995). Genres: Animation,
            Children's, Comedy."), ``title`` and any other text fields of the source.
        users: one row per user, index ``0..n_users-1``; column ``user_id`` (str).
        interactions: columns ``user``, ``item`` (indices), ``timestamp`` (int64, seconds since epoch),
            ``rating`` (float; 1.0 for clicks and for implicit feedback), sorted by user then time
            (ties keep source order). Holds the implicit feedback after the rating threshold.
        impressions: MIND only: ``impression_id``, ``user``, ``timestamp``, ``history`` (array of item
            indices), ``candidates`` (array of item indices), ``labels`` (array of 0/1).
        fields: the card's declaration of the item text's fields (``names``, ``values``; see
            :mod:`xrec_bench.datasets.fields`), empty when it declares none.
        ground_truth: synthetic only: ``user``, ``target`` (item index of the planted next item),
            ``cause_items`` (array of item indices in the user's history that caused it),
            ``cause_words`` (tuple of words of the target's text that made it match).
        checksums: sha256 of every source file the loader read (``{file name: sha256}``).
        options: the preprocessing options that produced this object (threshold, k-core, ...).
        stats: counts before conversion to implicit feedback and the parse report
            (e.g. ``raw_interactions``, ``malformed_rows``, ``dangling_references``).
    """

    name: str
    version: str
    items: pd.DataFrame
    users: pd.DataFrame
    interactions: pd.DataFrame
    checksums: dict[str, str]
    options: dict[str, Any] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)
    impressions: pd.DataFrame | None = None
    ground_truth: pd.DataFrame | None = None
    fields: dict[str, Any] = field(default_factory=dict)

    @property
    def n_users(self) -> int:
        return len(self.users)

    @property
    def n_items(self) -> int:
        return len(self.items)

    @property
    def item_texts(self) -> list[str]:
        return self.items["text"].tolist()

    @property
    def fingerprint(self) -> str:
        """A short hash of what determines this dataset's content: name, version, sources, options."""
        return json_sha256(
            {"name": self.name, "version": self.version, "checksums": self.checksums, "options": self.options},
            length=16,
        )


@dataclass(frozen=True)
class EvalCases:
    """What a model is asked at one stage of a split: for each user, a history and held-out targets.

    ``histories[i]`` is user ``users[i]``'s chronological item history (what the model may see);
    ``targets[i]`` the held-out items to rank; ``exclude[i]`` the items masked out of the ranking
    (the items already seen, i.e. the history).
    """

    users: np.ndarray
    histories: list[np.ndarray]
    targets: list[np.ndarray]

    def __len__(self) -> int:
        return len(self.users)

    @property
    def exclude(self) -> list[np.ndarray]:
        return self.histories


@dataclass(frozen=True)
class Split:
    """Train / validation / test interactions of one dataset, and the evaluation cases they imply.

    ``strategy`` is ``leave-last-out`` (per user, by time: last interaction -> test, the one
    before -> validation, the rest -> train) or ``temporal`` (global time cut-offs).
    """

    strategy: str
    train: pd.DataFrame
    valid: pd.DataFrame
    test: pd.DataFrame
    options: dict[str, Any] = field(default_factory=dict)
    valid_cases: EvalCases | None = None
    test_cases: EvalCases | None = None

    def cases(self, stage: str) -> EvalCases:
        """The evaluation cases of ``stage`` (``"valid"`` or ``"test"``)."""
        if stage not in ("valid", "test"):
            raise ValueError(f"stage must be 'valid' or 'test'. Got {stage!r} instead.")
        cases = self.valid_cases if stage == "valid" else self.test_cases
        if cases is None:
            raise ValueError(f"This split has no {stage} cases.")
        return cases
