"""Small, exactly-known models for tests of explainers and metrics (no BERT, no training).

``ToyModel`` scores items by a model that is *linear in the feature mask* at both granularities:

* history: ``score(c | mask) = sum_j mask_j * A[h_j, c]`` where ``A`` is a fixed item-item matrix,
  so the exact attribution of history item ``j`` is ``A[h_j, c]`` (and its Shapley value too).
* tokens: the target's text is a list of word ids; ``score(c | mask) = sum_w mask_w * (E[id_w] . u)``
  for a fixed user vector ``u``; ``forward_ids`` computes the same through a real ``nn.Embedding``
  so that layer-gradient methods work.
* fields: consecutive pairs of those words; a field's exact attribution is the sum of its words'.

Other items' scores do not depend on the token mask; under a history mask they move with ``A``.
"""

from __future__ import annotations

import numpy as np
import torch

from xrec_bench.models.base import Recommender
from xrec_bench.models.features import FeatureTask


class ToyHistoryTask(FeatureTask):
    granularity = "history"
    differentiable = True

    def __init__(self, model: ToyModel, *, user, history, target, exclude=None):
        history = np.asarray(history, dtype=np.int64)
        super().__init__(
            user=user,
            target=target,
            feature_ids=history,
            feature_labels=[f"item {i}" for i in history],
            exclude=exclude if exclude is not None else history,
        )
        self._a = torch.as_tensor(model.A[history], dtype=torch.float32)  # [F, n_items]
        self.feature_embeddings = model.item_emb[history]
        self.target_embedding = model.item_emb[target]

    def _all_scores(self, mask):
        return mask @ self._a

    def _forward(self, mask):
        return (mask @ self._a)[:, self.target]

    def attention(self):
        w = np.abs(self._a[:, self.target].numpy())
        return w / w.sum() if w.sum() > 0 else np.full(len(w), 1 / len(w))


class ToyTokenTask(FeatureTask):
    granularity = "tokens"
    differentiable = False

    def __init__(self, model: ToyModel, *, user, history, target, exclude=None):
        words = model.texts[target]
        super().__init__(
            user=user,
            target=target,
            feature_ids=np.arange(len(words)),
            feature_labels=[f"w{w}" for w in words],
            exclude=exclude if exclude is not None else history,
        )
        self.embedding_layer = model.embedding
        self._u = torch.as_tensor(model.user_vec, dtype=torch.float32)
        # [CLS]=0, words..., [SEP]=0 : specials are id 0 and never features
        self.input_ids = torch.tensor([[0, *words, 0]], dtype=torch.long)
        self.word_of_token = torch.tensor([-1, *range(len(words)), -1], dtype=torch.long)
        self.baseline_ids = torch.zeros_like(self.input_ids)
        with torch.no_grad():
            self._others = torch.as_tensor(model.other_scores, dtype=torch.float32)

    def forward_ids(self, input_ids, attention_mask):
        emb = self.embedding_layer(input_ids)  # [B, T, D]
        return ((emb @ self._u) * attention_mask).sum(dim=1)

    def _token_mask(self, mask):
        b = mask.shape[0]
        tok = torch.ones(b, self.input_ids.shape[1])
        tok[:, 1:-1] = mask
        return tok

    def _forward(self, mask):
        with torch.no_grad():
            return self.forward_ids(self.input_ids.expand(mask.shape[0], -1), self._token_mask(mask))

    def _all_scores(self, mask):
        scores = self._others.expand(mask.shape[0], -1).clone()
        scores[:, self.target] = self._forward(mask)
        return scores


class ToyFieldTask(ToyTokenTask):
    """Fields: consecutive pairs of the target's words (``f0`` = words 0-1, ``f1`` = words 2-3, ...); a
    removed field removes both its words, so the score stays linear in the field mask."""

    granularity = "fields"

    def __init__(self, model: ToyModel, *, user, history, target, exclude=None):
        super().__init__(model, user=user, history=history, target=target, exclude=exclude)
        n_words = len(model.texts[target])
        self._field_of_word = torch.arange(n_words) // 2
        n_fields = int(self._field_of_word.max()) + 1 if n_words else 0
        FeatureTask.__init__(self, user=user, target=target, feature_ids=np.arange(n_fields),
                             feature_labels=[f"f{k}" for k in range(n_fields)], exclude=self.exclude)
        self.word_of_token = torch.tensor([-1, *self._field_of_word.tolist(), -1], dtype=torch.long)

    def _token_mask(self, mask):
        return super()._token_mask(mask[:, self._field_of_word])


class ToyModel(Recommender):
    name = "toy"
    explainable_granularities = ("history", "tokens", "fields")

    def __init__(self, n_items: int = 30, vocab: int = 50, dim: int = 8, seed: int = 0):
        super().__init__(n_items=n_items, vocab=vocab, dim=dim, seed=seed)
        rng = np.random.default_rng(seed)
        self.item_emb = rng.normal(size=(n_items, dim))
        self.A = rng.normal(size=(n_items, n_items))
        self.texts = [list(rng.integers(1, vocab, size=int(rng.integers(3, 9)))) for _ in range(n_items)]
        torch.manual_seed(seed)
        self.embedding = torch.nn.Embedding(vocab, dim)
        self.user_vec = rng.normal(size=dim)
        self.other_scores = rng.normal(size=n_items)
        self.n_items = n_items

    def fit(self, dataset, split, *, seed=0):
        return self

    def score(self, users, histories):
        return np.stack([self.A[np.asarray(h, dtype=np.int64)].sum(axis=0) for h in histories])

    def feature_task(self, granularity, *, user, history, target, exclude=None):
        history = np.asarray(history, dtype=np.int64)
        if target in set(history.tolist()):
            raise ValueError(f"target item {target} is already in the history of user {user}")
        cls = {"history": ToyHistoryTask, "tokens": ToyTokenTask, "fields": ToyFieldTask}[granularity]
        return cls(self, user=user, history=history, target=target, exclude=exclude)

    def randomized(self, seed):
        return ToyModel(self.params["n_items"], self.params["vocab"], self.params["dim"], seed=seed + 1000)
