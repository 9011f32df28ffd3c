"""The metric registry: every metric is declared with its direction and what it applies to.

Metric values are always kept per user (per request) so that confidence intervals and paired
tests can be computed later, and so that the leaderboard never recomputes a metric.
"""

from __future__ import annotations

from dataclasses import dataclass

from xrec_bench.registry import Registry


@dataclass(frozen=True)
class MetricSpec:
    """Declaration of one metric.

    ``group`` is one of ``accuracy``, ``faithfulness``, ``ground-truth``, ``stability``, ``sanity``,
    ``cost``. ``granularity`` is ``history``, ``tokens`` or None (both / not an explanation metric).
    ``ranked`` is False for reference values that are shown next to the scores but say nothing about
    which explainer is better (a coverage shared by every explainer, the chance level of a score):
    tables never crown a best or test differences on them.
    """

    name: str
    higher_is_better: bool
    group: str
    description: str
    granularity: str | None = None
    ranked: bool = True


METRICS: Registry[MetricSpec] = Registry("metric")


def declare(name: str, *, higher_is_better: bool, group: str, description: str, granularity: str | None = None,
            ranked: bool = True) -> MetricSpec:
    spec = MetricSpec(name, higher_is_better, group, description, granularity, ranked)
    METRICS.register(name, spec)
    return spec


def spec(name: str) -> MetricSpec:
    """The declaration of metric ``name``; names with ``@K`` suffixes resolve to their family."""
    import xrec_bench.metrics  # noqa: F401  (declares the built-in metrics)

    if name in METRICS:
        return METRICS.get(name)
    family = name.split("@")[0] + "@k" if "@" in name else name
    return METRICS.get(family)
