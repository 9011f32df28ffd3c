"""Explicit seeds. Randomness enters through a seed turned into a generator locally, never at import.

Each cell of a benchmark grid derives its own seed from the suite seed and the cell's key with
:class:`numpy.random.SeedSequence`, so adding a cell changes no other cell's numbers.
"""

from __future__ import annotations

import contextlib
import hashlib
import random
from collections.abc import Iterator

import numpy as np


def derive_seed(base_seed: int, *key: object) -> int:
    """A 32-bit seed that depends only on ``base_seed`` and the parts of ``key`` (order matters)."""
    digest = hashlib.sha256("\x1f".join(map(str, key)).encode()).digest()
    entropy = [int(base_seed)] + [int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4)]
    return int(np.random.SeedSequence(entropy).generate_state(1)[0])


def rng(seed: int | np.random.Generator | None) -> np.random.Generator:
    """A numpy Generator from a seed (a Generator passes through)."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None:
        raise ValueError("A seed is required: pass an int (e.g. seed=0) so that results can be reproduced.")
    return np.random.default_rng(int(seed))


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (if imported) for code that uses global generators (e.g. lime, torch)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        return
    torch.manual_seed(seed)


@contextlib.contextmanager
def deterministic_torch() -> Iterator[None]:
    """Run torch with deterministic algorithms, restoring the previous setting afterwards.

    With more than one CPU thread, the backward pass of indexing (``index_put_`` with accumulation,
    as in embedding lookups) sums duplicates in a thread-dependent order, so two trainings with the
    same seed differ in the last bits and every downstream number can move. Deterministic mode
    sorts instead. ``warn_only``: ops without a deterministic variant (on some GPUs) warn, not fail.
    """
    import torch

    before, before_warn = torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before, warn_only=before_warn)
