"""The learned parts of the two-tower model on top of the encoder: the item projection, an optional
collaborative item-ID embedding added to it, and the user tower (attention pooling over weighted
history items, with a learned empty-history slot).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class ResidualMLP(nn.Module):
    """``x + W2 gelu(W1 x)`` with ``W2 = 0`` at initialisation: starts as the identity, so training
    begins from the pretrained encoder's geometry."""

    def __init__(self, dim: int, hidden: int | None = None) -> None:
        super().__init__()
        hidden = hidden or dim
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.fc1.reset_parameters()
        nn.init.zeros_(self.fc2.weight)
        nn.init.zeros_(self.fc2.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.fc2(F.gelu(self.fc1(x)))


class UserTower(nn.Module):
    """Attention pooling over the embeddings of the last ``max_history`` items, then an MLP.

    Item ``i`` (weight ``w_i`` in [0, 1]) gets attention ``α_i = w_i exp(s_i) / Z`` with
    ``s_i = q·K e_i / sqrt(D) + b(r_i)`` and ``Z = exp(s_null) + Σ_j w_j exp(s_j)``, where
    ``r_i = Σ_{j after i} w_j`` is the item's recency rank (0 = most recent) counted over the items
    present, and ``b`` a learned bias per rank (linearly interpolated between integer ranks). So a
    weight-0 item changes nothing, not even the others' ranks: the result equals the model run on
    the history without it;
    an item with ``w_i = 0`` contributes nothing to ``Z`` nor to the pooled vector (truly absent),
    and gradients with respect to ``w`` exist everywhere. A learned "null" slot (value ``v_null``,
    logit ``s_null``) is always present, so an empty history (all weights 0) gives ``v_null``.
    """

    def __init__(self, dim: int, max_history: int) -> None:
        super().__init__()
        self.dim = dim
        self.max_history = max_history
        self.key = nn.Linear(dim, dim, bias=False)
        self.query = nn.Parameter(torch.zeros(dim))
        self.position_bias = nn.Parameter(torch.zeros(max_history))
        self.null_value = nn.Parameter(torch.zeros(dim))
        self.null_logit = nn.Parameter(torch.zeros(()))
        self.mlp = ResidualMLP(dim)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.eye_(self.key.weight)
        nn.init.normal_(self.query, std=1.0 / math.sqrt(self.dim))
        nn.init.zeros_(self.position_bias)
        nn.init.normal_(self.null_value, std=1.0 / math.sqrt(self.dim))
        nn.init.constant_(self.null_logit, -2.0)
        self.mlp.reset_parameters()

    def forward(self, items: torch.Tensor, weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``items [B, L, D]`` (right-aligned: the last slot is the most recent item), ``weights [B, L]``
        -> ``(user vectors [B, D], attention over the L slots [B, L])``."""
        b, length, _ = items.shape
        if length > self.max_history:
            raise ValueError(f"The user tower takes at most {self.max_history} history items; got {length}.")
        w = weights.to(items.dtype)
        rank = (w.flip(1).cumsum(1).flip(1) - w).clamp(0, self.max_history - 1)  # present items after i
        low = rank.floor().long()
        high = (low + 1).clamp(max=self.max_history - 1)
        frac = rank - low.to(rank.dtype)
        bias = self.position_bias[low] * (1 - frac) + self.position_bias[high] * frac
        # q·(K e) computed as e·(Kᵀq): a matrix-vector product per slot instead of a D x D matmul
        s = (items @ (self.key.weight.T @ self.query)) / math.sqrt(self.dim) + bias  # [B, L]
        s_null = self.null_logit.expand(b, 1)
        # subtracting the max (over all slots, weighted or not) keeps exp() finite; it cancels in α
        m = torch.cat([s, s_null], dim=1).max(dim=1, keepdim=True).values.detach()
        e = w * torch.exp(s - m)
        e_null = torch.exp(s_null - m)
        z = e.sum(dim=1, keepdim=True) + e_null
        alpha = e / z
        pooled = (alpha.unsqueeze(-1) * items).sum(dim=1) + (e_null / z) * self.null_value
        return self.mlp(pooled), alpha


class ItemIdEmbedding(nn.Module):
    """A learned vector per item, added to the item's text vector (zero at initialisation).

    Only items marked ``active`` (enough training interactions) have one: the others' rows are held
    at exactly zero (their output is multiplied by 0, so they get no gradient either), so an item
    that is cold in training is represented by its text alone.
    """

    def __init__(self, n_items: int, dim: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(n_items, dim))
        self.register_buffer("active", torch.zeros(n_items))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.zeros_(self.weight)

    def set_active(self, active: torch.Tensor) -> None:
        self.active.copy_(active.to(self.active.dtype))

    def forward(self, items: torch.Tensor) -> torch.Tensor:
        return self.weight[items] * self.active[items].unsqueeze(-1)


class TwoTowerHead(nn.Module):
    """Item projection, optional item-ID embedding and user tower: everything the two-tower model
    learns besides the encoder."""

    def __init__(self, dim: int, max_history: int, n_items: int | None = None) -> None:
        super().__init__()
        self.item_proj = ResidualMLP(dim)
        self.user_tower = UserTower(dim, max_history)
        self.item_ids = ItemIdEmbedding(n_items, dim) if n_items is not None else None

    def item_vectors(self, pooled: torch.Tensor, items: torch.Tensor | None = None) -> torch.Tensor:
        """Item vectors from pooled encoder outputs ``[N, H]`` of the items ``items [N]`` (their
        indices; needed with the item-ID embedding, ignored without)."""
        out = self.item_proj(pooled)
        if self.item_ids is not None:
            if items is None:
                raise ValueError("This head has item-ID embeddings: pass the item indices of the pooled rows.")
            out = out + self.item_ids(items).to(out.dtype)
        return out

    def reset_parameters(self) -> None:
        self.item_proj.reset_parameters()
        self.user_tower.reset_parameters()
        if self.item_ids is not None:
            self.item_ids.reset_parameters()
