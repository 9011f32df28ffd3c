"""Leaderboard tables from a board: one per dataset x model x granularity, explainers as rows.

Every cell is a mean with a 95% bootstrap CI over users (and seeds), computed from the per-user
values in the run records (no metric is recomputed). Two marks say which differences are real,
by a paired bootstrap over the same users: † = not significantly different from the best explainer
on that metric; ‡ = not significantly different from the random explainer.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from xrec_bench.harness.record import as_array
from xrec_bench.leaderboard.load import Board
from xrec_bench.metrics.stats import Estimate, bootstrap_ci, paired_bootstrap

NOT_SIG_BEST = "†"
NOT_SIG_RANDOM = "‡"
RANDOM = "random"
GROUP_ORDER = ("faithfulness", "ground-truth", "stability", "sanity", "cost", "accuracy")
N_BOOT = 1000


@dataclass
class Entry:
    estimate: Estimate
    best: bool = False
    tie_best: bool = False  # not significantly different from the best
    tie_random: bool = False  # not significantly different from random

    @property
    def marks(self) -> str:
        return (NOT_SIG_BEST if self.tie_best else "") + (NOT_SIG_RANDOM if self.tie_random else "")

    def as_dict(self) -> dict[str, Any]:
        return {**self.estimate.as_dict(), "best": self.best, "marks": self.marks}


@dataclass
class Row:
    explainer: str
    status: str
    reason: str
    n_users: int
    entries: dict[str, Entry] = field(default_factory=dict)
    curves: dict[str, list[float | None]] = field(default_factory=dict)


@dataclass
class Table:
    dataset: str
    model: str
    granularity: str
    metrics: list[str]
    directions: dict[str, bool]
    rows: list[Row]
    accuracy: dict[str, dict[str, Estimate]]  # model label -> metric -> estimate (explained model first)

    @property
    def slug(self) -> str:
        return f"{self.dataset}__{self.model}__{self.granularity}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset, "model": self.model, "granularity": self.granularity, "metrics": self.metrics,
            "higher_is_better": self.directions,
            "accuracy": {m: {k: e.as_dict() for k, e in v.items()} for m, v in self.accuracy.items()},
            "rows": [{"explainer": r.explainer, "status": r.status, "reason": r.reason, "n_users": r.n_users,
                      "metrics": {k: e.as_dict() for k, e in r.entries.items()}, "curves": r.curves} for r in self.rows],
        }


def aligned(cells: list[dict[str, Any]], metric: str) -> dict[tuple, float]:
    """Per-user values of ``metric`` over one row's cells, keyed by (seed, user, target) for pairing."""
    out: dict[tuple, float] = {}
    for cell in cells:
        values = cell.get("metrics", {}).get(metric)
        if values is None:
            continue
        for user, target, v in zip(cell["users"], cell["targets"], as_array(values), strict=True):
            out[(cell["key"]["seed"], user, target)] = v
    return out


def _paired(a: dict[tuple, float], b: dict[tuple, float]):
    keys = sorted(set(a) & set(b))
    return paired_bootstrap([a[k] for k in keys], [b[k] for k in keys], n_boot=N_BOOT, seed=0)


def metric_order(specs: dict[str, dict[str, Any]], names: set[str]) -> list[str]:
    def rank(name: str) -> tuple:
        group = specs.get(name, {}).get("group", "")
        return (GROUP_ORDER.index(group) if group in GROUP_ORDER else len(GROUP_ORDER), name)

    return sorted(names, key=rank)


def build_tables(board: Board) -> list[Table]:
    groups: dict[tuple[str, str, str], list[dict]] = defaultdict(list)
    accuracy_cells: dict[str, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for cell in board.cells:
        k = cell["key"]
        if cell["kind"] == "accuracy":
            if cell["status"] == "ok":
                accuracy_cells[k["dataset"]][k["model"]].append(cell)
        else:
            groups[(k["dataset"], k["model"], k["granularity"])].append(cell)
    tables = []
    for (dataset, model, granularity), cells in sorted(groups.items()):
        tables.append(_table(board, dataset, model, granularity, cells, accuracy_cells[dataset]))
    return tables


def _table(board, dataset, model, granularity, cells, accuracy_cells) -> Table:
    by_explainer: dict[str, list[dict]] = defaultdict(list)
    for cell in cells:
        by_explainer[cell["key"]["explainer"]].append(cell)
    names = {m for c in cells if c["status"] == "ok" for m, v in c["metrics"].items()
             if np.isfinite(as_array(v)).any()}
    metrics = metric_order(board.metric_specs, names)
    directions = {m: bool(board.metric_specs.get(m, {}).get("higher_is_better", True)) for m in metrics}
    rows: list[Row] = []
    values: dict[str, dict[str, dict[tuple, float]]] = {}
    for explainer, ecells in sorted(by_explainer.items()):
        ok = [c for c in ecells if c["status"] == "ok"]
        status = "ok" if ok else ecells[0]["status"]
        reason = "" if ok else "; ".join(sorted({c.get("reason", "") for c in ecells}))
        row = Row(explainer, status, reason, sum(len(c["users"]) for c in ok))
        values[explainer] = {m: aligned(ok, m) for m in metrics}
        for m in metrics:
            if any(np.isfinite(list(values[explainer][m].values()))):
                row.entries[m] = Entry(bootstrap_ci(list(values[explainer][m].values()), n_boot=N_BOOT, seed=0))
        row.curves = _mean_curves(ok)
        rows.append(row)
    for m in metrics:
        scored = [r for r in rows if m in r.entries]
        if not scored:
            continue
        sign = 1.0 if directions[m] else -1.0
        best = max(scored, key=lambda r: (sign * r.entries[m].estimate.mean, r.explainer))
        best.entries[m].best = True
        for r in scored:
            if r is not best:
                r.entries[m].tie_best = not _paired(values[r.explainer][m], values[best.explainer][m]).significant
            if RANDOM in values and r.explainer != RANDOM and m in values[RANDOM]:
                r.entries[m].tie_random = not _paired(values[r.explainer][m], values[RANDOM][m]).significant
    accuracy = {}
    for label in [model] + sorted(k for k in accuracy_cells if k != model):
        acells = accuracy_cells.get(label, [])
        names_acc = sorted({m for c in acells for m in c["metrics"]})
        accuracy[label] = {m: bootstrap_ci(list(aligned(acells, m).values()), n_boot=N_BOOT, seed=0) for m in names_acc}
    return Table(dataset, model, granularity, metrics, directions, rows, accuracy)


def _mean_curves(cells: list[dict[str, Any]]) -> dict[str, list[float | None]]:
    """Mean curve per curve name over cells (weighted by users), from the means stored in the records."""
    sums: dict[str, np.ndarray] = {}
    weights: dict[str, float] = {}
    for cell in cells:
        for name, curve in cell.get("curves", {}).items():
            arr = as_array(curve)
            if arr.size == 0 or not np.isfinite(arr).all():
                continue
            w = len(cell["users"])
            sums[name] = sums.get(name, 0) + w * arr
            weights[name] = weights.get(name, 0) + w
    return {k: (sums[k] / weights[k]).round(6).tolist() for k in sorted(sums)}
