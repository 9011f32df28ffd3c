"""What the two text-based models share: scoring from cached item embeddings through a user
function, feature tasks at both granularities, the randomised copy, and their checkpoints.

A subclass provides the encoder, ``_item_fn`` (token ids -> item vector), ``_user_fn`` (weighted
history item vectors -> user vector) and ``_learned_modules`` (re-initialised by ``randomized``).
"""

from __future__ import annotations

import copy
import inspect
from abc import abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

from xrec_bench.datasets.fields import FieldSpan, item_fields
from xrec_bench.models.base import NotFittedError, Recommender
from xrec_bench.models.encoder import TextEncoder, encode_all
from xrec_bench.models.masked_items import ItemVectorCache, batch_size_for
from xrec_bench.models.tasks import FieldTask, HistoryTask, TokenTask, cosine


def right_aligned(histories: Sequence[np.ndarray], length: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The last ``length`` items of each history, right-aligned: indices and 0/1 weights ``[B, length]``."""
    idx = torch.zeros(len(histories), length, dtype=torch.long)
    w = torch.zeros(len(histories), length)
    for row, h in enumerate(histories):
        h = np.asarray(h, dtype=np.int64)[-length:]
        if len(h):
            idx[row, length - len(h) :] = torch.as_tensor(np.array(h))
            w[row, length - len(h) :] = 1.0
    return idx, w


def item_labels(dataset) -> list[str]:
    """A readable label per item: its title, or its original id where the title is missing."""
    items = dataset.items
    ids = [str(x) for x in items["item_id"].tolist()]
    if "title" not in items.columns:
        return ids
    titles = items["title"].tolist()
    return [str(t) if isinstance(t, str) and t.strip() else i for t, i in zip(titles, ids, strict=True)]


class TextRecommender(Recommender):
    explainable_granularities = ("history", "tokens", "fields")

    #: the located fields of every item's text (:func:`xrec_bench.datasets.fields.item_fields`), or None
    #: when the dataset declares none; set by :meth:`_remember_fields` at fit time, kept in checkpoints
    item_fields_: list | None = None

    encoder_: TextEncoder
    item_emb_: torch.Tensor  # [n_items, D], float32, CPU

    # ---- to provide ---------------------------------------------------------------------------
    @abstractmethod
    def _item_fn(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Item vectors from token ids and an attention mask (an optional third argument
        ``position_ids``, passed to the encoder, lets token tasks leave removed word-pieces out of
        the sequence: :mod:`xrec_bench.models.masked_items`)."""

    @abstractmethod
    def _user_fn(
        self, items: torch.Tensor, weights: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """User vectors (and attention weights, if any) from history item vectors and their weights."""

    @abstractmethod
    def _reinitialize_learned(self, seed: int) -> None:
        """Re-initialise the learned weights (for the model-randomisation sanity check)."""

    def _target_item_fn(self, target: int):
        """The item tower that token-level explanations of ``target`` run (default: ``_item_fn``)."""
        return self._item_fn

    @property
    def max_history(self) -> int:
        return int(self.params["max_history"])

    # ---- shared -----------------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if getattr(self, "item_emb_", None) is None:
            raise NotFittedError(
                f"{type(self).__name__} is not fitted: call fit(dataset, split) or fit_or_load(...)."
            )

    @property
    def n_items(self) -> int:
        self._check_fitted()
        return int(self.item_emb_.shape[0])

    def encode_items(self, *, progress: bool = False, batch_size: int = 256) -> torch.Tensor:
        """Item vectors of every item text through the full item tower (float32, CPU)."""
        enc = self.encoder_.tokenize(self.item_texts_)
        return encode_all(
            self._item_fn,
            enc["input_ids"],
            enc["attention_mask"],
            batch_size=batch_size,
            progress=progress,
            desc="encoding items",
        )

    def user_vectors(self, histories: Sequence[np.ndarray]) -> torch.Tensor:
        idx, w = right_aligned(histories, self.max_history)
        with torch.no_grad():
            u, _ = self._user_fn(self.item_emb_[idx], w)
        return u

    def score(
        self, users: np.ndarray, histories: Sequence[np.ndarray], *, batch_size: int = 512
    ) -> np.ndarray:
        self._check_fitted()
        self._check_items(
            np.concatenate([np.asarray(h, dtype=np.int64) for h in histories]) if len(histories) else []
        )
        out = np.empty((len(histories), self.n_items), dtype=np.float32)
        for s in range(0, len(histories), batch_size):
            u = self.user_vectors(histories[s : s + batch_size])
            with torch.no_grad():
                out[s : s + batch_size] = cosine(u, self.item_emb_).numpy()
        return out

    def _check_items(self, items) -> None:
        items = np.asarray(items, dtype=np.int64)
        bad = items[(items < 0) | (items >= self.n_items)]
        if bad.size:
            raise ValueError(
                f"Unknown item index {int(bad[0])}: this model was trained on {self.n_items} items "
                f"(indices 0..{self.n_items - 1}). Use the dataset the model was fitted on."
            )

    def feature_task(
        self,
        granularity: str,
        *,
        user: int,
        history: np.ndarray,
        target: int,
        exclude: np.ndarray | None = None,
    ):
        self._check_fitted()
        history = np.asarray(history, dtype=np.int64).reshape(-1)
        self._check_items(np.append(history, target))
        if int(target) in set(history.tolist()):
            raise ValueError(
                f"Target item {int(target)} is already in the history of user {user}; an explanation of "
                "recommending a seen item is undefined. Pick a target outside the history."
            )
        exclude = history if exclude is None else np.asarray(exclude, dtype=np.int64)
        if granularity == "history":
            used = history[-self.max_history :]
            labels = [self.item_labels_[i] for i in used]
            return HistoryTask(
                user=user,
                target=target,
                history=used,
                labels=labels,
                item_emb=self.item_emb_,
                user_fn=self._user_fn,
                exclude=exclude,
            )
        if granularity in ("tokens", "fields"):
            u = self.user_vectors([history])[0]
            with torch.no_grad():
                others = cosine(u.unsqueeze(0), self.item_emb_)[0]
            task_cls, extra = TokenTask, {}
            if granularity == "fields":
                if self.item_fields_ is None:
                    raise ValueError(
                        "This model's dataset declares no item-text fields (a [fields] table in its card, see "
                        "xrec_bench/datasets/fields.py), so there is nothing to explain at the fields granularity."
                    )
                task_cls, extra = FieldTask, {"fields": self.item_fields_[target]}
            cache, compact = self._masked_items()
            item_fn = self._target_item_fn(target)
            compact = compact and _takes_position_ids(item_fn)  # the tower actually run (e.g. text + ID vector)
            return task_cls(
                **extra,
                user=user,
                target=target,
                text=self.item_texts_[target],
                tokenizer=self.encoder_.tokenizer,
                max_length=self.encoder_.max_length,
                item_fn=item_fn,
                embedding_layer=self.encoder_.word_embeddings,
                user_vector=u,
                other_scores=others,
                exclude=exclude,
                item_cache=cache,
                compact=compact,
                encode_batch=batch_size_for(self.encoder_.device),
            )
        raise ValueError(
            f"Unknown granularity {granularity!r}; expected one of {self.explainable_granularities}."
        )

    def _masked_items(self) -> tuple[ItemVectorCache | None, bool]:
        """The cache of masked item vectors in force (None outside :meth:`reuse_scope`), and whether removed
        word-pieces may be left out of the sequence (``position_ids`` accepted, absolute positions)."""
        compact = self.encoder_.absolute_positions and _takes_position_ids(self._item_fn)
        return self.__dict__.get("_scope_cache"), compact

    @contextmanager
    def reuse_scope(self) -> Iterator[None]:
        """Within this block, token tasks share masked item vectors (one request's metrics score the same
        text under many of the same masks); outside it nothing is reused.

        The scope is deliberately narrow. A value never depends on what was computed before for other
        requests, cells or explainers (vectors encoded in another batch differ in the last bits), so whole,
        sharded and resumed runs agree bit for bit; and an explanation, which is timed, always pays for its
        own model evaluations, never for a cache filled by an earlier explainer or by the timing probe's
        repeats."""
        previous = self.__dict__.get("_scope_cache")
        self._scope_cache = ItemVectorCache()
        try:
            yield
        finally:
            self._scope_cache = previous

    def randomized(self, seed: int) -> TextRecommender:
        """A copy with the encoder and the learned head re-initialised, item embeddings re-encoded."""
        self._check_fitted()
        kept = {k: self.__dict__.pop(k) for k in ("_scope_cache",) if k in self.__dict__}
        try:
            clone = copy.deepcopy(self)  # without the cache: its vectors are the trained weights'
        finally:
            self.__dict__.update(kept)
        clone.encoder_.reinitialize(seed)
        clone._reinitialize_learned(seed)
        clone.item_emb_ = clone.encode_items()
        return clone

    def _remember_fields(self, source) -> None:
        """Keep the item-text fields: from a dataset (at fit time) or from a checkpoint's fitted config."""
        if isinstance(source, dict):
            stored = source.get("item_fields")
            self.item_fields_ = None if stored is None else [tuple(FieldSpan(*f) for f in item) for item in stored]
        else:
            self.item_fields_ = item_fields(source)

    def _fitted_config(self) -> dict[str, Any]:
        fields = None if self.item_fields_ is None else [
            [[f.name, f.value, f.start, f.end] for f in item] for item in self.item_fields_
        ]
        return {"item_texts": self.item_texts_, "item_labels": self.item_labels_, "n_users": self.n_users_,
                "item_fields": fields}


def _takes_position_ids(fn) -> bool:
    try:
        return "position_ids" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
