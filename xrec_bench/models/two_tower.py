"""The reference model: a BERT two-tower recommender, ``s(u, c) = cos(user(u), item(c))``.

Item tower: encoder -> masked mean pooling -> residual projection MLP (identity at start).
User tower: attention pooling over the item vectors of the last ``max_history`` history items,
each with a weight in [0, 1] (0 = absent), plus a learned empty-history slot; then an MLP
(:class:`~xrec_bench.models.towers.UserTower`). Training is in :mod:`xrec_bench.models.training`.

Optionally (``item_ids=True``) each item seen in training also has a learned collaborative vector
added to its text vector: ``item(c) = proj(enc(text_c)) + id_c``; items with fewer than
``id_min_count`` training interactions have ``id_c = 0`` and rely on their text. Token-level
explanations then cover the text part only: removing every word of the target leaves ``id_c``
(the word features explain ``proj(enc(text_c))``, the part that depends on the words).
History-level explanations are unchanged (a removed history item is absent, ID part and all).

After ``fit`` every item vector is cached (``item_emb_``), so scoring and history-level
explanations never run the encoder; the model lives on the CPU after training, except its encoder,
which stays on ``device`` for token- and field-level explanations (a GPU suite explains words there).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from xrec_bench.models.encoder import TextEncoder
from xrec_bench.models.ranking import resolve_device
from xrec_bench.models.text_base import TextRecommender, item_labels
from xrec_bench.models.towers import TwoTowerHead
from xrec_bench.params import Int, Real, Text

DEFAULTS: dict[str, Any] = {
    "encoder": None,  # Hugging Face name or local folder; None = all-MiniLM-L6-v2 (offline package)
    "max_length": 32,  # tokens per item text (with specials)
    "max_history": 50,  # history items the user tower reads
    # top encoder layers that train: 0 = frozen, "all" = full fine-tuning; "auto" = 0 on CPU, all on
    # CUDA. On CPU, frozen was both faster and not worse than training the last layer (movielens-100k,
    # 8 epochs: NDCG@10 0.073 in 123 s vs 0.066 in 352 s on a loaded 2-core machine).
    "train_layers": "auto",
    "negatives": "catalogue",  # softmax over "catalogue" (all items) or "in-batch" targets
    "temperature": 0.05,
    "batch_size": 256,
    "fresh_items": 64,  # targets per step re-encoded through the trainable layers (None: all)
    "grad_accum": 1,
    "lr": 1e-3,  # projection and user tower
    "encoder_lr": 5e-5,  # trainable encoder layers
    "weight_decay": 0.01,
    "warmup": 0.1,  # fraction of the planned steps
    "max_epochs": "auto",  # "auto" = 8 on CPU, 30 on CUDA
    "max_steps": None,  # hard bound on optimizer steps (None: max_epochs bounds)
    "patience": 2,  # epochs without validation NDCG@10 gain before stopping
    "positions_per_user": 16,  # prefix->next pairs sampled per user and epoch (None: all)
    "valid_users": 2000,  # validation cases used for early stopping (None: all)
    "device": "auto",
    # a learned collaborative vector per item, added to its text vector (False: text only)
    "item_ids": False,
    "id_lr": None,  # learning rate of the item-ID vectors (None: lr)
    "id_min_count": 1,  # training interactions an item needs to get an ID vector (else text only)
}


class BertTwoTower(TextRecommender):
    name = "bert-two-tower"
    #: bump when a change to this code changes what a checkpoint contains or means
    version: ClassVar[str] = "3"

    defaults = DEFAULTS
    constraints = {
        "encoder": (None, Text()), "max_length": (Int(3),), "max_history": (Int(1),),
        "train_layers": (Int(0), "all", "auto"), "negatives": ("catalogue", "in-batch"),
        "temperature": (Real(0, low_open=True),), "batch_size": (Int(1),), "fresh_items": (Int(1), None),
        "grad_accum": (Int(1),), "lr": (Real(0, low_open=True),), "encoder_lr": (Real(0),),
        "weight_decay": (Real(0),), "warmup": (Real(0, 1),), "max_epochs": (Int(1), "auto"),
        "max_steps": (Int(1), None), "patience": (Int(1),), "positions_per_user": (Int(1), None),
        "valid_users": (Int(1), None), "device": (Text(),),
        "item_ids": (True, False), "id_lr": (Real(0, low_open=True), None), "id_min_count": (Int(1),),
    }

    @classmethod
    def resolve_params(cls, params: dict[str, Any] | None) -> dict[str, Any]:
        """Parameters with ``"auto"`` values made concrete for this machine (what the cache key hashes)."""
        p = super().resolve_params(params)
        cuda = resolve_device(p["device"]).type == "cuda"
        if p["train_layers"] == "auto":
            p["train_layers"] = "all" if cuda else 0
        if p["max_epochs"] == "auto":
            p["max_epochs"] = 30 if cuda else 8
        return p

    # ---- fitting ----------------------------------------------------------------------------------
    def fit(self, dataset, split, *, seed: int = 0, progress: bool = False) -> BertTwoTower:
        from xrec_bench.models.training import train_two_tower

        self.params = self.resolve_params(self.params)
        torch.manual_seed(seed)
        self._build(dataset.n_users, dataset.item_texts, item_labels(dataset))
        self._remember_fields(dataset)
        self.training_log_ = train_two_tower(self, split, seed=seed, progress=progress)  # sets item_emb_
        self._place_encoder()
        return self

    def _place_encoder(self) -> None:
        """Put the encoder where ``device`` says, for explanations: token- and field-level requests then
        run their masked texts through it there (a GPU, when asked for and present). The item cache, both
        towers' heads and the history level stay on the CPU: they are small, and the metrics read them there
        (:meth:`xrec_bench.models.encoder.TextEncoder.forward` moves each batch to the encoder and back)."""
        self.encoder_.to(resolve_device(self.params["device"]))

    def _build(self, n_users: int, texts: list[str], labels: list[str]) -> None:
        self.encoder_ = TextEncoder.from_pretrained(
            self.params["encoder"], max_length=self.params["max_length"]
        )
        self.head_ = TwoTowerHead(
            self.encoder_.hidden_size,
            int(self.params["max_history"]),
            len(texts) if self.params.get("item_ids") else None,
        )
        self.item_texts_ = list(texts)
        self.item_labels_ = list(labels)
        self.n_users_ = int(n_users)

    # ---- the towers -------------------------------------------------------------------------------
    def _item_fn(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, position_ids=None) -> torch.Tensor:
        return self.head_.item_proj(self.encoder_(input_ids, attention_mask, position_ids))

    def _user_fn(self, items: torch.Tensor, weights: torch.Tensor):
        return self.head_.user_tower(items, weights)

    def _target_item_fn(self, target: int):
        """The item tower of ``target`` as a function of its tokens: text part plus its ID vector."""
        if self.head_.item_ids is None:
            return self._item_fn
        id_vector = self.head_.item_ids(torch.tensor([int(target)])).detach()

        def item_fn(input_ids: torch.Tensor, attention_mask: torch.Tensor, position_ids=None) -> torch.Tensor:
            return self._item_fn(input_ids, attention_mask, position_ids) + id_vector

        return item_fn

    def encode_items(self, *, progress: bool = False, batch_size: int = 256) -> torch.Tensor:
        text = super().encode_items(progress=progress, batch_size=batch_size)
        if self.head_.item_ids is None:
            return text
        with torch.no_grad():
            return text + self.head_.item_ids(torch.arange(text.shape[0])).float()

    def _reinitialize_learned(self, seed: int) -> None:
        torch.manual_seed(seed)
        for module in self.head_.modules():
            if isinstance(module, nn.Linear):
                module.reset_parameters()  # random, not the identity start: a truly random head
        tower = self.head_.user_tower
        for p in (tower.query, tower.position_bias, tower.null_value):
            nn.init.normal_(p, std=1.0)
        ids = self.head_.item_ids
        if ids is not None:  # random vectors of the trained ones' scale (inactive rows stay 0)
            with torch.no_grad():
                active = ids.weight[ids.active > 0]
                scale = float(active.std()) if active.numel() > 1 else 1.0
                nn.init.normal_(ids.weight, std=scale or 1.0)

    # ---- checkpoint -------------------------------------------------------------------------------
    def _state_tensors(self) -> dict[str, torch.Tensor]:
        tensors = {f"head.{k}": v for k, v in self.head_.state_dict().items()}
        tensors.update({f"encoder.{k}": v for k, v in self.encoder_.model.state_dict().items()})
        tensors["item_emb"] = self.item_emb_
        return tensors

    def _restore(self, fitted: dict[str, Any], tensors: dict[str, torch.Tensor]) -> None:
        self._build(fitted["n_users"], fitted["item_texts"], fitted["item_labels"])
        self._remember_fields(fitted)
        self.head_.load_state_dict({k[5:]: v for k, v in tensors.items() if k.startswith("head.")})
        self.encoder_.model.load_state_dict(
            {k[8:]: v for k, v in tensors.items() if k.startswith("encoder.")}
        )
        self.item_emb_ = tensors["item_emb"]
        self.training_log_ = fitted.get("training_log", [])
        self._place_encoder()

    def _fitted_config(self) -> dict[str, Any]:
        return {**super()._fitted_config(), "training_log": getattr(self, "training_log_", [])}
