"""Training of the SASRec-style model: next-item prediction at every position of each user's training
sequence (right-aligned, the last ``max_history + 1`` items), softmax over the whole catalogue of
``cos(h_t, item) / temperature``, Adam, early stopping on validation NDCG@10 and a wall-clock budget.

The encoder is frozen and item texts are encoded once (``text_emb``), so a step costs the item
projection over the catalogue and the small causal transformer: a few milliseconds on a CPU.
"""

from __future__ import annotations

import copy
import logging
import time
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from xrec_bench.models.ranking import ndcg_at_k, subsample_cases, user_sequences
from xrec_bench.models.tasks import cosine
from xrec_bench.models.text_base import right_aligned

log = logging.getLogger(__name__)


def _windows(seqs: dict[int, np.ndarray], length: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Inputs ``[N, length]`` (item ids, right-aligned), their 0/1 weights and next-item targets
    (-100 where there is none), one row per user with at least two training items."""
    rows = [s[-(length + 1):] for s in seqs.values() if len(s) >= 2]
    idx = torch.zeros(len(rows), length, dtype=torch.long)
    w = torch.zeros(len(rows), length)
    tgt = torch.full((len(rows), length), -100, dtype=torch.long)
    for r, s in enumerate(rows):
        n = len(s) - 1
        idx[r, length - n:] = torch.as_tensor(np.array(s[:-1]))
        w[r, length - n:] = 1.0
        tgt[r, length - n:] = torch.as_tensor(np.array(s[1:]))
    return idx, w, tgt


def train_sasrec(model, text_emb: torch.Tensor, split, *, seed: int, progress: bool = False) -> list[dict[str, Any]]:
    """Train ``model.head_`` in place on ``split.train``; returns the per-epoch log (best epoch restored)."""
    from tqdm.auto import tqdm

    p, head = model.params, model.head_
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(int(seed))
    length = int(p["max_history"])
    idx, w, tgt = _windows(user_sequences(split.train), length)
    vusers, vhist, vtgt = subsample_cases(split.cases("valid"), p["valid_users"], seed)
    opt = torch.optim.Adam(head.parameters(), lr=float(p["lr"]), weight_decay=float(p["weight_decay"]))
    tau, batch = float(p["temperature"]), int(p["batch_size"])

    def evaluate() -> float:
        head.eval()
        with torch.no_grad():
            items = head.item(text_emb)
            scores = []
            for s in range(0, len(vhist), 512):
                hidx, hw = right_aligned(vhist[s : s + 512], length)
                u, _ = head.read_out(items[hidx], hw)
                scores.append(cosine(u, items).numpy())
        return ndcg_at_k(np.concatenate(scores) if scores else np.zeros((0, 0)), vtgt, vhist, 10)

    log_rows: list[dict[str, Any]] = []
    best, best_state, bad, start = -1.0, None, 0, time.perf_counter()
    budget = p.get("max_seconds")
    for epoch in range(int(p["max_epochs"])):
        head.train()
        order = torch.randperm(len(idx), generator=gen)
        total, n_batches = 0.0, 0
        for s in tqdm(range(0, len(order), batch), desc=f"epoch {epoch + 1}", disable=not progress, leave=False):
            rows = order[s : s + batch]
            items = head.item(text_emb)  # [N, D]: the catalogue, with gradients into the projection
            h, _ = head.sequence(items[idx[rows]], w[rows])
            keep = tgt[rows] >= 0
            logits = cosine(h[keep], items) / tau
            loss = F.cross_entropy(logits, tgt[rows][keep])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total, n_batches = total + loss.item(), n_batches + 1
        ndcg = evaluate()
        row = {"epoch": epoch + 1, "loss": total / max(n_batches, 1), "valid_ndcg@10": ndcg,
               "seconds": round(time.perf_counter() - start, 2)}
        log_rows.append(row)
        log.info("sasrec epoch %d: loss %.4f, valid NDCG@10 %.4f (%.1fs)", epoch + 1, row["loss"], ndcg, row["seconds"])
        if ndcg > best:
            best, bad, best_state = ndcg, 0, copy.deepcopy(head.state_dict())
        else:
            bad += 1
        if bad >= int(p["patience"]) or (budget is not None and row["seconds"] >= float(budget)):
            break
    if best_state is not None:
        head.load_state_dict(best_state)
    head.eval()
    return log_rows
