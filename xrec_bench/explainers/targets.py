"""What is explained: the item a request asks about, one name for the suite files and the CLI.

* ``top-recommendation`` (the default): the model's own top-1 recommendation for the user's
  history (history items masked out). This is what an explanation of a recommender explains, and
  what LXR's POS@K / NEG@K assume: the target is in the top K at the full input for every user.
* ``test-item``: the user's held-out test item. On ``synthetic`` the planted target IS the test
  item, so ground truth applies; but on real data the model ranks it in its top 10 for only a
  few users, so counterfactual rank metrics rest on few users.

``test`` and ``top1`` (the CLI's earlier names) are accepted as deprecated aliases, with a warning.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import numpy as np

DEFAULT_TARGET = "top-recommendation"
#: deprecated spelling -> name
ALIASES = {"top1": "top-recommendation", "test": "test-item"}


def _top_recommendation(model, users: np.ndarray, histories: Sequence[np.ndarray], held_out) -> list[int]:
    return [int(t) for t in model.recommend(users, list(histories), 1, exclude=list(histories))[:, 0]]


def _test_item(model, users: np.ndarray, histories: Sequence[np.ndarray], held_out) -> list[int]:
    return [int(np.asarray(t).reshape(-1)[0]) for t in held_out]


_CHOOSERS: dict[str, Callable[..., list[int]]] = {
    "top-recommendation": _top_recommendation,
    "test-item": _test_item,
}
TARGETS = tuple(_CHOOSERS)


def resolve_target(name: str) -> str:
    """The target's name; a deprecated alias is translated with a warning, an unknown name refused."""
    if name in _CHOOSERS:
        return name
    if name in ALIASES:
        new = ALIASES[name]
        warnings.warn(f"Target {name!r} is deprecated; use {new!r} (the same names as in suite files).",
                      FutureWarning, stacklevel=2)
        return new
    raise ValueError(f"Unknown target {name!r}. Expected one of {list(TARGETS)} "
                     f"(deprecated aliases: {sorted(ALIASES)}).")


def choose_targets(target: str, model, users, histories: Sequence[np.ndarray], held_out: Sequence) -> list[int]:
    """One target item per user: ``target`` names the rule (see the module docstring); ``held_out`` are
    the users' held-out test items (used by ``test-item`` only)."""
    return _CHOOSERS[resolve_target(target)](model, np.asarray(users, dtype=np.int64), histories, held_out)
