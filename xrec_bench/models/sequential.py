"""A SASRec-style sequential recommender over item-text embeddings (Kang & McAuley, ICDM 2018).

Items are their text: a frozen encoder's mean-pooled embedding of each item text (computed once and
cached), projected to ``dim``. A causal transformer (pre-LayerNorm, ``n_layers`` x ``n_heads``, learned
positional embeddings) reads the last ``max_history`` history items; the hidden state of the last item
is the user vector, and an item's score is ``cos(user, item)`` (trained with a softmax over the whole
catalogue at temperature ``temperature``, next-item targets at every position, as SASRec does).

Removal semantics: every history item carries a weight ``w_i`` in [0, 1] (1 = present, 0 = absent),
and a weight-0 item is absent from the sequence, not a padding token that the model sees:

* attention: item ``j`` is a key with weight ``w_j`` (softmax weights ``w_j exp(s_ij) / sum_k w_k
  exp(s_ik)``, i.e. the additive mask ``log w_j``), so a weight-0 item receives no attention at any
  layer and changes no other item's hidden state;
* positions: item ``i`` sits at position ``max_history - 1 - r_i`` where ``r_i = sum_{j after i} w_j``
  is its recency rank among the items present (linearly interpolated between integer positions),
  i.e. the right-aligned position it has in the shortened sequence;
* read-out: the user vector is ``sum_i lambda_i h_i + lambda_0 v_empty`` with ``lambda_i = w_i
  prod_{j after i} (1 - w_j)``: at 0/1 weights, the hidden state of the last item present (and a
  learned empty-history vector when none is); smooth in ``w`` in between.

So with 0/1 weights the score equals the model run on the history with the weight-0 items deleted
(a test checks it to 1e-6), and gradients with respect to the weights exist everywhere. Scoring and
history-level explanations run on the cached item vectors; token-level explanations re-encode the
target's text (:class:`~xrec_bench.models.text_base.TextRecommender`). Training is in
:mod:`xrec_bench.models.sequential_training`.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
from torch import nn

from xrec_bench.models.encoder import TextEncoder, encode_all
from xrec_bench.models.text_base import TextRecommender, item_labels
from xrec_bench.params import Int, Real, Text

DEFAULTS: dict[str, Any] = {
    "encoder": None,  # Hugging Face name or local folder; None = all-MiniLM-L6-v2 (offline package)
    "pooling": "auto",  # encoder pooling: "mean", "last" (decoders), "auto" (mean, or last for a decoder)
    "max_length": 32,
    "max_history": 50,
    "dim": 64,
    "n_layers": 2,
    "n_heads": 2,
    "dropout": 0.2,
    "temperature": 0.05,
    # small batches: more updates per epoch. MovieLens-100K, valid NDCG@10 after 4 epochs: 0.067 with 32 and
    # lr 2e-3, 0.041 with 128 and lr 1e-3 (item-kNN's test NDCG@10 is 0.065)
    "batch_size": 32,
    "lr": 2e-3,
    "weight_decay": 0.0,
    "max_epochs": 20,
    "patience": 2,  # epochs without validation NDCG@10 gain before stopping
    "valid_users": 2000,  # validation cases used for early stopping (None: all)
    # a wall-clock bound on training (the best epoch so far is kept); None: epochs and patience only.
    # Off by default: with it, the same seed can give a different model on a slower machine
    "max_seconds": None,
}


class CausalLayer(nn.Module):
    """Pre-LayerNorm transformer block whose keys carry weights (a weight-0 key is absent)."""

    def __init__(self, dim: int, n_heads: int, dropout: float) -> None:
        super().__init__()
        if dim % n_heads:
            raise ValueError(f"dim ({dim}) must be divisible by n_heads ({n_heads}).")
        self.n_heads = n_heads
        self.ln1, self.ln2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)
        self.ffn = nn.Sequential(nn.Linear(dim, dim), nn.GELU(), nn.Dropout(dropout), nn.Linear(dim, dim))
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``x [B, L, D]``, additive attention ``bias [B, L, L]`` -> (``x``, attention ``[B, H, L, L]``)."""
        b, length, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).view(b, length, 3, self.n_heads, d // self.n_heads).permute(2, 0, 3, 1, 4)
        logits = q @ k.transpose(-1, -2) / math.sqrt(d // self.n_heads) + bias[:, None]
        att = torch.softmax(logits, dim=-1)
        mixed = (self.drop(att) @ v).transpose(1, 2).reshape(b, length, d)
        x = x + self.drop(self.out(mixed))
        return x + self.drop(self.ffn(self.ln2(x))), att


class SASRecHead(nn.Module):
    """Item projection, positional embeddings, the causal layers and the read-out."""

    def __init__(self, hidden: int, dim: int, max_history: int, n_layers: int, n_heads: int, dropout: float) -> None:
        super().__init__()
        self.max_history = max_history
        self.item = nn.Linear(hidden, dim)
        self.position = nn.Parameter(torch.zeros(max_history, dim))
        self.layers = nn.ModuleList(CausalLayer(dim, n_heads, dropout) for _ in range(n_layers))
        self.ln = nn.LayerNorm(dim)
        self.empty = nn.Parameter(torch.zeros(dim))
        self.drop = nn.Dropout(dropout)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.LayerNorm)):
                module.reset_parameters()
        nn.init.normal_(self.position, std=0.02)
        nn.init.normal_(self.empty, std=0.02)

    def sequence(self, items: torch.Tensor, weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Hidden states ``[B, L, D]`` of right-aligned ``items [B, L, D]`` with ``weights [B, L]``, and the
        last layer's attention ``[B, H, L, L]``."""
        b, length, _ = items.shape
        if length > self.max_history:
            raise ValueError(f"The model reads at most {self.max_history} history items; got {length}.")
        w = weights.to(items.dtype)
        rank = (w.flip(1).cumsum(1).flip(1) - w).clamp(0, self.max_history - 1)  # present items after i
        pos = (self.max_history - 1) - rank
        low = pos.floor().long().clamp(0, self.max_history - 1)
        high = (low + 1).clamp(max=self.max_history - 1)
        frac = (pos - low.to(pos.dtype)).unsqueeze(-1)
        x = self.drop(items + self.position[low] * (1 - frac) + self.position[high] * frac)
        causal = torch.ones(length, length, dtype=torch.bool, device=items.device).tril()
        allowed = causal[None] & (w > 0)[:, None, :]
        floor = torch.finfo(x.dtype).min  # one floor, never added twice (no -inf, so no NaN rows)
        bias = torch.where(allowed, torch.log(w.clamp_min(1e-30))[:, None, :].expand(b, length, length),
                           torch.full((), floor, dtype=x.dtype, device=x.device))
        att = None
        for layer in self.layers:
            x, att = layer(x, bias)
        return self.ln(x), att

    def read_out(self, items: torch.Tensor, weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """User vectors ``[B, D]`` (the last present item's hidden state) and the read-out's attention
        over the history slots ``[B, L]`` (last layer, mean over heads)."""
        h, att = self.sequence(items, weights)
        w = weights.to(h.dtype)
        after = torch.cat([(1 - w).flip(1).cumprod(1).flip(1)[:, 1:], torch.ones_like(w[:, :1])], dim=1)
        lam = w * after  # probability that slot i is the last one present
        lam_empty = (1 - w).prod(dim=1, keepdim=True)
        user = (lam.unsqueeze(-1) * h).sum(1) + lam_empty * self.empty
        attention = (lam[:, :, None] * att.mean(dim=1)).sum(1) if att is not None else lam
        return user, attention


class SASRec(TextRecommender):
    name = "sasrec"
    #: bump when a change to this code changes what a checkpoint contains or means
    version: ClassVar[str] = "2"  # 2: checkpoints keep the item-text fields

    defaults = DEFAULTS
    constraints = {
        "encoder": (None, Text()), "pooling": ("auto", "mean", "last"), "max_length": (Int(3),),
        "max_history": (Int(1),), "dim": (Int(2),), "n_layers": (Int(1),), "n_heads": (Int(1),),
        "dropout": (Real(0, 1),), "temperature": (Real(0, low_open=True),), "batch_size": (Int(1),),
        "lr": (Real(0, low_open=True),), "weight_decay": (Real(0),), "max_epochs": (Int(1),),
        "patience": (Int(1),), "valid_users": (Int(1), None), "max_seconds": (Real(0, low_open=True), None),
    }

    def fit(self, dataset, split, *, seed: int = 0, progress: bool = False) -> SASRec:
        from xrec_bench.models.sequential_training import train_sasrec

        torch.manual_seed(seed)
        self._build(dataset.n_users, dataset.item_texts, item_labels(dataset))
        self._remember_fields(dataset)
        tok = self.encoder_.tokenize(self.item_texts_)
        text_emb = encode_all(self.encoder_, tok["input_ids"], tok["attention_mask"], progress=progress,
                              desc="encoding item texts")  # frozen: once per fit
        self.training_log_ = train_sasrec(self, text_emb, split, seed=seed, progress=progress)
        with torch.no_grad():
            self.item_emb_ = self.head_.item(text_emb).float()
        return self

    def _build(self, n_users: int, texts: list[str], labels: list[str]) -> None:
        p = self.params
        self.encoder_ = TextEncoder.from_pretrained(p["encoder"], max_length=p["max_length"], pooling=p["pooling"])
        self.head_ = SASRecHead(self.encoder_.hidden_size, int(p["dim"]), int(p["max_history"]), int(p["n_layers"]),
                                int(p["n_heads"]), float(p["dropout"]))
        self.head_.eval()
        self.item_texts_ = list(texts)
        self.item_labels_ = list(labels)
        self.n_users_ = int(n_users)

    def _item_fn(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, position_ids=None) -> torch.Tensor:
        # position_ids: token tasks leave removed word-pieces out of the sequence (masked_items, compact)
        return self.head_.item(self.encoder_(input_ids, attention_mask, position_ids))

    def _user_fn(self, items: torch.Tensor, weights: torch.Tensor):
        return self.head_.read_out(items, weights)

    def _reinitialize_learned(self, seed: int) -> None:
        torch.manual_seed(seed)
        self.head_.reset_parameters()
        with torch.no_grad():
            self.head_.position.normal_(std=1.0)

    def _state_tensors(self) -> dict[str, torch.Tensor]:
        # the encoder is frozen (reloaded by name on restore); the head and the item cache are stored
        tensors = {f"head.{k}": v for k, v in self.head_.state_dict().items()}
        tensors["item_emb"] = self.item_emb_
        return tensors

    def _restore(self, fitted: dict[str, Any], tensors: dict[str, torch.Tensor]) -> None:
        self._build(fitted["n_users"], fitted["item_texts"], fitted["item_labels"])
        self._remember_fields(fitted)
        self.head_.load_state_dict({k[5:]: v for k, v in tensors.items() if k.startswith("head.")})
        self.item_emb_ = tensors["item_emb"]
        self.training_log_ = fitted.get("training_log", [])

    def _fitted_config(self) -> dict[str, Any]:
        return {**super()._fitted_config(), "training_log": getattr(self, "training_log_", [])}
