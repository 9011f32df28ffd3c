"""Recsys baselines and model-intrinsic attention against hand-computed values."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tests.unit.explainers.conftest import make, request
from xrec_bench.datasets.schema import Dataset, Split


def _two_item_world():
    """Users 0..3. item 0: users {0,1,2}; item 1: users {1,2,3}; item 2: user {3}; item 3: nobody."""
    pairs = [(0, 0), (1, 0), (2, 0), (1, 1), (2, 1), (3, 1), (3, 2), (3, 2)]  # (3, 2) twice: counts once
    inter = pd.DataFrame(pairs, columns=["user", "item"]).assign(timestamp=0, rating=1.0)
    items = pd.DataFrame({"item_id": list("abcd"), "text": "x", "title": "x"})
    users = pd.DataFrame({"user_id": list("0123")})
    ds = Dataset(name="hand", version="1", items=items, users=users, interactions=inter, checksums={})
    return ds, Split(strategy="leave-last-out", train=inter, valid=inter.iloc[:0], test=inter.iloc[:0])


def test_cooccurrence_is_the_jaccard_index_of_training_users(toy):
    data = _two_item_world()
    out = make("cooccurrence", data).explain(
        toy, [request([0, 2, 3], target=1)], granularity="history", seed=0
    )[0]
    assert out.ok, out.reason
    # J(0,1) = |{1,2}| / |{0,1,2,3}| = 0.5; J(2,1) = |{3}| / |{1,2,3}| = 1/3; item 3 has no users: 0
    np.testing.assert_allclose(out.scores, [0.5, 1 / 3, 0.0])
    assert out.n_evals == 0


def test_similarity_is_the_cosine_in_the_model_item_space(toy, data):
    history = [1, 2, 3]
    out = make("similarity", data).explain(toy, [request(history, target=5)], granularity="history", seed=0)[
        0
    ]
    h, t = toy.item_emb[history], toy.item_emb[5]
    expected = h @ t / (np.linalg.norm(h, axis=1) * np.linalg.norm(t))
    np.testing.assert_allclose(out.scores, expected)


def test_attention_reads_the_user_tower(toy, data):
    history = [1, 2, 3, 4]
    out = make("attention", data).explain(toy, [request(history, target=5)], granularity="history", seed=0)[0]
    task = toy.feature_task("history", user=0, history=np.array(history), target=5)
    np.testing.assert_allclose(out.scores, task.attention())
