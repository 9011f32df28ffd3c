"""``xrec-bench evaluate``: measure explainers on one dataset, model and granularity.

It runs a one-cell suite through the harness (:func:`xrec_bench.api.one_cell_suite`, the explainers
plus the ``random`` baseline): the suite's user sampling, model, seeds, metrics and caches. So
``xrec-bench evaluate --seed S`` gives the per-user values of the cells of a suite with ``seed = S``
and the same entries, and it reuses the model ``xrec-bench train`` or ``xrec-bench run`` trained.
Cells and run records go to ``--out`` (default ``runs/cli``); a repeated command reuses its cells.

What is explained (``--target``): the model's top-1 recommendation (``top-recommendation``, the
default, as in suite files) or the user's held-out test item (``test-item``: on ``synthetic`` the
planted target IS the test item, so ground truth applies). ``test`` and ``top1`` are deprecated
aliases (with a warning). Every explainer is compared with ``random`` on the same users (paired
bootstrap). Prints a table of every metric (mean and bootstrap 95% CI over users), the differences
to random, the cost, and saves the deletion/insertion curves as a PNG.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from xrec_bench.cli import CliError
from xrec_bench.cli.options import add_options, pairs, suite_problems
from xrec_bench.cli.train import DEFAULT_OUT
from xrec_bench.explainers.targets import ALIASES, DEFAULT_TARGET, TARGETS, resolve_target
from xrec_bench.models.base import GRANULARITIES

log = logging.getLogger(__name__)
BASELINE = "random"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("evaluate", help="measure explainers' faithfulness, agreement, stability and cost")
    p.add_argument("--dataset", required=True, help="dataset name, e.g. synthetic, movielens-100k")
    p.add_argument("--split", default="leave-last-out", choices=("leave-last-out", "temporal"))
    p.add_argument("--model", required=True, help="model name, e.g. bert-two-tower")
    p.add_argument("--explainers", required=True, help="comma-separated explainer names (random is added)")
    add_options(p, "--dataset-option", "--model-param", "--explainer-param", "--metric-option", notes={
        "--model-param": "; the model cache is keyed by them",
        "--explainer-param": "; with several explainers, each gets the parameters it declares",
        "--metric-option": "; a suite's [metric_options]",
    })
    p.add_argument("--granularity", required=True, choices=GRANULARITIES)
    p.add_argument("--users", type=int, default=50, help="number of test users to sample (default 50)")
    p.add_argument("--seed", type=int, default=0,
                   help="the suite seed (default 0): user sample, model and explainers get the seeds a suite "
                        "with this seed gives them")
    p.add_argument("--target", choices=(*TARGETS, *ALIASES), default=DEFAULT_TARGET,
                   help=f"what is explained: {' or '.join(TARGETS)} (default {DEFAULT_TARGET}); "
                        f"{' and '.join(ALIASES)} are deprecated aliases")
    p.add_argument("--metrics", help="comma-separated metric or stage names (default: all applicable)")
    p.add_argument("--budget", type=int, metavar="N",
                   help="users that get the stability and sanity metrics, which re-run the explainer (short for "
                        "--metric-option stability_users=N --metric-option sanity_users=N; default: the suite "
                        "default, 50)")
    p.add_argument("--no-timing", action="store_true",
                   help="skip the latency probe (a suite's [timing] blocks = 0); metric values do not change")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"results folder (default {DEFAULT_OUT})")
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")
    p.add_argument("--plot", type=Path, help="PNG path of the curve plot (default runs/evaluate/<...>.png)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from xrec_bench.api import one_cell_suite
    from xrec_bench.api import run as run_one_cell
    from xrec_bench.harness.suite import SuiteError
    from xrec_bench.io import read_json

    if args.users < 1:
        raise CliError(f"--users must be >= 1. Got {args.users} instead.")
    args.target = resolve_target(args.target)  # warns on a deprecated alias
    names = [n.strip() for n in args.explainers.split(",") if n.strip()]
    if BASELINE not in names:
        names.append(BASELINE)
    metric_options = pairs(args, "--metric-option")
    if args.budget is not None:
        metric_options = {"stability_users": args.budget, "sanity_users": args.budget, **metric_options}
    metrics = expand_metrics(args.metrics.split(","), metric_options) if args.metrics else None
    try:
        entries = explainer_entries(names, pairs(args, "--explainer-param"))
        suite = one_cell_suite(entries, dataset=args.dataset, model=args.model, seed=args.seed,
                               granularity=args.granularity, users=args.users, metrics=metrics,
                               dataset_options=pairs(args, "--dataset-option"), split=args.split,
                               model_params=pairs(args, "--model-param"), metric_options=metric_options,
                               targets=args.target, timing={"blocks": 0} if args.no_timing else None)
    except SuiteError as exc:
        raise CliError(suite_problems(exc)) from None
    result = run_one_cell(suite, args.out, progress=not args.json)
    cells = {o.key["explainer"]: read_json(o.path) for o in result.outcomes if o.kind == "explainer"}
    (model,) = [m for m in result.record["models"] if m["explained"]]
    plot = args.plot or Path("runs") / "evaluate" / f"{args.dataset}_{args.model}_{args.granularity}_curves.png"
    curves = {name: cell_curves(c) for name, c in cells.items() if c["status"] == "ok"}
    fractions = _fractions(metric_options)
    plotted = (save_curves(curves, plot, title=f"{args.dataset} / {args.model} / {args.granularity}",
                           fractions=fractions) if any(curves.values()) else None)
    report = build_report(args, cells, plotted)
    report.update(model_this_run=model["this_run"], run_record=str(result.record_path))
    print(json.dumps(_finite(report), indent=2, default=_json_default) if args.json else render(report))
    return 1 if result.failed else 0


def explainer_entries(names: list[str], params: dict[str, Any]) -> list[dict[str, Any]]:
    """Suite entries of ``names``. With one explainer (besides ``random``) every parameter is its own;
    with several, each gets the parameters it declares, and one that none declares is an error."""
    from xrec_bench.explainers import EXPLAINERS

    methods = [n for n in names if n != BASELINE] or names
    if not params or len(methods) == 1:
        return [{"name": n, "params": dict(params) if n in methods else {}} for n in names]
    declared = {n: declared_params(EXPLAINERS, n) for n in methods}
    orphans = [k for k in params if not any(d is None or k in d for d in declared.values())]
    if orphans:
        raise CliError(f"--explainer-param {orphans[0]}: none of {methods} takes it. Their parameters: "
                       + "; ".join(f"{n}: {', '.join(sorted(d)) if d else '(none)'}" for n, d in declared.items()
                                   if d is not None) + ".")
    return [{"name": n, "params": {k: v for k, v in params.items() if n in declared and
                                   (declared[n] is None or k in declared[n])}} for n in names]


def declared_params(registry, name: str) -> set[str] | None:
    """The parameter names explainer ``name`` declares (``defaults``, else its keyword arguments);
    None when it takes any (``**params``) or cannot be resolved (the suite check then says why)."""
    import inspect

    try:
        cls = registry.get(name)
    except Exception:  # noqa: BLE001 - an unknown name: the suite's validation reports it with a suggestion
        return None
    defaults = getattr(cls, "defaults", None)
    if isinstance(defaults, dict) and defaults:
        return set(defaults)
    parameters = list(inspect.signature(cls.__init__).parameters.values())[1:]
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return None if not isinstance(defaults, dict) else set(defaults)
    return {p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


def expand_metrics(names: list[str], metric_options: dict[str, Any]) -> list[str]:
    """Metric names, a stage name (``faithfulness``) standing for every metric it computes."""
    from xrec_bench.metrics import EvalConfig
    from xrec_bench.metrics.base import METRICS
    from xrec_bench.metrics.stages import STAGES

    try:
        cfg = EvalConfig(**metric_options)
    except (TypeError, ValueError) as exc:
        raise CliError(f"--metric-option: {exc}") from None
    out: list[str] = []
    for name in (n.strip() for n in names if n.strip()):
        if METRICS.is_registered(name):
            out += list(METRICS.get(name).names(cfg))
        elif STAGES.is_registered(name):
            out += list(STAGES.get(name).metric_names(cfg))
        else:
            out.append(name)
    return list(dict.fromkeys(out))


def _fractions(metric_options: dict[str, Any]) -> np.ndarray:
    from xrec_bench.metrics import EvalConfig

    return np.asarray(EvalConfig(**metric_options).fractions, dtype=np.float64)


def cell_curves(cell: dict[str, Any]) -> dict[str, np.ndarray]:
    """A cell's per-user curves (``[n_users, n_points]``, None -> NaN)."""
    return {name: np.array([[np.nan if v is None else v for v in row] for row in rows], dtype=np.float64)
            for name, rows in (cell.get("curves_per_user") or {}).items() if rows}


