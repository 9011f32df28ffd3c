"""LIME (the ``lime`` package): a locally weighted linear surrogate fitted to random removals.

* history items: ``lime.lime_base.LimeBase`` fitted to binary masks drawn as ``LimeTextExplainer``
  draws them (the number of removed features uniform in 1..F, then which ones uniformly), scored in
  batches through ``task.forward``; cosine distance x 100 with LIME's exponential kernel (width 25).
* words of the item text: ``lime.lime_text.LimeTextExplainer`` itself. To keep the removal semantics
  the model's (a removed word is dropped from the encoder's attention, not replaced by a string that
  the tokenizer would read), LIME sees the task's words (``task.feature_labels``) joined by a
  separator and split back by a callable into exactly those words, with ``bow=False`` (each
  occurrence is its own feature, as in the task) and a sentinel ``mask_string``. The batch
  classifier function turns each perturbed string back into a word mask (word kept <=> not the
  sentinel) and scores the masks in batches through ``task.forward``. No text is re-tokenised.

The surrogate is a ridge regression on the raw target score (labels = one column), with all
features kept (``feature_selection="none"``); its coefficients are the attributions.
"""

from __future__ import annotations

from functools import partial

import numpy as np
from lime.lime_base import LimeBase
from lime.lime_text import LimeTextExplainer
from sklearn.metrics.pairwise import pairwise_distances

from xrec_bench.explainers._common import DEFAULT_BATCH_SIZE, ConfiguredExplainer, score_masks
from xrec_bench.explainers.base import ExplanationError
from xrec_bench.models.features import FeatureTask

#: joins the task's words into the string LIME perturbs; a removed word becomes MASK
SEPARATOR = "\x1f"
MASK = "\x1e"
KERNEL_WIDTH = 25.0  # LimeTextExplainer's default


def _kernel(distances: np.ndarray, kernel_width: float) -> np.ndarray:
    return np.sqrt(np.exp(-(distances**2) / kernel_width**2))


class LimeExplainer(ConfiguredExplainer):
    name = "lime"
    stochastic = True
    defaults = {"n_samples": 500, "batch_size": DEFAULT_BATCH_SIZE}

    def _attribute(self, task: FeatureTask, rng: np.random.Generator) -> np.ndarray:
        random_state = np.random.RandomState(int(rng.integers(0, 2**31 - 1)))
        run = self._on_words if task.granularity == "tokens" else self._on_masks
        return run(task, random_state)

    @property
    def n_samples(self) -> int:
        return self.params["n_samples"]

    @property
    def batch_size(self) -> int:
        return self.params["batch_size"]

    # -- history items: LimeBase on binary masks ---------------------------------------------
    def _on_masks(self, task: FeatureTask, random_state: np.random.RandomState) -> np.ndarray:
        n = task.n_features
        # LimeTextExplainer's scheme, vectorised: k ~ U{1..n} removed features per row, a uniformly
        # random k-subset (the features whose random rank is below k); row 0 is the full input
        n_removed = random_state.randint(1, n + 1, self.n_samples - 1)
        rank = random_state.random_sample((self.n_samples - 1, n)).argsort(axis=1).argsort(axis=1)
        data = np.vstack([np.ones((1, n)), (rank >= n_removed[:, None]).astype(np.float64)])
        labels = score_masks(task, data, self.batch_size)[:, None]
        distances = pairwise_distances(data, data[:1], metric="cosine").ravel() * 100
        base = LimeBase(partial(_kernel, kernel_width=KERNEL_WIDTH), random_state=random_state)
        _, weights, _, _ = base.explain_instance_with_data(
            data, labels, distances, label=0, num_features=n, feature_selection="none"
        )
        return _dense(weights, n)

    # -- words: LimeTextExplainer on the task's own words -------------------------------------
    def _on_words(self, task: FeatureTask, random_state: np.random.RandomState) -> np.ndarray:
        words = list(task.feature_labels)
        if any(SEPARATOR in w or MASK in w or not w for w in words):
            raise ExplanationError(
                "a word of the item text is empty or contains a control character LIME needs"
            )
        explainer = LimeTextExplainer(
            kernel_width=KERNEL_WIDTH,
            split_expression=lambda text: text.split(SEPARATOR),
            bow=False,
            mask_string=MASK,
            feature_selection="none",
            random_state=random_state,
        )

        def classifier_fn(texts: list[str]) -> np.ndarray:
            masks = np.array([[w != MASK for w in t.split(SEPARATOR)] for t in texts], dtype=np.float32)
            if masks.shape[1:] != (len(words),):
                raise RuntimeError(
                    f"LIME produced a text of {masks.shape[1]} words; the task has {len(words)}"
                )
            return score_masks(task, masks, self.batch_size)[:, None]

        exp = explainer.explain_instance(
            SEPARATOR.join(words),
            classifier_fn,
            labels=(0,),
            num_features=len(words),
            num_samples=self.n_samples,
        )
        return _dense(exp.local_exp[0], len(words))


def _dense(weights: list[tuple[int, float]], n: int) -> np.ndarray:
    out = np.zeros(n)
    for j, w in weights:
        out[int(j)] = w
    return out
