"""``xrec-bench datasets list | info NAME | prepare NAME``."""

from __future__ import annotations

import argparse
import json
import textwrap
from typing import Any

from xrec_bench.cli import CliError
from xrec_bench.registry import UnknownNameError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("datasets", help="list, describe and prepare datasets")
    sub = parser.add_subparsers(dest="datasets_command", metavar="ACTION")
    sub.required = True

    p = sub.add_parser("list", help="the registered datasets (shipped cards and installed plugins)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_list)

    p = sub.add_parser("info", help="a dataset's card: source URLs, checksums (pinned or recorded), license")
    p.add_argument("name")
    p.add_argument("--category", default=argparse.SUPPRESS, help="amazon-2018: the category (default from the card)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_info)

    p = sub.add_parser("prepare", help="download, verify, parse and cache a dataset; print its sizes")
    p.add_argument("name")
    p.add_argument("--mirror", metavar="URL_OR_DIR",
                   help="base URL or folder laid out as HOST/PATH of the official URLs (default: $XREC_BENCH_MIRROR)")
    p.add_argument("--category", default=argparse.SUPPRESS,
                   help="amazon-2018: the 5-core category, e.g. Magazine_Subscriptions")
    p.add_argument("--rating-threshold", type=_threshold, metavar="X|none", default=argparse.SUPPRESS,
                   help="keep ratings >= X as implicit feedback ('none': keep all)")
    p.add_argument("--kcore", type=int, default=argparse.SUPPRESS, help="k-core filtering (0: off)")
    p.add_argument("--strict", action="store_true", help="refuse malformed rows and dangling references")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=_prepare)


def _threshold(value: str) -> float | None:
    if value.lower() == "none":
        return None
    try:
        return float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or 'none', got {value!r}") from None


def _options(args: argparse.Namespace) -> dict[str, Any]:
    """Dataset options given on the command line (absent ones keep the card's defaults)."""
    return {key: getattr(args, key) for key in ("category", "rating_threshold", "kcore") if hasattr(args, key)}


def _card(name: str):
    from xrec_bench.datasets.cards import get_card

    try:
        return get_card(name)
    except UnknownNameError as exc:
        raise CliError(str(exc)) from None


def _list(args: argparse.Namespace) -> int:
    from xrec_bench.datasets.cards import list_cards

    cards = [_card(name) for name in list_cards()]
    from xrec_bench.cli.components import capability_text
    from xrec_bench.datasets.cards import dataset_source

    contracts = [c.contract(dataset_source(c.name)) for c in cards]
    rows = [
        {"name": c.name, "version": c.version, "checksums": _pin_state(c), "homepage": c.homepage,
         "source": k.source, "capabilities": k.as_dict()["capabilities"]}
        for c, k in zip(cards, contracts, strict=True)
    ]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    width = max(len(r["name"]) for r in rows)
    for r, k in zip(rows, contracts, strict=True):
        print(f"{r['name']:<{width}}  v{r['version']:<3} {r['source']:<10} {r['checksums']:<27} {capability_text(k)}")
    return 0


def _pin_state(card) -> str:
    if not card.files:
        return "generated, no download"
    return "pinned" if card.fully_pinned else "recorded on first download"


def _info(args: argparse.Namespace) -> int:
    from xrec_bench.datasets.errors import DatasetError
    from xrec_bench.datasets.fetch import describe_checksums

    card = _card(args.name)
    try:
        options = card.resolve_options(_options(args))
        files = describe_checksums(card.resolve_files(options))
    except DatasetError as exc:
        raise CliError(str(exc)) from None
    from xrec_bench.datasets.cards import dataset_source

    contract = card.contract(dataset_source(args.name)).as_dict()
    info = {
        "name": card.name, "version": card.version, "description": card.description, "homepage": card.homepage,
        "license": card.license, "citation": card.citation, "parser": card.parser, "options": options, "files": files,
        "source": contract["source"], "capabilities": contract["capabilities"], "params": contract["params"],
    }
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"{card.name} (version {card.version})")
    print(textwrap.indent(card.description, "  "))
    print(f"homepage: {card.homepage}")
    print(f"license:  {card.license}")
    print(f"citation: {card.citation}")
    print(f"source:   {contract['source']}")
    print(f"options:  {', '.join(f'{k}={v!r}' for k, v in options.items())}")
    for name, p in contract["params"].items():
        print(f"  {name} = {p['default']!r}  ({p['accepts']}){'  ' + p['help'] if p['help'] else ''}")
    for f in files:
        print(f"file {f['file']}: {f['status']}{': ' + f['sha256'] if f['sha256'] else ''}")
        for url in f["urls"]:
            print(f"    {url}")
    return 0


def _prepare(args: argparse.Namespace) -> int:
    from xrec_bench.datasets import make_split
    from xrec_bench.datasets.errors import DatasetError
    from xrec_bench.datasets.loader import prepare_dataset
    from xrec_bench.io import UnsafeArchiveError

    card = _card(args.name)
    try:
        prepared = prepare_dataset(
            card, mirror=args.mirror, strict=args.strict, progress=not args.no_progress, **_options(args)
        )
    except (DatasetError, UnsafeArchiveError) as exc:
        raise CliError(str(exc)) from None
    ds = prepared.dataset
    split = make_split(ds, "leave-last-out")
    stats = ds.stats
    report = {
        "dataset": ds.name,
        "version": ds.version,
        "options": ds.options,
        "cached": prepared.cached,
        "cache_path": str(prepared.path),
        "before_implicit": {k: stats.get(f"raw_{k}") for k in ("interactions", "users", "items")},
        "after_implicit": {"interactions": len(ds.interactions), "users": ds.n_users, "items": ds.n_items},
        "split": {
            "strategy": split.strategy,
            "train": len(split.train),
            "valid": len(split.valid),
            "test": len(split.test),
            "valid_cases": len(split.valid_cases) if split.valid_cases is not None else 0,
            "test_cases": len(split.test_cases) if split.test_cases is not None else 0,
        },
        "checksums": {
            name: {"sha256": sha, "status": stats.get("checksum_status", {}).get(name, "unknown")}
            for name, sha in ds.checksums.items()
        },
        "stats": stats,
    }
    if ds.impressions is not None:
        report["impressions"] = len(ds.impressions)
    if args.json:
        print(json.dumps(report, indent=2, default=str))
        return 0
    before, after, sp = report["before_implicit"], report["after_implicit"], report["split"]
    print(f"{ds.name} v{ds.version} ({'from cache, nothing re-done' if prepared.cached else 'prepared now, and cached'})")
    print(f"  options: {', '.join(f'{k}={v!r}' for k, v in ds.options.items())}")
    print(f"  before implicit conversion: {before['interactions']} interactions, {before['users']} users, "
          f"{before['items']} items")
    print(f"  after:                      {after['interactions']} interactions, {after['users']} users, "
          f"{after['items']} items")
    if "impressions" in report:
        print(f"  impressions: {report['impressions']}")
    print(f"  split {sp['strategy']}: train {sp['train']}, valid {sp['valid']}, test {sp['test']} "
          f"({sp['valid_cases']} valid / {sp['test_cases']} test cases)")
    problems = {k: v for k, v in stats.items() if k.startswith(("malformed", "dangling", "duplicate")) and v}
    if problems:
        print(f"  dropped and counted: {', '.join(f'{k}={v}' for k, v in problems.items())}")
    for name, entry in report["checksums"].items():
        print(f"  {entry['status']:<21} {entry['sha256']}  {name}")
    print(f"  cache: {prepared.path}")
    return 0
