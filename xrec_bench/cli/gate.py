"""``xrec-bench gate``: fail CI when a candidate run regresses against a baseline beyond noise.

``xrec-bench gate-calibrate``: measure run-to-run latency noise from clean runs and store the
threshold next to the baseline (``gate-calibration.json``), where the gate reads it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from xrec_bench.cli import CliError

CALIBRATION_FILE = "gate-calibration.json"


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "gate", help="compare a candidate run with a baseline; exit 1 on regression",
        description="Refuses runs that are not comparable (suite version, configuration, dataset checksums). "
        "Quality metrics: exactly when suite version, package version and device kind match, else a paired "
        "bootstrap over users with a tolerance. Model evaluations: no growth. Latency: the interleaved timing "
        "probe's ratio to the reference workload, against a threshold calibrated from clean runs.")
    p.add_argument("--baseline", required=True, nargs="+", help="baseline: run record(s), results folder or leaderboard.json")
    p.add_argument("--candidate", required=True, nargs="+", help="candidate: run record(s) or results folder")
    p.add_argument("--tolerance", type=float, default=0.05, help="relative tolerance on a metric's mean (default 0.05)")
    p.add_argument("--atol", type=float, default=1e-3, help="absolute tolerance floor (default 0.001)")
    p.add_argument("--latency-threshold", type=float, default=None,
                   help="fail when latency grows by more than this factor (default: the calibration next to the "
                   "baseline, else 1.5)")
    p.add_argument("--calibration", default=None, metavar="FILE",
                   help=f"latency calibration (default: {CALIBRATION_FILE} next to the baseline, if present)")
    p.add_argument("--evals-tolerance", type=float, default=0.0,
                   help="allowed relative growth of model evaluations per explanation (default 0: none)")
    p.add_argument("--exact", choices=("auto", "always", "never"), default="auto",
                   help="compare quality metrics exactly: auto (when suite, package version and device match)")
    p.add_argument("--min-pairs", type=int, default=10, help="shared users the paired test needs (default 10)")
    p.add_argument("--allow-incomparable", action="store_true",
                   help="compare runs of another suite version/configuration/data anyway (with a warning)")
    p.add_argument("--level", type=float, default=0.99, help="confidence level of the bootstrap CIs (default 0.99)")
    p.add_argument("--markdown", default=None, metavar="FILE", help="also write the Markdown summary here "
                   "(e.g. $GITHUB_STEP_SUMMARY; appended to when it exists)")
    p.set_defaults(func=main)

    c = subparsers.add_parser(
        "gate-calibrate", help="latency noise of clean runs -> the gate's threshold",
        description="From >= 3 clean runs of unchanged code (same suite), the largest run-to-run ratio of the "
        "timing probe per cell; writes the threshold (that ratio squared, at least 1.2) as JSON. Put it next to "
        "the baseline's leaderboard.json, where `xrec-bench gate` reads it.")
    c.add_argument("runs", nargs="+", help="run folders (or record files), one per clean run")
    c.add_argument("--out", required=True, help=f"where to write it (e.g. results/<suite>/v<N>/{CALIBRATION_FILE})")
    c.set_defaults(func=calibrate_main)


def find_calibration(baseline: list[str]) -> Path | None:
    for b in baseline:
        path = Path(b)
        folder = path if path.is_dir() else path.parent
        if (folder / CALIBRATION_FILE).is_file():
            return folder / CALIBRATION_FILE
    return None


def main(args: argparse.Namespace) -> int:
    from xrec_bench.io import read_json
    from xrec_bench.leaderboard.gate import DEFAULT_LATENCY_THRESHOLD, GateConfig, compare, to_markdown
    from xrec_bench.leaderboard.load import MergeError, load_board

    try:
        baseline, candidate = load_board(args.baseline), load_board(args.candidate)
        threshold, source = args.latency_threshold, "--latency-threshold"
        if threshold is None:
            path = Path(args.calibration) if args.calibration else find_calibration(args.baseline)
            if path is not None:
                calibration = read_json(path)
                if calibration["suite"]["version"] != baseline.suite["version"] or \
                        calibration["suite"]["name"] != baseline.suite["name"]:
                    raise ValueError(f"{path} calibrates suite {calibration['suite']['name']} "
                                     f"v{calibration['suite']['version']}, not the baseline's "
                                     f"{baseline.suite['name']} v{baseline.suite['version']}: re-run gate-calibrate.")
                threshold, source = float(calibration["latency_threshold"]), f"calibrated ({path})"
            else:
                threshold, source = DEFAULT_LATENCY_THRESHOLD, f"default: no {CALIBRATION_FILE} next to the baseline"
        config = GateConfig(rtol=args.tolerance, atol=args.atol, level=args.level, latency_threshold=threshold,
                            evals_rtol=args.evals_tolerance, min_pairs=args.min_pairs, exact=args.exact,
                            allow_incomparable=args.allow_incomparable)
        report = compare(baseline, candidate, config)
    except (MergeError, FileNotFoundError, ValueError, KeyError) as exc:
        raise CliError(str(exc)) from None
    report.notes.append(f"latency threshold source: {source}")
    text = to_markdown(report, baseline=" ".join(args.baseline), candidate=" ".join(args.candidate))
    print(text)
    if args.markdown:
        with open(args.markdown, "a", encoding="utf-8") as fh:
            fh.write(text)
    return 0 if report.passed else 1


def calibrate_main(args: argparse.Namespace) -> int:
    from xrec_bench.io import write_json
    from xrec_bench.leaderboard.gate import calibrate
    from xrec_bench.leaderboard.load import MergeError, load_board

    try:
        result = calibrate([load_board([r]) for r in args.runs])
    except (MergeError, FileNotFoundError, ValueError) as exc:
        raise CliError(str(exc)) from None
    write_json(args.out, result)
    print(f"latency threshold {result['latency_threshold']:.3f} (largest run-to-run ratio {result['max_spread']:.3f} "
          f"over {result['n_cells']} cells, median {result['median_spread']:.3f}) -> {args.out}")
    return 0
