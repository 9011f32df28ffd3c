"""How metrics plug into :func:`xrec_bench.metrics.evaluate_explainer`: three kinds of computation.

A metric (:class:`xrec_bench.metrics.base.Metric`, which declares its name, outputs and needs)
subclasses one of:

* :class:`ProbeMetric`: asks for feature masks of one explanation (``masks``) and turns the
  target's scores and ranks under them into values (``values``). The evaluator merges the masks of
  every probe metric, drops duplicates, and scores them in ONE ``task.score_and_rank`` call per
  explanation. Masks that do not depend on the explanation (``shared_masks``: e.g. the random
  reference orders, a function of the number of features and the config only) are scored in a
  call of their own, and kept (:class:`SharedProbes`) for the next explainer of the same request
  on the same model.
* :class:`TaskMetric`: computes values from the explanation and its :class:`FeatureTask` (``run_task``).
* :class:`BatchMetric`: needs the whole batch, the model or the explainer again (``run_batch``),
  e.g. stability and sanity, which re-run the explainer.

A :class:`Stage` registered in :data:`STAGES` (the older way: a bag of callables and a ``kind``) is
still run, wrapped by :func:`as_metric`.

Every value is per request (NaN where it does not apply), so that CIs and paired tests can be
computed later.
"""

from __future__ import annotations

import hashlib
import threading
import weakref
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from xrec_bench.metrics.base import Metric
from xrec_bench.registry import Registry

if TYPE_CHECKING:
    from xrec_bench.explainers.base import Explainer, Explanation, Request
    from xrec_bench.metrics.config import EvalConfig
    from xrec_bench.models.base import Recommender
    from xrec_bench.models.features import FeatureTask


@dataclass(frozen=True)
class Reference:
    """The target's score and rank with every feature present and with none (per explanation).

    Score-based metrics are scaled by ``score_sd``, the spread of all items' scores with the full
    input, never by ``s_full - s_empty``: the empty input (no history, no words) is a state the
    models never see in training, so a scale anchored on it is arbitrary (see
    :mod:`xrec_bench.metrics.faithfulness`). ``s_empty`` is kept as a recorded fact only.
    """

    s_full: float
    s_empty: float
    rank_full: int
    rank_empty: int
    eps: float
    #: standard deviation of all items' scores with the full input (the model's score scale here)
    score_sd: float = 0.0

    @property
    def scale(self) -> float:
        """``score_sd``; NaN when it is too small to divide by (every item scores the same)."""
        sd = self.score_sd
        if not np.isfinite(sd) or sd <= self.eps * max(1.0, abs(self.s_full)):
            return float("nan")
        return float(sd)

    def scaled_change(self, scores: np.ndarray) -> np.ndarray:
        """``(s - s_full) / score_sd``: the score change from the full input in units of the spread of
        the items' scores (0 at the full input; negative where the target lost score)."""
        return (np.asarray(scores, dtype=np.float64) - self.s_full) / self.scale


def full_scores(task: FeatureTask) -> np.ndarray:
    """Every item's score with the full input (float64)."""
    with torch.no_grad():
        return task.all_scores(task.full_mask(1)).double().reshape(-1).cpu().numpy()


def spread(scores: np.ndarray) -> float:
    """Standard deviation (ddof 1, as ``torch.std``) of the finite scores; 0 for fewer than two."""
    scores = torch.as_tensor(scores)
    scores = scores[torch.isfinite(scores)]
    return float(scores.std()) if scores.numel() > 1 else 0.0


def score_sd(task: FeatureTask) -> float:
    """Standard deviation of every item's score with the full input."""
    return spread(full_scores(task))


