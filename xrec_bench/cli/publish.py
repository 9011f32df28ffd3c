"""``xrec-bench leaderboard publish|submit``: the static site, and outside submissions onto it."""

from __future__ import annotations

import argparse
from pathlib import Path

from xrec_bench.cli import CliError


def add_publish_parsers(sub) -> None:
    p = sub.add_parser("publish", help="write one static site over every leaderboard under a results folder",
                       description="Index of suites and versions (newest first), per version: overview, tables, "
                                   "plots, changelog, raw files. Works from file:// and any static host.")
    p.add_argument("--results", default="results", help="results folder with <suite>/v<N>/leaderboard.json (default: results)")
    p.add_argument("--out", default="site", help="where to write the site (default: site)")
    p.add_argument("--changelog", default=None, help="suite changelog (default: the shipped benchmarks/suites/CHANGELOG.md)")
    p.add_argument("--no-plots", action="store_true", help="leave the figures out (faster)")
    p.set_defaults(func=publish)
    s = sub.add_parser("submit", help="check an outside run against the published suite and add its rows",
                       description="Refuses a run whose schema, suite version and content hash, dataset checksums, "
                                   "package or plugin versions do not match, or that holds unknown fields or markup.")
    s.add_argument("run_folder", help="the outside run: a folder with records/*.json, or one run-record file")
    s.add_argument("--results", default="results", help="results folder holding the suite's leaderboard (default: results)")
    s.add_argument("--name", required=True, help="submitter name shown on the rows (letters, digits, space . _ -)")
    s.add_argument("--plugin", action="append", default=[], metavar="PACKAGE==VERSION",
                   help="plugin package (and version) providing explainers this xrec-bench does not ship; repeatable")
    s.add_argument("--url", default="", help="where the submission's code or paper lives (https://...)")
    s.set_defaults(func=submit)


def publish(args: argparse.Namespace) -> int:
    from xrec_bench.leaderboard.site import publish as write_site

    try:
        index = write_site(args.results, args.out, changelog=Path(args.changelog) if args.changelog else None,
                           plots=not args.no_plots)
    except (FileNotFoundError, ValueError) as exc:
        raise CliError(str(exc)) from None
    print(f"site written: {index} (open it in a browser, or serve {args.out} from any static host)")
    return 0


def submit(args: argparse.Namespace) -> int:
    from xrec_bench.leaderboard.submit import SubmissionError, submit_run

    try:
        path = submit_run(args.run_folder, args.results, name=args.name, plugins=args.plugin, url=args.url)
    except SubmissionError as exc:
        raise CliError(f"submission refused: {exc}") from None
    print(f"submission accepted: {path} (rebuild the site with 'xrec-bench leaderboard publish')")
    return 0
