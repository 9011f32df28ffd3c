"""Small helpers the models' training loops share: training sequences, devices, and the
validation NDCG@10 used for early stopping (computed with the ranks and the NDCG of
:mod:`xrec_bench._util.ranking`, as the accuracy metric ``ndcg@10`` is)."""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from xrec_bench._util.ranking import ndcg, tie_aware_rank


def resolve_device(device: str) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; anything else is passed to :class:`torch.device`.

    A CUDA device on a machine where torch sees none is an error that says how to run on the CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError as exc:
        raise ValueError(f"Unknown device {device!r}: {exc}. Use 'cpu', 'cuda', 'cuda:N' or 'auto'.") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} asks for a CUDA GPU, but torch sees none on this machine. Run on the CPU "
            "instead: device='cpu' (or 'auto'), or `xrec-bench run --device cpu` for a whole suite."
        )
    return resolved


def user_sequences(train: pd.DataFrame) -> dict[int, np.ndarray]:
    """Each user's training items in time order (ties keep the frame's order)."""
    frame = train.sort_values(["user", "timestamp"], kind="stable")
    return {int(u): g["item"].to_numpy(np.int64) for u, g in frame.groupby("user", sort=True)}


def ndcg_at_k(
    scores: np.ndarray, targets: Sequence[np.ndarray], exclude: Sequence[np.ndarray], k: int = 10
) -> float:
    """Mean NDCG@k of full rankings (``exclude`` masked, ties to the lower index); users without
    a target outside ``exclude`` are skipped."""
    scores = np.array(scores, dtype=np.float64, copy=True)
    values = []
    for row, (tgt, exc) in enumerate(zip(targets, exclude, strict=True)):
        s = scores[row]
        s[np.asarray(exc, dtype=np.int64)] = -np.inf
        tgt = np.setdiff1d(np.asarray(tgt, dtype=np.int64), np.asarray(exc, dtype=np.int64))
        if tgt.size == 0:
            continue
        ranks = np.sort([tie_aware_rank(s, s[t], t) for t in tgt])
        values.append(ndcg(ranks, tgt.size, k))
    return float(np.mean(values)) if values else 0.0


class EarlyStopping:
    """The best state by a validation score (higher is better), and when to stop: after ``patience``
    evaluations in a row that did not beat the best (the first evaluation always does)."""

    def __init__(self, patience: int) -> None:
        self.patience = int(patience)
        self.best = -1.0
        self.best_state: Any = None
        self.bad = 0

    def update(self, score: float, state: Callable[[], Any]) -> bool:
        """Record ``score``; when it is a new best, keep a deep copy of ``state()``. True: stop now."""
        if score > self.best:
            self.best, self.bad = score, 0
            self.best_state = copy.deepcopy(state())
        else:
            self.bad += 1
        return self.bad >= self.patience


def subsample_cases(cases, n: int | None, seed: int):
    """At most ``n`` of ``cases`` (users, histories, targets), chosen with ``seed``; all when ``n`` is None."""
    users, histories, targets = cases.users, cases.histories, cases.targets
    if n is not None and len(users) > n:
        keep = np.sort(np.random.default_rng(seed).choice(len(users), size=n, replace=False))
        users = users[keep]
        histories = [histories[i] for i in keep]
        targets = [targets[i] for i in keep]
    return users, histories, targets


def check_users(users: np.ndarray, n_users: int, model: str) -> np.ndarray:
    users = np.asarray(users, dtype=np.int64)
    bad = users[(users < 0) | (users >= n_users)]
    if bad.size:
        raise ValueError(
            f"Unknown user index {int(bad[0])}: {model} was trained on {n_users} users (0..{n_users - 1}). "
            "Use the dataset the model was fitted on."
        )
    return users
