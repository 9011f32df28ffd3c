"""The explainer protocol: one interface for every method at both granularities.

An explainer declares flags (``granularities``, ``needs_gradients``, ``stochastic``,
``model_agnostic``, ``model_blind``, ``max_features``) instead of being special-cased by name. Subclasses implement
``_attribute(task, rng)``, returning one score per feature of a
:class:`~xrec_bench.models.features.FeatureTask`; the base class builds the tasks from the model,
times each explanation, reads the model-evaluation count off the task, and turns bad input into a
recorded, explained skip so that nothing crashes a batch.
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from xrec_bench.contract import Contract, first_line
from xrec_bench.params import Param
from xrec_bench.registry import Registry
from xrec_bench.seeding import derive_seed

if TYPE_CHECKING:
    from xrec_bench.datasets.schema import Dataset, Split
    from xrec_bench.models.base import Recommender
    from xrec_bench.models.features import FeatureTask

log = logging.getLogger(__name__)



def _check_explainer(obj: Any) -> str | None:
    if isinstance(obj, type) and issubclass(obj, Explainer) and not getattr(obj, "__abstractmethods__", None):
        return None
    if isinstance(obj, type) and issubclass(obj, Explainer):
        return f"it does not implement {', '.join(sorted(obj.__abstractmethods__))}."
    return (f"expected a subclass of xrec_bench.explainers.Explainer (implementing _attribute(task, rng)). "
            f"Got {type(obj).__name__} {obj!r} instead.")


#: built-ins register lazily in ``xrec_bench.explainers``; ``package.module:Class`` names and the entry
#: points of installed packages (group ``xrec_bench.explainers``) are plugins
EXPLAINERS: Registry[type[Explainer]] = Registry("explainer", check=_check_explainer,
                                                 entry_points="xrec_bench.explainers",
                                                 name_of=lambda cls: getattr(cls, "name", None))


@dataclass(frozen=True)
class Request:
    """Explain why ``target`` is recommended to ``user`` given the chronological ``history``."""

    user: int
    target: int
    history: np.ndarray
    exclude: np.ndarray | None = None


@dataclass(frozen=True)
class Explanation:
    """Attributions for one request: exactly one score per feature (higher = more important).

    ``status`` is ``"ok"``, or ``"skipped"`` with a ``reason`` (bad input, unsupported granularity,
    too many features, a model that returned NaN). ``n_evals`` counts model evaluations (mask rows
    scored), ``wall_time_s`` the time spent.
    """

    explainer: str
    granularity: str
    user: int
    target: int
    feature_ids: np.ndarray
    feature_labels: tuple[str, ...]
    scores: np.ndarray
    n_evals: int
    wall_time_s: float
    seed: int
    status: str = "ok"
    reason: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def ranking(self) -> np.ndarray:
        """Feature positions from most to least important (ties: lower position first)."""
        return np.argsort(-self.scores, kind="stable")


class ExplanationError(ValueError):
    """Input that cannot be explained; turned into a skipped :class:`Explanation` with this message."""


class Explainer(ABC):
    """Base class. The class is the explainer's whole declaration (:meth:`contract`): ``name`` (its
    registry name), ``version`` (bump it when its numbers change), ``parameters`` (a schema of
    :class:`~xrec_bench.params.Param`; None: the keyword parameters of ``__init__``, with their defaults)
    and the capability flags below."""

    name: ClassVar[str] = ""
    version: ClassVar[str] = "1"
    #: the parameters: name -> Param(default, accepts, help); None: read off ``__init__``'s signature
    parameters: ClassVar[dict[str, Param] | None] = None
    granularities: ClassVar[frozenset[str]] = frozenset({"history", "tokens", "fields"})
    needs_gradients: ClassVar[bool] = False
    stochastic: ClassVar[bool] = False
    model_agnostic: ClassVar[bool] = True
    #: a data baseline: its scores never depend on the model's outputs (it makes no model evaluation),
    #: so it can win what is recoverable from the data alone; tables mark it and never crown it
    model_blind: ClassVar[bool] = False
    #: feature count above which the method refuses (e.g. exact Shapley); None for no limit
    max_features: ClassVar[int | None] = None
    #: why a granularity is not supported, keyed by granularity (shown when the harness skips)
    unsupported_reasons: ClassVar[dict[str, str]] = {}

    def __init__(self, **params: Any) -> None:
        self.params = dict(params)

    def fit(self, dataset: Dataset, split: Split) -> Explainer:
        """Learn what the method needs from training data (most need nothing)."""
        return self

    @classmethod
    def supports(cls, granularity: str) -> tuple[bool, str]:
        """Whether this method applies at ``granularity``, and if not, why."""
        if granularity in cls.granularities:
            return True, ""
        reason = cls.unsupported_reasons.get(granularity) or f"{cls.name} does not support {granularity!r} granularity"
        return False, reason

    def explain(
        self,
        model: Recommender,
        requests: Sequence[Request],
        *,
        granularity: str,
        seed: int,
    ) -> list[Explanation]:
        """Explain each request; a request that cannot be explained yields a skipped Explanation."""
        ok, reason = self.supports(granularity)
        out = []
        for req in requests:
            req_seed = derive_seed(seed, self.name, granularity, req.user, req.target)
            if not ok:
                out.append(self._skipped(req, granularity, req_seed, reason))
                continue
            try:
                task = model.feature_task(
                    granularity, user=req.user, history=req.history, target=req.target, exclude=req.exclude
                )
                out.append(self.explain_task(task, seed=req_seed))
            except (ExplanationError, ValueError, KeyError, IndexError, RuntimeError) as exc:
                # RuntimeError: e.g. a model failing on this input; recorded so the batch goes on
                log.info("skipping %s for user %s target %s: %s", self.name, req.user, req.target, exc)
                out.append(self._skipped(req, granularity, req_seed, str(exc)))
        return out

    def explain_task(self, task: FeatureTask, *, seed: int) -> Explanation:
        """Explain one prepared task. Raises :class:`ExplanationError` for input it cannot handle."""
        if task.n_features == 0:
            raise ExplanationError("there are no features to attribute (empty history, or a text with no words)")
        if self.max_features is not None and task.n_features > self.max_features:
            raise ExplanationError(
                f"{self.name} handles at most {self.max_features} features; this request has {task.n_features}"
            )
        rng = np.random.default_rng(seed)
        evals_before = task.n_evals
        start = time.perf_counter()
        scores = np.asarray(self._attribute(task, rng), dtype=np.float64).reshape(-1)
        elapsed = time.perf_counter() - start
        if scores.shape != (task.n_features,):
            raise RuntimeError(f"{self.name} returned {scores.shape[0]} scores for {task.n_features} features")
        if not np.all(np.isfinite(scores)):
            raise ExplanationError(f"{self.name} produced non-finite attributions (the model returned NaN or inf)")
        return Explanation(
            explainer=self.name,
            granularity=task.granularity,
            user=task.user,
            target=task.target,
            feature_ids=task.feature_ids,
            feature_labels=tuple(task.feature_labels),
            scores=scores,
            n_evals=task.n_evals - evals_before,
            wall_time_s=elapsed,
            seed=seed,
        )

    @abstractmethod
    def _attribute(self, task: FeatureTask, rng: np.random.Generator) -> np.ndarray:
        """One score per feature of ``task`` (higher = more responsible for the recommendation)."""

    def _skipped(self, req: Request, granularity: str, seed: int, reason: str) -> Explanation:
        return Explanation(
            explainer=self.name,
            granularity=granularity,
            user=req.user,
            target=req.target,
            feature_ids=np.array([], dtype=np.int64),
            feature_labels=(),
            scores=np.array([], dtype=np.float64),
            n_evals=0,
            wall_time_s=0.0,
            seed=seed,
            status="skipped",
            reason=reason,
        )

    @classmethod
    def schema(cls) -> dict[str, Param]:
        """The declared parameters; without a declaration, ``__init__``'s keyword parameters and defaults."""
        if cls.parameters is not None:
            return dict(cls.parameters)
        return signature_schema(cls.__init__)

    @classmethod
    def contract(cls) -> Contract:
        """The explainer's declaration (:mod:`xrec_bench.contract`)."""
        flags = cls.flags()
        caps = {**flags, "deterministic": not cls.stochastic}
        caps.pop("stochastic")
        return Contract("explainer", cls.name, str(cls.version), cls.schema(), caps, first_line(cls.__doc__),
                        open_params=cls._open_params())

    @classmethod
    def _open_params(cls) -> bool:
        """True when the parameters are neither declared nor readable off ``__init__`` (``**params``)."""
        return cls.parameters is None and takes_any_keyword(cls.__init__)

    @classmethod
    def check_params(cls, params: dict[str, Any]) -> list[str]:
        """Every problem with ``params`` (unknown names, values out of range), all at once."""
        return cls.contract().check(params)

    @classmethod
    def flags(cls) -> dict[str, Any]:
        return {
            "granularities": sorted(cls.granularities),
            "needs_gradients": cls.needs_gradients,
            "stochastic": cls.stochastic,
            "model_agnostic": cls.model_agnostic,
            "model_blind": cls.model_blind,
            "max_features": cls.max_features,
        }


def signature_schema(init: Any) -> dict[str, Param]:
    """Parameters read off a constructor: its keyword parameters and their defaults (a parameter with
    no default gets ``None``); ``**kwargs`` declares nothing."""
    import inspect

    out = {}
    for p in list(inspect.signature(init).parameters.values())[1:]:  # [0] is self
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
            out[p.name] = Param(None if p.default is p.empty else p.default)
    return out


def takes_any_keyword(init: Any) -> bool:
    """Whether a constructor takes ``**kwargs`` (its parameters cannot be read off its signature)."""
    import inspect

    return any(p.kind is p.VAR_KEYWORD for p in inspect.signature(init).parameters.values())


def get_explainer(name: str, **params: Any) -> Explainer:
    import xrec_bench.explainers  # noqa: F401  (registers the built-in explainers)

    return EXPLAINERS.get(name)(**params)
