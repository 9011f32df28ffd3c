"""What an explanation costs: model evaluations, latency, and the overhead an explainer adds.

``overhead ratio`` = the explainer's wall time / the wall time of the same number of model
evaluations alone, scored in the same batch size (for gradient methods: forward + backward, on the
mask or on the word-piece embeddings). 1.0 means the method costs exactly its model calls; methods
that never call the model (random, similarity, co-occurrence, attention) have no ratio (NaN).
Timings on a shared machine are noisy; the evaluation counts are exact and hardware-independent.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from xrec_bench.explainers._common import DEFAULT_BATCH_SIZE, embedding_forward, score_masks
from xrec_bench.explainers.base import Explainer, Explanation, Request, get_explainer
from xrec_bench.models.base import Recommender
from xrec_bench.models.features import FeatureTask

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CostRow:
    explainer: str
    granularity: str
    n_ok: int
    n_skipped: int
    evals_median: float
    latency_median_s: float
    latency_p95_s: float
    model_time_median_s: float
    overhead_ratio: float
    explanations: tuple[Explanation, ...] = field(default=(), repr=False, compare=False)

    def as_dict(self) -> dict[str, float | int | str]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "explanations"}


def model_only_time(
    task: FeatureTask, n_evals: int, *, batch_size: int, gradients: bool, seed: int = 0
) -> float:
    """Seconds to score ``n_evals`` random masks of ``task`` in batches of ``batch_size`` (the reference)."""
    if n_evals == 0:
        return float("nan")
    rng = np.random.default_rng(seed)
    masks = (rng.random((n_evals, task.n_features)) < 0.5).astype(np.float32)
    start = time.perf_counter()
    if not gradients:
        score_masks(task, masks, batch_size)
    elif task.differentiable:
        for lo in range(0, n_evals, batch_size):
            mask = torch.as_tensor(masks[lo : lo + batch_size]).requires_grad_()
            torch.autograd.grad(task.forward(mask).sum(), mask)  # as captum: no parameter gradients
    else:
        forward, emb_in, _ = embedding_forward(task)
        for lo in range(0, n_evals, batch_size):
            b = min(batch_size, n_evals - lo)
            emb = emb_in.expand(b, -1, -1).clone().requires_grad_()
            torch.autograd.grad(forward(emb).sum(), emb)
    return time.perf_counter() - start


def profile_explainer(
    model: Recommender,
    explainer: Explainer,
    requests: Sequence[Request],
    granularity: str,
    *,
    seed: int = 0,
    warmup: bool = True,
    n_reference: int | None = 10,
) -> CostRow:
    """Explain ``requests`` and time each explanation against its model evaluations alone.

    The model-only reference is timed on the first ``n_reference`` explained requests (None: all),
    as it costs as much as the explanations themselves, right after each explanation so that both
    see the same load on a shared machine; the overhead ratio is the median of the per-request ratios.
    """
    if warmup and requests:  # first calls pay lazy imports and allocator warm-up
        explainer.explain(model, requests[:1], granularity=granularity, seed=seed)
    batch_size = int(explainer.params.get("batch_size", DEFAULT_BATCH_SIZE))
    explanations, lat, ratios, ref, evals = [], [], [], [], []
    for req in requests:
        exp = explainer.explain(model, [req], granularity=granularity, seed=seed)[0]
        explanations.append(exp)
        if not exp.ok:
            continue
        lat.append(exp.wall_time_s)
        evals.append(exp.n_evals)
        if exp.n_evals == 0 or (n_reference is not None and len(ref) >= n_reference):
            continue
        task = model.feature_task(
            granularity, user=req.user, history=req.history, target=req.target, exclude=req.exclude
        )
        bs = batch_size if "batch_size" in explainer.params else exp.n_evals
        ref.append(model_only_time(task, exp.n_evals, batch_size=bs, gradients=explainer.needs_gradients))
        ratios.append(exp.wall_time_s / ref[-1])
    return CostRow(
        explainer=explainer.name,
        granularity=granularity,
        n_ok=len(lat),
        n_skipped=len(explanations) - len(lat),
        evals_median=_median(evals),
        latency_median_s=_median(lat),
        latency_p95_s=float(np.percentile(lat, 95)) if lat else float("nan"),
        model_time_median_s=_median(ref),
        overhead_ratio=_median(ratios),
        explanations=tuple(explanations),
    )


def _median(values: Sequence[float]) -> float:
    return float(np.median(values)) if len(values) else float("nan")


def profile_explainers(
    model: Recommender,
    requests: Sequence[Request],
    granularity: str,
    *,
    explainers: Sequence[str | Explainer] | None = None,
    seed: int = 0,
    fit_on: tuple | None = None,
    n_reference: int | None = 10,
) -> list[CostRow]:
    """One :class:`CostRow` per explainer (default: every registered one) at ``granularity``.

    ``fit_on=(dataset, split)`` is passed to each explainer's ``fit`` (co-occurrence needs it).
    """
    from xrec_bench.explainers import EXPLAINERS

    rows = []
    for item in explainers if explainers is not None else EXPLAINERS.names():
        explainer = get_explainer(item) if isinstance(item, str) else item
        if fit_on is not None:
            explainer.fit(*fit_on)
        log.info("profiling %s at %s granularity on %d requests", explainer.name, granularity, len(requests))
        rows.append(
            profile_explainer(model, explainer, requests, granularity, seed=seed, n_reference=n_reference)
        )
    return rows


def format_table(rows: Sequence[CostRow]) -> str:
    """A plain-text table: explainer x granularity -> evaluations, latency, overhead."""
    head = f"{'explainer':<22}{'granularity':<12}{'ok':>5}{'skip':>6}{'evals':>9}{'p50 ms':>11}{'p95 ms':>11}{'model ms':>11}{'overhead':>10}"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r.explainer:<22}{r.granularity:<12}{r.n_ok:>5}{r.n_skipped:>6}{r.evals_median:>9.0f}"
            f"{r.latency_median_s * 1e3:>11.2f}{r.latency_p95_s * 1e3:>11.2f}"
            f"{r.model_time_median_s * 1e3:>11.2f}{_fmt(r.overhead_ratio):>10}"
        )
    return "\n".join(lines)


def _fmt(x: float) -> str:
    return "n/a" if not np.isfinite(x) else f"{x:.2f}"
