"""The CI regression gate: compare a candidate run with a baseline (run or leaderboard), metric by metric.

For each cell (dataset x model x explainer x granularity, seeds pooled) and each metric, in the
metric's own direction:

* quality metrics: a paired bootstrap over the users both runs explained (a user's values are
  averaged over seeds first). A *regression* is a worsening whose CI (``level``, default 99%, since
  a suite makes hundreds of comparisons) excludes zero AND whose size exceeds the tolerance
  ``max(rtol * |baseline mean|, atol)``. Noise fails neither test; a real drop fails both.
  With too few shared users the two sides are resampled independently instead.
* latency metrics (cost metrics in seconds): the ratio of median latencies, each divided by the
  reference workload timed in the same run, so a slower machine is not a slower explainer. A
  regression is a normalised ratio whose bootstrap CI lies above ``1 + latency_tolerance``.
* a cell that was ok in the baseline and failed or is missing in the candidate is a regression.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from xrec_bench.harness.record import as_array
from xrec_bench.leaderboard.load import Board, MergeError
from xrec_bench.leaderboard.plots import is_latency
from xrec_bench.metrics.stats import paired_bootstrap

N_BOOT = 2000


@dataclass(frozen=True)
class GateConfig:
    rtol: float = 0.05
    atol: float = 1e-3
    level: float = 0.99
    latency_tolerance: float = 0.5
    min_pairs: int = 10

    def __post_init__(self) -> None:
        for name, low, high in (("rtol", 0, 10), ("atol", 0, 1e9), ("level", 0.5, 0.9999),
                                ("latency_tolerance", 0, 100), ("min_pairs", 2, 10**9)):
            value = getattr(self, name)
            if not (low <= value <= high):
                raise ValueError(f"The gate's {name!r} must be in [{low}, {high}]. Got {value!r} instead.")


@dataclass(frozen=True)
class Finding:
    cell: str
    metric: str
    verdict: str  # regression | improvement | ok | new | missing | failed
    baseline: float = float("nan")
    candidate: float = float("nan")
    diff: float = float("nan")  # candidate - baseline (for latency: the normalised ratio)
    low: float = float("nan")
    high: float = float("nan")
    n: int = 0
    note: str = ""


@dataclass
class GateReport:
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def regressions(self) -> list[Finding]:
        return [f for f in self.findings if f.verdict in ("regression", "missing", "failed")]

    @property
    def passed(self) -> bool:
        return not self.regressions


def _cells(board: Board) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for cell in board.cells:
        k = cell["key"]
        out["/".join(str(k[x]) for x in ("dataset", "model", "granularity", "explainer"))].append(cell)
    return out


def _per_user(cells: list[dict[str, Any]], metric: str) -> dict[tuple[int, int], float]:
    """A metric's values by (user, target), averaged over seeds (NaN dropped)."""
    acc: dict[tuple[int, int], list[float]] = defaultdict(list)
    for cell in cells:
        if cell["status"] != "ok" or metric not in cell.get("metrics", {}):
            continue
        for u, t, v in zip(cell["users"], cell["targets"], as_array(cell["metrics"][metric]), strict=True):
            if np.isfinite(v):
                acc[(u, t)].append(v)
    return {k: float(np.mean(v)) for k, v in acc.items()}


def _unpaired(a: np.ndarray, b: np.ndarray, level: float, seed: int = 0) -> tuple[float, float, float]:
    """Mean difference a - b and its percentile-bootstrap CI, resampling the two sides independently."""
    r = np.random.default_rng(seed)
    da = a[r.integers(0, a.size, (N_BOOT, a.size))].mean(axis=1)
    db = b[r.integers(0, b.size, (N_BOOT, b.size))].mean(axis=1)
    alpha = (1 - level) / 2
    d = da - db
    return float(a.mean() - b.mean()), float(np.quantile(d, alpha)), float(np.quantile(d, 1 - alpha))


def _latency_ratio(a: np.ndarray, b: np.ndarray, ref_a: float, ref_b: float, level: float, seed: int = 0):
    """(median(a)/ref_a) / (median(b)/ref_b) with a bootstrap CI (timing noise is not paired)."""
    r = np.random.default_rng(seed)
    ma = np.median(a[r.integers(0, a.size, (N_BOOT, a.size))], axis=1)
    mb = np.median(b[r.integers(0, b.size, (N_BOOT, b.size))], axis=1)
    scale = ref_b / ref_a
    ratios = scale * ma / np.maximum(mb, 1e-12)
    alpha = (1 - level) / 2
    point = scale * float(np.median(a)) / max(float(np.median(b)), 1e-12)
    return point, float(np.quantile(ratios, alpha)), float(np.quantile(ratios, 1 - alpha))


def compare(baseline: Board, candidate: Board, config: GateConfig | None = None) -> GateReport:
    cfg = config or GateConfig()
    report = GateReport()
    _check_comparable(baseline, candidate, report)
    ref_b, ref_c = baseline.reference_seconds, candidate.reference_seconds
    base_cells, cand_cells = _cells(baseline), _cells(candidate)
    specs = {**baseline.metric_specs, **candidate.metric_specs}
    for name in sorted(set(cand_cells) - set(base_cells)):
        report.findings.append(Finding(name, "*", "new", note="cell not in the baseline"))
    for name in sorted(base_cells):
        b_ok = [c for c in base_cells[name] if c["status"] == "ok"]
        if not b_ok:
            continue
        c_all = cand_cells.get(name, [])
        c_ok = [c for c in c_all if c["status"] == "ok"]
        if not c_all:
            report.findings.append(Finding(name, "*", "missing", note="the candidate did not run this cell"))
            continue
        if not c_ok:
            reason = "; ".join(sorted({c.get("reason", "") for c in c_all}))
            report.findings.append(Finding(name, "*", "failed", note=f"{c_all[0]['status']}: {reason}"))
            continue
        metrics = sorted({m for c in b_ok for m in c.get("metrics", {})})
        for metric in metrics:
            report.findings.append(_compare_metric(name, metric, specs.get(metric, {}), b_ok, c_ok, ref_b, ref_c, cfg))
    return report


