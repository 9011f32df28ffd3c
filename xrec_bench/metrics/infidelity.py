"""Explanation infidelity (Yeh et al., NeurIPS 2019), captum's definition with a non-negative scale.

The input is the feature mask (all ones); a perturbation ``I`` removes each feature independently
with probability ``EvalConfig.infidelity_drop``, which at the history granularity drops history
items (weight 0, truly absent) and at the token granularity drops words from the attention mask;
so one perturbation serves both granularities through ``task.forward``. Over
``infidelity_samples`` perturbations, ``a = attribution . I`` is compared with
``b = f(x) - f(x - I)``: infidelity = ``mean((beta * a - b)^2)``.

``beta`` is captum's ``normalize=True`` scale (the least-squares fit ``<a, b> / <a, a>``, so that
only the attributions' shape counts), clamped at 0. captum lets ``beta`` be negative, so an
explanation and its negation score the same; with the clamp a negated explanation can do no
better than the all-zero one (``mean(b^2)``). captum returns only the final value, not the fitted
scale, so the few lines of the fit are written here; where ``beta >= 0`` the value equals
``captum.metrics.infidelity(..., normalize=True)`` (a test checks this).

The result is divided by the variance of all items' scores with the full input (no empty-input
anchor, see :mod:`xrec_bench.metrics.faithfulness`) so that values compare across users. Lower is
better; an attribution that is exact for a model linear in the mask scores 0.
"""

from __future__ import annotations

import numpy as np
import torch

from xrec_bench.contract import Output
from xrec_bench.metrics.base import register
from xrec_bench.metrics.config import EvalConfig
from xrec_bench.metrics.stages import Reference, TaskMetric

OUTPUTS = (
    Output("infidelity", "lower", "faithfulness", "variance of all items' scores",
           "Infidelity (Yeh et al.) under random feature removal, with captum's least-squares scale clamped at >= 0 "
           "(a negated explanation cannot score well), divided by the variance of all items' scores."),
)


def mask_infidelity(forward, attributions: np.ndarray, *, n_samples: int, drop: float, seed: int) -> float:
    """Infidelity of ``attributions`` for ``forward(mask [B, F]) -> [B]`` at the full mask, with the
    least-squares scale clamped at 0 (see the module docstring)."""
    n_features = len(attributions)
    gen = torch.Generator().manual_seed(int(seed))
    removed = (torch.rand((n_samples, n_features), generator=gen) < drop).to(torch.float64)
    with torch.no_grad():
        full = forward(torch.ones(1, n_features)).to(torch.float64).reshape(-1)
        perturbed = forward((1.0 - removed).to(torch.float32)).to(torch.float64).reshape(-1)
    a = removed @ torch.as_tensor(attributions, dtype=torch.float64).reshape(-1)
    b = full - perturbed
    aa = float(a @ a)
    beta = max(0.0, float(a @ b) / aa) if aa > 0 else 0.0
    return float(torch.mean((beta * a - b) ** 2))


def _run(task, explanation, ref: Reference, cfg: EvalConfig, seed: int) -> dict[str, float]:
    scale = ref.scale
    if not np.isfinite(scale):
        return {"infidelity": float("nan")}
    raw = mask_infidelity(task.forward, explanation.scores, n_samples=cfg.infidelity_samples,
                          drop=cfg.infidelity_drop, seed=seed)
    return {"infidelity": raw / scale**2}


@register
class Infidelity(TaskMetric):
    """Infidelity (Yeh et al. 2019) of the attributions under random feature removal."""

    name = "infidelity"  # also seeds its perturbations (derive_seed(seed, name, user, target))
    outputs = OUTPUTS
    options = ("infidelity_samples", "infidelity_drop")
    run_task = staticmethod(_run)
