"""Gradient attributions (captum): integrated gradients, saliency, input x gradient, gradient SHAP.

Two paths, chosen by the task's ``differentiable`` flag, never by granularity name:

* a differentiable mask (history items): the captum method runs on the feature mask itself, input =
  all-ones ``[1, F]``, baseline = zeros (every item removed), forward = ``task.forward``;
* a binary-only mask (words of the item text): the path methods (integrated gradients, gradient
  SHAP) run on a soft presence ``alpha in [0, 1]`` per word (:func:`presence_forward`), from
  ``alpha = 0``, every word removed exactly as the metrics remove words (out of the attention
  mask), to ``alpha = 1``; so their attributions sum to ``s_full - s_removed`` with the metrics'
  removal (completeness), one baseline for explainers and metrics. (Earlier versions interpolated
  word embeddings towards [PAD] with the [PAD] tokens left in the attention mask: a baseline that
  no metric uses.) The local methods (saliency, input x gradient) need no baseline and run on the
  encoder's word-embedding layer (``task.embedding_layer``) through ``task.forward_ids``; scores
  are summed over the hidden dimension (saliency: the L2 norm of the gradient) and then over the
  word-pieces of each word.

Each forward row (scored once, gradient or not) counts as one model evaluation.
"""

from __future__ import annotations

import functools
from abc import abstractmethod

import numpy as np
import torch
from captum.attr import (
    LayerGradientXActivation,
)
from captum.attr._utils.approximation_methods import approximation_parameters

