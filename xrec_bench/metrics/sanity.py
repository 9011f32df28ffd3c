"""Sanity check by model randomisation (Adebayo et al., NeurIPS 2018).

The explainer explains the same requests (same seed) on ``model.randomized(seed)``, a copy with
re-initialised learned weights; per request, ``sanity_spearman`` is ``|Spearman rho|`` (scipy)
between the two attribution vectors. An explanation that reflects the model should change, so
lower is better; an explainer whose mean ``|rho|`` exceeds ``EvalConfig.sanity_threshold`` (0.9)
is flagged (``ExplainerResult.flags["sanity_failed"]``). Identical vectors give 1.0 and a
constant vector against a non-constant one 0.0 (Spearman is undefined there); a single feature NaN. A model without a
randomised copy gets NaN and a recorded reason. Runs on the first ``sanity_users`` requests.
"""

from __future__ import annotations

import logging
import weakref

import numpy as np
from scipy.stats import spearmanr

from xrec_bench.contract import Output
from xrec_bench.metrics.base import register
from xrec_bench.metrics.stability import budget_indices
from xrec_bench.metrics.stages import BatchMetric, Context, StageOutput
from xrec_bench.seeding import derive_seed

log = logging.getLogger(__name__)

OUTPUTS = (
    Output("sanity_spearman", "lower", "sanity", "|Spearman rho|",
           "|Spearman rho| between attributions on the trained model and on a randomised copy (high: the "
           "explanation ignores the model)."),
)


#: randomised copies by model and seed, so that explainers evaluated one after another on the same
#: model share one copy (for text models, building it re-encodes every item)
_RANDOMIZED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def randomized_copy(model, seed: int):
    copies = _RANDOMIZED.setdefault(model, {})
    if seed not in copies:
        copies[seed] = model.randomized(seed)
    return copies[seed]


def abs_spearman(a, b) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if len(a) < 2:
        return float("nan")  # one feature has one ranking: nothing can change
    if np.array_equal(a, b):
        return 1.0
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return 0.0
    return float(abs(spearmanr(a, b).statistic))


def _run(ctx: Context) -> StageOutput:
    n, cfg = len(ctx.requests), ctx.config
    out = StageOutput(per_user={"sanity_spearman": np.full(n, np.nan)})
    idx = budget_indices(ctx, cfg.sanity_users)
    try:
        randomized = randomized_copy(ctx.model, derive_seed(ctx.seed, "sanity"))
    except NotImplementedError as exc:
        out.skipped.extend((ctx.requests[i].user, f"sanity: {exc}") for i in idx)
        return out
    again = ctx.explainer.explain(randomized, [ctx.requests[i] for i in idx], granularity=ctx.granularity,
                                  seed=ctx.seed)
    for i, other in zip(idx, again, strict=True):
        first = ctx.explanations[i]
        if not other.ok or other.scores.shape != first.scores.shape:
            out.skipped.append((first.user, f"sanity: no comparable explanation on the randomised model "
                                            f"({other.reason or 'different features'})"))
            continue
        out.per_user["sanity_spearman"][i] = abs_spearman(first.scores, other.scores)
    values = out.per_user["sanity_spearman"]
    if np.isfinite(values).any():
        mean = float(np.nanmean(values))
        out.flags["sanity_mean_abs_spearman"] = mean
        out.flags["sanity_failed"] = bool(mean > cfg.sanity_threshold)
        if out.flags["sanity_failed"]:
            log.warning("%s: attributions barely change when the model is randomised (mean |rho| = %.3f > %.2f)",
                        ctx.explainer.name, mean, cfg.sanity_threshold)
    return out


@register
class Sanity(BatchMetric):
    """Model-randomisation sanity check (Adebayo et al. 2018): do the attributions change with the model?"""

    name = "sanity"
    outputs = OUTPUTS
    options = ("sanity_users", "sanity_threshold")
    run_batch = staticmethod(_run)