def build_report(args, cells: dict[str, dict[str, Any]], plot: Path | None) -> dict[str, Any]:
    """Means with bootstrap CIs, paired differences to random, cost and flags, from the cell records."""
    from xrec_bench.harness.record import as_array
    from xrec_bench.metrics import relative_to
    from xrec_bench.metrics.stats import bootstrap_ci

    def as_result(name, cell):
        return SimpleNamespace(explainer=name, users=np.asarray(cell["users"]), targets=np.asarray(cell["targets"]),
                               per_user={m: as_array(v) for m, v in cell["metrics"].items()})

    base = cells.get(BASELINE)
    base = as_result(BASELINE, base) if base is not None and base["status"] == "ok" else None
    n_users = max((len(c.get("users", [])) for c in cells.values()), default=0)
    out: dict[str, Any] = {
        "dataset": args.dataset, "model": args.model, "granularity": args.granularity, "seed": args.seed,
        "users": n_users, "target": args.target, "plot": str(plot) if plot else None, "explainers": {},
    }
    for name, cell in cells.items():
        if cell["status"] != "ok":
            out["explainers"][name] = {cell["status"]: cell.get("reason", "")}
            continue
        res = as_result(name, cell)
        entry = {
            "metrics": {m: bootstrap_ci(v, seed=args.seed).as_dict() for m, v in res.per_user.items()},
            "cost": cell.get("info", {}).get("cost", {}),
            "flags": cell.get("info", {}).get("flags", {}),
            "skipped": _count_reasons(cell.get("skipped", [])),
            "timing": cell.get("timing"),
        }
        if base is not None and name != BASELINE:
            cmp = relative_to(res, base, metrics=list(res.per_user), seed=args.seed)
            entry["vs_random"] = {m: {"diff": c.diff, "low": c.low, "high": c.high, "p_value": c.p_value, "n": c.n}
                                  for m, c in cmp.items()}
        out["explainers"][name] = entry
    return out


