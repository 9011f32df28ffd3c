"""Leaderboard tables from a board: one per dataset x model x granularity, explainers as rows.

Every cell is a mean with a 95% bootstrap CI over the users the row measured (``n`` is shown in
every cell), computed from the per-user values in the run records (no metric is recomputed).

Comparisons are fair by construction:

* **Common users.** Per metric, the rows that measured at least ``COVERAGE`` (90%) of the users
  of the widest row are *compared*; the best row and every significance test use only the users
  all compared rows measured (``n_common``). A row covering fewer is shown, marked ◦, and neither
  crowned nor tested (its mean is over other, often easier, users).
* **Best** (bold) is the compared row with the best mean on the common users, provided there are
  at least ``MIN_N`` (30) of them; below that nothing is bolded. Data baselines (explainers that
  never query the model, ``model_blind``) are never crowned: they can win what is recoverable from
  the data alone. Metrics declared ``ranked = False`` (reference values) get no best and no marks.
* **Significance.** Paired bootstrap over the common users against the best row (†: the
  difference is *not significant*) and against ``random`` (‡: not significant); the p-values of
  all tests of one table are Benjamini-Hochberg adjusted together (false discovery rate 5%).
  "Not significant" is a failure to reject, not a demonstrated tie. A data baseline significantly
  better than the best is marked ▲ (not on cost: making no model call is cheap by design): a finding
  worth showing, still not a crown.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from xrec_bench._util.stats import Estimate, adjust_p_values, bootstrap_ci, paired_bootstrap
from xrec_bench.harness.record import as_array
from xrec_bench.leaderboard.load import Board

NOT_SIG_BEST = "†"
NOT_SIG_RANDOM = "‡"
NOT_COMPARED = "◦"
BEATS_BEST = "▲"
DATA_BASELINE = "data baseline"
RANDOM = "random"
GROUP_ORDER = ("faithfulness", "ground-truth", "stability", "sanity", "cost", "accuracy")
N_BOOT = 1000
#: a row must cover this share of the widest row's users to be compared on a metric
COVERAGE = 0.9
#: fewer common users than this: the metric is shown but no row is bolded
MIN_N = 30
#: false discovery rate of the Benjamini-Hochberg correction within one table
FDR = 0.05


@dataclass
class Entry:
    estimate: Estimate  # over the row's own measured users (n = estimate.n)
    best: bool = False
    tie_best: bool = False  # difference from the best not significant (adjusted)
    tie_random: bool = False  # difference from random not significant (adjusted)
    compared: bool = True  # covers >= COVERAGE of the users of the widest row
    n_common: int = 0  # users the comparisons (best, marks) used
    p_best: float = float("nan")  # BH-adjusted p-value against the best row
    p_random: float = float("nan")  # BH-adjusted p-value against random
    beats_best: bool = False  # a data baseline significantly better than the best (a finding, not a crown)

    @property
    def marks(self) -> str:
        if not self.compared:
            return NOT_COMPARED
        return ((NOT_SIG_BEST if self.tie_best else "") + (NOT_SIG_RANDOM if self.tie_random else "")
                + (BEATS_BEST if self.beats_best else ""))

    def as_dict(self) -> dict[str, Any]:
        return {**self.estimate.as_dict(), "best": self.best, "marks": self.marks, "compared": self.compared,
                "n_common": self.n_common, "p_best": self.p_best, "p_random": self.p_random}


@dataclass
class Row:
    explainer: str
    status: str
    reason: str
    n_users: int  # users with at least one measured value (not the users requested)
    entries: dict[str, Entry] = field(default_factory=dict)
    curves: dict[str, list[float | None]] = field(default_factory=dict)
    model_blind: bool = False  # a data baseline: never crowned
    n_requested: int = 0
    plugin: dict[str, str] | None = None  # a plugin explainer's provenance: package, version, entry

    @property
    def label(self) -> str:
        label = f"{self.explainer} ({DATA_BASELINE})" if self.model_blind else self.explainer
        if self.plugin:
            label += f" (plugin {self.plugin.get('package')} {self.plugin.get('version')})"
        return label


@dataclass
class Table:
    dataset: str
    model: str
    granularity: str
    metrics: list[str]
    directions: dict[str, bool]
    rows: list[Row]
    accuracy: dict[str, dict[str, Estimate]]  # model label -> metric -> estimate (explained model first)
    ranked: dict[str, bool] = field(default_factory=dict)  # metric -> does the table rank it

    @property
    def slug(self) -> str:
        return f"{self.dataset}__{self.model}__{self.granularity}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset, "model": self.model, "granularity": self.granularity, "metrics": self.metrics,
            "higher_is_better": self.directions, "ranked": self.ranked,
            "accuracy": {m: {k: e.as_dict() for k, e in v.items()} for m, v in self.accuracy.items()},
            "rows": [{"explainer": r.explainer, "status": r.status, "reason": r.reason, "n_users": r.n_users,
                      "n_requested": r.n_requested, "model_blind": r.model_blind, "plugin": r.plugin,
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


def _paired(a: dict[tuple, float], b: dict[tuple, float], keys: list[tuple]):
    return paired_bootstrap([a[k] for k in keys], [b[k] for k in keys], n_boot=N_BOOT, seed=0)


def metric_order(specs: dict[str, dict[str, Any]], names: set[str]) -> list[str]:
    def rank(name: str) -> tuple:  # by group; within a group, ranked metrics before reference values
        group = specs.get(name, {}).get("group", "")
        reference = not specs.get(name, {}).get("ranked", True)
        return (GROUP_ORDER.index(group) if group in GROUP_ORDER else len(GROUP_ORDER), reference, name)

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
    ranked = {m: bool(board.metric_specs.get(m, {}).get("ranked", True)) for m in metrics}
    rows: list[Row] = []
    values: dict[str, dict[str, dict[tuple, float]]] = {}
    for explainer, ecells in sorted(by_explainer.items()):
        ok = [c for c in ecells if c["status"] == "ok"]
        status = "ok" if ok else ecells[0]["status"]
        reason = "" if ok else "; ".join(sorted({c.get("reason", "") for c in ecells}))
        blind = any((c.get("explainer_flags") or {}).get("model_blind", False) for c in ecells)
        values[explainer] = {m: {k: v for k, v in aligned(ok, m).items() if np.isfinite(v)} for m in metrics}
        measured = set().union(*values[explainer].values()) if metrics else set()
        row = Row(explainer, status, reason, len(measured), model_blind=blind,
                  n_requested=sum(len(c["users"]) for c in ok),
                  plugin=next((c["plugin"] for c in ecells if c.get("plugin")), None))
        for m in metrics:
            if values[explainer][m]:
                row.entries[m] = Entry(bootstrap_ci(list(values[explainer][m].values()), n_boot=N_BOOT, seed=0))
        row.curves = _mean_curves(ok)
        rows.append(row)
    tests: list[tuple[Entry, str, float, bool]] = []  # (entry, "best" | "random", raw p-value, entry is better)
    for m in metrics:
        if ranked[m]:
            findings = board.metric_specs.get(m, {}).get("group") != "cost"  # no model calls is cheap by design
            tests += _compare(m, [r for r in rows if m in r.entries], values, directions[m], findings=findings)
    adjusted = adjust_p_values([p for _, _, p, _ in tests])
    for (entry, against, _, better), p in zip(tests, adjusted, strict=True):
        significant = bool(p < FDR)
        if against == "best":
            entry.p_best, entry.tie_best = float(p), not significant
            entry.beats_best = significant and better
        else:
            entry.p_random, entry.tie_random = float(p), not significant
    accuracy = {}
    for label in [model] + sorted(k for k in accuracy_cells if k != model):
        acells = accuracy_cells.get(label, [])
        names_acc = sorted({m for c in acells for m in c["metrics"]})
        accuracy[label] = {m: bootstrap_ci(list(aligned(acells, m).values()), n_boot=N_BOOT, seed=0) for m in names_acc}
    return Table(dataset, model, granularity, metrics, directions, rows, accuracy, ranked)


def common_users(keys: dict[str, set[tuple]], *, coverage: float = COVERAGE) -> tuple[set[str], set[tuple]]:
    """``(compared rows, common users)``: rows covering at least ``coverage`` of the users of the
    widest row, and the users every one of them measured."""
    if not keys:
        return set(), set()
    widest = max(len(k) for k in keys.values())
    compared = {name for name, k in keys.items() if k and len(k) >= coverage * widest}
    common = set.intersection(*(keys[name] for name in compared)) if compared else set()
    return compared, common


def _compare(metric: str, scored: list[Row], values, higher_is_better: bool, *,
             findings: bool = True) -> list[tuple[Entry, str, float, bool]]:
    """Mark compared rows and the best on the common users; returns the tests to adjust (raw p-values)."""
    compared, common = common_users({r.explainer: set(values[r.explainer][metric]) for r in scored})
    keys = sorted(common)
    for r in scored:
        r.entries[metric].compared = r.explainer in compared
        r.entries[metric].n_common = len(keys) if r.explainer in compared else 0
    rows = [r for r in scored if r.explainer in compared]
    if not keys or not rows:
        return []
    sign = 1.0 if higher_is_better else -1.0
    means = {r.explainer: float(np.mean([values[r.explainer][metric][k] for k in keys])) for r in rows}
    eligible = [r for r in rows if not r.model_blind]
    best = max(eligible, key=lambda r: (sign * means[r.explainer], r.explainer)) if eligible else None
    tests: list[tuple[Entry, str, float, bool]] = []
    if best is not None and len(keys) >= MIN_N:
        best.entries[metric].best = True
        for r in rows:
            if r is not best:
                c = _paired(values[r.explainer][metric], values[best.explainer][metric], keys)
                tests.append((r.entries[metric], "best", c.p_value, bool(findings and r.model_blind and sign * c.diff > 0)))
    if RANDOM in {r.explainer for r in rows}:
        for r in rows:
            if r.explainer != RANDOM:
                p = _paired(values[r.explainer][metric], values[RANDOM][metric], keys).p_value
                tests.append((r.entries[metric], "random", p, False))
    return tests


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
