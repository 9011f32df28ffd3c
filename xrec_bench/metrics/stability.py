"""Stability of explanations: run to run, and under small input changes that keep the recommendation.

Run to run: the explainer is run a second time on the same requests with another seed; Kendall's
tau-b (scipy) between the two attribution vectors, the Jaccard index of their top-k features
(``EvalConfig.jaccard_k``, ``min(k, F)`` when ``F < k``), and ``run_sensitivity``, the relative
change ``||e - e'|| / ||e||`` between the two runs (the same input: the explainer's own sampling
noise, on the scale of ``max_sensitivity``). Deterministic explainers are re-run too
(``rerun="all"``) and must give 1.0 / 1.0 / 0.0; ``rerun="stochastic"`` re-runs only stochastic
ones and gives the others those values by declaration.

Input perturbation: the ``stability_candidates`` least important features (by the explanation)
are removed one at a time (history: the item leaves the history and the task is rebuilt by the
model; tokens: the word leaves the text, see :mod:`xrec_bench.metrics._tasks`). A removal counts
only if it keeps the prediction: the target's rank stays within ``max(stability_k, rank_full)``
(in the top K, or, for a target that was not in the top K, no worse than before). The explainer
explains each kept perturbation with the same seed, and the attributions are compared on the
features both inputs share (the removed feature's own attribution is left out). For explainers
that declare themselves stochastic, both the original and the perturbed attributions are the mean
over ``EvalConfig.stability_seeds`` explainer seeds (3), so that the explainer's sampling noise,
reported separately as ``run_sensitivity``, is not counted as sensitivity to the input:

* ``max_sensitivity``: captum's ``sensitivity_max``, max over kept perturbations of
  ``||e - e'|| / ||e||`` (Yeh et al. 2019);
* ``relative_input_stability``: RIS in Agarwal et al.'s (2022) element-wise form, max over kept
  perturbations of ``||(e - e') / e||_2 / max(||(x - x') / x||_2, eps)``, the divisions element by
  element. ``x`` is the feature mask, so removing one feature changes the input by
  ``||(x - x') / x||_2 = 1``. As in OpenXAI's implementation, attributions too close to zero for
  the ratio are floored in the denominator (sign kept): at ``RIS_FLOOR`` (1e-4) times the largest
  ``|e|`` of the explanation, relative so that the floor does not depend on the score scale.

Both cost one explanation per kept perturbation (times ``stability_seeds`` for stochastic
explainers), so they run on the first ``stability_users``.
"""

from __future__ import annotations

import logging

import numpy as np
import torch
from captum.metrics import sensitivity_max
from scipy.stats import kendalltau

from xrec_bench.contract import Output
from xrec_bench.explainers.base import Request
from xrec_bench.metrics._tasks import WithoutFeature
from xrec_bench.metrics.base import register
from xrec_bench.metrics.stages import BatchMetric, Context, StageOutput
from xrec_bench.seeding import derive_seed

log = logging.getLogger(__name__)

RUN_OUTPUTS = (
    Output("run_kendall_tau", "higher", "stability", "Kendall tau-b",
           "Kendall tau-b between attributions of two runs with different seeds."),
    Output("run_jaccard@k", "higher", "stability", "Jaccard index",
           "Jaccard index of the top-k features of two runs with different seeds.", k_from="jaccard_k"),
    Output("run_sensitivity", "lower", "stability", "relative change",
           "Relative attribution change ||e - e'||/||e|| between two runs with different seeds on the same input "
           "(the explainer's own noise; 0 for deterministic explainers)."),
)
INPUT_OUTPUTS = (
    Output("max_sensitivity", "lower", "stability", "relative change",
           "captum sensitivity_max: largest relative attribution change over removals of a low-importance feature "
           "that keep the target's rank (stochastic explainers: attributions averaged over stability_seeds seeds)."),
    Output("relative_input_stability", "lower", "stability", "ratio",
           "Relative input stability (Agarwal et al., element-wise): norm of the element-wise relative attribution "
           "change over that of the input change, max over kept low-importance removals."),
)


def kendall_tau(a, b) -> float:
    """Kendall's tau-b; 1.0 for identical vectors (including constant ones and F = 1), 0.0 when only
    one of them is constant (no ordering to agree with)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"kendall_tau needs two attribution vectors of one length. Got {a.size} and {b.size}.")
    if np.array_equal(a, b) or len(a) <= 1:
        return 1.0
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return 0.0
    return float(kendalltau(a, b).statistic)


def topk_jaccard(a, b, k: int) -> float:
    """Jaccard index of the top-``k`` positions of two attribution vectors (stable order on ties;
    ``k`` is capped at the number of features, so ``k >= F`` gives 1.0)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    k = min(int(k), len(a))
    if k == 0:
        return float("nan")
    top_a = set(np.argsort(-a, kind="stable")[:k].tolist())
    top_b = set(np.argsort(-b, kind="stable")[:k].tolist())
    return len(top_a & top_b) / len(top_a | top_b)


