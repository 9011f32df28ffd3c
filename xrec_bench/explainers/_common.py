"""Helpers shared by the explainer families: seeding, checked forwards, per-word aggregation.

Every captum method here attributes over the task's feature *mask* (input = all-ones ``[1, F]``,
baseline = zeros = every feature removed), so the removal semantics are always the model's own
(:mod:`xrec_bench.models.features`). Gradient methods on a task whose mask is not differentiable
(``task.differentiable`` is False, the token granularity) work on the word-piece embeddings through
``task.forward_ids`` instead and sum the word-pieces of each word.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import numpy as np
import torch

from xrec_bench.explainers.base import Explainer, ExplanationError
from xrec_bench.models.features import FeatureTask
from xrec_bench.params import Int, Param, Real

#: rows of masks (or of word-piece sequences) scored per model call unless a method is told otherwise
DEFAULT_BATCH_SIZE = 256


#: what the parameters shared by several methods mean and accept, declared once; a method lists the
#: ones it takes, with its defaults, in ``defaults`` (or declares ``parameters`` in full)
COMMON_PARAMS: dict[str, Param] = {
    "batch_size": Param(DEFAULT_BATCH_SIZE, (Int(1),), "rows of masks (or word-piece sequences) scored per model call"),
    "n_samples": Param(32, (Int(1),), "random samples (coalitions, perturbations or path points) per explanation"),
    "n_steps": Param(32, (Int(1),), "points on the integration path from the removed input to the full one"),
    "max_features": Param(12, (Int(1),), "the most features a request may have; more are refused (cost grows fast)"),
    "stdevs": Param(0.0, (Real(0.0),), "standard deviation of the Gaussian noise added to the input"),
}


class ConfiguredExplainer(Explainer):
    """An explainer with declared parameters: ``defaults`` lists every parameter and its default (their
    meaning and accepted values come from :data:`COMMON_PARAMS`), or ``parameters`` declares them in full.

    Unknown parameters are refused (a typo like ``n_sample=`` would otherwise be silently ignored), and
    every problem is reported at once.
    """

    defaults: dict[str, Any] = {}

    @classmethod
    def schema(cls) -> dict[str, Param]:
        if cls.parameters is not None:
            return dict(cls.parameters)
        common = {name: COMMON_PARAMS.get(name, Param(None)) for name in cls.defaults}
        return {name: replace(p, default=cls.defaults[name]) for name, p in common.items()}

    @classmethod
    def _open_params(cls) -> bool:
        return False

    def __init__(self, **params: Any) -> None:
        problems = self.check_params(params)
        if problems:
            raise ValueError(" ".join(problems))
        super().__init__(**{**self.contract().defaults(), **params})


@contextmanager
def seeded(rng: np.random.Generator) -> Iterator[None]:
    """Seed torch, numpy's and python's global generators from ``rng``; restore them afterwards.

    captum and lime draw from the global generators (``torch.randn``, ``np.random.uniform``), so an
    explanation is reproducible only if they are seeded; restoring keeps the caller's streams intact.
    """
    seed = int(rng.integers(0, 2**31 - 1))
    devices = [torch.cuda.current_device()] if torch.cuda.is_available() else []
    np_state = np.random.get_state()
    py_state = random.getstate()
    with torch.random.fork_rng(devices=devices):
        if devices or _other_accelerator():
            torch.manual_seed(seed)
        else:
            # the CPU generator is the only one in use: torch.manual_seed would also queue lazy
            # seeding calls for CUDA, XPU and MTIA, each recording a stack trace (about a millisecond,
            # as much as a whole history-level saliency explanation); the random streams are the same
            torch.default_generator.manual_seed(seed)
        np.random.seed(seed)
        random.seed(seed)
        try:
            yield
        finally:
            np.random.set_state(np_state)
            random.setstate(py_state)


def _other_accelerator() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def check_finite(scores: torch.Tensor, what: str) -> torch.Tensor:
    if not bool(torch.isfinite(scores.detach()).all()):
        raise ExplanationError(f"the model returned NaN or inf scores for {what}; cannot attribute them")
    return scores


def mask_forward(task: FeatureTask) -> Callable[[torch.Tensor], torch.Tensor]:
    """``task.forward`` over masks ``[B, F]`` that refuses non-finite model outputs."""

    def forward(mask: torch.Tensor) -> torch.Tensor:
        return check_finite(task.forward(mask), "a perturbed feature mask")

    return forward


def score_masks(task: FeatureTask, masks: np.ndarray, batch_size: int) -> np.ndarray:
    """Scores ``[N]`` of ``N`` masks, evaluated ``batch_size`` rows per model call, without gradients."""
    out = np.empty(len(masks), dtype=np.float64)
    forward = mask_forward(task)
    with torch.no_grad():
        for start in range(0, len(masks), batch_size):
            chunk = torch.as_tensor(masks[start : start + batch_size], dtype=torch.float32)
            out[start : start + len(chunk)] = forward(chunk).double().cpu().numpy()
    return out


def full_and_empty(task: FeatureTask) -> tuple[torch.Tensor, torch.Tensor]:
    """The all-present input ``[1, F]`` and the all-removed baseline ``[1, F]``."""
    ones = task.full_mask(1)
    return ones, torch.zeros_like(ones)


def ids_forward(task: FeatureTask) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """``task.forward_ids`` that counts its rows in ``task.n_evals`` and refuses non-finite outputs."""
    if not hasattr(task, "forward_ids") or not hasattr(task, "embedding_layer"):
        raise ExplanationError(
            f"the {task.granularity} task of this model has neither a differentiable mask nor "
            "forward_ids/embedding_layer, so gradient methods cannot run on it"
        )

    def forward(input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        task.n_evals += int(input_ids.shape[0])
        return check_finite(task.forward_ids(input_ids, attention_mask), "a word-piece sequence")

    return forward


def presence_forward(task: FeatureTask) -> Callable[[torch.Tensor], torch.Tensor]:
    """A forward over per-word presences ``alpha [B, F]`` in [0, 1] (specials always present).

    Each word's presence becomes the soft attention-mask value of its word-pieces, which the text
    encoder applies as a multiplicative attention weight and pooling weight
    (:meth:`xrec_bench.models.encoder.TextEncoder.soft_forward`): ``alpha = 1`` is the full input and
    ``alpha = 0`` exactly the metrics' removal of the word (out of the attention mask). Path methods
    over ``alpha`` from 0 to 1 therefore attribute ``s_full - s_removed`` with the metrics' removal.
    """
    forward_ids = ids_forward(task)
    input_ids, _, _ = token_inputs(task)
    word_of_token = torch.as_tensor(task.word_of_token).reshape(-1)
    content = word_of_token >= 0

    def forward(alpha: torch.Tensor) -> torch.Tensor:
        b = alpha.shape[0]
        tok = torch.ones(b, input_ids.shape[1], dtype=torch.float32)
        tok = tok.index_put((torch.arange(b)[:, None], torch.nonzero(content).reshape(1, -1)),
                            alpha[:, word_of_token[content]].to(torch.float32))
        return forward_ids(input_ids.expand(b, -1), tok)

    return forward


def token_inputs(task: FeatureTask) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``input_ids [1, T]``, their attention mask (all ones) and ``baseline_ids [1, T]``."""
    input_ids = torch.as_tensor(task.input_ids)
    attention_mask = torch.as_tensor(getattr(task, "attention_mask", torch.ones_like(input_ids)))
    baseline_ids = torch.as_tensor(task.baseline_ids).to(input_ids.device)
    return input_ids, attention_mask.to(input_ids.device), baseline_ids


