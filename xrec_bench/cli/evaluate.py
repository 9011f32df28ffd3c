"""``xrec-bench evaluate``: measure explainers on one dataset, model and granularity.

Requests are the test cases of a leave-last-out split: for ``--users N`` users sampled with the
seed, the history is the test case's history (train + valid items) and the target is the model's
top-1 recommendation (``--target top-recommendation``, the default, as in suite files) or the
user's held-out test item (``--target test-item``: on ``synthetic`` the planted target IS the test
item, so ground truth applies). ``test`` and ``top1`` are deprecated aliases (with a warning).
The ``random`` explainer is always included, and every explainer is compared with it on the same
users (paired bootstrap). Prints a table of every metric (mean and bootstrap 95% CI over users),
the differences to random, the cost, and saves the deletion/insertion curves as a PNG.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
from pathlib import Path
from typing import Any

import numpy as np

from xrec_bench.cli import CliError
from xrec_bench.explainers.targets import ALIASES, DEFAULT_TARGET, TARGETS, choose_targets, resolve_target
from xrec_bench.models.base import GRANULARITIES

log = logging.getLogger(__name__)
BASELINE = "random"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("evaluate", help="measure explainers' faithfulness, agreement, stability and cost")
    p.add_argument("--dataset", required=True, help="dataset name, e.g. synthetic, movielens-100k")
    p.add_argument("--model", required=True, help="model name, e.g. bert-two-tower")
    p.add_argument("--model-param", action="append", default=[], metavar="KEY=VALUE",
                   help="model parameter (JSON value, e.g. max_steps=150), repeatable; the model cache is keyed by them")
    p.add_argument("--explainers", required=True, help="comma-separated explainer names (random is added)")
    p.add_argument("--granularity", required=True, choices=GRANULARITIES)
    p.add_argument("--users", type=int, default=50, help="number of test users to sample (default 50)")
    p.add_argument("--seed", type=int, default=0, help="seed of the user sample, model and explainers (default 0)")
    p.add_argument("--target", choices=(*TARGETS, *ALIASES), default=DEFAULT_TARGET,
                   help=f"what is explained: {' or '.join(TARGETS)} (default {DEFAULT_TARGET}); "
                        f"{' and '.join(ALIASES)} are deprecated aliases")
    p.add_argument("--metrics", help="comma-separated metric or stage names (default: all applicable)")
    p.add_argument("--budget", type=int, default=20,
                   help="users that get the stability and sanity metrics, which re-run the explainer (default 20)")
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")
    p.add_argument("--plot", type=Path, help="PNG path of the curve plot (default runs/evaluate/<...>.png)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from xrec_bench.datasets import load_dataset, make_split
    from xrec_bench.explainers import EXPLAINERS, get_explainer
    from xrec_bench.metrics import EvalConfig, evaluate_explainer
    from xrec_bench.models import fit_or_load

    if args.users < 1:
        raise CliError(f"--users must be >= 1. Got {args.users} instead.")
    args.target = resolve_target(args.target)  # warns on a deprecated alias
    names = [n.strip() for n in args.explainers.split(",") if n.strip()]
    unknown = [n for n in names if n not in EXPLAINERS]
    if unknown:
        raise CliError(EXPLAINERS.unknown_message(unknown[0]))
    if BASELINE not in names:
        names.append(BASELINE)
    metrics = [m.strip() for m in args.metrics.split(",")] if args.metrics else None
    dataset = load_dataset(args.dataset)
    split = make_split(dataset, "leave-last-out")
    model = fit_or_load(dataset, split, args.model, params=parse_params(args.model_param), seed=args.seed)
    if args.granularity not in getattr(model, "explainable_granularities", ()):
        raise CliError(f"Model {args.model!r} cannot be explained at {args.granularity!r} granularity; "
                       "use bert-two-tower or zero-shot-text.")
    requests = build_requests(split.cases("test"), model, n_users=args.users, seed=args.seed, target=args.target)
    config = EvalConfig(stability_users=args.budget, sanity_users=args.budget)
    results = {}
    for name in names:
        explainer = get_explainer(name).fit(dataset, split)
        ok, reason = explainer.supports(args.granularity)
        if not ok:
            log.warning("skipping %s: %s", name, reason)
            results[name] = reason
            continue
        try:
            results[name] = evaluate_explainer(model, explainer, requests, granularity=args.granularity,
                                               seed=args.seed, metrics=metrics, ground_truth=dataset.ground_truth,
                                               config=config, progress=not args.json)
        except ValueError as exc:
            raise CliError(str(exc)) from exc
    plot = args.plot or Path("runs") / "evaluate" / f"{args.dataset}_{args.model}_{args.granularity}_curves.png"
    measured = {k: v for k, v in results.items() if not isinstance(v, str)}
    plotted = save_curves(measured, plot, title=f"{args.dataset} / {args.model} / {args.granularity}") if measured else None
    report = build_report(args, results, len(requests), plotted)
    print(json.dumps(_finite(report), indent=2, default=_json_default) if args.json else render(report))
    return 0


def parse_params(items: list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs; values are read as JSON when they parse (numbers, true/false), else strings."""
    params: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise CliError(f"--model-param must look like KEY=VALUE (e.g. max_steps=150). Got {item!r} instead.")
        try:
            params[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            params[key.strip()] = value
    return params


def build_requests(cases, model, *, n_users: int, seed: int, target: str) -> list:
    """Requests for ``n_users`` test cases sampled with ``seed`` (all of them if there are fewer)."""
    from xrec_bench.explainers import Request
    from xrec_bench.seeding import derive_seed

    rng = np.random.default_rng(derive_seed(seed, "evaluate-users"))
    rows = np.sort(rng.choice(len(cases), size=min(n_users, len(cases)), replace=False))
    users = np.asarray(cases.users)[rows]
    histories = [np.asarray(cases.histories[r], dtype=np.int64) for r in rows]
    targets = choose_targets(target, model, users, histories, [cases.targets[r] for r in rows])
    return [Request(user=int(u), target=int(t), history=h, exclude=h) for u, t, h in zip(users, targets, histories, strict=True)]


def build_report(args, results: dict, n_requests: int, plot: Path | None) -> dict[str, Any]:
    from xrec_bench.metrics import relative_to

    base = results.get(BASELINE)
    out: dict[str, Any] = {
        "dataset": args.dataset, "model": args.model, "granularity": args.granularity, "seed": args.seed,
        "users": n_requests, "target": args.target, "plot": str(plot) if plot else None, "explainers": {},
    }
    for name, res in results.items():
        if isinstance(res, str):
            out["explainers"][name] = {"skipped": res}
            continue
        summary = res.summary(seed=args.seed)
        entry = {
            "metrics": {m: est.as_dict() for m, est in summary.items()},
            "cost": res.cost,
            "flags": res.flags,
            "skipped": _count_reasons(res.skipped),
        }
        if base is not None and not isinstance(base, str) and name != BASELINE:
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
        rows.append([n, _fmt(c["n_evals_mean"], 1), _fmt(c["wall_time_p50_s"] * 1e3, 1),
                     _fmt(c["wall_time_p95_s"] * 1e3, 1), _fmt(c["explanations_per_s"], 1), _fmt(c["peak_rss_mb"], 0),
                     str(c["n_explained"]), str(c["n_skipped"])])
    lines += _table(["explainer", "evals/expl", "p50 ms", "p95 ms", "expl/s", "peak RSS MB", "explained", "skipped"], rows)
    device = next(iter(measured.values()))["cost"]["device"] if measured else "n/a"
    lines.append(f"device: {device}")
    for n, e in report["explainers"].items():
        if isinstance(e.get("skipped"), str):
            lines.append(f"{n}: not run: {e['skipped']}")
            continue
        if e["flags"].get("sanity_failed"):
            lines.append(f"{n}: FLAGGED by the model-randomisation sanity check "
                         f"(mean |rho| = {e['flags']['sanity_mean_abs_spearman']:.3f})")
        for reason, count in e["skipped"].items():
            lines.append(f"{n}: {count} x {reason}")
    if report["plot"]:
        lines.append(f"curves plot: {report['plot']}")
    return "\n".join(lines)


def _signed(x: float) -> str:
    return _fmt(x) if x < 0 or not math.isfinite(x) else "+" + _fmt(x)


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()  # noqa: E731
    return [line(header), line(["-" * w for w in widths])] + [line(r) for r in rows]


def save_curves(results: dict, path: Path, *, title: str) -> Path:
    """Mean deletion/insertion curves per explainer (score change in item-score sd, and rank gain), mean +- 1.96 SE."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from xrec_bench.io import atomic_path

    fig, axes = plt.subplots(2, 2, figsize=(10, 7.5), sharex=True)
    panels = [("deletion_score", "deletion: (s - s_full) / sd"), ("insertion_score", "insertion: (s - s_full) / sd"),
              ("deletion_rank_gain", "deletion: rank gain 1/log2(rank+1)"),
              ("insertion_rank_gain", "insertion: rank gain 1/log2(rank+1)")]
    for ax, (key, label) in zip(axes.ravel(), panels, strict=True):
        for name, res in results.items():
            if key not in res.curves:
                continue
            curves = res.curves[key]
            fractions = np.asarray(res.config["fractions"])
            ok = np.all(np.isfinite(curves), axis=1)
            if not ok.any():
                continue
            mean = curves[ok].mean(axis=0)
            se = curves[ok].std(axis=0) / np.sqrt(ok.sum())
            ax.plot(fractions, mean, marker="o", ms=3, label=f"{name} (n={ok.sum()})",
                    linestyle="--" if name == BASELINE else "-")
            ax.fill_between(fractions, mean - 1.96 * se, mean + 1.96 * se, alpha=0.15)
        ax.set_title(label, fontsize=10)
        ax.grid(alpha=0.3)
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
