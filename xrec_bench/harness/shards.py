"""User shards of an explainer cell for the real pipeline: what a shard computes and how shards merge.

A cell's metrics come in two kinds (:mod:`xrec_bench.metrics.stages`): per-user stages (``probe`` and
``task``) whose value for a user depends on that user's request and explanation only, and ``batch``
stages that see the whole cell (budgets such as "the first ``sanity_users`` explained requests",
flags over the cell's mean). So a shard explains its slice of the requests and runs the per-user
stages on it; the merge runs the batch stages once, over every request, on the shards' explanations
(``evaluate_explainer(explanations=...)``). Each request's explanation is seeded by the request
(:meth:`Explainer.explain`), so the merged values are those of the unsharded cell whatever the shard
size. A shard is stored as JSON; float64 values survive the round trip exactly (``repr``), and
attributions keep their dtype.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from xrec_bench.harness.stages import CellOutput

#: version of a stored shard's layout (a shard of another layout is not read)
SHARD_FORMAT = 1


def _split_stages(metrics: Sequence[str] | None, granularity: str, cfg, has_ground_truth: bool,
                  model) -> tuple[list[str], list[str]]:
    """(per-user stage names, batch stage names) that compute ``metrics`` on ``model``."""
    from xrec_bench.metrics.evaluate import applicable, select_stages

    chosen = select_stages(list(metrics) if metrics else None, granularity, cfg, has_ground_truth)
    chosen = applicable(chosen, model, granularity, requested=bool(metrics))
    return [s.name for s in chosen if s.kind != "batch"], [s.name for s in chosen if s.kind == "batch"]


def _config(metric_options: dict[str, Any]):
    from xrec_bench.metrics.config import EvalConfig

    return EvalConfig(**metric_options) if metric_options else EvalConfig()


def explain_shard(stages, data, trained, explainer, requests, *, granularity, seed, metrics,
                  metric_options) -> dict[str, Any]:
    """Explain ``requests`` (a slice of a cell's) and run the per-user metric stages on them."""
    from xrec_bench.metrics import evaluate_explainer

    cfg = _config(metric_options)
    gt = data.dataset.ground_truth
    per_user_stages, _ = _split_stages(metrics, granularity, cfg, gt is not None, trained.model)
    method = stages.method(explainer, data)
    start = time.perf_counter()
    result = evaluate_explainer(trained.model, method, requests, granularity=granularity, seed=seed,
                                metrics=per_user_stages, ground_truth=gt, config=cfg)
    n_declined = sum(not e.ok for e in result.explanations)
    return {
        "format": SHARD_FORMAT,
        "users": [int(r.user) for r in requests],
        "per_user": {k: _floats(v) for k, v in sorted(result.per_user.items())},
        "curves": {k: [_floats(row) for row in np.asarray(v)] for k, v in sorted(result.curves.items())},
        # the explainer's declines come first (the merge lists every shard's declines, then these)
        "measure_skipped": [[int(u), str(r)] for u, r in result.skipped[n_declined:]],
        "explanations": [_explanation_json(e) for e in result.explanations],
        "wall_s": time.perf_counter() - start,
    }


def merge_shards(stages, data, trained, explainer, requests, parts: list[dict[str, Any]], *, granularity, seed,
                 metrics, metric_options) -> CellOutput:
    """The cell's output: the shards' per-user values, and the batch stages over all their explanations."""
    from xrec_bench.explainers.base import Explanation
    from xrec_bench.metrics import evaluate_explainer
    from xrec_bench.metrics.cost import cost_summary, peak_rss_mb

    if any(p.get("format") != SHARD_FORMAT for p in parts):
        raise ValueError("a stored shard has another layout; delete the cells/*/*/shards folders and run again")
    users = [u for p in parts for u in p["users"]]
    if users != [int(r.user) for r in requests]:
        raise ValueError(f"the shards hold {len(users)} users that are not the cell's {len(requests)} requests "
                         "(the dataset or the sampling changed under them); delete the shards and run again")
    explanations = [Explanation(**_explanation_args(e)) for p in parts for e in p["explanations"]]
    cfg = _config(metric_options)
    gt = data.dataset.ground_truth
    _, batch_stages = _split_stages(metrics, granularity, cfg, gt is not None, trained.model)
    rss_before = peak_rss_mb()
    per_user = {name: np.concatenate([np.asarray(p["per_user"][name], dtype=np.float64) for p in parts])
                for name in parts[0]["per_user"]} if parts else {}
    curves = {name: _stack([np.asarray(p["curves"][name], dtype=np.float64) for p in parts])
              for name in parts[0]["curves"]} if parts else {}
    declined = [(e.user, e.reason) for e in explanations if not e.ok]
    skipped = declined + [(int(u), str(r)) for p in parts for u, r in p["measure_skipped"]]
    flags: dict[str, Any] = {}
    if batch_stages:
        method = stages.method(explainer, data)
        result = evaluate_explainer(trained.model, method, requests, granularity=granularity, seed=seed,
                                    metrics=batch_stages, ground_truth=gt, config=cfg, explanations=explanations)
        # the merge's own per-user pass only re-derives each request's reference scores; its skips
        # repeat the shards' and come before the batch stages' own
        seen = set(skipped)
        skipped += [s for s in result.skipped[len(declined):] if s not in seen]
        for name, values in result.per_user.items():
            per_user.setdefault(name, values)
        for name, values in result.curves.items():
            curves.setdefault(name, values)
        flags = dict(result.flags)
    return CellOutput(
        users=users,
        targets=[int(r.target) for r in requests],
        metrics=per_user,
        curves=curves,
        skipped=skipped,
        info={"flags": flags, "cost": cost_summary(explanations, sum(p["wall_s"] for p in parts), rss_before)},
        declined=[int(u) for u, _ in declined],
    )


def _floats(values) -> list[float | None]:
    return [None if not np.isfinite(x) else float(x) for x in np.asarray(values, dtype=np.float64).ravel()]


def _stack(blocks: list[np.ndarray]) -> np.ndarray:
    """Rows of every shard's curves (a shard without users stores an empty list)."""
    width = next((b.shape[1] for b in blocks if b.ndim == 2), 0)
    return np.concatenate([b.reshape(-1, width) for b in blocks])


def _explanation_json(e) -> dict[str, Any]:
    scores = np.asarray(e.scores)
    return {
        "explainer": e.explainer, "granularity": e.granularity, "user": int(e.user), "target": int(e.target),
        "feature_ids": np.asarray(e.feature_ids).tolist(), "feature_ids_dtype": str(np.asarray(e.feature_ids).dtype),
        "feature_labels": list(e.feature_labels), "scores": scores.tolist(), "scores_dtype": str(scores.dtype),
        "n_evals": int(e.n_evals), "wall_time_s": float(e.wall_time_s), "seed": int(e.seed), "status": e.status,
        "reason": e.reason, "extra": _jsonable(e.extra),
    }


def _explanation_args(d: dict[str, Any]) -> dict[str, Any]:
    return {
        "explainer": d["explainer"], "granularity": d["granularity"], "user": d["user"], "target": d["target"],
        "feature_ids": np.asarray(d["feature_ids"], dtype=d["feature_ids_dtype"]),
        "feature_labels": tuple(d["feature_labels"]),
        "scores": np.asarray(d["scores"], dtype=d["scores_dtype"]),
        "n_evals": d["n_evals"], "wall_time_s": d["wall_time_s"], "seed": d["seed"], "status": d["status"],
        "reason": d["reason"], "extra": d["extra"],
    }


def _jsonable(extra: dict[str, Any]) -> dict[str, Any]:
    """The JSON-safe entries of an explanation's ``extra`` (no metric reads the others)."""
    import json

    out = {}
    for k, v in (extra or {}).items():
        try:
            json.dumps(v, allow_nan=True)
        except (TypeError, ValueError):
            continue
        out[k] = v
    return out
