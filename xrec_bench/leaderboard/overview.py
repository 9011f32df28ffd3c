"""The overview: each explainer's standing per metric group, read from a built leaderboard's tables.

Nothing is recomputed: a standing is derived from the means, 95% CIs, n and marks that the stored
tables already hold. Per metric, an explainer's *rank range* is the span of places its CI allows:
its best possible place is 1 + the explainers whose CI lies wholly on the better side of its own, its
worst possible place is the number of explainers whose CI is not wholly on the worse side (itself
included). Ties therefore show as overlapping ranges instead of being broken arbitrarily. Per group
(faithfulness, ground truth, stability, sanity, cost) the overview averages those bounds over the
group's metrics and counts the metrics on which the explainer is the best or not significantly
different from it (the table's marks), and those on which it is not distinguishable from random.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from xrec_bench.leaderboard.tables import NOT_SIG_BEST, NOT_SIG_RANDOM

#: the groups the overview shows, in order, with what each measures (plain language, for the legend)
GROUPS: dict[str, str] = {
    "faithfulness": "Does the explanation point at what the model really used? Removing (or keeping only) the "
                    "features it ranks highest should move the recommendation score the most.",
    "ground-truth": "On synthetic data with planted causes: does the explanation find the features that were "
                    "planted to cause the recommendation?",
    "stability": "Does the explanation stay the same when the input barely changes, or when the explainer is "
                 "run again with another seed?",
    "sanity": "Does the explanation depend on the model at all? After randomising the model's weights, a good "
              "explanation should change (low rank correlation with the original).",
    "cost": "What does one explanation cost: model evaluations and wall-clock seconds (lower is better).",
}
#: below this many users a standing is flagged as resting on few users
LOW_N = 30


@dataclass(frozen=True)
class Standing:
    """One explainer on one metric group of one table."""

    explainer: str
    group: str
    metrics: int  # metrics of the group the explainer has a value for
    top: int  # metrics on which it is the best or not significantly different from the best
    like_random: int  # metrics on which it is not significantly different from the random explainer
    rank: float  # mean place by the point estimates over the group's metrics (1 = first)
    rank_low: float  # mean best-possible place over the group's metrics (1 = first)
    rank_high: float  # mean worst-possible place
    n_min: int  # the smallest n behind any of its values in the group
    n_max: int
    of: int  # explainers ranked in this table

    @property
    def low_n(self) -> bool:
        return self.n_min < LOW_N

    @property
    def share_top(self) -> float:
        return self.top / self.metrics if self.metrics else 0.0


def metric_groups(table: dict[str, Any], specs: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
    """The table's ranked metrics by overview group (groups without one in this table are left out;
    reference values such as coverage or chance levels are not standings)."""
    out: dict[str, list[str]] = {}
    for m in table["metrics"]:
        if specs.get(m, {}).get("ranked") is False:
            continue
        group = specs.get(m, {}).get("group")
        if group in GROUPS:
            out.setdefault(group, []).append(m)
    return {g: out[g] for g in GROUPS if g in out}


def place(value: dict[str, float], others: list[dict[str, float]], higher_is_better: bool) -> int:
    """1 + the number of others with a strictly better mean."""
    return 1 + sum((o["mean"] > value["mean"]) if higher_is_better else (o["mean"] < value["mean"]) for o in others)


def rank_range(value: dict[str, float], others: list[dict[str, float]], higher_is_better: bool) -> tuple[int, int]:
    """(best, worst) possible place of ``value`` among ``others`` (both with mean/low/high) by CI overlap."""
    def better(a, b):  # a wholly better than b
        return a["low"] > b["high"] if higher_is_better else a["high"] < b["low"]

    best = 1 + sum(better(o, value) for o in others)
    worst = 1 + sum(not better(value, o) for o in others)
    return best, worst


def standings(table: dict[str, Any], specs: dict[str, dict[str, Any]]) -> dict[str, dict[str, Standing]]:
    """``{explainer: {group: Standing}}`` for the table's explainers that produced values."""
    rows = [r for r in table["rows"] if r.get("status") == "ok" and r.get("metrics")]
    out: dict[str, dict[str, Standing]] = {r["explainer"]: {} for r in rows}
    for group, metrics in metric_groups(table, specs).items():
        for row in rows:
            places, lows, highs, ns, top, rnd, count = [], [], [], [], 0, 0, 0
            for m in metrics:
                e = row["metrics"].get(m)
                if e is None or not _finite(e):
                    continue
                others = [r["metrics"][m] for r in rows if r is not row and m in r["metrics"] and _finite(r["metrics"][m])]
                up = bool(table["higher_is_better"].get(m, True))
                lo, hi = rank_range(e, others, up)
                places.append(place(e, others, up))
                lows.append(lo)
                highs.append(hi)
                ns.append(int(e.get("n") or 0))
                count += 1
                marks = e.get("marks", "")
                top += bool(e.get("best")) or NOT_SIG_BEST in marks
                rnd += NOT_SIG_RANDOM in marks
            if count:
                out[row["explainer"]][group] = Standing(
                    row["explainer"], group, count, top, rnd, sum(places) / count, sum(lows) / count, sum(highs) / count,
                    min(ns), max(ns), len(rows))
    return out


def _finite(e: dict[str, Any]) -> bool:
    vals = (e.get("mean"), e.get("low"), e.get("high"))
    return all(isinstance(v, (int, float)) and v == v for v in vals)


@dataclass(frozen=True)
class AcrossModels:
    """One (dataset, granularity) explained on several models: each explainer's standing on ``group``
    under each model, and how much the models agree on the explainers' order."""

    dataset: str
    granularity: str
    group: str
    models: tuple[str, ...]
    #: ``{explainer: {model: Standing}}`` (an explainer absent from a model's table has no entry there)
    places: dict[str, dict[str, Standing]]
    #: Kendall's tau between two models' orders (mean places) of the explainers both ranked; NaN below 3
    tau: dict[tuple[str, str], float]
    #: how many explainers each tau rests on
    shared: dict[tuple[str, str], int]


def across_models(tables: list[dict[str, Any]], specs: dict[str, dict[str, Any]],
                  group: str = "faithfulness") -> list[AcrossModels]:
    """Per (dataset, granularity) explained on two or more models: whether an explainer's ``group``
    standing holds across recommenders. Read from the stored tables like :func:`standings`; the agreement
    of two models is Kendall's tau-b (``scipy.stats.kendalltau``) of their explainers' mean places."""
    from scipy.stats import kendalltau

    by_key: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    for t in tables:
        by_key.setdefault((t["dataset"], t["granularity"]), {})[t["model"]] = t
    out = []
    for (dataset, granularity), per_model in by_key.items():
        places: dict[str, dict[str, Standing]] = {}
        for model, t in per_model.items():
            for explainer, groups in standings(t, specs).items():
                if group in groups:
                    places.setdefault(explainer, {})[model] = groups[group]
        models = tuple(m for m in per_model if any(m in p for p in places.values()))
        if len(models) < 2:
            continue
        tau, shared = {}, {}
        for i, a in enumerate(models):
            for b in models[i + 1:]:
                both = sorted(x for x, p in places.items() if a in p and b in p)
                shared[(a, b)] = len(both)
                tau[(a, b)] = float(kendalltau([places[x][a].rank for x in both],
                                               [places[x][b].rank for x in both]).statistic) if len(both) >= 3 else float("nan")
        out.append(AcrossModels(dataset, granularity, group, models, places, tau, shared))
    return out
