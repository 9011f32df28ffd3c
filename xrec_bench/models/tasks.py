"""Feature tasks of the text-based models (two-tower and zero-shot), at both granularities.

* :class:`HistoryTask` runs on cached item embeddings only (no encoder call): the mask is the
  per-history-item weight of the model's user function.
* :class:`TokenTask` re-encodes the target's text with some of its words dropped from the
  attention mask (and so from mean pooling); the user vector is fixed (from cached embeddings).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import torch
import torch.nn.functional as F

from xrec_bench.models.features import FeatureTask
from xrec_bench.models.masked_items import DEFAULT_BATCH_SIZE, ItemVectorCache, masked_item_vectors

#: score token masks the version-2 way (see :func:`_v2_token_path`); benchmark and tests only
_V2_PATH = False


@contextmanager
def _v2_token_path() -> Iterator[None]:
    """Within the block, token tasks score masks as version 2 did: no deduplication, no cache, every
    row encoded at full width. Only for the side-by-side benchmark and the equivalence tests."""
    global _V2_PATH
    before, _V2_PATH = _V2_PATH, True
    try:
        yield
    finally:
        _V2_PATH = before

#: ``user_fn(items [B, L, D], weights [B, L]) -> (user vectors [B, D], attention [B, L] or None)``
UserFn = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor | None]]
#: ``item_fn(input_ids [B, T], attention_mask [B, T]) -> item vectors [B, D]``
ItemFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def cosine(u: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
    """Cosine similarity of each row of ``u [B, D]`` with each row of ``items [N, D]`` -> ``[B, N]``.

    A zero vector has cosine 0 with everything (the empty-history user of a mean-pooling model).
    """
    return F.normalize(u, dim=-1, eps=1e-12) @ F.normalize(items, dim=-1, eps=1e-12).T


class HistoryTask(FeatureTask):
    """Features: the history items the user function reads (the last ``max_history``), oldest first."""

    granularity = "history"
    differentiable = True

    def __init__(
        self,
        *,
        user: int,
        target: int,
        history: np.ndarray,
        labels: list[str],
        item_emb: torch.Tensor,
        user_fn: UserFn,
        exclude: np.ndarray,
    ) -> None:
        super().__init__(
            user=user, target=target, feature_ids=history, feature_labels=labels, exclude=exclude
        )
        self._item_emb = item_emb
        self._hist = item_emb[torch.as_tensor(np.array(history, dtype=np.int64))]  # [F, D]
        self._user_fn = user_fn
        self.feature_embeddings = self._hist.numpy().copy()
        self.target_embedding = item_emb[target].numpy().copy()

    def _user(self, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        items = self._hist.unsqueeze(0).expand(mask.shape[0], -1, -1)
        return self._user_fn(items, mask)

    def _forward(self, mask: torch.Tensor) -> torch.Tensor:
        u, _ = self._user(mask)
        return cosine(u, self._item_emb[self.target : self.target + 1])[:, 0]

    def _all_scores(self, mask: torch.Tensor) -> torch.Tensor:
        u, _ = self._user(mask)
        return cosine(u, self._item_emb)

    def attention(self) -> np.ndarray:
        """The user function's weights on each history item with the full history ``[F]``.

        For the two-tower model these are the attention weights α (they sum to 1 minus the share
        of the learned empty-history slot); for the zero-shot model the uniform mean weights.
        """
        with torch.no_grad():
            _, alpha = self._user(self.full_mask())
        if alpha is None:
            return np.full(self.n_features, 1.0 / max(self.n_features, 1))
        return alpha[0].double().numpy()


class TokenTask(FeatureTask):
    """Features: the words of the target's text; a removed word's word-pieces leave the attention mask."""

    granularity = "tokens"
    differentiable = False

    def __init__(
        self,
        *,
        user: int,
        target: int,
        text: str,
        tokenizer,
        max_length: int,
        item_fn: ItemFn,
        embedding_layer: torch.nn.Module,
        user_vector: torch.Tensor,
        other_scores: torch.Tensor,
        exclude: np.ndarray,
        item_cache: ItemVectorCache | None = None,
        compact: bool = False,
        encode_batch: int = DEFAULT_BATCH_SIZE,
    ) -> None:
        enc = tokenizer([text], truncation=True, max_length=max_length, return_tensors="pt")
        feature_of_token, labels = self._features(enc, text)
        super().__init__(
            user=user,
            target=target,
            feature_ids=np.arange(len(labels)),
            feature_labels=labels,
            exclude=exclude,
        )
        self.text = text
        self.input_ids = enc["input_ids"]
        self.word_of_token = torch.tensor(feature_of_token, dtype=torch.long)
        pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        self._pad_id = int(pad_id)
        self._item_cache = item_cache
        self._compact = bool(compact)
        self._encode_batch = int(encode_batch)  # masked texts per encoder call (larger on a GPU)
        self.baseline_ids = torch.where(
            self.word_of_token >= 0, torch.tensor(pad_id), self.input_ids[0]
        ).unsqueeze(0)
        self.embedding_layer = embedding_layer
        self._item_fn = item_fn
        self._u = user_vector.reshape(1, -1)
        self._others = other_scores

    def _features(self, enc, text: str) -> tuple[list[int], list[str]]:
        """The feature index of every token (-1: never removed, e.g. [CLS]) and each feature's label."""
        word_ids = enc.word_ids(0)
        words = sorted({w for w in word_ids if w is not None})
        index = {w: j for j, w in enumerate(words)}
        labels = []
        for w in words:
            start, end = enc.word_to_chars(0, w)
            labels.append(text[start:end])
        return [-1 if w is None else index[w] for w in word_ids], labels

    def forward_ids(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Target scores ``[B]`` for token ids and token attention masks ``[B, T]`` (differentiable
        through :attr:`embedding_layer`)."""
        return cosine(self._item_fn(input_ids, attention_mask), self._u)[:, 0]

    def token_mask(self, mask: torch.Tensor) -> torch.Tensor:
        """Word mask ``[B, F]`` -> token attention mask ``[B, T]`` (specials always kept)."""
        tok = torch.ones(mask.shape[0], self.input_ids.shape[1], dtype=mask.dtype)
        content = self.word_of_token >= 0
        tok[:, content] = mask[:, self.word_of_token[content]]
        return tok

    def _forward(self, mask: torch.Tensor) -> torch.Tensor:
        tok = (self.token_mask(mask) > 0.5).long()  # binary at this granularity
        if _V2_PATH:
            return self._forward_v2(tok)
        # each distinct mask encoded once per model (shared by every explainer and metric of the
        # text), removed word-pieces left out of the sequence: equal to _forward_v2 up to rounding
        items = masked_item_vectors(self._item_fn, self.input_ids, tok, cache=self._item_cache,
                                    compact=self._compact, pad_id=self._pad_id, batch_size=self._encode_batch)
        return cosine(items, self._u)[:, 0]

    def _forward_v2(self, tok: torch.Tensor) -> torch.Tensor:
        """The version-2 path (every mask row re-encoded at full width), kept for the benchmark and
        the equivalence tests only."""
        with torch.no_grad():
            return self.forward_ids(self.input_ids.expand(tok.shape[0], -1), tok)

    def _all_scores(self, mask: torch.Tensor) -> torch.Tensor:
        scores = self._others.unsqueeze(0).repeat(mask.shape[0], 1)
        scores[:, self.target] = self._forward(mask)
        return scores


class FieldTask(TokenTask):
    """Features: the fields of the target's text (title, each genre, brand, ...; declared by the dataset's
    card, located by :func:`xrec_bench.datasets.fields.item_fields`). A removed field has all its
    word-pieces dropped from the attention mask, exactly as a removed word at the token granularity;
    word-pieces outside every field ("Genres:", punctuation) are never removed. A field whose
    word-pieces were all cut off by ``max_length`` is not a feature."""

    granularity = "fields"

    def __init__(self, *, fields, **kwargs) -> None:
        self._fields = tuple(fields)
        super().__init__(**kwargs)

    def _features(self, enc, text: str) -> tuple[list[int], list[str]]:
        n_tokens = len(enc["input_ids"][0])
        of_token = []
        for t in range(n_tokens):
            span = enc.token_to_chars(0, t) if enc.word_ids(0)[t] is not None else None
            field = -1
            if span is not None:
                field = next((j for j, f in enumerate(self._fields) if f.start <= span.start < f.end), -1)
            of_token.append(field)
        present = sorted({f for f in of_token if f >= 0})
        index = {f: j for j, f in enumerate(present)}
        return [index.get(f, -1) for f in of_token], [self._fields[f].label for f in present]
