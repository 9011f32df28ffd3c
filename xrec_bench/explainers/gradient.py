"""Gradient attributions (captum): integrated gradients, saliency, input x gradient, gradient SHAP.

Two paths, chosen by the task's ``differentiable`` flag, never by granularity name:

* a differentiable mask (history items): the captum method runs on the feature mask itself, input =
  all-ones ``[1, F]``, baseline = zeros (every item removed), forward = ``task.forward``;
* a binary-only mask (words of the item text): the captum *layer* method runs on the encoder's
  word-embedding layer (``task.embedding_layer``) through ``task.forward_ids``, baseline =
  ``task.baseline_ids`` (content word-pieces -> [PAD]); scores are summed over the hidden dimension
  (saliency: the L2 norm of the gradient) and then over the word-pieces of each word.

Each forward row (scored once, gradient or not) counts as one model evaluation.
"""

from __future__ import annotations

from abc import abstractmethod

import numpy as np
import torch
from captum.attr import (
    GradientShap,
    InputXGradient,
    IntegratedGradients,
    LayerGradientXActivation,
    LayerIntegratedGradients,
    Saliency,
)

from xrec_bench.explainers._common import (
    DEFAULT_BATCH_SIZE,
    ConfiguredExplainer,
    embedding_forward,
    full_and_empty,
    ids_forward,
    mask_forward,
    per_word,
    seeded,
    token_inputs,
)
from xrec_bench.models.features import FeatureTask


class _GradientExplainer(ConfiguredExplainer):
    needs_gradients = True
    model_agnostic = False
    defaults = {"batch_size": DEFAULT_BATCH_SIZE}

    def _attribute(self, task: FeatureTask, rng: np.random.Generator) -> np.ndarray:
        with seeded(rng):
            if task.differentiable:
                ones, zeros = full_and_empty(task)
                return self._on_mask(task, ones.requires_grad_(), zeros).detach().reshape(-1).double().numpy()
            return per_word(self._on_embeddings(task), task)

    @abstractmethod
    def _on_mask(self, task: FeatureTask, ones: torch.Tensor, zeros: torch.Tensor) -> torch.Tensor:
        """The method itself, in the subclass."""

    @abstractmethod
    def _on_embeddings(self, task: FeatureTask) -> torch.Tensor:
        """Scores per word-piece ``[T]``."""

    @property
    def batch_size(self) -> int:
        return self.params["batch_size"]


class IntegratedGradientsExplainer(_GradientExplainer):
    """Integrated gradients from "everything removed" to the full input (``n_steps`` points)."""

    name = "integrated-gradients"
    defaults = {"n_steps": 32, "batch_size": DEFAULT_BATCH_SIZE}

    def _on_mask(self, task, ones, zeros):
        ig = IntegratedGradients(mask_forward(task))
        return ig.attribute(ones, baselines=zeros, n_steps=self.n_steps, internal_batch_size=self.batch_size)

    def _on_embeddings(self, task):
        input_ids, attention_mask, baseline_ids = token_inputs(task)
        lig = LayerIntegratedGradients(ids_forward(task), task.embedding_layer)
        attr = lig.attribute(
            input_ids,
            baselines=baseline_ids,
            additional_forward_args=(attention_mask,),
            n_steps=self.n_steps,
            internal_batch_size=self.batch_size,
        )
        return attr.sum(dim=-1).reshape(-1)

    @property
    def n_steps(self) -> int:
        return self.params["n_steps"]


class SaliencyExplainer(_GradientExplainer):
    """|gradient| of the score at the full input (per word: L2 norm of the word-piece gradients, summed)."""

    name = "saliency"

    def _on_mask(self, task, ones, zeros):
        return Saliency(mask_forward(task)).attribute(ones, abs=True)

    def _on_embeddings(self, task):
        input_ids, attention_mask, _ = token_inputs(task)
        layer = LayerGradientXActivation(ids_forward(task), task.embedding_layer, multiply_by_inputs=False)
        grad = layer.attribute(input_ids, additional_forward_args=(attention_mask,))
        return grad.norm(dim=-1).reshape(-1)


class InputXGradientExplainer(_GradientExplainer):
    """Input x gradient at the full input (tokens: embedding x gradient, summed over the hidden dim)."""

    name = "input-x-gradient"

    def _on_mask(self, task, ones, zeros):
        return InputXGradient(mask_forward(task)).attribute(ones)

    def _on_embeddings(self, task):
        input_ids, attention_mask, _ = token_inputs(task)
        layer = LayerGradientXActivation(ids_forward(task), task.embedding_layer, multiply_by_inputs=True)
        return layer.attribute(input_ids, additional_forward_args=(attention_mask,)).sum(dim=-1).reshape(-1)


class GradientShapExplainer(_GradientExplainer):
    """Gradient SHAP (expected gradients) with the all-removed input as the baseline distribution.

    ``n_samples`` random points on the path from the baseline to the input (plus Gaussian noise of
    ``stdevs`` on the input). With a single baseline this is a Monte-Carlo integrated gradients.
    At token level it runs on the word-piece embeddings (baseline: the [PAD] embeddings), because
    captum's ``LayerGradientShap`` interpolates the *inputs*, i.e. the integer token ids.
    """

    name = "gradient-shap"
    stochastic = True
    defaults = {"n_samples": 32, "stdevs": 0.0}

    def _on_mask(self, task, ones, zeros):
        gs = GradientShap(mask_forward(task))
        return gs.attribute(ones, baselines=zeros, n_samples=self.n_samples, stdevs=self.stdevs)

    def _on_embeddings(self, task):
        forward, emb_in, emb_base = embedding_forward(task)
        gs = GradientShap(forward)
        attr = gs.attribute(emb_in, baselines=emb_base, n_samples=self.n_samples, stdevs=self.stdevs)
        return attr.sum(dim=-1).reshape(-1)

    @property
    def n_samples(self) -> int:
        return self.params["n_samples"]

    @property
    def stdevs(self) -> float:
        return float(self.params["stdevs"])
