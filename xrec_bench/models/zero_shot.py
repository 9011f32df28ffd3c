"""Zero-shot text baseline: a frozen encoder; item = normalised mean-pooled text embedding,
user = weighted mean of the last ``max_history`` history item embeddings; score = cosine.

It learns nothing, so it measures what the two-tower's training buys. Weight 0 removes a history
item from the mean (truly absent); an empty history gives the zero vector, whose cosine with
every item is 0.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from xrec_bench.models.encoder import TextEncoder
from xrec_bench.models.text_base import TextRecommender, item_labels
from xrec_bench.params import Int, Text

# pooling: "mean", "last" (last token present), "auto" (last for a decoder/GPT-style model, else mean)
DEFAULTS: dict[str, Any] = {"encoder": None, "max_length": 32, "max_history": 50, "pooling": "auto"}


class ZeroShotText(TextRecommender):
    name = "zero-shot-text"
    version: ClassVar[str] = "1"

    defaults = DEFAULTS
    constraints = {"encoder": (None, Text()), "max_length": (Int(3),), "max_history": (Int(1),),
                   "pooling": ("auto", "mean", "last")}

    def fit(self, dataset, split, *, seed: int = 0, progress: bool = False) -> ZeroShotText:
        self._build(dataset.n_users, dataset.item_texts, item_labels(dataset))
        self._remember_fields(dataset)
        self.item_emb_ = self.encode_items(progress=progress)
        return self

    def _build(self, n_users: int, texts: list[str], labels: list[str]) -> None:
        self.encoder_ = TextEncoder.from_pretrained(
            self.params["encoder"], max_length=self.params["max_length"], pooling=self.params.get("pooling", "auto")
        )
        self.item_texts_ = list(texts)
        self.item_labels_ = list(labels)
        self.n_users_ = int(n_users)

    def _item_fn(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, position_ids=None) -> torch.Tensor:
        return F.normalize(self.encoder_(input_ids, attention_mask, position_ids), dim=-1, eps=1e-12)

    def _user_fn(self, items: torch.Tensor, weights: torch.Tensor):
        w = weights.to(items.dtype)
        total = w.sum(dim=1, keepdim=True)
        u = (w.unsqueeze(-1) * items).sum(dim=1) / total.clamp_min(1e-12)
        return u, w / total.clamp_min(1e-12)

    def _reinitialize_learned(self, seed: int) -> None:
        pass  # nothing is learned besides the encoder, which randomized() re-initialises

    def _state_tensors(self) -> dict[str, torch.Tensor]:
        # the encoder is the pretrained one, reloaded by name; only the item cache is stored
        return {"item_emb": self.item_emb_}

    def _restore(self, fitted: dict[str, Any], tensors: dict[str, torch.Tensor]) -> None:
        self._build(fitted["n_users"], fitted["item_texts"], fitted["item_labels"])
        self._remember_fields(fitted)
        self.item_emb_ = tensors["item_emb"]
