"""Explanation infidelity (Yeh et al., NeurIPS 2019) through ``captum.metrics.infidelity``.

The input is the feature mask (all ones); a perturbation removes each feature independently with
probability ``EvalConfig.infidelity_drop``, which at the history granularity drops history items
(weight 0, truly absent) and at the token granularity drops words from the attention mask; so
one perturbation serves both granularities through ``task.forward``. captum compares
``attribution . I`` with ``f(x) - f(x - I)`` over ``infidelity_samples`` perturbations, with
``normalize=True`` (the attributions are rescaled by the best factor first, so only their shape
counts). The result is divided by ``(s_full - s_empty)^2`` so that values compare across users.
Lower is better; an attribution that is exact for a model linear in the mask scores 0.
"""

from __future__ import annotations

import numpy as np
import torch
from captum.metrics import infidelity

from xrec_bench.metrics.base import declare
from xrec_bench.metrics.config import EvalConfig
from xrec_bench.metrics.stages import STAGES, Reference, Stage

declare("infidelity", higher_is_better=False, group="faithfulness",
        description="captum infidelity (normalize=True) under random feature removal, divided by the "
                    "squared full-to-empty score range.")


def mask_infidelity(forward, attributions: np.ndarray, *, n_samples: int, drop: float, seed: int) -> float:
    """captum infidelity of ``attributions`` for ``forward(mask [B, F]) -> [B]`` at the full mask."""
    n_features = len(attributions)
    gen = torch.Generator().manual_seed(int(seed))
    inputs = torch.ones(1, n_features)

    def perturb(batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        removed = (torch.rand(batch.shape, generator=gen) < drop).to(batch.dtype)
        perturbed = batch * (1.0 - removed)
        return batch - perturbed, perturbed

    value = infidelity(
        lambda m: forward(m).to(torch.float64),
        perturb,
        inputs,
        torch.as_tensor(attributions, dtype=torch.float32).reshape(1, -1),
        n_perturb_samples=n_samples,
        max_examples_per_batch=n_samples,
        normalize=True,
    )
    return float(value.reshape(-1)[0])


def _run(task, explanation, ref: Reference, cfg: EvalConfig, seed: int) -> dict[str, float]:
    span = ref.span
    if not np.isfinite(span):
        return {"infidelity": float("nan")}
    raw = mask_infidelity(task.forward, explanation.scores, n_samples=cfg.infidelity_samples,
                          drop=cfg.infidelity_drop, seed=seed)
    return {"infidelity": raw / span**2}


STAGES.register("infidelity", Stage(
    name="infidelity",
    kind="task",
    metric_names=lambda cfg: ("infidelity",),
    run_task=_run,
))
