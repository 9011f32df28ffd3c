"""The ``xrec-bench`` command line. Each subcommand lives in its own module and registers a parser.

Subcommand modules define ``add_parser(subparsers)``, which adds their parser and sets
``func`` (called with the parsed args; its return value is the exit status).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from xrec_bench import __version__

#: subcommand modules, imported lazily when the parser is built
SUBCOMMANDS = ("datasets", "train", "explain", "evaluate", "run", "leaderboard", "gate", "components")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="xrec-bench",
        description="Benchmark the explanations of text-based recommender systems.",
    )
    parser.add_argument("--version", action="version", version=f"xrec-bench {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in SUBCOMMANDS:  # a module that fails to import is an error, never a silently missing command
        importlib.import_module(f"xrec_bench.cli.{name}").add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `xrec-bench ... --json | head`
        sys.stderr.close()
        return 0
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


class CliError(Exception):
    """An error whose message is shown to the user as is (no traceback)."""


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
