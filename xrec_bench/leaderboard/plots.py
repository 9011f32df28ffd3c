"""The leaderboard's figures (matplotlib, Agg): deletion/insertion curves per explainer, and
faithfulness against latency. Returned as PNG bytes so the page can embed them (no external files)."""

from __future__ import annotations

import functools
import io
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from xrec_bench.leaderboard.tables import Table

#: curve names drawn as faithfulness curves (score-based first), if the records have them
CURVE_ORDER = ("deletion_score", "insertion_score", "deletion_rank", "insertion_rank")
FAITHFULNESS_PREFERENCE = ("insertion_auc", "deletion_auc", "insertion_rank_auc", "deletion_rank_auc")


def is_latency(name: str, spec: dict[str, Any] | None) -> bool:
    """A cost metric measured in seconds (compared across machines only as a ratio to the reference workload)."""
    group = (spec or {}).get("group")
    return group == "cost" and re.search(r"(time|latency|seconds|_s$)", name) is not None


F = TypeVar("F", bound=Callable[..., Any])


def _literal_text(fn: F) -> F:
    """Draw every text of the figure literally: labels come from suites and run records, and a ``$``
    in one must not be parsed as mathtext (``$\\frac{x$`` would crash the build)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        import matplotlib

        with matplotlib.rc_context({"text.parse_math": False, "text.usetex": False}):
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _figure():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


@dataclass(frozen=True)
class Curve:
    """One explainer's curve in a panel: ``band`` is a (low, high) pair drawn shaded around it, ``baseline``
    draws it dashed (the random explainer), ``color`` None takes the next colour of the axes' cycle."""

    label: str
    x: Any
    y: Any
    baseline: bool = False
    band: tuple[Any, Any] | None = None
    color: Any = None


def draw_curves(ax, curves: Iterable[Curve], *, title: str, xlabel: str | None = None,
                title_size: float | None = None, **line: Any) -> None:
    """Draw deletion/insertion curves into one panel ``ax`` (the leaderboard's figures and
    ``xrec-bench evaluate --plot`` both draw theirs with it); ``line`` goes to every ``ax.plot``."""
    for c in curves:
        colour = {} if c.color is None else {"color": c.color}
        ax.plot(c.x, c.y, linestyle="--" if c.baseline else "-", label=c.label, **colour, **line)
        if c.band is not None:
            ax.fill_between(c.x, c.band[0], c.band[1], alpha=0.15)
    ax.set_title(title, **({} if title_size is None else {"fontsize": title_size}))
    if xlabel is not None:
        ax.set_xlabel(xlabel)
    ax.grid(alpha=0.3)


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, metadata={"Software": None})
    _figure().close(fig)
    return buf.getvalue()


@_literal_text
def curves_png(table: Table) -> bytes | None:
    names = [n for n in CURVE_ORDER if any(n in r.curves for r in table.rows)]
    names += sorted({n for r in table.rows for n in r.curves} - set(names))
    names = names[:4]
    if not names:
        return None
    plt = _figure()
    fig, axes = plt.subplots(1, len(names), figsize=(3.8 * len(names) + 1.6, 3.4), squeeze=False)
    fig.subplots_adjust(left=0.06, right=1 - 1.6 / (3.8 * len(names) + 1.6), bottom=0.15, top=0.82, wspace=0.25)
    cmap = plt.get_cmap("tab20")
    for ax, name in zip(axes[0], names, strict=False):
        curves = []
        for i, row in enumerate(table.rows):
            curve = row.curves.get(name)
            if not curve:
                continue
            y = np.array([np.nan if v is None else v for v in curve], dtype=float)
            curves.append(Curve(row.explainer, np.linspace(0, 1, len(y)), y, baseline=row.explainer == "random",
                                color=cmap(i % 20)))
        draw_curves(ax, curves, title=name.replace("_", " "), linewidth=1.4,
                    xlabel="fraction of features removed" if "deletion" in name else "fraction of features")
    axes[0][-1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5), frameon=False)
    fig.suptitle(f"{table.dataset} · {table.model} · {table.granularity}")
    return _png(fig)


@_literal_text
def tradeoff_png(table: Table, specs: dict[str, dict[str, Any]]) -> bytes | None:
    """Faithfulness (y) against mean latency per explanation (x, log scale)."""
    latency = next((m for m in table.metrics if is_latency(m, specs.get(m))), None)
    faith = next((m for m in FAITHFULNESS_PREFERENCE if m in table.metrics), None)
    if latency is None or faith is None:
        return None
    points = [(r.explainer, r.entries[latency].estimate.mean, r.entries[faith].estimate) for r in table.rows
              if latency in r.entries and faith in r.entries]
    if not points:
        return None
    plt = _figure()
    fig, ax = plt.subplots(figsize=(5.6, 4.0))
    fig.subplots_adjust(left=0.13, right=0.97, bottom=0.13, top=0.92)
    for name, x, est in points:
        ax.errorbar([max(x, 1e-6)], [est.mean], yerr=[[est.mean - est.low], [est.high - est.mean]], fmt="o", capsize=3)
        ax.annotate(name, (max(x, 1e-6), est.mean), fontsize=7, xytext=(4, 3), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_xlabel(f"{latency} (mean per explanation, log scale)")
    arrow = "higher is better" if table.directions.get(faith, True) else "lower is better"
    ax.set_ylabel(f"{faith} ({arrow})")
    ax.set_title(f"faithfulness vs latency · {table.dataset} · {table.granularity}")
    ax.grid(alpha=0.3)
    return _png(fig)


@_literal_text
def ranks_across_models_png(view) -> bytes | None:
    """A bump chart: each explainer's mean faithfulness place (y, 1 at the top) under each model (x), with
    the range its CIs allow as a bar; ``view`` is a :class:`xrec_bench.leaderboard.overview.AcrossModels`."""
    if len(view.models) < 2 or not view.places:
        return None
    plt = _figure()
    fig, ax = plt.subplots(figsize=(2.2 * len(view.models) + 2.6, 3.8))
    fig.subplots_adjust(left=0.1, right=1 - 2.4 / (2.2 * len(view.models) + 2.6), bottom=0.12, top=0.9)
    cmap = plt.get_cmap("tab20")
    xs = np.arange(len(view.models))
    for i, (name, per_model) in enumerate(sorted(view.places.items())):
        pts = [(x, per_model[m]) for x, m in zip(xs, view.models, strict=True) if m in per_model]
        offset = (i % 7 - 3) * 0.02  # keep tied explainers' bars apart
        color = cmap(i % 20)
        ax.plot([x + offset for x, _ in pts], [s.rank for _, s in pts], marker="o", color=color, label=name,
                linestyle="--" if name == "random" else "-", linewidth=1.4, markersize=4)
        for x, s in pts:
            ax.vlines(x + offset, s.rank_low, s.rank_high, color=color, alpha=0.35, linewidth=3)
    ax.set_xticks(xs, view.models)
    ax.invert_yaxis()
    ax.set_ylabel(f"mean place on {view.group} (1 = first)")
    ax.set_title(f"{view.dataset} · {view.granularity}: {view.group} place per model")
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5), frameon=False)
    return _png(fig)