def _count_reasons(skipped) -> dict[str, int]:
    counts: dict[str, int] = {}
    for _, reason in skipped:
        counts[reason] = counts.get(reason, 0) + 1
    return counts


def _fmt(x: float, digits: int = 3) -> str:
    """Fixed point, or 3 significant digits for small non-zero values (e.g. infidelity ~1e-4)."""
    if x is None or not math.isfinite(x):
        return "n/a"
    return f"{x:.2e}" if 0 < abs(x) < 10 ** -(digits - 1) else f"{x:.{digits}f}"


def render(report: dict[str, Any]) -> str:
    from xrec_bench.metrics.base import spec

    measured = {n: e for n, e in report["explainers"].items() if "metrics" in e}
    names = list(measured)
    metric_names = list(dict.fromkeys(m for e in measured.values() for m in e["metrics"]))
    lines = [f"{report['dataset']} / {report['model']} / {report['granularity']}: {report['users']} users "
             f"(target: {report['target']}), seed {report['seed']}. Mean [95% bootstrap CI] over users; "
             "n = users with a value.", ""]
    header = ["metric", "dir"] + names
    rows = []
    for m in metric_names:
        arrow = "↑" if spec(m).higher_is_better else "↓"
        cells = []
        for n in names:
            est = measured[n]["metrics"].get(m)
            cells.append("" if est is None else f"{_fmt(est['mean'])} [{_fmt(est['low'])}, {_fmt(est['high'])}] n={est['n']}")
        rows.append([m, arrow] + cells)
    lines += _table(header, rows)
    others = [n for n in names if n != BASELINE and "vs_random" in measured[n]]
    if others:
        lines += ["", "Difference to random on the same users (explainer - random) [95% paired bootstrap CI]; "
                      "* = CI excludes 0"]
        rows = []
        for m in metric_names:
            cells = []
            for n in others:
                c = measured[n]["vs_random"].get(m)
                cells.append("" if c is None or c["n"] == 0 else
                             f"{_signed(c['diff'])} [{_signed(c['low'])}, {_signed(c['high'])}]"
                             f"{'*' if not (c['low'] <= 0 <= c['high']) else ''}")
            rows.append([m] + cells)
        lines += _table(["metric"] + others, rows)
    lines += ["", "Cost per explainer (timings on a shared machine are noisy; prefer model evaluations):"]
    rows = []
    for n in names:
        c = measured[n]["cost"]
        timing = measured[n].get("timing") or {}
        latency = _fmt(timing["ratio"], 2) if timing.get("judged") else "n/a"
        rows.append([n, _fmt(c["n_evals_mean"], 1), _fmt(c["wall_time_p50_s"] * 1e3, 1),
                     _fmt(c["wall_time_p95_s"] * 1e3, 1), _fmt(c["explanations_per_s"], 1), latency,
                     _fmt(c["peak_rss_mb"], 0), str(c["n_explained"]), str(c["n_skipped"])])
    lines += _table(["explainer", "evals/expl", "p50 ms", "p95 ms", "expl/s", "latency (ref units)", "peak RSS MB",
                     "explained", "skipped"], rows)
    device = next(iter(measured.values()))["cost"]["device"] if measured else "n/a"
    lines.append(f"device: {device}")
    for n, e in report["explainers"].items():
        if isinstance(e.get("skipped"), str):
            lines.append(f"{n}: not run: {e['skipped']}")
            continue
        if "failed" in e:
            lines.append(f"{n}: FAILED: {e['failed']}")
            continue
        if e["flags"].get("sanity_failed"):
            lines.append(f"{n}: FLAGGED by the model-randomisation sanity check "
                         f"(mean |rho| = {e['flags']['sanity_mean_abs_spearman']:.3f})")
        for reason, count in e["skipped"].items():
            lines.append(f"{n}: {count} x {reason}")
    if report["plot"]:
        lines.append(f"curves plot: {report['plot']}")
    if report.get("model_this_run"):
        lines.append(f"model: {report['model_this_run']}")
    if report.get("run_record"):
        lines.append(f"run record: {report['run_record']}")
    return "\n".join(lines)


