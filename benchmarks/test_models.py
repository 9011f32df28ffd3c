"""Speed of the model layer (pytest-benchmark): encoder throughput, a training step of the
two-tower on cached lower layers, full-catalogue scoring, and history-task evaluations.

Run: ``.venv/bin/python -m pytest benchmarks/test_models.py --benchmark-only``. Uses the default
encoder (all-MiniLM-L6-v2) on generated texts; nothing is downloaded.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

WORDS = "space robot love war comedy drama horse ocean music crime ghost king night city river".split()


def texts(n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return [
        f"Movie {i} ({1950 + i % 50}). Genres: " + ", ".join(rng.choice(WORDS, 3)) + "." for i in range(n)
    ]


@pytest.fixture(scope="module")
def encoder():
    from xrec_bench.models.encoder import TextEncoder

    return TextEncoder.from_pretrained(None, max_length=32)


def test_encoder_forward_64_texts(benchmark, encoder):
    """Texts per second of the full encoder + mean pooling (64 texts per call)."""
    tok = encoder.tokenize(texts(64))
    with torch.no_grad():
        benchmark(encoder, tok["input_ids"], tok["attention_mask"])


def test_top_layer_train_step_64_texts(benchmark, encoder):
    """Forward + backward of the last encoder layer on cached lower hidden states (64 texts)."""
    tok = encoder.tokenize(texts(64))
    with torch.no_grad():
        lower = encoder.lower(tok["input_ids"], tok["attention_mask"], encoder.n_layers - 1)
    params = list(encoder.layers[-1].parameters())

    def step():
        out = encoder.upper(lower, tok["attention_mask"], encoder.n_layers - 1)
        grads = torch.autograd.grad(out.pow(2).sum(), params)
        return grads

    benchmark(step)


@pytest.fixture(scope="module")
def head():
    from xrec_bench.models.towers import TwoTowerHead

    torch.manual_seed(0)
    return TwoTowerHead(384, 50).eval()


def test_user_tower_and_full_scoring_256_users(benchmark, head):
    """User vectors from 50 cached history embeddings and cosine against 2,000 items, 256 users."""
    from xrec_bench.models.tasks import cosine

    gen = torch.Generator().manual_seed(0)
    items = torch.randn(2000, 384, generator=gen)
    idx = torch.randint(0, 2000, (256, 50), generator=gen)
    w = torch.ones(256, 50)

    def run():
        with torch.no_grad():
            u, _ = head.user_tower(items[idx], w)
            return cosine(u, items)

    benchmark(run)


def test_history_task_forward_batch_64(benchmark, head):
    """64 history masks (50 items) through a HistoryTask: what perturbation explainers pay per batch."""
    from xrec_bench.models.tasks import HistoryTask

    gen = torch.Generator().manual_seed(0)
    items = torch.randn(2000, 384, generator=gen)
    history = np.arange(50)
    task = HistoryTask(
        user=0,
        target=100,
        history=history,
        labels=[str(i) for i in history],
        item_emb=items,
        user_fn=head.user_tower,
        exclude=history,
    )
    masks = (torch.rand(64, 50, generator=gen) > 0.5).float()
    with torch.no_grad():
        benchmark(task.forward, masks)
