"""A feature task with one feature removed for good (an input perturbation for the stability metrics).

At the token granularity the target's text is fixed by the model, so "the same input minus one
word" cannot be asked of the model through a :class:`~xrec_bench.explainers.base.Request`; this
wrapper presents the base task's remaining ``F - 1`` words as the features, with the dropped word
held out of every mask (and out of the token attention mask in ``forward_ids``, so gradient
methods see the same input). At the history granularity the metrics rebuild the task from the
shortened history instead, which is exact.
"""

from __future__ import annotations

import numpy as np
import torch

from xrec_bench.models.features import FeatureTask


class WithoutFeature(FeatureTask):
    def __init__(self, base: FeatureTask, drop: int) -> None:
        keep = np.delete(np.arange(base.n_features), int(drop))
        super().__init__(
            user=base.user,
            target=base.target,
            feature_ids=np.asarray(base.feature_ids)[keep],
            feature_labels=[base.feature_labels[i] for i in keep],
            exclude=base.exclude,
        )
        self.granularity = base.granularity
        self.differentiable = base.differentiable
        self._base = base
        self._drop = int(drop)
        self._keep = torch.as_tensor(keep, dtype=torch.long)
        word_of_token = getattr(base, "word_of_token", None)
        if word_of_token is not None:
            wot = torch.as_tensor(np.asarray(word_of_token)).clone().reshape(-1)
            self._token_keep = (wot != self._drop).to(torch.float32)
            new = wot.clone()
            new[wot == self._drop] = -1
            new[wot > self._drop] -= 1
            self.word_of_token = new if isinstance(word_of_token, torch.Tensor) else new.numpy()

    def _expand(self, mask: torch.Tensor) -> torch.Tensor:
        full = torch.zeros(mask.shape[0], self._base.n_features, dtype=mask.dtype)
        full[:, self._keep] = mask
        return full

    def _forward(self, mask: torch.Tensor) -> torch.Tensor:
        return self._base._forward(self._expand(mask))

    def _all_scores(self, mask: torch.Tensor) -> torch.Tensor:
        return self._base._all_scores(self._expand(mask))

    def forward_ids(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        keep = self._token_keep.to(attention_mask.dtype)
        return self._base.forward_ids(input_ids, attention_mask * keep)

    def __getattr__(self, name: str):
        # attributes the wrapper does not redefine (input_ids, embedding_layer, ...) are the base's
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._base, name)