def budget_indices(ctx: Context, limit: int | None) -> list[int]:
    ok = [i for i, e in enumerate(ctx.explanations) if e.ok]
    return ok if limit is None else ok[: int(limit)]


def _run_to_run(ctx: Context) -> StageOutput:
    n, cfg = len(ctx.requests), ctx.config
    jname = f"run_jaccard@{cfg.jaccard_k}"
    out = StageOutput(per_user={"run_kendall_tau": np.full(n, np.nan), jname: np.full(n, np.nan),
                                "run_sensitivity": np.full(n, np.nan)})
    idx = budget_indices(ctx, cfg.stability_users)
    if cfg.rerun == "stochastic" and not ctx.explainer.stochastic:
        for i in idx:
            out.per_user["run_kendall_tau"][i] = out.per_user[jname][i] = 1.0
            out.per_user["run_sensitivity"][i] = 0.0
        return out
    second = ctx.explainer.explain(ctx.model, [ctx.requests[i] for i in idx], granularity=ctx.granularity,
                                   seed=derive_seed(ctx.seed, "rerun"))
    for i, again in zip(idx, second, strict=True):
        first = ctx.explanations[i]
        if not again.ok or again.scores.shape != first.scores.shape:
            out.skipped.append((first.user, f"run-to-run: the second run gave no comparable explanation "
                                            f"({again.reason or 'different features'})"))
            continue
        out.per_user["run_kendall_tau"][i] = kendall_tau(first.scores, again.scores)
        out.per_user[jname][i] = topk_jaccard(first.scores, again.scores, cfg.jaccard_k)
        out.per_user["run_sensitivity"][i] = relative_change(first.scores, again.scores, cfg.eps)
    return out


def relative_change(e, e_new, eps: float) -> float:
    """``||e - e'|| / ||e||`` (captum's sensitivity form); NaN when ``||e||`` is (near) zero."""
    e, e_new = np.asarray(e, dtype=np.float64), np.asarray(e_new, dtype=np.float64)
    norm = float(np.linalg.norm(e))
    return float(np.linalg.norm(e - e_new) / norm) if norm > eps else float("nan")


def stability_seeds(ctx: Context) -> list[int]:
    """The explainer seeds whose attributions are averaged for input sensitivity: the run's own seed
    first, then ``stability_seeds - 1`` derived ones; only the run's seed for deterministic explainers."""
    if not ctx.explainer.stochastic:
        return [ctx.seed]
    return [ctx.seed, *(derive_seed(ctx.seed, "stability-seed", s) for s in range(1, ctx.config.stability_seeds))]


def _averaged(ctx: Context, req: Request, first: np.ndarray, seeds: list[int]) -> np.ndarray | None:
    """Mean attributions of ``req`` over ``seeds`` (``first`` is the explanation with ``seeds[0]``)."""
    runs = [np.asarray(first, dtype=np.float64)]
    for seed in seeds[1:]:
        again = ctx.explainer.explain(ctx.model, [req], granularity=ctx.granularity, seed=seed)[0]
        if not again.ok or again.scores.shape != runs[0].shape:
            return None
        runs.append(np.asarray(again.scores, dtype=np.float64))
    return np.mean(runs, axis=0)


def _explain_without(ctx: Context, req: Request, task, j: int, seeds: list[int]) -> np.ndarray | None:
    """Attributions (aligned with the original features minus ``j``) of the input without feature ``j``,
    averaged over ``seeds``."""
    runs = [_explain_without_once(ctx, req, task, j, seed) for seed in seeds]
    if any(r is None for r in runs):
        return None
    return np.mean(runs, axis=0)


def _explain_without_once(ctx: Context, req: Request, task, j: int, seed: int) -> np.ndarray | None:
    explainer = ctx.explainer
    if ctx.granularity == "history":
        item = int(task.feature_ids[j])
        hist = np.asarray(req.history)
        pos = np.flatnonzero(hist == item)
        if len(pos) == 0:
            return None
        exclude = req.exclude if req.exclude is not None else hist
        short = Request(req.user, req.target, np.delete(hist, pos[-1]), exclude=exclude)
        expl = explainer.explain(ctx.model, [short], granularity="history", seed=seed)[0]
        if not expl.ok:
            return None
        by_id = {int(i): s for i, s in zip(expl.feature_ids, expl.scores, strict=True)}
        rest = [int(i) for p, i in enumerate(task.feature_ids) if p != j]
        if any(i not in by_id for i in rest):
            return None
        return np.array([by_id[i] for i in rest])
    req_seed = derive_seed(seed, explainer.name, ctx.granularity, req.user, req.target)
    try:
        expl = explainer.explain_task(WithoutFeature(task, j), seed=req_seed)
    except (ValueError, KeyError, IndexError, RuntimeError) as exc:
        log.info("stability: cannot explain user %s without feature %s: %s", req.user, j, exc)
        return None
    return expl.scores