def _compare_metric(name, metric, spec, b_cells, c_cells, ref_b, ref_c, cfg: GateConfig) -> Finding:
    b, c = _per_user(b_cells, metric), _per_user(c_cells, metric)
    if not b:
        return Finding(name, metric, "ok", note="no finite baseline values")
    if not c:
        return Finding(name, metric, "regression", np.mean(list(b.values())), note="no finite values in the candidate")
    bv, cv = np.array(list(b.values())), np.array(list(c.values()))
    if is_latency(metric, spec):
        if not (np.isfinite(ref_b) and np.isfinite(ref_c) and ref_b > 0 and ref_c > 0):
            return Finding(name, metric, "ok", note="no reference workload timing: latency not compared")
        ratio, low, high = _latency_ratio(cv, bv, ref_c, ref_b, cfg.level)
        verdict = ("regression" if low > 1 + cfg.latency_tolerance else
                   "improvement" if high < 1 / (1 + cfg.latency_tolerance) else "ok")
        return Finding(name, metric, verdict, float(np.median(bv)), float(np.median(cv)), ratio, low, high,
                       min(bv.size, cv.size), "normalised latency ratio (candidate/baseline)")
    sign = 1.0 if spec.get("higher_is_better", True) else -1.0
    shared = sorted(set(b) & set(c))
    if len(shared) >= cfg.min_pairs:
        pc = paired_bootstrap([c[k] for k in shared], [b[k] for k in shared], n_boot=N_BOOT, level=cfg.level, seed=0)
        diff, low, high, n, how = pc.diff, pc.low, pc.high, pc.n, "paired"
        base_mean = float(np.mean([b[k] for k in shared]))
    else:
        diff, low, high = _unpaired(cv, bv, cfg.level)
        n, how, base_mean = min(bv.size, cv.size), "unpaired", float(bv.mean())
    tol = max(cfg.rtol * abs(base_mean), cfg.atol)
    worse_ci = max(sign * low, sign * high) < 0  # the whole CI on the worse side
    better_ci = min(sign * low, sign * high) > 0
    verdict = ("regression" if worse_ci and sign * diff < -tol else
               "improvement" if better_ci and sign * diff > tol else "ok")
    return Finding(name, metric, verdict, base_mean, base_mean + diff, diff, low, high, n,
                   f"{how}; tolerance {tol:.3g}")


def _check_comparable(baseline: Board, candidate: Board, report: GateReport) -> None:
    sb, sc = baseline.suite, candidate.suite
    if sb["name"] != sc["name"]:
        raise MergeError(f"The baseline ran suite {sb['name']!r} and the candidate {sc['name']!r}: "
                         "compare runs of the same suite.")
    if (sb["version"], sb["content_hash"]) != (sc["version"], sc["content_hash"]):
        report.notes.append(f"suite changed: baseline v{sb['version']} ({sb['content_hash'][:12]}), candidate "
                            f"v{sc['version']} ({sc['content_hash'][:12]}); only cells present in both are compared.")
    for label, info in candidate.datasets.items():
        other = baseline.datasets.get(label)
        if other is not None and other["fingerprint"] != info["fingerprint"]:
            raise MergeError(f"Dataset {label!r} differs between baseline ({other['fingerprint']}) and candidate "
                             f"({info['fingerprint']}): their numbers are not comparable.")


def to_markdown(report: GateReport, *, baseline: str, candidate: str, limit: int = 50) -> str:
    """A summary for a CI job page: the verdict, every regression, then improvements."""
    regressions = report.regressions
    improvements = [f for f in report.findings if f.verdict == "improvement"]
    compared = [f for f in report.findings if f.metric != "*"]
    head = "PASSED" if report.passed else "FAILED"
    lines = [f"## xrec-bench gate: {head}", "",
             f"Baseline `{baseline}` vs candidate `{candidate}`: {len(compared)} metric comparisons, "
             f"{len(regressions)} regression(s), {len(improvements)} improvement(s).", ""]
    lines += [f"> {n}" for n in report.notes]

    def table(title: str, items: list[Finding]) -> None:
        if not items:
            return
        lines.extend(["", f"### {title}", "", "| cell | metric | baseline | candidate | diff [CI] | n | note |",
                      "|---|---|---|---|---|---|---|"])
        for f in items[:limit]:
            ci = "" if f.diff != f.diff else f"{f.diff:+.4g} [{f.low:+.4g}, {f.high:+.4g}]"
            lines.append(f"| {f.cell} | {f.metric} | {f.baseline:.4g} | {f.candidate:.4g} | {ci} | {f.n} | {f.note} |")
        if len(items) > limit:
            lines.append(f"| … {len(items) - limit} more | | | | | | |")

    table("Regressions", regressions)
    table("Improvements", improvements)
    new = [f.cell for f in report.findings if f.verdict == "new"]
    if new:
        lines += ["", f"New cells (not in the baseline): {', '.join(new[:limit])}"]
    return "\n".join(lines) + "\n"
