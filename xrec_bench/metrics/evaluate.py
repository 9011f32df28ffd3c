"""Run an explainer on a batch of requests and measure its explanations with the selected metrics.

For each explained request the evaluator rebuilds the model's :class:`FeatureTask`, scores the
masks of every probe metric (faithfulness curves, POS/NEG@K, ERASER) together with the full and
the empty input in one batched ``score_and_rank`` call, runs the per-task metrics (infidelity),
then the batch metrics (ground truth, stability, sanity). Every value is kept per request, NaN
where a metric does not apply, with the reason in ``skipped``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from tqdm.auto import tqdm

from xrec_bench.metrics.base import METRICS, builtin_metrics
from xrec_bench.metrics.config import EvalConfig
from xrec_bench.metrics.cost import cost_summary, peak_rss_mb, per_user_cost
from xrec_bench.metrics.stages import (
    SHARED_PROBES,
    STAGES,
    Context,
    Reference,
    as_metric,
    full_scores,
    probe,
    request_key,
    score_sd,
    spread,
)
from xrec_bench.metrics.stats import Estimate, bootstrap_ci
from xrec_bench.registry import UnknownNameError
from xrec_bench.seeding import derive_seed

if TYPE_CHECKING:
    from xrec_bench.explainers.base import Explainer, Explanation, Request
    from xrec_bench.models.base import Recommender

log = logging.getLogger(__name__)

COST_METRICS = ("n_evals", "wall_time_s")


@dataclass(frozen=True)
class ExplainerResult:
    """Everything measured about one explainer on one batch of requests (one granularity).

    ``per_user[name]`` and ``curves[name]`` (``[n_requests, L]``) are aligned with the requests
    (``users``/``targets``), NaN where skipped; ``skipped`` holds ``(user, reason)`` pairs;
    ``cost`` the run's cost summary; ``flags`` run-level findings (e.g. ``sanity_failed``).
    """

    explainer: str
    granularity: str
    seed: int
    users: np.ndarray
    targets: np.ndarray
    per_user: dict[str, np.ndarray]
    curves: dict[str, np.ndarray]
    explanations: list[Explanation]
    skipped: list[tuple[int, str]]
    cost: dict[str, Any] = field(default_factory=dict)
    flags: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)

    def summary(self, *, seed: int = 0, n_boot: int = 1000) -> dict[str, Estimate]:
        """Mean and bootstrap 95% CI over users of every metric (NaN entries left out)."""
        return {name: bootstrap_ci(values, seed=seed, n_boot=n_boot) for name, values in self.per_user.items()}


def select_stages(metrics: Sequence[str] | None, granularity: str, cfg: EvalConfig,
                  has_ground_truth: bool) -> list[Any]:
    """The metrics that compute ``metrics`` (all applicable built-in ones when None), as instances, validated.

    ``metrics`` holds value names (``deletion_auc``, ``pos@10``), metric names (``faithfulness``) or
    plugins (``package.module:Class``, or the name of an installed entry point)."""
    import xrec_bench.metrics  # noqa: F401  (registers every built-in metric)

    computed = [cls for cls in builtin_metrics() if cls.kind != "declared"]
    legacy = [as_metric(STAGES.get(name)) for name in STAGES.names()]  # stages registered the older way
    candidates: list[Any] = [cls() for cls in computed] + legacy
    if metrics is None:
        chosen = [m for m in candidates if (has_ground_truth or "ground_truth" not in m.needs)
                  and granularity in m.granularities]
        return _checked(chosen, cfg)
    wanted, chosen = list(dict.fromkeys(metrics)), []
    plugins = {name for name in wanted if name not in {c.name for c in candidates} and _is_metric(name)}
    candidates += [METRICS.get(name)() for name in sorted(plugins)]
    keys = {id(m): {m.name} | ({n for n in plugins if METRICS.get(n) is type(m)}) for m in candidates}
    left = set(wanted)
    for m in candidates:
        names = set(m.names(cfg)) | keys[id(m)]
        if names & left:
            if "ground_truth" in m.needs and not has_ground_truth:
                raise ValueError(f"Metrics {sorted(names & left)} need the planted causes: pass ground_truth= "
                                 "(the synthetic dataset's `ground_truth` frame), or drop them.")
            chosen.append(m)
            left -= names
    left -= set(COST_METRICS)
    if left:
        known = sorted({n for m in candidates for n in m.names(cfg)} | set(COST_METRICS))
        bad = sorted(left)[0]
        raise ValueError(f"Unknown metric {bad!r} for this configuration. {METRICS.unknown_message(bad)} "
                         f"Computable here: {', '.join(known)}.")
    return _checked(chosen, cfg)


def _is_metric(name: str) -> bool:
    """Whether ``name`` is a metric class of the registry (a plugin's import path or entry point)."""
    try:
        return METRICS.get(name).kind != "declared"
    except UnknownNameError:
        return False


def _checked(chosen: list[Any], cfg: EvalConfig) -> list[Any]:
    problems = [p for m in chosen for p in m.check_options(cfg)]
    if problems:
        raise ValueError(" ".join(problems))
    return chosen


def evaluate_explainer(
    model: Recommender,
    explainer: Explainer,
    requests: Sequence[Request],
    *,
    granularity: str,
    seed: int,
    metrics: Sequence[str] | None = None,
    ground_truth: Any = None,
    config: EvalConfig | None = None,
    explanations: Sequence[Explanation] | None = None,
    progress: bool = False,
) -> ExplainerResult:
    """Explain ``requests`` with ``explainer`` (unless ``explanations`` are given) and measure them.

    ``metrics``: names (e.g. ``deletion_auc``, ``pos@10``) or stage names (``faithfulness``,
    ``sanity``); None for every applicable one (ground truth only with ``ground_truth``).
    ``config`` sets definitions and budgets (:class:`EvalConfig`).
    """
    cfg = config or EvalConfig()
    requests = list(requests)
    stages = select_stages(metrics, granularity, cfg, ground_truth is not None)
    stages = applicable(stages, model, granularity, requested=metrics is not None)
    rss_before = peak_rss_mb()
    start = time.perf_counter()
    if explanations is None:
        explanations = explainer.explain(model, requests, granularity=granularity, seed=seed)
    total_wall = time.perf_counter() - start
    explanations = list(explanations)
    if len(explanations) != len(requests):
        raise ValueError(f"Got {len(explanations)} explanations for {len(requests)} requests; pass one per request.")
    n = len(requests)
    per_user = {name: np.full(n, np.nan) for s in stages for name in s.names(cfg)}
    curves = {name: np.full((n, length), np.nan) for s in stages for name, length in s.curve_names(cfg).items()}
    skipped = [(e.user, e.reason) for e in explanations if not e.ok]
    references: list[Reference | None] = [None] * n
    probes = [s for s in stages if s.kind == "probe"]
    task_stages = [s for s in stages if s.kind == "task"]

    todo = tqdm(list(enumerate(zip(requests, explanations, strict=True))), desc=f"metrics {explainer.name}/{granularity}",
                disable=not progress, leave=False)
    for i, (req, expl) in todo:
        if not expl.ok:
            continue
        try:
            with _reuse_scope(model):  # one request's metrics share masked item vectors; nothing else does
                ref = _measure_one(model, req, expl, granularity, probes, task_stages, cfg, seed, per_user, curves, i)
        except (ValueError, KeyError, IndexError) as exc:
            log.warning("metrics skipped for user %s target %s: %s", req.user, req.target, exc)
            skipped.append((req.user, f"metrics: {exc}"))
            continue
        references[i] = ref
        if not np.isfinite(ref.scale):
            skipped.append((req.user, "every item scores the same with the full input (score sd 0); "
                                      "score-scaled metrics are NaN"))

    ctx = Context(model=model, explainer=explainer, requests=requests, explanations=explanations,
                  references=references, granularity=granularity, seed=seed, config=cfg,
                  ground_truth=ground_truth, progress=progress)
    flags: dict[str, Any] = {}
    for s in stages:
        if s.kind != "batch":
            continue
        out = s.run_batch(ctx)
        per_user.update(out.per_user)
        skipped.extend(out.skipped)
        flags.update(out.flags)
    per_user.update(per_user_cost(explanations))
    return ExplainerResult(
        explainer=explainer.name,
        granularity=granularity,
        seed=seed,
        users=np.array([r.user for r in requests], dtype=np.int64),
        targets=np.array([r.target for r in requests], dtype=np.int64),
        per_user=per_user,
        curves=curves,
        explanations=explanations,
        skipped=skipped,
        cost=cost_summary(explanations, total_wall, rss_before),
        flags=flags,
        config=cfg.as_dict(),
    )


def applicable(stages: list[Any], model: Recommender, granularity: str, *, requested: bool) -> list[Any]:
    """``stages`` (metric instances) without those that do not apply to ``model`` (a metric's optional
    ``applies(model, granularity)``); an error when they were asked for by name."""
    out = []
    for s in stages:
        applies = getattr(s, "applies", None)
        if applies is None or applies(model, granularity):
            out.append(s)
        elif requested:
            raise ValueError(f"Metrics {list(s.names(EvalConfig()))} ({s.name}) do not apply to model "
                             f"{getattr(model, 'name', type(model).__name__)!r} at {granularity!r} granularity; "
                             "drop them or explain a model they apply to.")
    return out


def _reuse_scope(model):
    scope = getattr(model, "reuse_scope", None)
    return scope() if scope is not None else nullcontext()


def _shared(model, task, req, granularity, shared: dict[str, np.ndarray]) -> dict[str, Any]:
    """What every explainer of this request shares: the spread of all items' scores and the probes of
    the metrics' explanation-independent masks ``shared`` (scored on their own, so the values never
    depend on which explainer asked first; see :class:`~xrec_bench.metrics.stages.SharedProbes`)."""
    stacked = [shared[k] for k in sorted(shared)]
    with _reuse_scope(model):  # a scope of their own: nothing this explainer's masks encoded is reused
        full = full_scores(task)
        # every item's score with the full input is part of the key, so a model changed in place (fitted
        # again, weights edited) is never served what it scored before
        key = request_key(granularity, req, full, *stacked) + (tuple(sorted(shared)),)
        probed = SHARED_PROBES.get(model, key, lambda: probe(task, shared))
    return {"score_sd": spread(full), **probed}


def _measure_one(model, req, expl, granularity, probes, task_stages, cfg, seed, per_user, curves, i) -> Reference:
    task = model.feature_task(granularity, user=req.user, history=req.history, target=req.target, exclude=req.exclude)
    n_features = task.n_features
    if n_features != len(expl.scores):
        raise ValueError(f"the explanation has {len(expl.scores)} scores but the task has {n_features} features")
    order = expl.ranking()
    masks = {"full": np.ones((1, n_features), np.float32), "empty": np.zeros((1, n_features), np.float32)}
    for s in probes:
        masks.update({f"{s.name}/{k}": v for k, v in s.masks(order, expl.scores, n_features, cfg).items()})
    shared = {f"{s.name}/{k}": v for s in probes for k, v in s.shared_masks(n_features, cfg).items()}
    if SHARED_PROBES.enabled:
        probed = {**probe(task, masks), **_shared(model, task, req, granularity, shared)}
    else:  # the quick v4 path: every mask of the request in one call, the score spread in the request's scope
        probed = {**probe(task, {**masks, **shared}), "score_sd": score_sd(task)}
    ref = Reference(float(probed["full"][0][0]), float(probed["empty"][0][0]), int(probed["full"][1][0]),
                    int(probed["empty"][1][0]), cfg.eps, probed["score_sd"])
    for s in probes:
        prefix = f"{s.name}/"
        mine = {k[len(prefix):]: v for k, v in probed.items() if k.startswith(prefix)}
        values, stage_curves = s.values(mine, ref, order, expl.scores, n_features, cfg)
        for name, value in values.items():
            per_user[name][i] = value
        for name, curve in stage_curves.items():
            curves[name][i, : len(curve)] = curve
    for s in task_stages:
        for name, value in s.run_task(task, expl, ref, cfg, derive_seed(seed, s.name, req.user, req.target)).items():
            per_user[name][i] = value
    return ref