def probe(task: FeatureTask, masks: dict[str, np.ndarray]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Score every mask of every key in one batched ``score_and_rank`` call (duplicates scored once)."""
    keys = [k for k in masks if len(masks[k])]
    if not keys:
        return {k: (np.empty(0), np.empty(0, dtype=np.int64)) for k in masks}
    stacked = np.concatenate([np.asarray(masks[k], dtype=np.float32) for k in keys], axis=0)
    unique, inverse = np.unique(stacked, axis=0, return_inverse=True)
    scores, ranks = task.score_and_rank(torch.from_numpy(unique))
    scores, ranks = np.asarray(scores, dtype=np.float64)[inverse.reshape(-1)], np.asarray(ranks)[inverse.reshape(-1)]
    out, start = {}, 0
    for k in masks:
        n = len(masks[k])
        out[k] = (scores[start : start + n], ranks[start : start + n])
        start += n
    return out


class SharedProbes:
    """Probe results that do not depend on the explainer, kept per model for the next explainer.

    Every explainer of a request meets the same random reference orders (and the same score spread
    of all items), so a run of 13 explainers would score those masks 13 times: at 15 words they are
    72 of a request's 96 distinct probe masks. They are scored in a
    ``score_and_rank`` call of their own, whose batches hold only them, so the values are the same
    whichever explainer scores them first, in any executor, shard or order; a later explainer of
    the same request on the same model object reads them back. Keys are the request (user,
    target, history, exclusions), the granularity, every item's score with the full input (so a
    model changed in place misses) and the masks' bytes; entries live as long as the
    model object (weakly keyed) and at most ``max_entries`` per model (least recently used first out).
    No library caches arbitrary model queries by input identity like this, hence by hand.
    """

    def __init__(self, max_entries: int = 8192) -> None:
        self.max_entries = max_entries
        #: off: the shared masks are scored with the explanation's own, per explainer (the quick v4 path)
        self.enabled = True
        self._by_model: weakref.WeakKeyDictionary[Any, OrderedDict] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, model: Any, key: tuple, compute: Callable[[], Any]) -> Any:
        try:
            with self._lock:
                entries = self._by_model.setdefault(model, OrderedDict())
        except TypeError:  # an unhashable model object (e.g. an eq-dataclass plugin): nothing is kept
            self.misses += 1
            return compute()
        with self._lock:
            if key in entries:
                entries.move_to_end(key)
                self.hits += 1
                return entries[key]
        value = compute()
        with self._lock:
            self.misses += 1
            entries[key] = value
            while len(entries) > self.max_entries:
                entries.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._by_model = weakref.WeakKeyDictionary()
            self.hits = self.misses = 0

    @contextmanager
    def disabled(self) -> Iterator[None]:
        """Within this block every explainer scores the shared masks itself, together with its own in
        one call, as quick v4 and earlier did (for side-by-side benchmarks and comparisons)."""
        before, self.enabled = self.enabled, False
        try:
            yield
        finally:
            self.enabled = before


#: the process-wide store the evaluator uses
SHARED_PROBES = SharedProbes()


def request_key(granularity: str, req: Any, *arrays: np.ndarray) -> tuple:
    """What identifies a request's feature task and a set of masks: granularity, user, target, and
    digests of the history, the exclusions and the masks."""
    digest = hashlib.sha256()
    for part in (req.history, getattr(req, "exclude", None), *arrays):
        arr = np.asarray([] if part is None else part)
        digest.update(str((arr.dtype.str, arr.shape)).encode())
        digest.update(np.ascontiguousarray(arr).tobytes())
    return (granularity, int(req.user), int(req.target), digest.hexdigest())


def order_masks(order: np.ndarray, counts, n_features: int, *, keep_top: bool) -> np.ndarray:
    """Masks ``[len(counts), F]``: the first ``k`` features of ``order`` removed (``keep_top=False``)
    or the only ones present (``keep_top=True``)."""
    masks = np.zeros((len(counts), n_features), dtype=np.float32) if keep_top else np.ones(
        (len(counts), n_features), dtype=np.float32)
    for row, k in enumerate(counts):
        masks[row, order[: int(k)]] = 1.0 if keep_top else 0.0
    return masks


def rank_gain(ranks) -> np.ndarray:
    """``1 / log2(rank + 1)``: 1 at rank 1, falling like a DCG discount (comparable across users)."""
    return 1.0 / np.log2(np.asarray(ranks, dtype=np.float64) + 1.0)


@dataclass
class Context:
    """What batch stages see: the whole evaluation so far."""

    model: Recommender
    explainer: Explainer
    requests: list[Request]
    explanations: list[Explanation]
    references: list[Reference | None]
    granularity: str
    seed: int
    config: EvalConfig
    ground_truth: Any = None
    progress: bool = False


@dataclass
class StageOutput:
    per_user: dict[str, np.ndarray] = field(default_factory=dict)
    curves: dict[str, np.ndarray] = field(default_factory=dict)
    skipped: list[tuple[int, str]] = field(default_factory=list)
    flags: dict[str, Any] = field(default_factory=dict)


class ProbeMetric(Metric, ABC):
    """A metric computed from the target's scores and ranks under feature masks of one explanation."""

    kind = "probe"

    @abstractmethod
    def masks(self, order: np.ndarray, attributions: np.ndarray, n_features: int,
              cfg: EvalConfig) -> dict[str, np.ndarray]:
        """Masks ``[n, F]`` to score, by key (1 = feature kept); ``order`` ranks the features, most important first."""

    def shared_masks(self, n_features: int, cfg: EvalConfig) -> dict[str, np.ndarray]:
        """Masks that do not depend on the explanation (the same for every explainer of a request), by
        key. They are scored once per request and model and handed to ``values`` with the others."""
        return {}

    @abstractmethod
    def values(self, probed: dict[str, tuple[np.ndarray, np.ndarray]], ref: Reference, order: np.ndarray,
               attributions: np.ndarray, n_features: int,
               cfg: EvalConfig) -> tuple[dict[str, float], dict[str, np.ndarray]]:
        """Values (by output name) and curves from ``probed[key] = (scores, ranks)`` of each mask key."""


