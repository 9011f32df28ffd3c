"""``xrec-bench explainers|models|metrics list | info NAME``: the components and their contracts.

``list`` shows every registered component (built-ins, installed plugins) with its version, its
capabilities and where it comes from; ``info NAME`` shows its whole contract: parameters with
defaults, accepted values and help, capabilities, and for a metric the values it fills (direction,
group, unit). NAME may also be a plugin's ``package.module:Class``. ``xrec-bench datasets list|info``
shows the same for datasets (:mod:`xrec_bench.cli.datasets`).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from xrec_bench.cli import CliError
from xrec_bench.contract import Contract
from xrec_bench.registry import UnknownNameError


def _explainers():
    import xrec_bench.explainers  # noqa: F401  (registers the built-ins)
    from xrec_bench.explainers.base import EXPLAINERS

    return EXPLAINERS


def _models():
    import xrec_bench.models  # noqa: F401
    from xrec_bench.models.base import MODELS

    return MODELS


def _metrics():
    import xrec_bench.metrics  # noqa: F401
    from xrec_bench.metrics.base import METRICS

    return METRICS


#: command -> the registry of that kind (imported when the command runs)
KINDS: dict[str, Callable[[], Any]] = {"explainers": _explainers, "models": _models, "metrics": _metrics}


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    for command in KINDS:
        kind = command.rstrip("s")
        parser = subparsers.add_parser(command, help=f"list the {command} and show a {kind}'s contract")
        sub = parser.add_subparsers(dest=f"{kind}_command", metavar="ACTION")
        sub.required = True
        p = sub.add_parser("list", help=f"every registered {kind}: version, capabilities, built-in or plugin")
        p.add_argument("--json", action="store_true", help="machine-readable output")
        p.set_defaults(func=_list, command_kind=command)
        p = sub.add_parser("info", help=f"a {kind}'s contract: parameters (defaults, ranges, help), capabilities")
        p.add_argument("name", help=f"a registered {kind}, an installed plugin's name, or package.module:Class")
        p.add_argument("--json", action="store_true", help="machine-readable output")
        p.set_defaults(func=_info, command_kind=command)


def contract_of(command: str, name: str) -> Contract:
    """The contract of component ``name`` of kind ``command`` (its source filled in)."""
    registry = KINDS[command]()
    try:
        cls = registry.get(name)
        source = registry.source(name)
    except UnknownNameError as exc:
        raise CliError(str(exc)) from None
    contract = cls.contract()
    return Contract(**{**contract.__dict__, "source": source})


def _list(args: argparse.Namespace) -> int:
    registry = KINDS[args.command_kind]()
    contracts, broken = [], []
    for name in registry.names():
        try:
            contracts.append(contract_of(args.command_kind, name))
        except CliError as exc:  # an installed plugin that cannot be loaded: listed with the reason
            broken.append((name, str(exc)))
    print_list(contracts, as_json=args.json)
    for name, why in broken:
        print(f"{name}: cannot be loaded: {why}")
    return 1 if broken else 0


def _info(args: argparse.Namespace) -> int:
    print_info(contract_of(args.command_kind, args.name), as_json=args.json)
    return 0


def capability_text(contract: Contract) -> str:
    """Capabilities in one line: true flags by name, others as ``key=value``."""
    parts = []
    for key, value in contract.capabilities.items():
        if key == "granularities":
            parts.append("granularities=" + (",".join(value) or "none"))
        elif value is True:
            parts.append(key)
        elif value is False or value is None or value == ():
            continue
        else:
            parts.append(f"{key}={','.join(value) if isinstance(value, (tuple, list, frozenset)) else value}")
    return " ".join(parts)


def print_list(contracts: list[Contract], *, as_json: bool) -> None:
    if as_json:
        print(json.dumps([{"name": c.name, "version": c.version, "source": c.source,
                           "capabilities": c.as_dict()["capabilities"]} for c in contracts], indent=2))
        return
    width = max((len(c.name) for c in contracts), default=4)
    for c in contracts:
        print(f"{c.name:<{width}}  v{c.version:<3} {c.source:<10} {capability_text(c)}")


def print_info(contract: Contract, *, as_json: bool) -> None:
    if as_json:
        print(json.dumps(contract.as_dict(), indent=2, default=str))
        return
    print(f"{contract.kind} {contract.name} (version {contract.version}, {contract.source})")
    if contract.description:
        print(f"  {contract.description}")
    print(f"capabilities: {capability_text(contract) or 'none'}")
    if contract.params:
        print("parameters:")
        for name, p in contract.params.items():
            print(f"  {name} = {p.default!r}  ({p.describe()}){'  ' + p.help if p.help else ''}")
    else:
        print("parameters: " + ("any (not declared)" if contract.open_params else "none"))
    if contract.outputs:
        print("outputs:")
        for o in contract.outputs:
            extra = "" if o.ranked else ", reference value (never ranked)"
            print(f"  {o.name}  {o.direction} is better, {o.group}, unit: {o.unit}{extra}")
            print(f"      {o.description}")
