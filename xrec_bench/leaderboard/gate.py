"""The CI regression gate: compare a candidate run with a baseline (run or leaderboard), metric by metric.

Comparability first: runs of another suite version or content, another configuration (``config_hash``:
e.g. a ``--users`` override) or other dataset checksums are refused (``allow_incomparable`` compares
them anyway, with a warning). Then, for each cell (dataset x model x granularity x explainer, seeds
pooled) and each metric, in the metric's own direction:

* quality metrics, **exact mode** (baseline and candidate share the suite version, the package
  version and the device kind, so the pipeline is deterministic): every per-user value must be
  identical; any change is a regression until the suite version is bumped and the leaderboard
  regenerated.
* quality metrics, **tolerance mode** (otherwise): a paired bootstrap over the users both runs
  explained. A *regression* is a worsening whose CI (``level``, 99% by default) excludes zero AND
  whose size exceeds ``max(rtol * |baseline mean|, atol)``. Fewer than ``min_pairs`` shared users:
  *inconclusive*, never a regression.
* model evaluations (``n_evals``, deterministic): the mean over shared users may grow by at most
  ``evals_rtol`` (0: not at all).
* latency (``wall_time_s``): per-user timings on a shared machine are not independent samples, so
  they are never gated. The cell's timing probe (``harness.timing``: blocks interleaved with a
  reference workload, thread CPU time, medians) gives the latency in reference units; the ratio
  candidate/baseline is a regression above ``latency_threshold``, calibrated from measured
  run-to-run noise (:func:`calibrate`, stored next to the baseline). A cell without a judged probe
  on both sides is *not judged*, with the reason.
* a cell that was ok in the baseline and failed or is missing in the candidate is a regression.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from xrec_bench._util.stats import paired_bootstrap
from xrec_bench.harness.record import as_array
from xrec_bench.leaderboard.load import Board, MergeError
from xrec_bench.leaderboard.plots import is_latency

N_BOOT = 2000
#: the latency threshold used when the baseline has no calibration file next to it
DEFAULT_LATENCY_THRESHOLD = 1.5
#: a calibrated threshold is the largest run-to-run ratio seen, squared (log-space margin 2x), at least this
MIN_LATENCY_THRESHOLD = 1.2
MIN_CALIBRATION_RUNS = 3
FAILING = ("regression", "changed", "missing", "failed")


@dataclass(frozen=True)
class GateConfig:
    rtol: float = 0.05
    atol: float = 1e-3
    level: float = 0.99
    latency_threshold: float = DEFAULT_LATENCY_THRESHOLD
    evals_rtol: float = 0.0
    min_pairs: int = 10
    exact: str = "auto"  # auto | always | never
    allow_incomparable: bool = False

    def __post_init__(self) -> None:
        for name, low, high in (("rtol", 0, 10), ("atol", 0, 1e9), ("level", 0.5, 0.9999),
                                ("latency_threshold", 1.0, 100), ("evals_rtol", 0, 100), ("min_pairs", 2, 10**9)):
            value = getattr(self, name)
            if not (low <= value <= high):
                raise ValueError(f"The gate's {name!r} must be in [{low}, {high}]. Got {value!r} instead.")
        if self.exact not in ("auto", "always", "never"):
            raise ValueError(f"The gate's 'exact' must be one of auto, always, never. Got {self.exact!r} instead.")


@dataclass(frozen=True)
class Finding:
    cell: str
    metric: str
    # regression | changed | improvement | ok | inconclusive | not judged | new | missing | failed
    verdict: str
    baseline: float = float("nan")
    candidate: float = float("nan")
    diff: float = float("nan")  # candidate - baseline (for latency: the ratio candidate/baseline)
    low: float = float("nan")
    high: float = float("nan")
    n: int = 0
    note: str = ""


@dataclass
class GateReport:
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    mode: str = "tolerance"

    @property
    def regressions(self) -> list[Finding]:
        return [f for f in self.findings if f.verdict in FAILING]

    def having(self, verdict: str) -> list[Finding]:
        return [f for f in self.findings if f.verdict == verdict]

    @property
    def passed(self) -> bool:
        return not self.regressions


def cell_name(cell: dict[str, Any]) -> str:
    k = cell["key"]
    return "/".join(str(k[x]) for x in ("dataset", "model", "granularity", "explainer"))


def _cells(board: Board) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for cell in board.cells:
        out[cell_name(cell)].append(cell)
    return out


def _per_user(cells: list[dict[str, Any]], metric: str, *, finite: bool = True) -> dict[tuple[int, int], float]:
    """A metric's values by (user, target), averaged over seeds (NaN dropped unless ``finite`` is False)."""
    acc: dict[tuple[int, int], list[float]] = defaultdict(list)
    for cell in sorted(cells, key=lambda c: c["cache_key"]):
        if cell["status"] != "ok" or metric not in cell.get("metrics", {}):
            continue
        for u, t, v in zip(cell["users"], cell["targets"], as_array(cell["metrics"][metric]), strict=True):
            if np.isfinite(v) or not finite:
                acc[(u, t)].append(v)
    return {k: float(np.mean(v)) for k, v in acc.items()}


