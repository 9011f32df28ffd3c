"""What an explanation costs: model evaluations (hardware-independent), wall time, memory, device.

Per request: ``n_evals`` (mask rows the explainer had the model score, counted by the
:class:`FeatureTask`) and ``wall_time_s``. Per run (:func:`cost_summary`): wall time p50/p95,
explanations per second, the process's peak resident memory (``resource.getrusage``: a
high-water mark of the whole process, so it bounds, not isolates, one explainer), the CUDA peak
when a GPU is used, and the device. Timings on a shared machine are noisy; prefer ``n_evals``.
"""

from __future__ import annotations

import platform
from typing import Any

import numpy as np
import torch

from xrec_bench._util.memory import peak_cuda_mb, peak_rss_mb
from xrec_bench.contract import Output
from xrec_bench.metrics.base import DeclaredMetric, register


@register
class Cost(DeclaredMetric):
    """What each explanation cost (the evaluator records it for every explanation)."""

    name = "cost"
    needs = frozenset()
    deterministic = False  # wall time is measured
    outputs = (
        Output("n_evals", "lower", "cost", "model evaluations", "Model evaluations (mask rows scored) per explanation."),
        Output("wall_time_s", "lower", "cost", "seconds", "Wall time per explanation (seconds)."),
    )


def device_name() -> str:
    if torch.cuda.is_available():
        return f"cuda:{torch.cuda.get_device_name(0)}"
    return f"cpu:{platform.processor() or platform.machine()} ({torch.get_num_threads()} torch threads)"


def cost_summary(explanations, total_wall_s: float, rss_before_mb: float) -> dict[str, Any]:
    ok = [e for e in explanations if e.ok]
    times = np.array([e.wall_time_s for e in ok], dtype=np.float64)
    evals = np.array([e.n_evals for e in ok], dtype=np.float64)
    summary: dict[str, Any] = {
        "n_explained": len(ok),
        "n_skipped": len(explanations) - len(ok),
        "n_evals_mean": float(evals.mean()) if len(ok) else float("nan"),
        "wall_time_p50_s": float(np.percentile(times, 50)) if len(ok) else float("nan"),
        "wall_time_p95_s": float(np.percentile(times, 95)) if len(ok) else float("nan"),
        "explanations_per_s": float(len(ok) / times.sum()) if len(ok) and times.sum() > 0 else float("nan"),
        "total_wall_s": float(total_wall_s),
        "peak_rss_mb": peak_rss_mb(),
        "peak_rss_growth_mb": max(0.0, peak_rss_mb() - rss_before_mb),
        "device": device_name(),
    }
    if (cuda_peak := peak_cuda_mb()) is not None:
        summary["cuda_peak_mb"] = cuda_peak
    return summary


def per_user_cost(explanations) -> dict[str, np.ndarray]:
    return {
        "n_evals": np.array([e.n_evals if e.ok else np.nan for e in explanations], dtype=np.float64),
        "wall_time_s": np.array([e.wall_time_s if e.ok else np.nan for e in explanations], dtype=np.float64),
    }
