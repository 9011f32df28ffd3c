"""Training of the BERT two-tower model: next-item objective, softmax over cosine / temperature.

Why it is fast enough on a CPU: only the top ``train_layers`` encoder layers train, so the frozen
lower layers run ONCE over every item text and their hidden states are cached; a step runs the
trainable layers only on its unique target items. History items are read from a per-epoch cache
of pooled encoder outputs (detached; the projection and the user tower still get gradients), and
the softmax runs over the whole catalogue using the same cache for non-target items (or only over
the in-batch targets with ``negatives="in-batch"``). Items the user already has are masked out of
the softmax (they are masked at evaluation too).

With ``item_ids=True`` each item with at least ``id_min_count`` training interactions also learns a
free vector added to its text vector (its own learning rate ``id_lr``); other items keep the text
vector alone. Only ``split.train`` trains; early stopping reads ``split.cases("valid")`` only (the
test split is never seen here).
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from xrec_bench.models.ranking import (
    EarlyStopping,
    ndcg_at_k,
    resolve_device,
    subsample_cases,
    user_sequences,
)
from xrec_bench.models.tasks import cosine
from xrec_bench.models.text_base import right_aligned

log = logging.getLogger(__name__)


class _ItemEncoderCache:
    """Pooled encoder outputs of the items, computed through the cheapest path for ``train_layers``."""

    def __init__(
        self, encoder, texts: list[str], train_layers: int, device: torch.device, progress: bool
    ) -> None:
        self.encoder = encoder
        self.n_layers = encoder.n_layers
        self.k = train_layers
        self.start = self.n_layers - train_layers
        self.device = device
        tok = encoder.tokenize(texts)
        self.ids, self.mask = tok["input_ids"], tok["attention_mask"]
        self.lower: torch.Tensor | None = None
        if 0 < self.k < self.n_layers:
            self.lower = self._run_lower(progress)
        self.pooled = self.refresh(progress)

    @torch.no_grad()
    def _run_lower(self, progress: bool) -> torch.Tensor:
        from tqdm.auto import tqdm

        out = []
        for s in tqdm(range(0, len(self.ids), 256), desc="frozen layers", disable=not progress, leave=False):
            ids, mask = self.ids[s : s + 256].to(self.device), self.mask[s : s + 256].to(self.device)
            out.append(self.encoder.lower(ids, mask, self.start).float().cpu())
        return torch.cat(out)  # [N, T, H]

    def pooled_for(self, items: torch.Tensor) -> torch.Tensor:
        """Pooled encoder output of ``items`` (with gradients into the trainable layers)."""
        if self.k == 0:
            return self.pooled[items].to(self.device)
        mask = self.mask[items]
        width = max(int(mask.sum(dim=1).max()), 1)
        mask = mask[:, :width].to(self.device)
        if self.lower is not None:
            return self.encoder.upper(self.lower[items, :width].to(self.device), mask, self.start)
        return self.encoder(self.ids[items, :width].to(self.device), mask)

    @torch.no_grad()
    def refresh(self, progress: bool = False) -> torch.Tensor:
        if self.k == 0 and getattr(self, "pooled", None) is not None:
            return self.pooled
        from tqdm.auto import tqdm

        out = []
        all_items = torch.arange(len(self.ids))
        for s in tqdm(range(0, len(all_items), 256), desc="item cache", disable=not progress, leave=False):
            if self.k == 0:
                ids, mask = self.ids[s : s + 256].to(self.device), self.mask[s : s + 256].to(self.device)
                out.append(self.encoder(ids, mask).float())
            else:
                out.append(self.pooled_for(all_items[s : s + 256]).float())
        self.pooled = torch.cat(out).to(self.device)
        return self.pooled


def _pairs(seqs: dict[int, np.ndarray], per_user: int | None, rng: np.random.Generator, max_history: int):
    """(history, target) pairs: every prefix -> next item, or ``per_user`` sampled positions per user."""
    hist, tgt = [], []
    for _, seq in sorted(seqs.items()):
        n = len(seq)
        if n < 2:
            continue
        positions = np.arange(1, n)
        if per_user is not None and len(positions) > per_user:
            positions = np.sort(rng.choice(positions, size=per_user, replace=False))
        for t in positions:
            hist.append(seq[max(0, t - max_history) : t])
            tgt.append(int(seq[t]))
    order = rng.permutation(len(tgt))
    return [hist[i] for i in order], np.asarray(tgt, dtype=np.int64)[order]


def _seen_mask(
    hist_idx: torch.Tensor, hist_w: torch.Tensor, items: torch.Tensor, targets: torch.Tensor
) -> torch.Tensor:
    """``[B, U]`` True where ``items[c]`` is in row ``b``'s history and is not its target
    (``items`` sorted and holding every history item)."""
    seen = torch.zeros(hist_idx.shape[0], items.shape[0], dtype=torch.bool, device=items.device)
    rows = torch.arange(hist_idx.shape[0], device=items.device).unsqueeze(1).expand_as(hist_idx)
    present = hist_w > 0
    seen[rows[present], torch.searchsorted(items, hist_idx[present])] = True
    return seen & (items.view(1, -1) != targets.view(-1, 1))


def _step_loss(head, cache, hidx, hw, targets, p, gen, device) -> torch.Tensor:
    """Softmax cross-entropy of the next item for one batch.

    Every item the step touches is projected ONCE: the whole catalogue (``negatives="catalogue"``)
    or the batch's unique targets and history items (``"in-batch"``). Pooled encoder outputs come
    from the cache, except for up to ``fresh_items`` of the targets, which run through the
    trainable encoder layers (the only way gradients reach the encoder).
    """
    targets_u = torch.unique(targets)
    if p["negatives"] == "catalogue":
        items = torch.arange(cache.pooled.shape[0], device=device)
    else:
        items = torch.unique(torch.cat([targets_u, hidx[hw > 0]]))
    base = cache.pooled[items]
    if cache.k > 0:
        fresh = targets_u
        cap = p["fresh_items"]
        if cap is not None and len(fresh) > int(cap):
            fresh = fresh[torch.randperm(len(fresh), generator=gen)[: int(cap)].to(device)]
        base = base.index_put(
            (torch.searchsorted(items, fresh),), cache.pooled_for(fresh.cpu()).to(base.dtype)
        )
    emb = head.item_vectors(base, items)  # [U, D]
    u, _ = head.user_tower(emb[torch.searchsorted(items, hidx)], hw)
    logits = cosine(u.float(), emb.float()) / float(p["temperature"])
    logits = logits.masked_fill(_seen_mask(hidx, hw, items, targets), float("-inf"))
    return F.cross_entropy(logits, torch.searchsorted(items, targets))


def train_two_tower(model, split, *, seed: int, progress: bool = False) -> list[dict[str, Any]]:
    """Train ``model.head_`` (and the top encoder layers) in place and set ``model.item_emb_``
    (every item's vector, float32, CPU); returns the per-epoch log."""
    from tqdm.auto import tqdm
    from transformers import get_linear_schedule_with_warmup

    p = model.params
    device = resolve_device(p["device"])
    enc, head = model.encoder_, model.head_
    n_layers = enc.n_layers
    k = n_layers if p["train_layers"] == "all" else int(p["train_layers"])
    if not 0 <= k <= n_layers:
        raise ValueError(
            f"train_layers must be in [0, {n_layers}] or 'all' for this encoder. Got {k} instead."
        )
    if p["negatives"] not in ("catalogue", "in-batch"):
        raise ValueError(f"negatives must be 'catalogue' or 'in-batch'. Got {p['negatives']!r} instead.")
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(int(seed))

    enc.to(device)
    head.to(device)
    for prm in enc.parameters():
        prm.requires_grad_(False)
    trainable_enc = []
    if k > 0:
        modules = list(enc.layers[n_layers - k :]) if enc.layers is not None and k < n_layers else [enc.model]
        for m in modules:
            for prm in m.parameters():
                prm.requires_grad_(True)
                trainable_enc.append(prm)

    cache = _ItemEncoderCache(enc, model.item_texts_, k, device, progress)
    all_items = torch.arange(cache.pooled.shape[0], device=device)
    if head.item_ids is not None:
        counts = np.bincount(split.train["item"].to_numpy(np.int64), minlength=len(all_items))
        head.item_ids.set_active(torch.from_numpy(counts >= int(p["id_min_count"])))
    seqs = user_sequences(split.train)
    vusers, vhist, vtgt = subsample_cases(split.cases("valid"), p["valid_users"], seed)
    batch, accum, max_hist = int(p["batch_size"]), int(p["grad_accum"]), int(p["max_history"])
    n_pairs = len(_pairs(seqs, p["positions_per_user"], np.random.default_rng(0), max_hist)[1])
    steps_per_epoch = max(1, -(-n_pairs // (batch * accum)))
    planned = steps_per_epoch * int(p["max_epochs"])
    if p["max_steps"] is not None:
        planned = min(planned, int(p["max_steps"]))
    id_params = [] if head.item_ids is None else list(head.item_ids.parameters())
    groups = [{"params": [q for q in head.parameters() if all(q is not r for r in id_params)], "lr": float(p["lr"])}]
    if id_params:
        groups.append({"params": id_params, "lr": float(p["lr"] if p["id_lr"] is None else p["id_lr"])})
    if trainable_enc:
        groups.append({"params": trainable_enc, "lr": float(p["encoder_lr"])})
    opt = torch.optim.AdamW(groups, weight_decay=float(p["weight_decay"]))
    sched = get_linear_schedule_with_warmup(opt, int(planned * float(p["warmup"])), planned)
    use_amp = device.type == "cuda"

    def evaluate() -> float:
        with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
            items = head.item_vectors(cache.refresh(), all_items).float()
            idx, w = right_aligned(vhist, max_hist)
            scores = []
            for s in range(0, len(vhist), 512):
                u, _ = head.user_tower(items[idx[s : s + 512].to(device)], w[s : s + 512].to(device))
                scores.append(cosine(u.float(), items).cpu().numpy())
        return ndcg_at_k(np.concatenate(scores) if scores else np.zeros((0, 0)), vtgt, vhist, 10)

    log_rows: list[dict[str, Any]] = []
    stopper, step = EarlyStopping(p["patience"]), 0
    start = time.perf_counter()
    for epoch in range(int(p["max_epochs"])):
        hist, tgt = _pairs(seqs, p["positions_per_user"], rng, max_hist)
        head.train()
        total, n_batches = 0.0, 0
        bar = tqdm(range(0, len(tgt), batch), desc=f"epoch {epoch + 1}", disable=not progress, leave=False)
        for b_i, s in enumerate(bar):
            targets = torch.from_numpy(tgt[s : s + batch]).to(device)
            hidx, hw = right_aligned(hist[s : s + batch], max_hist)
            hidx, hw = hidx.to(device), hw.to(device)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
                loss = _step_loss(head, cache, hidx, hw, targets, p, gen, device) / accum
            loss.backward()
            total += loss.item() * accum
            n_batches += 1
            if (b_i + 1) % accum == 0:
                opt.step()
                sched.step()
                opt.zero_grad(set_to_none=True)
                step += 1
                if step >= planned:
                    break
        head.eval()
        ndcg = evaluate()
        row = {
            "epoch": epoch + 1,
            "steps": step,
            "loss": total / max(n_batches, 1),
            "valid_ndcg@10": ndcg,
            "seconds": round(time.perf_counter() - start, 2),
        }
        log_rows.append(row)
        log.info(
            "epoch %d: loss %.4f, valid NDCG@10 %.4f (%d steps, %.1fs)",
            epoch + 1,
            row["loss"],
            ndcg,
            step,
            row["seconds"],
        )
        stop = stopper.update(
            ndcg, lambda: {"head": head.state_dict(), "enc": {i: t.detach().clone() for i, t in enumerate(trainable_enc)}}
        )
        if stop or step >= planned:
            break
    best_state = stopper.best_state
    if best_state is not None:
        head.load_state_dict(best_state["head"])
        with torch.no_grad():
            for i, t in enumerate(trainable_enc):
                t.copy_(best_state["enc"][i])
    with torch.no_grad():  # final item cache in float32, from the cached lower layers (no re-encoding)
        model.item_emb_ = head.item_vectors(cache.refresh().float(), all_items).float().cpu()
    for prm in enc.parameters():
        prm.requires_grad_(True)  # the pretrained model's default: gradient explainers may need it
    enc.to("cpu")
    head.to("cpu")
    head.eval()
    return log_rows