def timing_ratio(cells: list[dict[str, Any]]) -> tuple[float, str]:
    """The cell's latency in reference units (median over seeds' probes), or NaN and why not."""
    probes = [c.get("timing") for c in cells if c["status"] == "ok"]
    if not probes or any(p is None for p in probes):
        return float("nan"), "no timing probe recorded (a run from before the probe, or a cached cell)"
    bad = [p["reason"] for p in probes if not p.get("judged")]
    if bad:
        return float("nan"), bad[0]
    return float(np.median([p["ratio"] for p in probes])), ""


def comparable(baseline: Board, candidate: Board) -> list[str]:
    """Why the two boards' numbers cannot be compared (empty when they can)."""
    sb, sc = baseline.suite, candidate.suite
    problems = []
    if sb["name"] != sc["name"]:
        problems.append(f"the baseline ran suite {sb['name']!r} and the candidate {sc['name']!r}")
    if (sb["version"], sb["content_hash"]) != (sc["version"], sc["content_hash"]):
        problems.append(f"suite version differs: baseline v{sb['version']} ({sb['content_hash'][:12]}), candidate "
                        f"v{sc['version']} ({sc['content_hash'][:12]})")
    if baseline.config_hash != candidate.config_hash:
        problems.append(f"configuration differs (config_hash {baseline.config_hash[:12]} vs {candidate.config_hash[:12]}; "
                        f"users {sb.get('users')} vs {sc.get('users')}: a --users override?)")
    for label, info in sorted(candidate.datasets.items()):
        other = baseline.datasets.get(label)
        if other is not None and (other["fingerprint"] != info["fingerprint"] or
                                  other.get("checksums") != info.get("checksums")):
            problems.append(f"dataset {label!r} checksum differs ({other['fingerprint']} vs {info['fingerprint']})")
    return problems


def _identity(board: Board) -> set[tuple[str, str]]:
    """(package version, device kind) of every run merged into ``board``."""
    out = set()
    for run in board.runs:
        env = run.get("environment") or {}
        out.add((str(run.get("package_version")), f"{env.get('device')} | {env.get('cpu', '')}"))
    return out


def exact_mode(baseline: Board, candidate: Board) -> tuple[bool, str]:
    ib, ic = _identity(baseline), _identity(candidate)
    if len(ib) == 1 and ib == ic:
        version, device = next(iter(ib))
        return True, f"exact: same suite version, package {version} and device ({device})"
    return False, f"tolerance: package/device differ (baseline {sorted(ib)}, candidate {sorted(ic)})"


def compare(baseline: Board, candidate: Board, config: GateConfig | None = None) -> GateReport:
    cfg = config or GateConfig()
    report = GateReport()
    problems = comparable(baseline, candidate)
    if problems and baseline.suite["name"] != candidate.suite["name"]:
        raise MergeError(f"Not comparable: {problems[0]}. Compare runs of the same suite.")
    if problems and not cfg.allow_incomparable:
        raise MergeError("The candidate is not comparable with the baseline: " + "; ".join(problems) +
                         ". Run the same suite version on the same data with the same settings (no --users), or "
                         "pass --allow-incomparable to compare the cells they share anyway.")
    for p in problems:
        report.notes.append(f"WARNING: compared although not comparable ({p}); only shared cells and users count.")
    exact, why = exact_mode(baseline, candidate)
    exact = not problems and (cfg.exact == "always" or (cfg.exact == "auto" and exact))
    report.mode = "exact" if exact else "tolerance"
    if exact:
        report.notes.append(f"quality metrics compared exactly ({why if cfg.exact == 'auto' else 'exact=always'})")
    else:
        report.notes.append("quality metrics compared with tolerances ("
                            + (why if cfg.exact == "auto" and not problems else "exact mode off") + ")")
    report.notes.append(f"latency threshold: ratio > {cfg.latency_threshold:.3g}")
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
        for metric in sorted({m for c in b_ok for m in c.get("metrics", {})}):
            spec = specs.get(metric, {})
            if is_latency(metric, spec):
                finding = _compare_latency(name, metric, b_ok, c_ok, cfg)
            elif metric == "n_evals":
                finding = _compare_evals(name, metric, b_ok, c_ok, cfg)
            elif exact:
                finding = _compare_exact(name, metric, b_ok, c_ok)
            else:
                finding = _compare_quality(name, metric, spec, b_ok, c_ok, cfg)
            report.findings.append(finding)
    return report


