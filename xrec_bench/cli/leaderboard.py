"""``xrec-bench leaderboard build|show``: versioned leaderboard tables from run records."""

from __future__ import annotations

import argparse

from xrec_bench.cli import CliError


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("leaderboard", help="build or show leaderboard tables from run records",
                              description="Leaderboards are built from run records only (no metric is recomputed).")
    sub = p.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True
    b = sub.add_parser("build", help="merge run records and write results/<suite>/v<version>/")
    b.add_argument("--runs", nargs="+", default=["runs"], help="run-record files or results folders (default: runs)")
    b.add_argument("--out", default="results", help="where to write (default: results)")
    b.set_defaults(func=build)
    s = sub.add_parser("show", help="print the Markdown tables of a built leaderboard or of run records")
    s.add_argument("path", nargs="+", help="a leaderboard.json, run-record files or results folders")
    s.add_argument("--dataset", default=None, help="only this dataset")
    s.add_argument("--granularity", default=None, choices=["history", "tokens", "fields"], help="only this granularity")
    s.set_defaults(func=show)
    d = sub.add_parser("diff", help="compare two built leaderboards at the precision the tables show (exit 1 if any differ)")
    d.add_argument("a", help="a leaderboard folder or its leaderboard.json")
    d.add_argument("b", help="another one")
    d.add_argument("--with-latency", action="store_true", help="also compare latency metrics (they differ run to run)")
    d.set_defaults(func=diff)
    from xrec_bench.cli.publish import add_publish_parsers

    add_publish_parsers(sub)


def _board(paths):
    from xrec_bench.leaderboard.load import MergeError, load_board

    try:
        return load_board(paths)
    except (MergeError, FileNotFoundError, ValueError) as exc:
        raise CliError(str(exc)) from None


def build(args: argparse.Namespace) -> int:
    from xrec_bench.leaderboard.write import write_leaderboard

    board = _board(args.runs)
    try:
        target = write_leaderboard(board, args.out)
    except ValueError as exc:  # a name that would write outside --out (UnsafePathError) or is not a slug
        raise CliError(str(exc)) from None
    print(f"leaderboard of {board.suite['name']} v{board.suite['version']} ({len(board.cells)} cells, "
          f"{len(board.runs)} run(s)) written to {target}")
    return 0


def show(args: argparse.Namespace) -> int:
    from xrec_bench.leaderboard.tables import build_tables
    from xrec_bench.leaderboard.write import table_markdown

    board = _board(args.path)
    tables = [t for t in build_tables(board) if (args.dataset in (None, t.dataset))
              and (args.granularity in (None, t.granularity))]
    if not tables:
        raise CliError("No table matches: check --dataset/--granularity against the runs' datasets.")
    print("\n\n".join(table_markdown(t) for t in tables))
    return 0


def diff(args: argparse.Namespace) -> int:
    from pathlib import Path

    from xrec_bench.io import read_json
    from xrec_bench.leaderboard.write import table_differences

    boards = []
    for p in (Path(args.a), Path(args.b)):
        path = p / "leaderboard.json" if p.is_dir() else p
        if not path.is_file():
            raise CliError(f"No leaderboard.json at {p}: build one with 'xrec-bench leaderboard build'.")
        try:
            board = read_json(path)
        except (UnicodeDecodeError, ValueError) as exc:
            raise CliError(f"{path} is not JSON ({type(exc).__name__}: {exc}); pass a leaderboard.json that "
                           "'xrec-bench leaderboard build' wrote.") from None
        if not isinstance(board, dict) or board.get("kind") != "leaderboard" or not isinstance(board.get("tables"), list):
            raise CliError(f"{path} is not a leaderboard.json (no kind = 'leaderboard' and tables).")
        boards.append(board)
    found = table_differences(*boards, ignore_latency=not args.with_latency)
    for line in found:
        print(line)
    what = "tables (latency left out)" if not args.with_latency else "tables"
    print(f"{len(found)} difference(s) between the {what} of {args.a} and {args.b}")
    return 1 if found else 0