def _signed(x: float) -> str:
    return _fmt(x) if x < 0 or not math.isfinite(x) else "+" + _fmt(x)


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()  # noqa: E731
    return [line(header), line(["-" * w for w in widths])] + [line(r) for r in rows]


def save_curves(curves: dict[str, dict[str, np.ndarray]], path: Path, *, title: str,
                fractions: np.ndarray) -> Path:
    """Mean deletion/insertion curves per explainer (score change in item-score sd, and rank gain), mean +- 1.96 SE.

    ``curves[explainer][name]`` is ``[n_users, len(fractions)]`` (NaN rows: users not measured)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from xrec_bench.io import atomic_path
    from xrec_bench.leaderboard.plots import Curve, draw_curves

    fig, axes = plt.subplots(2, 2, figsize=(10, 7.5), sharex=True)
    panels = [("deletion_score", "deletion: (s - s_full) / sd"), ("insertion_score", "insertion: (s - s_full) / sd"),
              ("deletion_rank_gain", "deletion: rank gain 1/log2(rank+1)"),
              ("insertion_rank_gain", "insertion: rank gain 1/log2(rank+1)")]
    for ax, (key, label) in zip(axes.ravel(), panels, strict=True):
        drawn = []
        for name, mine in curves.items():
            if key not in mine:
                continue
            values = mine[key]
            ok = np.all(np.isfinite(values), axis=1)
            if not ok.any() or values.shape[1] != len(fractions):
                continue
            mean = values[ok].mean(axis=0)
            se = values[ok].std(axis=0) / np.sqrt(ok.sum())
            drawn.append(Curve(f"{name} (n={ok.sum()})", fractions, mean, baseline=name == BASELINE,
                               band=(mean - 1.96 * se, mean + 1.96 * se)))
        draw_curves(ax, drawn, title=label, title_size=10, marker="o", ms=3)
    for ax in axes[1]:
        ax.set_xlabel("fraction of features removed / added (most important first)")
    axes[0, 0].legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    return path


def _finite(obj):
    """NaN/inf -> None, so that the output is strict JSON."""
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    if isinstance(obj, (float, np.floating)) and not math.isfinite(obj):
        return None
    return obj


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