def _compare_latency(name, metric, b_cells, c_cells, cfg: GateConfig) -> Finding:
    rb, why_b = timing_ratio(b_cells)
    rc, why_c = timing_ratio(c_cells)
    if not (np.isfinite(rb) and np.isfinite(rc)):
        return Finding(name, metric, "not judged", rb, rc, note=f"baseline: {why_b or 'ok'}; candidate: {why_c or 'ok'}")
    ratio = rc / rb
    verdict = ("regression" if ratio > cfg.latency_threshold else
               "improvement" if ratio < 1 / cfg.latency_threshold else "ok")
    return Finding(name, metric, verdict, rb, rc, ratio, n=1,
                   note=f"latency in reference units (interleaved probe), ratio vs threshold {cfg.latency_threshold:.3g}")


def _shared(b_cells, c_cells, metric, *, finite=True):
    b, c = _per_user(b_cells, metric, finite=finite), _per_user(c_cells, metric, finite=finite)
    return b, c, sorted(set(b) & set(c))


def _compare_evals(name, metric, b_cells, c_cells, cfg: GateConfig) -> Finding:
    b, c, shared = _shared(b_cells, c_cells, metric)
    if not shared:
        return Finding(name, metric, "inconclusive", note="no shared users with model-evaluation counts")
    mb, mc = float(np.mean([b[k] for k in shared])), float(np.mean([c[k] for k in shared]))
    allowed = mb * (1 + cfg.evals_rtol) + 1e-9 * max(1.0, abs(mb))
    verdict = "regression" if mc > allowed else "improvement" if mc < mb - 1e-9 * max(1.0, abs(mb)) else "ok"
    return Finding(name, metric, verdict, mb, mc, mc - mb, n=len(shared),
                   note=f"model evaluations, mean over {len(shared)} shared users; allowed growth {cfg.evals_rtol:.3g}")


def _compare_exact(name, metric, b_cells, c_cells) -> Finding:
    b, c, shared = _shared(b_cells, c_cells, metric, finite=False)
    if not shared:
        return Finding(name, metric, "inconclusive", note="no shared users")
    bv, cv = np.array([b[k] for k in shared]), np.array([c[k] for k in shared])
    same = (bv == cv) | (np.isnan(bv) & np.isnan(cv))
    mb, mc = float(np.nanmean(bv)) if np.isfinite(bv).any() else math.nan, \
        float(np.nanmean(cv)) if np.isfinite(cv).any() else math.nan
    if same.all():
        return Finding(name, metric, "ok", mb, mc, 0.0, n=len(shared), note="identical")
    worst = float(np.nanmax(np.abs(np.where(same, 0.0, cv - bv)))) if np.isfinite(cv - bv).any() else math.nan
    return Finding(name, metric, "changed", mb, mc, mc - mb, n=len(shared),
                   note=f"{int((~same).sum())} of {len(shared)} values differ (max |diff| {worst:.3g}): a published "
                        "number moved; bump the suite version and regenerate the leaderboard")


def _compare_quality(name, metric, spec, b_cells, c_cells, cfg: GateConfig) -> Finding:
    b, c, shared = _shared(b_cells, c_cells, metric)
    if not b:
        return Finding(name, metric, "ok", note="no finite baseline values")
    if not c:
        return Finding(name, metric, "regression", float(np.mean(list(b.values()))),
                       note="no finite values in the candidate")
    if len(shared) < cfg.min_pairs:
        return Finding(name, metric, "inconclusive", n=len(shared),
                       note=f"{len(shared)} shared users, fewer than the {cfg.min_pairs} the paired test needs")
    sign = 1.0 if spec.get("higher_is_better", True) else -1.0
    pc = paired_bootstrap([c[k] for k in shared], [b[k] for k in shared], n_boot=N_BOOT, level=cfg.level, seed=0)
    base_mean = float(np.mean([b[k] for k in shared]))
    tol = max(cfg.rtol * abs(base_mean), cfg.atol)
    worse_ci = max(sign * pc.low, sign * pc.high) < 0  # the whole CI on the worse side
    better_ci = min(sign * pc.low, sign * pc.high) > 0
    verdict = ("regression" if worse_ci and sign * pc.diff < -tol else
               "improvement" if better_ci and sign * pc.diff > tol else "ok")
    return Finding(name, metric, verdict, base_mean, base_mean + pc.diff, pc.diff, pc.low, pc.high, pc.n,
                   f"paired; tolerance {tol:.3g}")