def _perturbation(ctx: Context) -> StageOutput:
    n, cfg = len(ctx.requests), ctx.config
    out = StageOutput(per_user={"max_sensitivity": np.full(n, np.nan), "relative_input_stability": np.full(n, np.nan)})
    for i in budget_indices(ctx, cfg.stability_users):
        req, expl, ref = ctx.requests[i], ctx.explanations[i], ctx.references[i]
        f = len(expl.scores)
        if f < 2 or ref is None:
            out.skipped.append((req.user, "stability: fewer than 2 features, nothing to remove"))
            continue
        task = ctx.model.feature_task(ctx.granularity, user=req.user, history=req.history, target=req.target,
                                      exclude=req.exclude)
        candidates = expl.ranking()[::-1][: min(cfg.stability_candidates, f - 1)]
        masks = np.ones((len(candidates), f), dtype=np.float32)
        masks[np.arange(len(candidates)), candidates] = 0.0
        _, ranks = task.score_and_rank(torch.from_numpy(masks))
        limit = max(cfg.stability_k, ref.rank_full)
        seeds = stability_seeds(ctx)
        e = _averaged(ctx, req, expl.scores, seeds)
        if e is None:
            out.skipped.append((req.user, "stability: a re-run with another seed gave no comparable explanation"))
            continue
        perturbed = {}
        for j, rank in zip(candidates, ranks, strict=True):
            if rank <= limit:
                e_new = _explain_without(ctx, req, task, int(j), seeds)
                if e_new is not None:
                    perturbed[int(j)] = e_new
        if not perturbed:
            out.skipped.append((req.user, "stability: no low-importance removal kept the target's rank"))
            continue
        sens, ris = _compare(e, perturbed, cfg.eps)
        out.per_user["max_sensitivity"][i] = sens
        out.per_user["relative_input_stability"][i] = ris
    return out


def _compare(e: np.ndarray, perturbed: dict[int, np.ndarray], eps: float) -> tuple[float, float]:
    """(captum sensitivity_max, RIS) of attributions ``e`` against each ``perturbed[j]`` (F-1 values)."""
    f = len(e)
    kept = sorted(perturbed)
    full = {}
    for j in kept:  # put e' back on F positions; position j keeps e[j] so only shared features differ
        full[j] = np.insert(perturbed[j], j, e[j])
    e_t = torch.as_tensor(e, dtype=torch.float64).reshape(1, -1)

    def perturb(batch: torch.Tensor) -> torch.Tensor:
        out = batch.clone()
        out[torch.arange(len(out)), torch.tensor([kept[r % len(kept)] for r in range(len(out))])] = 0.0
        return out

    def explain(masks) -> tuple[torch.Tensor]:
        masks = masks[0] if isinstance(masks, tuple) else masks  # captum passes the unperturbed input as a tuple
        rows = []
        for m in masks:
            zero = torch.nonzero(m == 0).reshape(-1)
            rows.append(e_t[0] if len(zero) == 0 else torch.as_tensor(full[int(zero[0])], dtype=torch.float64))
        return (torch.stack(rows),)  # captum iterates over the returned value: give it a tuple

    sens = float(sensitivity_max(explain, torch.ones(1, f, dtype=torch.float64), perturb,
                                 n_perturb_samples=len(kept), max_examples_per_batch=len(kept))[0])
    ris = relative_input_stability(e, perturbed, eps)
    return sens, ris


#: attributions with ``|e_k|`` below this share of ``max |e|`` are floored in RIS's denominator
RIS_FLOOR = 1e-4


def relative_input_stability(e: np.ndarray, perturbed: dict[int, np.ndarray], eps: float) -> float:
    """Agarwal et al.'s RIS of attributions ``e`` (F values) against ``perturbed[j]``, the attributions
    of the input without feature ``j`` (F - 1 values, aligned with ``e`` minus position ``j``)."""
    e = np.asarray(e, dtype=np.float64)
    top = float(np.max(np.abs(e))) if len(e) else 0.0
    if not top > eps:
        return float("nan")  # an all-zero explanation has no relative change
    floor = RIS_FLOOR * top
    ratios = []
    for j, e_new in perturbed.items():
        rest = np.delete(e, j)
        denom = np.where(np.abs(rest) < floor, np.where(rest < 0, -floor, floor), rest)
        x_change = 1.0  # ||(x - x') / x||_2 of the feature mask with one of F features removed
        ratios.append(np.linalg.norm((rest - np.asarray(e_new, dtype=np.float64)) / denom) / max(x_change, eps))
    return float(np.max(ratios)) if ratios else float("nan")


@register
class RunToRun(BatchMetric):
    """Stability across seeds: the same request explained twice with different seeds."""

    name = "run-to-run"
    outputs = RUN_OUTPUTS
    options = ("jaccard_k", "rerun", "stability_users", "eps")
    run_batch = staticmethod(_run_to_run)


@register
class InputPerturbation(BatchMetric):
    """Stability under small input changes: removals of low-importance features that keep the target's rank."""

    name = "input-perturbation"
    outputs = INPUT_OUTPUTS
    options = ("stability_users", "stability_candidates", "stability_k", "stability_seeds", "eps")
    run_batch = staticmethod(_perturbation)
