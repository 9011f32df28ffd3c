"""Fixtures for model tests: a tiny dataset built directly from the schema, its leave-last-out
split, and a tiny BERT (2 layers, hidden 32, random weights) with the default model's tokenizer."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from xrec_bench.datasets.schema import Dataset, EvalCases, Split

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session", autouse=True)
def _one_thread():
    """The models here are tiny: extra threads only add contention on a shared CI machine (a 5-8x
    slow-down measured on a loaded 2-core box). Test-only; library code never sets threads."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


WORDS = [
    "space",
    "robot",
    "love",
    "war",
    "comedy",
    "drama",
    "horse",
    "ocean",
    "music",
    "crime",
    "ghost",
    "king",
]


def tiny_dataset(n_users: int = 12, n_items: int = 20, length: int = 7, seed: int = 0) -> Dataset:
    rng = np.random.default_rng(seed)
    texts = [f"Item {i}. " + " ".join(rng.choice(WORDS, size=3, replace=False)) + "." for i in range(n_items)]
    items = pd.DataFrame(
        {
            "item_id": [f"i{i}" for i in range(n_items)],
            "title": [f"Item {i}" for i in range(n_items)],
            "text": texts,
        }
    )
    users = pd.DataFrame({"user_id": [f"u{u}" for u in range(n_users)]})
    rows = []
    for u in range(n_users):
        # users walk through item "neighbourhoods" so that there is something to learn
        start = int(rng.integers(n_items))
        seq = [(start + 2 * t + int(rng.integers(2))) % n_items for t in range(length)]
        seq = list(dict.fromkeys(seq))
        rows += [(u, it, 1_000 * u + t, 1.0) for t, it in enumerate(seq)]
    inter = pd.DataFrame(rows, columns=["user", "item", "timestamp", "rating"])
    return Dataset("tiny", "1", items, users, inter, checksums={"gen": str(seed)}, options={"seed": seed})


def leave_last_out(ds: Dataset) -> Split:
    train, valid, test = [], [], []
    vc, tc = ([], [], []), ([], [], [])
    for u, g in ds.interactions.groupby("user", sort=True):
        g = g.sort_values("timestamp", kind="stable")
        if len(g) < 3:
            train.append(g)
            continue
        train.append(g.iloc[:-2])
        valid.append(g.iloc[[-2]])
        test.append(g.iloc[[-1]])
        items = g["item"].to_numpy(np.int64)
        vc[0].append(u), vc[1].append(items[:-2]), vc[2].append(items[-2:-1])
        tc[0].append(u), tc[1].append(items[:-1]), tc[2].append(items[-1:])
    mk = lambda c: EvalCases(np.asarray(c[0], dtype=np.int64), c[1], c[2])  # noqa: E731
    return Split("leave-last-out", pd.concat(train), pd.concat(valid), pd.concat(test), {}, mk(vc), mk(tc))


@pytest.fixture(scope="session")
def tiny():
    ds = tiny_dataset()
    return ds, leave_last_out(ds)


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory) -> str:
    """A folder holding a random 2-layer BERT (hidden 32) and the default encoder's tokenizer."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    from xrec_bench.models.encoder import default_encoder_path

    path = tmp_path_factory.mktemp("tiny-bert")
    tok = AutoTokenizer.from_pretrained(default_encoder_path())
    torch.manual_seed(0)
    cfg = BertConfig(
        vocab_size=tok.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    BertModel(cfg).save_pretrained(path)
    tok.save_pretrained(path)
    return str(path)


@pytest.fixture()
def model_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XREC_BENCH_DATA", str(tmp_path))
    return tmp_path


#: small values for parameters that set training cost, by parameter name (whichever a model declares;
#: the models covered come from the registry, not from this table)
SMALL = {"max_epochs": 2, "train_layers": 1, "batch_size": 16, "device": "cpu", "eval_every": 1, "dim": 8}


def quick_params(name: str, tiny_bert: str) -> dict:
    """Parameters that make model ``name`` train in seconds on the tiny dataset: the small values above
    for the parameters it declares (kept only where its contract accepts them), and the tiny BERT as
    its encoder if it takes one."""
    from xrec_bench.models import MODELS

    contract = MODELS.get(name).contract()
    params = {k: v for k, v in SMALL.items() if k in contract.params and not contract.check({k: v})}
    if "encoder" in contract.params:
        params["encoder"] = tiny_bert
    return params


def text_models() -> list[str]:
    """Registered models explainable at the token level (they read item text)."""
    from xrec_bench.models import MODELS

    return [n for n in MODELS.names() if "tokens" in MODELS.get(n).contract().capabilities["granularities"]]