class TaskMetric(Metric, ABC):
    """A metric computed from one explanation and its :class:`FeatureTask` (it may query the model)."""

    kind = "task"

    @abstractmethod
    def run_task(self, task: FeatureTask, explanation: Explanation, ref: Reference, cfg: EvalConfig,
                 seed: int) -> dict[str, float]:
        """Values by output name for this explanation (``seed`` is this metric's, this request's)."""


class BatchMetric(Metric, ABC):
    """A metric that needs the whole batch, the model or the explainer again."""

    kind = "batch"
    needs = frozenset({"model", "explainer"})

    @abstractmethod
    def run_batch(self, ctx: Context) -> StageOutput:
        """Per-user values (aligned with ``ctx.requests``, NaN where not measured), skips and flags."""


@dataclass(frozen=True)
class Stage:
    name: str
    kind: str  # "probe" | "task" | "batch"
    #: names of the metrics this stage fills, given the config (e.g. ``pos@10`` for cutoff 10)
    metric_names: Callable[[EvalConfig], tuple[str, ...]]
    masks: Callable[..., dict[str, np.ndarray]] | None = None
    values: Callable[..., tuple[dict[str, float], dict[str, np.ndarray]]] | None = None
    run_task: Callable[..., dict[str, float]] | None = None
    run_batch: Callable[[Context], StageOutput] | None = None
    needs_ground_truth: bool = False
    #: curve names (``[n_users, L]``) a probe stage fills, given the config
    curve_names: Callable[[EvalConfig], dict[str, int]] = lambda cfg: {}
    #: whether the stage applies to this model at this granularity (None: always); a stage that does
    #: not apply is left out of the default selection, and refused when its metrics are asked for
    applies: Callable[[Recommender, str], bool] | None = None


#: stages registered the older way (a Stage per module); :func:`as_metric` runs them as metrics
STAGES: Registry[Stage] = Registry("metric stage")


class _StageMetric:
    """A legacy :class:`Stage` seen as a metric instance (the evaluator calls the same methods)."""

    def __init__(self, stage: Stage) -> None:
        self.stage, self.name, self.kind = stage, stage.name, stage.kind
        self.needs = frozenset({"model", "ground_truth"} if stage.needs_ground_truth else {"model"})
        self.granularities = frozenset({"history", "tokens", "fields"})
        self.applies = stage.applies

    def names(self, cfg: EvalConfig) -> tuple[str, ...]:
        return tuple(self.stage.metric_names(cfg))

    def curve_names(self, cfg: EvalConfig) -> dict[str, int]:
        return self.stage.curve_names(cfg)

    def check_options(self, cfg: EvalConfig) -> list[str]:
        return []

    def masks(self, *args):
        return self.stage.masks(*args)

    def shared_masks(self, n_features, cfg):
        return {}

    def values(self, *args):
        return self.stage.values(*args)

    def run_task(self, *args):
        return self.stage.run_task(*args)

    def run_batch(self, ctx: Context) -> StageOutput:
        return self.stage.run_batch(ctx)


def as_metric(stage: Stage) -> _StageMetric:
    return _StageMetric(stage)