def per_word(token_scores: torch.Tensor | np.ndarray, task: FeatureTask) -> np.ndarray:
    """Sum per-word-piece scores ``[T]`` into per-word scores ``[F]`` (specials, -1, are dropped)."""
    scores = np.asarray(torch.as_tensor(token_scores).detach().double().cpu().numpy()).reshape(-1)
    word_of_token = np.asarray(torch.as_tensor(task.word_of_token).cpu().numpy()).reshape(-1)
    if scores.shape != word_of_token.shape:
        raise RuntimeError(f"{scores.shape[0]} word-piece scores for {word_of_token.shape[0]} word-pieces")
    keep = word_of_token >= 0
    return np.bincount(word_of_token[keep], weights=scores[keep], minlength=task.n_features)


@contextmanager
def replaced_embeddings(layer: torch.nn.Module, embeddings: torch.Tensor) -> Iterator[None]:
    """Make ``layer`` (the word-embedding module) output ``embeddings`` instead of its own lookup."""

    def hook(_module: torch.nn.Module, _inputs: Any, _output: torch.Tensor) -> torch.Tensor:
        return embeddings.to(_output.device)  # the layer's device (the encoder may run on a GPU)

    handle = layer.register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()


def embedding_forward(
    task: FeatureTask,
) -> tuple[Callable[[torch.Tensor], torch.Tensor], torch.Tensor, torch.Tensor]:
    """A forward over word-piece embeddings ``[B, T, D]``, and the input's and baseline's embeddings.

    For captum methods that interpolate their *input* (GradientShap): interpolating token ids is
    meaningless, so the input becomes the embedding-layer output, swapped in with a forward hook.
    """
    forward_ids = ids_forward(task)
    input_ids, attention_mask, baseline_ids = token_inputs(task)
    layer = task.embedding_layer
    device = next(layer.parameters()).device  # the encoder's (an accelerator when the model runs there)
    with torch.no_grad():
        emb_in = layer(input_ids.to(device)).detach()
        emb_base = layer(baseline_ids.to(device)).detach()

    def forward(embeddings: torch.Tensor) -> torch.Tensor:
        b = embeddings.shape[0]
        with replaced_embeddings(layer, embeddings):
            return forward_ids(input_ids.expand(b, -1), attention_mask.expand(b, -1))

    return forward, emb_in, emb_base
