"""The metric contract: one class per metric declares its name, version, outputs, options and needs.

A metric is a subclass of :class:`ProbeMetric`, :class:`TaskMetric` or :class:`BatchMetric` (how it
is computed, see :mod:`xrec_bench.metrics.stages`), or of :class:`DeclaredMetric` for values that the
evaluator or the harness compute themselves (cost, accuracy). The class declares, once:

* ``name``: the metric's registry name (``@register`` files it under it);
* ``version``: bumped when its numbers change;
* ``outputs``: every per-user value it fills (:class:`xrec_bench.contract.Output`: name, direction,
  group, unit, description; ``pos@k``-style families expand by an EvalConfig field, ``k_from``);
* ``options``: the :class:`~xrec_bench.metrics.config.EvalConfig` fields it reads, and ``parameters``
  its own (a plugin's), read from ``EvalConfig.extra``;
* ``needs`` (``model``, ``explainer``, ``ground_truth``), ``granularities``, ``deterministic``.

Values are always kept per user (per request) so that confidence intervals and paired tests can be
computed later, and so that the leaderboard never recomputes a metric. Plugins: a suite's
``metrics`` list may name ``package.module:Class``, and installed packages add metrics through the
entry-point group ``xrec_bench.metrics``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from xrec_bench.contract import Contract, Output, first_line
from xrec_bench.params import Param, check_schema
from xrec_bench.registry import Registry, UnknownNameError

if TYPE_CHECKING:
    from xrec_bench.metrics.config import EvalConfig

#: how a metric is computed: probe (masks scored together), task (one explanation and its task), batch
#: (the whole batch, the model or the explainer again), declared (computed by the evaluator or harness)
METRIC_KINDS = ("probe", "task", "batch", "declared")
NEEDS = frozenset({"model", "explainer", "ground_truth"})


@dataclass(frozen=True)
class MetricSpec:
    """Declaration of one per-user value (what the harness writes next to it in a record).

    ``group`` is e.g. ``accuracy``, ``faithfulness``, ``ground-truth``, ``stability``, ``sanity``,
    ``cost``. ``granularity`` is ``history``, ``tokens`` or None (both / not an explanation metric).
    ``ranked`` is False for reference values that are shown next to the scores but say nothing about
    which explainer is better (a coverage shared by every explainer, the chance level of a score):
    tables never crown a best or test differences on them. ``metric`` names the metric that fills it.
    """

    name: str
    higher_is_better: bool
    group: str
    description: str
    granularity: str | None = None
    ranked: bool = True
    unit: str = ""
    metric: str = ""


class Metric:
    """Base class of every metric (see the module docstring)."""

    name: ClassVar[str] = ""
    version: ClassVar[str] = "1"
    kind: ClassVar[str] = ""
    outputs: ClassVar[tuple[Output, ...]] = ()
    #: EvalConfig fields it reads (its shared options)
    options: ClassVar[tuple[str, ...]] = ()
    #: its own parameters (a plugin's), read from ``EvalConfig.extra`` by :meth:`option`
    parameters: ClassVar[dict[str, Param]] = {}
    needs: ClassVar[frozenset[str]] = frozenset({"model"})
    granularities: ClassVar[frozenset[str]] = frozenset({"history", "tokens", "fields"})
    deterministic: ClassVar[bool] = True

    @classmethod
    def names(cls, cfg: EvalConfig) -> tuple[str, ...]:
        """The value names it fills under ``cfg`` (``@k`` families expanded: ``pos@1``, ``pos@5``, ...)."""
        out: list[str] = []
        for o in cls.outputs:
            if o.k_from is None:
                out.append(o.name)
                continue
            ks = getattr(cfg, o.k_from)
            stem = o.name.split("@")[0]
            out.extend(f"{stem}@{k}" for k in (ks if isinstance(ks, (tuple, list)) else (ks,)))
        return tuple(out)

    @classmethod
    def curve_names(cls, cfg: EvalConfig) -> dict[str, int]:
        """Curves (``[n_users, L]``) it fills, by name and length."""
        return {}

    @classmethod
    def option(cls, cfg: EvalConfig, name: str) -> Any:
        """The value of its own parameter ``name`` under ``cfg`` (``cfg.extra``, else the default)."""
        return cfg.extra.get(name, cls.parameters[name].default)

    @classmethod
    def check_options(cls, cfg: EvalConfig) -> list[str]:
        """Problems with the values ``cfg.extra`` gives its own parameters (all at once)."""
        mine = {k: v for k, v in cfg.extra.items() if k in cls.parameters}
        return check_schema(f"metric {cls.name!r}", mine, cls.parameters)

    @classmethod
    def contract(cls) -> Contract:
        from xrec_bench.metrics.config import option_schema

        params = {**option_schema(cls.options), **cls.parameters}
        caps = {"granularities": tuple(sorted(cls.granularities)), "deterministic": bool(cls.deterministic),
                "needs": tuple(sorted(cls.needs)), "kind": cls.kind}
        return Contract("metric", cls.name, str(cls.version), params, caps, first_line(cls.__doc__),
                        outputs=tuple(cls.outputs))

    @classmethod
    def specs(cls) -> dict[str, MetricSpec]:
        """A :class:`MetricSpec` per declared output (families under their ``@k`` name)."""
        grans = None if set(cls.granularities) >= {"history", "tokens"} else sorted(cls.granularities)[0]
        return {o.name: MetricSpec(o.name, o.direction == "higher", o.group, o.description,
                                   o.granularity or grans, o.ranked, o.unit, cls.name) for o in cls.outputs}


class DeclaredMetric(Metric):
    """Values computed by the evaluator (cost) or the harness (accuracy), declared here."""

    kind = "declared"


def _check_metric(obj: Any) -> str | None:
    if not (isinstance(obj, type) and issubclass(obj, Metric)):
        return (f"expected a subclass of xrec_bench.metrics.base.ProbeMetric, TaskMetric or BatchMetric. "
                f"Got {type(obj).__name__} {obj!r} instead.")
    if getattr(obj, "__abstractmethods__", None):
        return f"it does not implement {', '.join(sorted(obj.__abstractmethods__))}."
    if obj.kind not in METRIC_KINDS:
        return f"its kind is {obj.kind!r}; subclass ProbeMetric, TaskMetric or BatchMetric."
    if not obj.outputs:
        return "it declares no outputs (outputs = (Output(name, direction, group, unit, description), ...))."
    return None


#: every metric class: the built-ins register with ``@register`` as their modules are imported;
#: ``package.module:Class`` names and entry points (group ``xrec_bench.metrics``) are plugins
METRICS: Registry[type[Metric]] = Registry("metric", check=_check_metric, entry_points="xrec_bench.metrics",
                                           name_of=lambda cls: getattr(cls, "name", None))
register = METRICS.add

#: values declared with :func:`declare`, outside a Metric class (code written before the contract)
_DECLARED: dict[str, MetricSpec] = {}


def declare(name: str, *, higher_is_better: bool, group: str, description: str, granularity: str | None = None,
            ranked: bool = True) -> MetricSpec:
    """Declare one value without a Metric class (kept for stages registered the older way)."""
    if name in _DECLARED:
        raise ValueError(f"A metric named {name!r} is already declared; names must be unique.")
    spec = MetricSpec(name, higher_is_better, group, description, granularity, ranked)
    _DECLARED[name] = spec
    return spec


def builtin_metrics() -> list[type[Metric]]:
    """The metric classes of this package, by name (the order they are computed in)."""
    import xrec_bench.metrics  # noqa: F401  (registers the built-in metrics)

    return [cls for cls in (METRICS.get(n) for n in METRICS.names() if METRICS.is_registered(n))
            if cls.__module__.split(".")[0] == "xrec_bench"]


def value_specs(*, plugins: bool = True) -> dict[str, MetricSpec]:
    """Every declared value (``@k`` families under their family name), by name."""
    out = dict(_DECLARED)
    for cls in builtin_metrics():
        out.update(cls.specs())
    if plugins:
        for n in METRICS.names():
            if METRICS.plugin(n):
                try:
                    out.update(METRICS.get(n).specs())
                except UnknownNameError:  # a broken installed plugin: reported when it is named
                    continue
    return out


def spec(name: str) -> MetricSpec:
    """The declaration of value ``name``; names with ``@K`` suffixes resolve to their family."""
    family = name.split("@")[0] + "@k" if "@" in name else name
    for specs in (value_specs(plugins=False), value_specs()):  # installed plugins imported only if needed
        for key in (name, family):
            if key in specs:
                return specs[key]
    raise UnknownNameError(METRICS.unknown_message(name))
