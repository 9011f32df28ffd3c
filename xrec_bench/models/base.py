"""The one interface every recommender follows (fit / score / recommend) and the model registry.

Explainers and metrics never ask which model they hold: they call :meth:`Recommender.score`, and,
for models that can be explained, :meth:`Recommender.feature_task`, which returns the model's own
definition of the features of one recommendation and of what removing a feature means
(:mod:`xrec_bench.models.features`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from xrec_bench.contract import GRANULARITIES, Contract, first_line  # noqa: F401  (GRANULARITIES re-exported)
from xrec_bench.params import Param, check_schema, schema_from
from xrec_bench.registry import Registry

if TYPE_CHECKING:
    from xrec_bench.datasets.schema import Dataset, Split
    from xrec_bench.models.features import FeatureTask


def _check_model(obj: Any) -> str | None:
    if isinstance(obj, type) and issubclass(obj, Recommender) and not getattr(obj, "__abstractmethods__", None):
        return None
    if isinstance(obj, type) and issubclass(obj, Recommender):
        return f"it does not implement {', '.join(sorted(obj.__abstractmethods__))}."
    return (f"expected a subclass of xrec_bench.models.base.Recommender (implementing fit and score). "
            f"Got {type(obj).__name__} {obj!r} instead.")


#: built-ins register lazily in ``xrec_bench.models``; ``package.module:Class`` names and the entry points
#: of installed packages (group ``xrec_bench.models``) are plugins
MODELS: Registry[type[Recommender]] = Registry("model", check=_check_model, entry_points="xrec_bench.models",
                                               name_of=lambda cls: getattr(cls, "name", None))



class NotFittedError(RuntimeError):
    pass


class Recommender(ABC):
    """Base class. ``__init__`` stores parameters only; ``fit`` validates and learns (state ends in ``_``)."""

    name: ClassVar[str] = ""
    #: the code version: bump it when a trained model's numbers change (it keys the model cache)
    version: ClassVar[str] = "1"
    #: Granularities at which :meth:`feature_task` works (empty: the model cannot be explained).
    explainable_granularities: ClassVar[tuple[str, ...]] = ()
    #: the same data, parameters and seed give the same model
    deterministic: ClassVar[bool] = True
    #: the parameters in full (name -> Param(default, accepts, help)); None: ``defaults`` and ``constraints``
    parameters: ClassVar[dict[str, Param] | None] = None

    #: parameter names with their default values; None: any parameters are stored as given
    defaults: ClassVar[dict[str, Any] | None] = None
    #: the values each parameter accepts (:mod:`xrec_bench.params`); checked on construction
    constraints: ClassVar[dict[str, tuple[Any, ...]]] = {}

    def __init__(self, **params: Any) -> None:
        self.params = self.resolve_params(params) if self._declares_params() else dict(params)

    @classmethod
    def _declares_params(cls) -> bool:
        return cls.parameters is not None or cls.defaults is not None

    @classmethod
    def schema(cls) -> dict[str, Param]:
        """The declared parameters (``parameters``, else built from ``defaults`` and ``constraints``)."""
        if cls.parameters is not None:
            return dict(cls.parameters)
        return schema_from(cls.defaults, cls.constraints)

    @classmethod
    def resolve_params(cls, params: dict[str, Any] | None) -> dict[str, Any]:
        """The full parameters (defaults filled in) that a model built with ``params`` uses."""
        schema = cls.schema()
        return merge_params(cls.name, {k: p.default for k, p in schema.items()}, params,
                            {k: p.accepts for k, p in schema.items() if p.accepts})

    @classmethod
    def contract(cls) -> Contract:
        """The model's declaration (:mod:`xrec_bench.contract`)."""
        caps = {"granularities": tuple(cls.explainable_granularities), "deterministic": bool(cls.deterministic),
                "randomizable": cls.randomized is not Recommender.randomized}
        return Contract("model", cls.name, str(getattr(cls, "version", "")), cls.schema(), caps,
                        first_line(cls.__doc__), open_params=not cls._declares_params())

    @abstractmethod
    def fit(self, dataset: Dataset, split: Split, *, seed: int = 0) -> Recommender:
        """Learn from ``split.train`` (and ``split.valid`` for early stopping). Returns ``self``."""

    @abstractmethod
    def score(self, users: np.ndarray, histories: Sequence[np.ndarray]) -> np.ndarray:
        """Scores of every item for each user: a float array of shape ``[len(users), n_items]``.

        ``histories[i]`` is user ``users[i]``'s chronological history of item indices; id-based
        models may ignore it, history-based models must use it (and not the user id).
        """

    def recommend(
        self,
        users: np.ndarray,
        histories: Sequence[np.ndarray],
        k: int,
        *,
        exclude: Sequence[np.ndarray] | None = None,
    ) -> np.ndarray:
        """Top-``k`` item indices per user, best first, with ``exclude[i]`` masked out.

        Ties are broken deterministically by item index (lower first).
        """
        scores = np.asarray(self.score(np.asarray(users), histories), dtype=np.float64)
        if exclude is not None:
            for row, items in enumerate(exclude):
                scores[row, np.asarray(items, dtype=np.int64)] = -np.inf
        return topk(scores, k)

    def feature_task(
        self,
        granularity: str,
        *,
        user: int,
        history: np.ndarray,
        target: int,
        exclude: np.ndarray | None = None,
    ) -> FeatureTask:
        """The features of the recommendation of ``target`` to ``user`` at ``granularity``."""
        raise NotImplementedError(
            f"Model {self.name!r} cannot be explained (it supports no granularity); "
            "explain 'bert-two-tower' or 'zero-shot-text' instead."
        )

    @contextmanager
    def reuse_scope(self) -> Iterator[None]:
        """A block within which the model may reuse what it computed (e.g. masked item vectors); one
        request's metrics run inside one. Outside it a model reuses nothing across calls, so that values
        never depend on what ran before and timed explanations pay for their own evaluations."""
        yield

    def randomized(self, seed: int) -> Recommender:
        """A copy whose learned weights are re-initialised (for the model-randomisation sanity check)."""
        raise NotImplementedError(f"Model {self.name!r} has no randomised copy.")

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in sorted(self.params.items()))
        return f"{type(self).__name__}({args})"


def merge_params(model: str, defaults: dict, params: dict | None, constraints: dict | None = None) -> dict:
    """``defaults`` updated with ``params``; unknown names are refused with the list of known ones, and
    values outside their declared ``constraints`` with what was expected (all problems at once: a
    TypeError when a name is unknown, else a ValueError)."""
    params = dict(params or {})
    problems = check_schema(f"model {model!r}", params, schema_from(defaults, constraints))
    if problems:
        raise (TypeError if set(params) - set(defaults) else ValueError)(" ".join(problems))
    return {**defaults, **params}


def topk(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` largest scores per row, best first; ties go to the lower index."""
    scores = np.atleast_2d(scores)
    if k < 1:
        raise ValueError(f"The 'k' parameter must be an int in the range [1, inf). Got {k} instead.")
    k = min(k, scores.shape[1])
    order = np.argsort(-scores, axis=1, kind="stable")  # stable: equal scores keep index order
    return order[:, :k]


def get_model(name: str, **params: Any) -> Recommender:
    """Instantiate the registered model ``name`` with ``params``."""
    import xrec_bench.models  # noqa: F401  (registers the built-in models)

    return MODELS.get(name)(**params)
