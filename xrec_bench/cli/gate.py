"""``xrec-bench gate``: fail CI when a candidate run regresses against a baseline beyond noise."""

from __future__ import annotations

import argparse

from xrec_bench.cli import CliError


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "gate", help="compare a candidate run with a baseline; exit 1 on regression",
        description="Metric by metric, in each metric's direction, with a paired bootstrap over users and a "
        "tolerance; latency as a ratio normalised by the reference workload timed in each run.")
    p.add_argument("--baseline", required=True, nargs="+", help="baseline: run record(s), results folder or leaderboard.json")
    p.add_argument("--candidate", required=True, nargs="+", help="candidate: run record(s) or results folder")
    p.add_argument("--tolerance", type=float, default=0.05, help="relative tolerance on a metric's mean (default 0.05)")
    p.add_argument("--atol", type=float, default=1e-3, help="absolute tolerance floor (default 0.001)")
    p.add_argument("--latency-tolerance", type=float, default=0.5,
                   help="allowed slowdown of normalised latency, as a fraction (default 0.5 = 1.5x)")
    p.add_argument("--level", type=float, default=0.99, help="confidence level of the bootstrap CIs (default 0.99)")
    p.add_argument("--markdown", default=None, metavar="FILE", help="also write the Markdown summary here "
                   "(e.g. $GITHUB_STEP_SUMMARY)")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from xrec_bench.io import write_text
    from xrec_bench.leaderboard.gate import GateConfig, compare, to_markdown
    from xrec_bench.leaderboard.load import MergeError, load_board

    try:
        config = GateConfig(rtol=args.tolerance, atol=args.atol, level=args.level,
                            latency_tolerance=args.latency_tolerance)
        baseline, candidate = load_board(args.baseline), load_board(args.candidate)
        report = compare(baseline, candidate, config)
    except (MergeError, FileNotFoundError, ValueError) as exc:
        raise CliError(str(exc)) from None
    text = to_markdown(report, baseline=" ".join(args.baseline), candidate=" ".join(args.candidate))
    print(text)
    if args.markdown:
        write_text(args.markdown, text)
    return 0 if report.passed else 1