from xrec_bench.explainers._common import (
    DEFAULT_BATCH_SIZE,
    ConfiguredExplainer,
    full_and_empty,
    ids_forward,
    mask_forward,
    per_word,
    presence_forward,
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
            return self._on_words(task)

    @abstractmethod
    def _on_mask(self, task: FeatureTask, ones: torch.Tensor, zeros: torch.Tensor) -> torch.Tensor:
        """The method itself, in the subclass."""

    @abstractmethod
    def _on_words(self, task: FeatureTask) -> np.ndarray:
        """Scores per word ``[F]`` of a task without a differentiable mask."""

    @property
    def batch_size(self) -> int:
        return self.params["batch_size"]


class _PathMethod(_GradientExplainer):
    """Path methods integrate from a baseline; at token level they run on the words' soft presence,
    from every word removed the metrics' way (``alpha = 0``) to the full text (``alpha = 1``)."""

    def _on_words(self, task):
        ones = torch.ones(1, task.n_features, requires_grad=True)
        attr = self._on_mask(_PresenceTask(task), ones, torch.zeros(1, task.n_features))
        return attr.detach().reshape(-1).double().numpy()


class _LocalMethod(_GradientExplainer):
    """Local methods need no baseline; at token level they run on the word-piece embeddings."""

    def _on_words(self, task):
        return per_word(self._on_embeddings(task), task)

    @abstractmethod
    def _on_embeddings(self, task: FeatureTask) -> torch.Tensor:
        """Scores per word-piece ``[T]``."""


class _PresenceTask:
    """What ``mask_forward`` needs of a task, with the words' soft presence as the mask."""

    def __init__(self, task: FeatureTask) -> None:
        self._forward = presence_forward(task)
        self.n_features = task.n_features

    def forward(self, alpha: torch.Tensor) -> torch.Tensor:
        return self._forward(alpha)


class IntegratedGradientsExplainer(_PathMethod):
    """Integrated gradients from "everything removed" to the full input (``n_steps`` points); at token
    level over the words' soft presence, so that the baseline is the metrics' removal."""

    name = "integrated-gradients"
    defaults = {"n_steps": 32, "batch_size": DEFAULT_BATCH_SIZE}

    def _on_mask(self, task, ones, zeros):
        return integrated_gradients(mask_forward(task), ones, zeros, n_steps=self.n_steps,
                                    batch_size=self.batch_size)

    @property
    def n_steps(self) -> int:
        return self.params["n_steps"]


def input_gradient(forward, inputs: torch.Tensor) -> torch.Tensor:
    """``d forward(inputs).sum() / d inputs`` (rows independent: each row's own gradient)."""
    with torch.enable_grad():
        x = inputs.detach().requires_grad_()
        return torch.autograd.grad(forward(x).sum(), x)[0]


@functools.lru_cache(maxsize=64)
def _gauss_legendre(n_steps: int) -> tuple[torch.Tensor, torch.Tensor]:
    """captum's Gauss-Legendre step sizes ``[n, 1]`` and alphas ``[n]`` (computed once per ``n``)."""
    step_sizes_fn, alphas_fn = approximation_parameters("gausslegendre")
    step_sizes = torch.tensor(step_sizes_fn(n_steps)).float().view(n_steps, 1)
    return step_sizes, torch.tensor(alphas_fn(n_steps), dtype=torch.float64)


def integrated_gradients(forward, inputs: torch.Tensor, baselines: torch.Tensor, *, n_steps: int,
                         batch_size: int) -> torch.Tensor:
    """captum's ``IntegratedGradients`` (Gauss-Legendre, one input row ``[1, F]``) without its per-call
    overhead: the same alphas, step sizes and sums, one ``autograd.grad`` of the summed scores per
    batch of path points instead of captum's per-output gradients and input re-formatting. On the
    history task a forward takes well under a millisecond, where captum's bookkeeping doubled the
    time; the values equal captum's (tests/unit/explainers/test_fast_paths.py).
    """
    step_sizes, alphas = _gauss_legendre(n_steps)
    inputs, baselines = inputs.detach(), baselines.detach()
    scaled = baselines + alphas.to(inputs.dtype).view(n_steps, *([1] * (inputs.dim() - 1))) * (inputs - baselines)
    grads = []
    with torch.enable_grad():
        for start in range(0, n_steps, batch_size):
            chunk = scaled[start : start + batch_size].requires_grad_()
            grads.append(torch.autograd.grad(forward(chunk).sum(), chunk)[0])
    total = (torch.cat(grads).contiguous().view(n_steps, -1) * step_sizes).sum(dim=0)
    return total.view_as(inputs) * (inputs - baselines)


def gradient_shap(forward, inputs: torch.Tensor, baselines: torch.Tensor, *, n_samples: int,
                  stdevs: float) -> torch.Tensor:
    """captum's ``GradientShap`` for one input row ``[1, F]`` and one baseline row, without the
    ``NoiseTunnel`` machinery around it: the same random calls in the same order (the baseline draw
    ``np.random.choice``, the input noise ``torch.normal``, the path points ``np.random.uniform``), the
    same gradients (one ``autograd.grad`` of the summed scores) and the same mean. Equal to captum's
    values up to float rounding (tests/unit/explainers/test_fast_paths.py).
    """
    inputs, baselines = inputs.detach(), baselines.detach()
    np.random.choice(baselines.shape[0], n_samples * inputs.shape[0])  # captum's baseline draw
    noise = torch.normal(0, torch.tensor(float(stdevs)).repeat((n_samples, *inputs.shape[1:])))
    noisy = inputs.repeat_interleave(n_samples, dim=0) + noise
    coefficient = torch.tensor(np.random.uniform(0.0, 1.0, n_samples), dtype=inputs.dtype).view(-1, 1)
    with torch.enable_grad():
        scaled = (coefficient * noisy + (1.0 - coefficient) * baselines).requires_grad_()
        grads = torch.autograd.grad(forward(scaled).sum(), scaled)[0]
    return ((noisy - baselines) * grads).sum(dim=0, keepdim=True) * (1 / n_samples)


class SaliencyExplainer(_LocalMethod):
    """|gradient| of the score at the full input (per word: L2 norm of the word-piece gradients, summed)."""

    name = "saliency"

    def _on_mask(self, task, ones, zeros):
        # captum's Saliency(abs=True) is |d score / d mask|: one autograd.grad, written out because
        # captum's per-call input handling cost more than the history model's forward and backward
        return input_gradient(mask_forward(task), ones).abs()

    def _on_embeddings(self, task):
        input_ids, attention_mask, _ = token_inputs(task)
        layer = LayerGradientXActivation(ids_forward(task), task.embedding_layer, multiply_by_inputs=False)
        grad = layer.attribute(input_ids, additional_forward_args=(attention_mask,))
        return grad.norm(dim=-1).reshape(-1)


class InputXGradientExplainer(_LocalMethod):
    """Input x gradient at the full input (tokens: embedding x gradient, summed over the hidden dim)."""

    name = "input-x-gradient"

    def _on_mask(self, task, ones, zeros):
        # captum's InputXGradient, written out for the same reason as saliency's
        return ones.detach() * input_gradient(mask_forward(task), ones)

    def _on_embeddings(self, task):
        input_ids, attention_mask, _ = token_inputs(task)
        layer = LayerGradientXActivation(ids_forward(task), task.embedding_layer, multiply_by_inputs=True)
        return layer.attribute(input_ids, additional_forward_args=(attention_mask,)).sum(dim=-1).reshape(-1)


class GradientShapExplainer(_PathMethod):
    """Gradient SHAP (expected gradients) with the all-removed input as the baseline distribution.

    ``n_samples`` random points on the path from the baseline to the input (plus Gaussian noise of
    ``stdevs`` on the input). With a single baseline this is a Monte-Carlo integrated gradients.
    At token level it runs on the words' soft presence, from every word removed the metrics' way.
    """

    name = "gradient-shap"
    stochastic = True
    defaults = {"n_samples": 32, "stdevs": 0.0}

    def _on_mask(self, task, ones, zeros):
        return gradient_shap(mask_forward(task), ones, zeros, n_samples=self.n_samples, stdevs=self.stdevs)

    @property
    def n_samples(self) -> int:
        return self.params["n_samples"]

    @property
    def stdevs(self) -> float:
        return float(self.params["stdevs"])