def calibrate(boards: list[Board]) -> dict[str, Any]:
    """The latency threshold from >= 3 clean runs of unchanged code: their largest run-to-run ratio, squared.

    Three, not two: on a 2-core machine under load 12-17, a threshold from two runs (1.42) raised 2
    false alarms in 5 clean re-runs; from three (2.08), none (benchmarks/GATE.md).

    Per cell, the spread is max/min of the probe's ratio over the runs; the threshold is
    ``max(MIN_LATENCY_THRESHOLD, max_spread ** 2)``. Cells whose probe is not judged do not count.
    """
    if len(boards) < MIN_CALIBRATION_RUNS:
        raise ValueError(f"Calibration needs at least {MIN_CALIBRATION_RUNS} clean runs of the same suite; "
                         f"got {len(boards)}. Run the suite again into new folders and pass them all.")
    for other in boards[1:]:
        problems = comparable(boards[0], other)
        if problems:
            raise MergeError("Calibration runs must be comparable: " + "; ".join(problems))
    per_run = [{n: timing_ratio(cs)[0] for n, cs in _cells(b).items()} for b in boards]
    spreads = {}
    for name in sorted(set.intersection(*(set(r) for r in per_run))):
        values = [r[name] for r in per_run]
        if all(np.isfinite(v) and v > 0 for v in values):
            spreads[name] = max(values) / min(values)
    if not spreads:
        raise ValueError("No cell has a judged timing probe in every calibration run: nothing to calibrate.")
    worst = max(spreads.values())
    suite = boards[0].suite
    return {
        "schema_version": 1,
        "suite": {"name": suite["name"], "version": suite["version"], "content_hash": suite["content_hash"]},
        "config_hash": boards[0].config_hash,
        "runs": [r.get("run_id") for b in boards for r in b.runs],
        "n_cells": len(spreads),
        "max_spread": worst,
        "median_spread": float(np.median(list(spreads.values()))),
        "latency_threshold": max(MIN_LATENCY_THRESHOLD, worst ** 2),
        "rule": "latency_threshold = max(1.2, max over cells of (max/min probe ratio across runs) ** 2)",
        "spread_per_cell": spreads,
    }


def to_markdown(report: GateReport, *, baseline: str, candidate: str, limit: int = 50) -> str:
    """A summary for a CI job page: the verdict, every regression, then what was not judged, improvements."""
    regressions = report.regressions
    compared = [f for f in report.findings if f.metric != "*"]
    counts = {v: len(report.having(v)) for v in ("improvement", "inconclusive", "not judged")}
    head = "PASSED" if report.passed else "FAILED"
    lines = [f"## xrec-bench gate: {head}", "",
             f"Baseline `{baseline}` vs candidate `{candidate}`: {len(compared)} metric comparisons, "
             f"{len(regressions)} regression(s), {counts['improvement']} improvement(s), "
             f"{counts['inconclusive']} inconclusive, {counts['not judged']} latency not judged.", ""]
    lines += [f"> {n}" for n in report.notes]

    def table(title: str, items: list[Finding]) -> None:
        if not items:
            return
        lines.extend(["", f"### {title}", "", "| cell | metric | verdict | baseline | candidate | diff [CI] | n | note |",
                      "|---|---|---|---|---|---|---|---|"])
        for f in items[:limit]:
            ci = "" if f.diff != f.diff else f"{f.diff:+.4g}" + ("" if f.low != f.low else f" [{f.low:+.4g}, {f.high:+.4g}]")
            lines.append(f"| {f.cell} | {f.metric} | {f.verdict} | {f.baseline:.4g} | {f.candidate:.4g} | {ci} | "
                         f"{f.n} | {f.note} |")
        if len(items) > limit:
            lines.append(f"| … {len(items) - limit} more | | | | | | | |")

    table("Regressions", regressions)
    table("Improvements", report.having("improvement"))
    table("Inconclusive", report.having("inconclusive"))
    table("Latency not judged", report.having("not judged"))
    new = [f.cell for f in report.findings if f.verdict == "new"]
    if new:
        lines += ["", f"New cells (not in the baseline): {', '.join(new[:limit])}"]
    return "\n".join(lines) + "\n"
