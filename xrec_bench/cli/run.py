"""``xrec-bench run``: run a benchmark suite end to end into a results folder."""

from __future__ import annotations

import argparse
import sys

from xrec_bench.cli import CliError


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "run",
        help="run a benchmark suite (cached: a re-run computes only what changed)",
        description="Run a suite's grid (dataset x model x explainer x granularity x seed) and write per-cell "
        "results and a run record. Interrupted runs resume from their finished cells.",
    )
    p.add_argument("--suite", required=True, help="a shipped suite name (quick, standard, gpu-smoke, gate) or a path to a .toml file")
    p.add_argument("--out", default=None, help="results folder (default: runs/<suite>)")
    p.add_argument("--executor", default="in-process", choices=["in-process", "process", "ray"],
                   help="run cells in this process (default), in a process pool, or on a Ray cluster "
                   "(pip install 'xrec-bench[ray]'; see docs/ray.md)")
    p.add_argument("--workers", type=int, default=2, help="process-pool size, or Ray actors (with --executor ray)")
    p.add_argument("--address", default=None, metavar="RAY_ADDRESS",
                   help="with --executor ray: the cluster to join (default: $RAY_ADDRESS; neither: start a local one)")
    p.add_argument("--gpus-per-worker", type=float, default=None, metavar="N",
                   help="with --executor ray: GPUs each worker reserves (1 for a GPU suite; default 0)")
    p.add_argument("--cpus-per-worker", type=float, default=None, metavar="N",
                   help="with --executor ray: CPUs each worker reserves (default 1)")
    p.add_argument("--shard-users", type=int, default=None, metavar="N",
                   help="split every explainer cell into shards of N users that run as separate jobs and merge "
                   "into the same values (no effect on results or cache keys; finished shards are kept)")
    p.add_argument("--users", type=int, default=None, metavar="N",
                   help="sample at most N users per granularity (smoke runs; recorded, and such runs do not merge "
                   "with full ones)")
    p.add_argument("--device", default=None, metavar="DEVICE",
                   help="run every model that has a 'device' parameter on DEVICE instead of the suite's (e.g. "
                   "--device cpu checks a GPU suite on a machine without one; recorded, cached apart)")
    p.add_argument("--retry-failed", action="store_true", help="recompute cells that failed in an earlier run")
    p.add_argument("--mirror", metavar="URL_OR_DIR", default=None,
                   help="download datasets from this mirror (a base URL or a local folder) instead of the official "
                   "URLs; default: $XREC_BENCH_MIRROR")
    p.add_argument("--check", action="store_true",
                   help="validate the suite, print its grid and its estimated CPU/GPU hours (from measured runs); "
                   "run nothing")
    p.add_argument("--measurements", nargs="+", default=None, metavar="RECORD",
                   help="with --check: run records to estimate from (default: the records in --out, e.g. a pilot "
                   "run with --users 5, then the shipped results)")
    p.add_argument("--gpu-speedup", type=float, default=None, metavar="X",
                   help="with --check: assumed GPU speed-up over the measuring CPU where no GPU run was measured "
                   "(default 25)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from xrec_bench.harness.executor import get_executor
    from xrec_bench.harness.runner import run_suite
    from xrec_bench.harness.stages import RealStages
    from xrec_bench.harness.suite import SuiteError, load_suite
    from xrec_bench.harness.summary import summarize

    try:
        suite = load_suite(args.suite)
        suite = suite.with_users(args.users).with_device(args.device)
        options = {k: v for k, v in (("address", args.address), ("gpus_per_worker", args.gpus_per_worker),
                                     ("cpus_per_worker", args.cpus_per_worker)) if v is not None}
        executor = get_executor(args.executor, workers=args.workers, **options)
        if args.shard_users is not None and args.shard_users < 1:
            raise ValueError(f"--shard-users must be >= 1. Got {args.shard_users} instead.")
    except (SuiteError, ValueError, ImportError) as exc:
        raise CliError(str(exc)) from None
    if args.check:
        print(f"suite {suite.name} v{suite.version} ({suite.content_hash[:12]}) is valid: "
              f"{len(suite.datasets)} dataset(s) x {len(suite.models)} model(s) x {len(suite.explainers)} explainer(s) "
              f"x {len(suite.granularities)} granularit{'ies' if len(suite.granularities) > 1 else 'y'} x "
              f"{len(suite.seeds)} seed(s); users {suite.users}")
        print(_estimate(suite, args))
        return 0
    from xrec_bench.datasets.errors import DatasetError
    from xrec_bench.io import UnsafeArchiveError
    from xrec_bench.models.ranking import resolve_device

    try:  # a GPU suite on a machine without one fails here, before any download or training
        for spec in suite.models + suite.baselines:
            if isinstance(spec.params.get("device"), str):
                resolve_device(spec.params["device"])
    except ValueError as exc:
        raise CliError(f"model {spec.label!r}: {exc}") from None

    out = args.out or f"runs/{suite.name}"
    try:
        result = run_suite(suite, out, stages=RealStages(progress=not args.no_progress, mirror=args.mirror),
                           executor=executor, retry_failed=args.retry_failed, progress=not args.no_progress,
                           users_override=args.users, shard_users=args.shard_users, device_override=args.device)
    except (DatasetError, UnsafeArchiveError) as exc:  # a download or a dataset failed before any cell ran
        raise CliError(f"{exc}\nNothing was run. Fix the dataset problem above (or pass --mirror) and run again: "
                       "finished cells are kept.") from None
    print(summarize(result.record))
    print(f"run record: {result.record_path}")
    if result.record["counts"]["failed"]:
        print(f"{result.record['counts']['failed']} cell(s) failed (see above); exit status 1", file=sys.stderr)
        return 1
    return 0


def _estimate(suite, args: argparse.Namespace) -> str:
    from pathlib import Path

    from xrec_bench.harness.cost import GPU_SPEEDUP, default_records, estimate, format_estimate, measurements

    paths = [Path(p) for p in args.measurements] if args.measurements else default_records(args.out or f"runs/{suite.name}")
    measured, used = measurements(paths)
    if not measured:
        return ("no cost estimate: no measured run records found (run a pilot with --users 5 into --out, or pass "
                "--measurements records/*.json)")
    speedup = args.gpu_speedup if args.gpu_speedup is not None else GPU_SPEEDUP
    if speedup <= 0:
        raise CliError(f"--gpu-speedup must be > 0. Got {speedup} instead.")
    est = estimate(suite, measured, gpu_speedup=speedup)
    est.sources = used
    return format_estimate(est)
