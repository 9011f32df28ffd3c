"""Fixtures for explainer tests: the toy model, a tiny dataset/split for ``fit``, requests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.helpers.toy import ToyModel
from xrec_bench.datasets.schema import Dataset, Split
from xrec_bench.explainers import EXPLAINERS, Request, get_explainer

N_ITEMS = 30
N_USERS = 8


def tiny_data(seed: int = 0) -> tuple[Dataset, Split]:
    """8 users x 30 items, 6 interactions each, all in train (enough for co-occurrence counts)."""
    rng = np.random.default_rng(seed)
    rows = [
        (u, int(i), t) for u in range(N_USERS) for t, i in enumerate(rng.choice(N_ITEMS, 6, replace=False))
    ]
    inter = pd.DataFrame(rows, columns=["user", "item", "timestamp"]).assign(rating=1.0)
    items = pd.DataFrame({"item_id": [str(i) for i in range(N_ITEMS)], "text": "x", "title": "x"})
    users = pd.DataFrame({"user_id": [str(u) for u in range(N_USERS)]})
    ds = Dataset(name="tiny", version="1", items=items, users=users, interactions=inter, checksums={})
    empty = inter.iloc[:0]
    return ds, Split(strategy="leave-last-out", train=inter, valid=empty, test=empty)


@pytest.fixture(scope="session")
def toy():
    return ToyModel(n_items=N_ITEMS)


@pytest.fixture(scope="session")
def data():
    return tiny_data()


def make(name: str, data, **params):
    """A registered explainer with small sample counts (tests stay fast), fitted on ``data``."""
    cls = EXPLAINERS.get(name)
    small = {k: v for k, v in {"n_samples": 64, "n_steps": 8}.items() if k in cls.defaults}
    return get_explainer(name, **{**small, **params}).fit(*data)


def request(history, target=5, user=0) -> Request:
    return Request(user=user, target=target, history=np.asarray(history, dtype=np.int64))
